//! Where the unlocked vault's entries live in the server's memory: read from the running
//! server's own /proc/PID/smaps and /proc/PID/mem (same user, no root: the server is this
//! test's child, which Yama's ptrace_scope 1 allows; the test fails saying why if the kernel
//! refuses). Every copy of a secret the server holds must be in its secret arena: a region the
//! kernel reports as left out of core dumps (`dd`), and locked (`lo`) as far as the machine's
//! RLIMIT_MEMLOCK allows.
mod common;

use common::{with_stdin, ChildServer, Fk};
use std::io::{Read, Seek, SeekFrom};

/// A mapped region of the server: its bounds and its VmFlags.
struct Region {
    start: u64,
    end: u64,
    flags: Vec<String>,
    readable: bool,
}

fn regions(pid: i32) -> Vec<Region> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let mut out: Vec<Region> = Vec::new();
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                let perms = parts.next().unwrap_or("");
                out.push(Region {
                    start: a,
                    end: b,
                    flags: Vec::new(),
                    readable: perms.starts_with('r'),
                });
                continue;
            }
        }
        if let (Some(v), Some(r)) = (line.strip_prefix("VmFlags:"), out.last_mut()) {
            r.flags = v.split_whitespace().map(str::to_string).collect();
        }
    }
    out
}

/// Every address in the server's readable memory where `needle` is.
fn find_in_memory(pid: i32, needle: &[u8]) -> Vec<u64> {
    let mut mem = match std::fs::File::open(format!("/proc/{pid}/mem")) {
        Ok(f) => f,
        Err(e) => panic!(
            "cannot open /proc/{pid}/mem ({e}): this test reads the server's memory as the same \
             user, which the kernel allows unless ptrace is restricted (kernel.yama.ptrace_scope \
             above 1); it cannot check where secrets live without it"
        ),
    };
    let mut hits = Vec::new();
    for r in regions(pid) {
        if !r.readable || r.flags.iter().any(|f| f == "io") {
            continue;
        }
        let len = (r.end - r.start) as usize;
        let mut buf = vec![0u8; len];
        if mem.seek(SeekFrom::Start(r.start)).is_err() || mem.read_exact(&mut buf).is_err() {
            // [vvar] and guard pages do not read; they hold nothing of ours.
            continue;
        }
        let mut i = 0;
        while let Some(p) = buf[i..].windows(needle.len()).position(|w| w == needle) {
            hits.push(r.start + (i + p) as u64);
            i += p + 1;
        }
    }
    hits
}

#[test]
fn an_unlocked_vaults_secrets_are_only_in_locked_undumpable_memory() {
    let fk = Fk::new();
    let pass = "memory test passphrase 31";
    assert!(with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        &format!("{pass}\n")
    )
    .status
    .success());
    // The server as this test's child, so its memory can be read under Yama's ptrace_scope 1
    // too (see `ChildServer`).
    let server = ChildServer::start(&fk);
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(u.status.success(), "{u:?}");
    let marker = format!("ARENA-MARKER-{}-{}", std::process::id(), "q7Zx93Lk2");
    let add = with_stdin(
        &fk,
        &["vault", "add", "Cache", "--user", "ops", "--secret-fd", "0"],
        &format!("{marker}\n"),
    );
    assert!(add.status.success(), "{add:?}");
    // Read back once (a reply string is made and freed on the way).
    assert_eq!(fk.ok(&["vault", "get", "Cache"]).trim(), marker);
    let pid = server.pid();
    let hits = find_in_memory(pid, marker.as_bytes());
    assert!(
        !hits.is_empty(),
        "the scan must see the secret the server holds"
    );
    let regs = regions(pid);
    let region_of = |a: u64| regs.iter().find(|r| r.start <= a && a < r.end);
    for h in &hits {
        let r = region_of(*h).expect("a hit is in a mapped region");
        assert!(
            r.flags.iter().any(|f| f == "dd"),
            "a copy of the secret at {h:#x} is in a region core dumps include ({:?})",
            r.flags
        );
    }
    // The arena is locked in memory when the limit allows (RLIMIT_MEMLOCK of 8 MiB here).
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if lim.rlim_cur >= 1 << 20 {
        let r = region_of(hits[0]).expect("region");
        assert!(
            r.flags.iter().any(|f| f == "lo"),
            "the arena is not locked: {:?}",
            r.flags
        );
    }
    // Locking drops the entries: no copy is left anywhere.
    fk.ok(&["vault", "lock"]);
    let left = find_in_memory(pid, marker.as_bytes());
    assert!(
        left.is_empty(),
        "after lock the secret is still at {left:x?}"
    );
    let pass_left = find_in_memory(pid, pass.as_bytes());
    assert!(
        pass_left.is_empty(),
        "the passphrase reached the server: {pass_left:x?}"
    );
}
