/*!
Keeping the long-lived server small.

The server runs for days on machines with little memory, so two things that a short-lived
program would ignore matter here:

- The kernel maps code pages around each one touched ("fault-around", 64 KiB by default), so
  after start-up a large binary has megabytes of code resident that the idle server never runs.
  Once start-up is done, the executable's text mappings are told to fault only what is used
  (`MADV_RANDOM`) and what was mapped so far is dropped (`MADV_DONTNEED`); the pages stay in the
  page cache and come back on the next touch. Only `r-xp` mappings of our own binary are
  touched: text is never written, unlike the relocated read-only data, which must stay.
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

/// Drops code pages mapped during start-up and stops fault-around on the binary's text.
/// Returns how many mappings were trimmed.
pub fn trim_code_pages() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let exe = exe.display().to_string();
    let mut trimmed = 0;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let path = f.nth(3).unwrap_or("");
        if perms != "r-xp" || path != exe {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        // Safety: the range is a whole, read-only, never-written file mapping of our own
        // executable; dropping its pages only makes the next access fault them back in.
        unsafe {
            let p = a as *mut libc::c_void;
            libc::madvise(p, b - a, libc::MADV_RANDOM);
            libc::madvise(p, b - a, libc::MADV_DONTNEED);
        }
        trimmed += 1;
    }
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
