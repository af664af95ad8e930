/*!
Keeping the long-lived server small.

The server runs for days on machines with little memory, so two things that a short-lived
program would ignore matter here:

- The kernel maps code pages around each one touched ("fault-around", 64 KiB by default), so
  after start-up a large binary has megabytes of code resident that the idle server never runs.
  Once start-up is done, and again after each busy spell, the binary's text and untouched
  read-only data are dropped (`MADV_DONTNEED`); the pages stay in the page cache and come back
  on the next touch. (`MADV_RANDOM` does not stop fault-around on current kernels.)
- glibc gives each thread that allocates its own malloc arena; with two threads per terminal
  that is a lot of mostly empty heaps, so arenas are capped.

Code faulted in later (spawning a shell, a copy-mode search) would stay resident too, so the
server trims again once it has been quiet for a few seconds: a one-shot timer armed by
activity, so a server with nothing to do still never wakes. The dropped pages remain in the
page cache; nothing is read from disk again unless it runs again.
*/

/// After a burst of activity: returns freed heap to the system and drops code pages, so an idle
/// server holds only what it still uses. Cheap (a few syscalls); runs once per quiet spell.
pub fn trim_idle() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
    trim_code_pages()
}

/// Caps malloc arenas. Call before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Drops code and read-only data pages of our binary mapped so far. Returns how many mappings
/// were trimmed.
///
/// Text (`r-xp`) is never written. Read-only data (`r--p`) may hold pages the loader wrote
/// while relocating (copied-on-write, so anonymous); dropping those would bring back the
/// unrelocated bytes, so a read-only mapping is trimmed only when it has no anonymous pages.
pub fn trim_code_pages() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let exe = exe.display().to_string();
    let mut trimmed = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let mut trim = |range: Option<(usize, usize, bool)>, anon_kib: u64| {
        if let Some((a, b, text)) = range {
            if text || anon_kib == 0 {
                // Safety: a whole file mapping of our own executable that holds no written
                // pages; dropping its pages only makes the next access read them again.
                unsafe {
                    libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED);
                }
                trimmed += 1;
            }
        }
    };
    let mut anon = 0u64;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            trim(current.take(), anon);
            anon = 0;
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            if path == exe && (perms == "r-xp" || perms == "r--p") {
                current = Some((a, b, perms == "r-xp"));
            }
        } else if first == "Anonymous:" {
            anon = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    trim(current.take(), anon);
    trimmed
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_code_keeps_the_program_running() {
        let n = super::trim_code_pages();
        assert!(n >= 1, "the test binary has a text mapping");
        // Code runs again after its pages were dropped.
        let v: Vec<u64> = (0..1000).map(|i| i * i).collect();
        assert_eq!(v.iter().sum::<u64>(), 332_833_500);
        assert!(format!("{:?}", v.len()).contains("1000"));
    }
}
