/*!
Key material in memory the kernel will not swap out (`mlock`) and that a core dump leaves out
(`MADV_DONTDUMP`): a page of its own, mapped for the key, zeroed and unmapped when dropped. The
vault's key-encryption key lives here while the vault is unlocked: it is what opens the vault,
so it is the one thing that must never reach swap or a core file.

Locking needs RLIMIT_MEMLOCK (64 KiB at the least on Linux, 8 MiB on most systemd machines): a
page is well within it. If the kernel still refuses, the key is kept anyway (a vault that cannot
unlock helps nobody) and the refusal is logged once. The server also sets RLIMIT_CORE to 0 at
start (`no_core_dumps`), so no core file of it is ever written.
*/

/// 32 bytes in a locked, undumpable page.
pub struct LockedKey {
    page: *mut u8,
    len: usize,
}

// SAFETY: the page is owned by this value alone; nothing else holds the pointer.
unsafe impl Send for LockedKey {}
unsafe impl Sync for LockedKey {}

static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl LockedKey {
    pub fn new(key: &[u8; 32]) -> LockedKey {
        // SAFETY: sysconf has no preconditions.
        let len = (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize;
        // SAFETY: an anonymous private mapping; the result is checked.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            // Out of address space: nothing sensible can go on.
            panic!("cannot map a page for the vault's key");
        }
        let page = page as *mut u8;
        // SAFETY: `page` is a mapping of `len` bytes made above.
        unsafe {
            let locked = libc::mlock(page as *const libc::c_void, len) == 0;
            let undumped = libc::madvise(page as *mut libc::c_void, len, libc::MADV_DONTDUMP) == 0;
            let ok = locked && undumped;
            if !ok && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    locked,
                    undumped,
                    "the vault's key could not be kept out of swap or core dumps: {}",
                    std::io::Error::last_os_error()
                );
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), page, 32);
        }
        LockedKey { page, len }
    }

    pub fn get(&self) -> &[u8; 32] {
        // SAFETY: the first 32 bytes of the page were written in `new` and live as long as self.
        unsafe { &*(self.page as *const [u8; 32]) }
    }
}

impl Drop for LockedKey {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once here.
        unsafe {
            std::ptr::write_bytes(self.page, 0, self.len);
            std::hint::black_box(self.page);
            libc::munlock(self.page as *const libc::c_void, self.len);
            libc::munmap(self.page as *mut libc::c_void, self.len);
        }
    }
}

/// No core file of this process, ever (the server holds the vault's keys and entries).
pub fn no_core_dumps() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a plain setrlimit call with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
        tracing::warn!(
            "could not turn core dumps off: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key's page is locked and marked undumpable, as the kernel reports it.
    #[test]
    fn the_key_page_is_locked_and_left_out_of_core_dumps() {
        let k = LockedKey::new(&[7u8; 32]);
        assert_eq!(k.get(), &[7u8; 32]);
        let addr = k.page as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut in_ours = false;
        let (mut locked, mut flags) = (None, None);
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        in_ours = a <= addr && addr < b;
                        continue;
                    }
                }
            }
            if in_ours {
                if let Some(v) = line.strip_prefix("Locked:") {
                    locked = Some(v.trim().to_string());
                }
                if let Some(v) = line.strip_prefix("VmFlags:") {
                    flags = Some(v.trim().to_string());
                }
            }
        }
        let flags = flags.expect("the page is in smaps");
        assert!(flags.split(' ').any(|f| f == "dd"), "not DONTDUMP: {flags}");
        // mlock can be refused by a tiny RLIMIT_MEMLOCK; when it is allowed, it took.
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
        if lim.rlim_cur >= k.len as u64 {
            assert!(flags.split(' ').any(|f| f == "lo"), "not locked: {flags}");
            assert_ne!(locked.as_deref(), Some("0 kB"));
        }
    }
}
