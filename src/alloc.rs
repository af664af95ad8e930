/*!
The server's allocator: the system's, but every block is zeroed before it is freed. Secrets
pass through many short-lived buffers (a socket frame, a `format!`, a JSON string, a terminal
line); zeroizing each by hand would miss some, and freed memory keeps its bytes until it is
reused, where a core file, a swap page or `/proc/PID/mem` would show them. With this, what was
freed holds zeros, so after a lock or a panic the only copies of a secret are those still in
use, and those the vault and the panes drop themselves.

The cost is a memset per free (and reallocation by copy, so the old block is zeroed too): a
few per cent on the terminal benches (benches/terminal.rs). The end-to-end panic test scans
the server's memory for what this is for.
*/

use std::alloc::{GlobalAlloc, Layout, System};

pub struct Zeroing;

unsafe impl GlobalAlloc for Zeroing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        std::ptr::write_bytes(ptr, 0, layout.size());
        // The pointer escapes to an opaque function, so the zeroing is not a dead store.
        std::hint::black_box(ptr);
        System.dealloc(ptr, layout)
    }
    // `realloc` is the trait's own: a new block, a copy, and `dealloc` (zeroing) of the old.
}
