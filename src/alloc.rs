/*!
The server's allocator. Two things on top of the system's:

1. Every block is zeroed before it is freed. Secrets pass through many short-lived buffers (a
   socket frame, a `format!`, a JSON string, a terminal line); zeroizing each by hand would miss
   some, and freed memory keeps its bytes until reused, where a core file, a swap page or
   `/proc/PID/mem` would show them. With this, what was freed holds zeros, so after a lock or a
   panic the only copies of a secret are those still in use, and the vault and the panes drop
   those themselves.
2. A secret arena: what is allocated inside `secret(|| ...)` (the vault's entries, as they are
   read, added or changed) comes from a region of its own, marked `MADV_DONTDUMP` (left out of
   core dumps) and `mlock`ed (kept out of swap) as far as RLIMIT_MEMLOCK allows (8 MiB on most
   systemd machines, 64 KiB at the least; the rest of the 64 MiB region is still left out of
   dumps). A block is freed to the heap it came from, found by its address. When the arena is
   full, allocation falls back to the system's heap rather than fail.

The cost is a memset per free (and reallocation by copy, so the old block is zeroed too): a few
per cent on the terminal benches (benches/terminal.rs). The end-to-end panic test scans the
server's memory for what this is for. `secret` is harmless where this allocator is not
installed (the library's own tests): the flag is simply not read.
*/

use linked_list_allocator::Heap;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub struct Zeroing;

/// The arena's size: address space only until used (`MAP_NORESERVE`).
const ARENA: usize = 64 << 20;

static HEAP: Mutex<Heap> = Mutex::new(Heap::empty());
/// The arena's bounds once mapped (start, end); 0 before, usize::MAX when mapping failed.
static START: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// How many bytes of the arena are locked in memory (for the status pane and tests).
static LOCKED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SECRET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with its allocations in the secret arena (nested calls are fine).
pub fn secret<R>(f: impl FnOnce() -> R) -> R {
    let was = SECRET.with(|s| s.replace(true));
    let out = f();
    SECRET.with(|s| s.set(was));
    out
}

/// Bytes of the secret arena that are locked in memory (0 before first use).
pub fn locked_bytes() -> usize {
    LOCKED.load(Ordering::Relaxed)
}

/// Maps the arena on first use: no allocation happens here (syscalls only).
fn arena(heap: &mut Heap) -> bool {
    match START.load(Ordering::Acquire) {
        usize::MAX => return false,
        0 => {}
        _ => return true,
    }
    // SAFETY: an anonymous private mapping; the result is checked before use.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ARENA,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        START.store(usize::MAX, Ordering::Release);
        return false;
    }
    // SAFETY: `p` is the mapping of ARENA bytes just made.
    unsafe {
        libc::madvise(p, ARENA, libc::MADV_DONTDUMP);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim);
        // Lock what the limit allows, leaving room for the key pages (`vault/locked.rs`).
        let mut want = (lim.rlim_cur as usize).saturating_sub(64 << 10).min(ARENA) & !4095;
        while want >= 4096 && libc::mlock(p, want) != 0 {
            want /= 2;
            want &= !4095;
        }
        LOCKED.store(if want >= 4096 { want } else { 0 }, Ordering::Relaxed);
        heap.init(p as *mut u8, ARENA);
    }
    END.store(p as usize + ARENA, Ordering::Release);
    START.store(p as usize, Ordering::Release);
    true
}

fn in_arena(p: *mut u8) -> bool {
    let (s, e) = (START.load(Ordering::Acquire), END.load(Ordering::Acquire));
    s != 0 && s != usize::MAX && (p as usize) >= s && (p as usize) < e
}

unsafe impl GlobalAlloc for Zeroing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if SECRET.try_with(|s| s.get()).unwrap_or(false) {
            if let Ok(mut heap) = HEAP.lock() {
                if arena(&mut heap) {
                    if let Ok(p) = heap.allocate_first_fit(layout) {
                        return p.as_ptr();
                    }
                }
            }
        }
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        std::ptr::write_bytes(ptr, 0, layout.size());
        // The pointer escapes to an opaque function, so the zeroing is not a dead store.
        std::hint::black_box(ptr);
        if in_arena(ptr) {
            if let (Ok(mut heap), Some(p)) = (HEAP.lock(), NonNull::new(ptr)) {
                heap.deallocate(p, layout);
            }
            return;
        }
        System.dealloc(ptr, layout)
    }
    // `alloc_zeroed` and `realloc` are the trait's own: through `alloc` (so a block grown in
    // `secret` stays in the arena) and `dealloc` (so the old block is zeroed and freed to its
    // own heap).
}
