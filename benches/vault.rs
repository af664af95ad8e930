//! The vault beside its peers, in the same run, each side doing the same work:
//!
//! 1. unlock: one Argon2id derivation at the calibrated default parameters (what `fieldkit vault
//!    init` picks: `Kdf::calibrate(1 s)`) against the reference `argon2` CLI with the same
//!    password, salt and parameters (their 32-byte outputs compared, so both did the same
//!    work); then a whole `format::unlock`, which derives both slots' keys (two runs);
//! 2. a 1 GiB file sealed into the vault's file store and opened back (`attach::seal`/`open`),
//!    against `age -e`/`age -d` with an X25519 identity: MiB/s each way, the peak memory of
//!    each process, the round trips compared by SHA-256;
//! 3. `fieldkit panic` on a live server with four busy terminal panes and a client attached:
//!    the server's own figure, the CLI's round trip, and when the client's terminal got its
//!    blank frame (no peer: nothing else does this job);
//! 4. search-as-you-type over 100,000 entries, one keystroke at a time, against
//!    `fzf --filter` over the same lines.
//!
//! Why it is shaped so: peak memory has to be a process's own, so fieldkit's seal and open run
//! in a child process (this bench binary re-executed with `FIELDKIT_BENCH_VAULT_WORKER`), and
//! every child's (fieldkit's worker, age) high-water mark (VmHWM) is read as it runs, up to
//! its exit. Each side is timed from spawn to exit, so both pay a process start. Seal syncs its file to disk
//! before it returns and age does not, so age is shown both as it exits and with its output
//! synced, and the ratio against the same work (synced) is the one held to the goal.
//! A peer that is not installed is skipped with a line naming its Debian package.
//!
//! `cargo bench --bench vault` (FIELDKIT_BENCH_QUICK=1: a 64 MiB file, fewer runs;
//! FIELDKIT_BENCH_VAULT_MB sets the file's size, default 1024; FIELDKIT_BENCH_ONLY=kdf,files,
//! panic,search runs just those parts; FIELDKIT_BENCH_BIN the fieldkit binary for part 3).

mod common;
use common::*;
use fieldkit::engine::vault::{attach, format, Kdf};
use fieldkit_panes::vault::{filter, haystack, EntrySummary, Search};
use nucleo_matcher::{Config, Matcher, Utf32String};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set (to `seal` or `open`) when this binary runs as fieldkit's side of part 2.
const WORKER: &str = "FIELDKIT_BENCH_VAULT_WORKER";
/// The sealed file's key, handed to the `open` worker outside its argv.
const WORKER_KEY: &str = "FIELDKIT_BENCH_VAULT_KEY";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `prog` runs; when not, a line saying which Debian package brings it.
fn have(prog: &str, package: &str, what: &str) -> bool {
    let ok = Command::new(prog)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        println!(
            "  {prog} is not installed: {what} skipped (install the Debian package `{package}`: apt-get install {package}, or ./setup --bench)"
        );
    }
    ok
}

/// What a child took: wall time from spawn to exit, peak memory, and what it printed.
struct Ran {
    wall: Duration,
    peak_kib: u64,
    stdout: String,
}

/// The peak resident memory of `pid`'s address space so far (VmHWM), in KiB; 0 once it has
/// exited.
fn hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse().ok())
        .unwrap_or(0)
}

/// Runs `cmd` to its end, its peak memory read as it runs; fails with its stderr when it does
/// not exit 0.
///
/// Not `ru_maxrss`: Linux starts a child's at the spawning process's peak (it is kept across
/// the fork and the exec), so it says more about this bench than about the child. VmHWM is the
/// child's own address space's high-water mark; it is read every millisecond until the child
/// has exited but is not yet reaped (so its pid cannot be reused meanwhile), which misses only
/// a peak reached in its last millisecond.
fn run_measured(cmd: &mut Command, what: &str) -> Ran {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let pid = child.id();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                peak = peak.max(hwm_kib(pid));
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        })
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    // Exited, not reaped: the watcher's last reads still name this child.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    let wall = t.elapsed();
    assert_eq!(rc, 0, "waitid on {what} failed");
    done.store(true, std::sync::atomic::Ordering::Release);
    let peak_kib = watcher.join().expect("the memory watcher thread ends");
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("{what} could not be reaped: {e}"));
    assert!(
        status.success(),
        "{what} failed ({status}): {}",
        stderr.trim()
    );
    Ran {
        wall,
        peak_kib,
        stdout,
    }
}

/// The median of a set of figures.
fn med(v: &[f64]) -> f64 {
    spread(v).1
}

// ---------------------------------------------------------------------------------------------
// 1. Unlock.

fn kdf_bench(runs: usize) {
    println!("1. unlock: Argon2id at the default parameters");
    let kdf = Kdf::calibrate(Duration::from_secs(1)).expect("Kdf::calibrate should succeed");
    let pass = b"correct horse battery staple";
    // The argon2 CLI takes the salt as text: 16 ASCII bytes, the same bytes on both sides.
    let salt = b"fieldkit-bench16";
    println!(
        "  parameters: Kdf::calibrate(1 s) on this machine (as `fieldkit vault init`): {} MiB, {} passes, {} lane(s), 32-byte output; a 16-byte salt",
        kdf.memory_kib / 1024,
        kdf.passes,
        kdf.lanes
    );
    let peer = have("argon2", "argon2", "the reference argon2 comparison");
    let file = format::create(kdf, pass, b"{\"entries\":[]}", None)
        .expect("format::create should make a vault file at the calibrated parameters");
    let (mut fk, mut cli, mut unlock) = (vec![], vec![], vec![]);
    let (mut fk_hash, mut cli_hash) = (String::new(), String::new());
    // Interleaved, so drift (another build, the CPU's clock) touches all three alike.
    for _ in 0..runs {
        let t = Instant::now();
        let key = kdf
            .derive(pass, salt)
            .expect("Kdf::derive should succeed at the calibrated parameters");
        fk.push(ms(t.elapsed()));
        fk_hash = hex(key.as_ref());
        if peer {
            let mut c = Command::new("argon2");
            c.arg(std::str::from_utf8(salt).expect("the salt is ASCII"))
                .args(["-id", "-t", &kdf.passes.to_string()])
                .args(["-k", &kdf.memory_kib.to_string()])
                .args(["-p", &kdf.lanes.to_string(), "-l", "32", "-r"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let t = Instant::now();
            let mut child = c.spawn().expect("argon2 should start");
            child
                .stdin
                .take()
                .expect("argon2's stdin is piped")
                .write_all(pass)
                .expect("the password should reach argon2's stdin");
            let out = child
                .wait_with_output()
                .expect("argon2 should run to its end");
            cli.push(ms(t.elapsed()));
            assert!(
                out.status.success(),
                "argon2 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            cli_hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        let t = Instant::now();
        let opened = format::unlock(&file, pass);
        unlock.push(ms(t.elapsed()));
        assert!(
            opened.is_ok(),
            "format::unlock should open the file just made"
        );
    }
    println!("  method: fieldkit: one Kdf::derive in this process (RustCrypto argon2, the vault's code); peer: `echo -n PASS | argon2 SALT -id -t PASSES -k KIB -p LANES -l 32 -r`,");
    println!("          the reference C implementation (Debian argon2), timed from spawn to exit; {runs} runs each, interleaved, median;");
    println!("          whole unlock: format::unlock of a file made by format::create (parse, both slots' keys derived, the payload decrypted).");
    if peer {
        let same = fk_hash == cli_hash;
        println!(
            "  one derivation:  fieldkit {:7.1} ms   argon2 CLI {:7.1} ms   ratio {:.2}x (goal <= 1.5x)",
            med(&fk),
            med(&cli),
            med(&fk) / med(&cli)
        );
        println!(
            "  same work: the 32-byte outputs {} (fieldkit {}…, argon2 {}…)",
            if same { "agree" } else { "DISAGREE" },
            &fk_hash[..16.min(fk_hash.len())],
            &cli_hash[..16.min(cli_hash.len())]
        );
    } else {
        println!("  one derivation:  fieldkit {:7.1} ms (no peer)", med(&fk));
    }
    println!(
        "  whole unlock (two derivations, by design): fieldkit {:7.1} ms{}",
        med(&unlock),
        if peer {
            format!(
                "   2x the argon2 CLI {:7.1} ms   ratio {:.2}x",
                2.0 * med(&cli),
                med(&unlock) / (2.0 * med(&cli))
            )
        } else {
            String::new()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Sealed files against age.

/// fieldkit's side of part 2 in a process of its own, so its peak memory is its own.
fn worker(mode: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match mode {
        "seal" => {
            let [src, dir] = &args[..] else {
                panic!("the seal worker wants SRC DIR, got {args:?}")
            };
            let mut f = std::fs::File::open(src).expect("the seal worker's source should open");
            let s = attach::seal(&mut f, Path::new(dir)).expect("attach::seal should succeed");
            println!("{} {} {}", s.id, s.key.as_str(), s.size);
        }
        "open" => {
            let [dir, id, dest] = &args[..] else {
                panic!("the open worker wants DIR ID DEST, got {args:?}")
            };
            let key = std::env::var(WORKER_KEY).expect("the open worker's key is in its env");
            let mut out =
                std::fs::File::create(dest).expect("the open worker's destination should open");
            let n = attach::open(Path::new(dir), id, &key, &mut out)
                .unwrap_or_else(|e| panic!("attach::open failed: {e}"));
            println!("{n}");
        }
        other => panic!("{WORKER}={other}: not a worker mode (seal, open)"),
    }
}

/// `mib` MiB of incompressible bytes (xorshift), written once.
fn make_input(path: &Path, mib: usize) {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).expect("the input file should be created in the temp dir"),
    );
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).expect("the input file should be written");
    }
    f.flush().expect("the input file should be written");
}

fn sha256_of(path: &Path) -> String {
    let mut f = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{} should open to be hashed: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("the file should read to be hashed");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

/// Bytes free for an unprivileged user on the file system holding `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("a path");
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return u64::MAX;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}

/// One seal and open by the worker, then an open into /dev/null (the decryption alone):
/// (seal, open, open into /dev/null, the round trip's SHA-256).
fn fk_round(src: &Path, tmp: &Path) -> (Ran, Ran, Duration, String) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let store = tmp.join("store");
    let sealed = run_measured(
        Command::new(&exe)
            .env(WORKER, "seal")
            .arg(src)
            .arg(&store)
            .stdin(Stdio::null()),
        "the seal worker",
    );
    let mut it = sealed.stdout.split_whitespace();
    let (id, key) = (
        it.next()
            .expect("the seal worker prints the id")
            .to_string(),
        it.next()
            .expect("the seal worker prints the key")
            .to_string(),
    );
    let open_into = |dest: &Path| {
        run_measured(
            Command::new(&exe)
                .env(WORKER, "open")
                .env(WORKER_KEY, &key)
                .arg(&store)
                .arg(&id)
                .arg(dest)
                .stdin(Stdio::null()),
            "the open worker",
        )
    };
    let back = tmp.join("fk-back");
    let opened = open_into(&back);
    let hash = sha256_of(&back);
    let _ = std::fs::remove_file(&back);
    let null = open_into(Path::new("/dev/null")).wall;
    let _ = std::fs::remove_file(attach::path_of(&store, &id));
    (sealed, opened, null, hash)
}

/// One encrypt and decrypt by age, then a decrypt into /dev/null: (encrypt, the fsync after it,
/// decrypt, decrypt into /dev/null, the round trip's SHA-256).
fn age_round(
    src: &Path,
    tmp: &Path,
    recipient: &str,
    identity: &Path,
) -> (Ran, Duration, Ran, Duration, String) {
    let out = tmp.join("out.age");
    let enc = run_measured(
        Command::new("age")
            .args(["-e", "-r", recipient, "-o"])
            .arg(&out)
            .arg(src)
            .stdin(Stdio::null()),
        "age -e",
    );
    // The same durability seal gives: the encrypted bytes on disk.
    let t = Instant::now();
    std::fs::File::open(&out)
        .and_then(|f| f.sync_all())
        .expect("age's output should sync");
    let synced = t.elapsed();
    let back = tmp.join("age-back");
    let dec = run_measured(
        Command::new("age")
            .args(["-d", "-i"])
            .arg(identity)
            .arg("-o")
            .arg(&back)
            .arg(&out)
            .stdin(Stdio::null()),
        "age -d",
    );
    let hash = sha256_of(&back);
    let _ = std::fs::remove_file(&back);
    let null = run_measured(
        Command::new("age")
            .args(["-d", "-i"])
            .arg(identity)
            .args(["-o", "/dev/null"])
            .arg(&out)
            .stdin(Stdio::null()),
        "age -d",
    )
    .wall;
    let _ = std::fs::remove_file(&out);
    (enc, synced, dec, null, hash)
}

fn files_bench(mib: usize, runs: usize) {
    println!("2. a {mib} MiB file sealed into the vault's file store and opened back, vs age");
    let tmp = tempfile::Builder::new()
        .prefix("fkb-vault")
        .tempdir()
        .expect("a temp dir for the vault files bench");
    let need = (3 * mib as u64) << 20;
    let free = free_bytes(tmp.path());
    if free < need + (need >> 3) {
        println!(
            "  skipped: {} has {} MiB free, this part needs about {} MiB (set FIELDKIT_BENCH_VAULT_MB lower, or TMPDIR elsewhere)",
            tmp.path().display(),
            free >> 20,
            (need + (need >> 3)) >> 20
        );
        return;
    }
    let src = tmp.path().join("input");
    let t = Instant::now();
    make_input(&src, mib);
    let want = sha256_of(&src);
    println!(
        "  input: {mib} MiB of xorshift bytes in {} (made in {:.1} s; deleted at the end), SHA-256 {}…",
        tmp.path().display(),
        t.elapsed().as_secs_f64(),
        &want[..16]
    );
    let peer =
        have("age", "age", "the age comparison") && have("age-keygen", "age", "the age comparison");
    let mut recipient = String::new();
    let identity = tmp.path().join("identity.txt");
    if peer {
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&identity)
            .output()
            .expect("age-keygen should run");
        assert!(
            out.status.success(),
            "age-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        recipient = std::fs::read_to_string(&identity)
            .expect("age-keygen's identity file should read")
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("age-keygen's identity file names its public key")
            .trim()
            .to_string();
    }
    let mb = |d: Duration| mib as f64 / d.as_secs_f64();
    let (mut fk_seal, mut fk_open, mut fk_seal_peak, mut fk_open_peak, mut fk_null) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut age_enc, mut age_enc_sync, mut age_dec, mut age_enc_peak, mut age_dec_peak) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut age_null = vec![];
    let mut all_equal = true;
    // Interleaved, the order swapped each round, so the page cache and writeback touch both.
    for r in 0..runs {
        let mut fk = |all_equal: &mut bool| {
            let (s, o, null, h) = fk_round(&src, tmp.path());
            fk_null.push(mb(null));
            fk_seal.push(mb(s.wall));
            fk_open.push(mb(o.wall));
            fk_seal_peak.push(s.peak_kib as f64 / 1024.0);
            fk_open_peak.push(o.peak_kib as f64 / 1024.0);
            *all_equal &= h == want;
        };
        let mut age = |all_equal: &mut bool| {
            let (e, sync, d, null, h) = age_round(&src, tmp.path(), &recipient, &identity);
            age_null.push(mb(null));
            age_enc.push(mb(e.wall));
            age_enc_sync.push(mb(e.wall + sync));
            age_dec.push(mb(d.wall));
            age_enc_peak.push(e.peak_kib as f64 / 1024.0);
            age_dec_peak.push(d.peak_kib as f64 / 1024.0);
            *all_equal &= h == want;
        };
        if r % 2 == 0 || !peer {
            fk(&mut all_equal);
            if peer {
                age(&mut all_equal);
            }
        } else {
            age(&mut all_equal);
            fk(&mut all_equal);
        }
    }
    // Flat memory: the same peak for a file 1/64th the size.
    let small_mib = (mib / 64).max(1);
    let small = tmp.path().join("small");
    make_input(&small, small_mib);
    let (ss, so, _, sh) = fk_round(&small, tmp.path());
    let _ = std::fs::remove_file(&small);
    let small_ok = sh == sha256_of_len_check(&src, small_mib);

    println!("  method: fieldkit: attach::seal (64 KiB AES-256-GCM chunks, the file synced before it returns) and attach::open (every chunk checked, written to a file),");
    println!("          each in a process of its own (this bench re-executed, FIELDKIT_BENCH_VAULT_WORKER); age 1.x: `age -e -r RECIPIENT -o OUT IN` and `age -d -i IDENTITY -o BACK OUT`");
    println!("          (X25519 identity from age-keygen; ChaCha20-Poly1305 64 KiB chunks). Every side timed from spawn to exit; peak = the process's VmHWM, read every ms until it exits");
    println!("          (not ru_maxrss, which Linux starts at the spawning process's own peak);");
    println!("          runs: {runs} each, interleaved (order swapped each round), median; MiB/s = {mib} MiB / wall time; the input was just written, so it is in the page cache for all;");
    println!("          each side also opens its file once more into /dev/null, which leaves out writing the plaintext to the page cache.");
    if peer {
        println!(
            "  encrypt: fieldkit seal {:7.0} MiB/s   age -e {:7.0} MiB/s, {:7.0} MiB/s with its output synced as seal does   ratio {:.2}x vs synced (goal >= 1.0x), {:.2}x vs age as it exits",
            med(&fk_seal),
            med(&age_enc),
            med(&age_enc_sync),
            med(&fk_seal) / med(&age_enc_sync),
            med(&fk_seal) / med(&age_enc)
        );
        println!(
            "  decrypt: fieldkit open {:7.0} MiB/s   age -d {:7.0} MiB/s   ratio {:.2}x (goal >= 1.0x)",
            med(&fk_open),
            med(&age_dec),
            med(&fk_open) / med(&age_dec)
        );
        println!(
            "  decrypt into /dev/null (the decryption alone, no page-cache writes): fieldkit open {:7.0} MiB/s   age -d {:7.0} MiB/s   ratio {:.2}x",
            med(&fk_null),
            med(&age_null),
            med(&fk_null) / med(&age_null)
        );
        println!(
            "  peak memory: fieldkit seal {:.1} MiB, open {:.1} MiB (goal: flat, under 64 MiB)   age -e {:.1} MiB, age -d {:.1} MiB",
            spread(&fk_seal_peak).2,
            spread(&fk_open_peak).2,
            spread(&age_enc_peak).2,
            spread(&age_dec_peak).2
        );
    } else {
        println!(
            "  encrypt: fieldkit seal {:7.0} MiB/s   decrypt: fieldkit open {:7.0} MiB/s, {:7.0} MiB/s into /dev/null (no peer)",
            med(&fk_seal),
            med(&fk_open),
            med(&fk_null)
        );
        println!(
            "  peak memory: fieldkit seal {:.1} MiB, open {:.1} MiB (goal: flat, under 64 MiB)",
            spread(&fk_seal_peak).2,
            spread(&fk_open_peak).2
        );
    }
    println!(
        "  flat: a {small_mib} MiB file peaks at seal {:.1} MiB, open {:.1} MiB ({} MiB: seal {:.1}, open {:.1}){}",
        ss.peak_kib as f64 / 1024.0,
        so.peak_kib as f64 / 1024.0,
        mib,
        spread(&fk_seal_peak).2,
        spread(&fk_open_peak).2,
        if small_ok { "" } else { "; its round trip DIFFERED" }
    );
    println!(
        "  round trips byte-identical (SHA-256 of every file opened back against the input's): {}",
        match (all_equal, peer) {
            (true, true) => "yes, every run, both sides",
            (true, false) => "yes, every run",
            (false, _) => "NO",
        }
    );
}

/// The SHA-256 of the first `mib` MiB that `make_input` writes: the same generator from the
/// start, so a small input is the big one's prefix.
fn sha256_of_len_check(big: &Path, mib: usize) -> String {
    let mut f = std::fs::File::open(big).expect("the input should open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        f.read_exact(&mut buf).expect("the input should read");
        h.update(&buf);
    }
    hex(&h.finalize())
}

// ---------------------------------------------------------------------------------------------
// 3. Panic.

/// Everything a client's terminal received, with when each read arrived.
struct Arrivals(Mutex<Vec<(Instant, usize)>>);

impl Arrivals {
    fn drain(master: std::os::fd::OwnedFd) -> Arc<Arrivals> {
        let a = Arc::new(Arrivals(Mutex::new(Vec::new())));
        let b = a.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(master);
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                let Ok(mut v) = b.0.lock() else { break };
                v.push((now, n));
            }
        });
        a
    }

    fn last(&self) -> Option<Instant> {
        self.0.lock().ok()?.last().map(|x| x.0)
    }

    /// The first read that arrived after `t`.
    fn first_after(&self, t: Instant) -> Option<Instant> {
        self.0
            .lock()
            .ok()?
            .iter()
            .find(|(at, _)| *at > t)
            .map(|x| x.0)
    }

    /// Waits until nothing has arrived for `quiet`.
    fn settle(&self, quiet: Duration) {
        let start = Instant::now();
        loop {
            let idle = self.last().map_or(start.elapsed(), |l| l.elapsed());
            if idle >= quiet || start.elapsed() > Duration::from_secs(20) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn panic_bench(rounds: usize) {
    println!("3. panic: `fieldkit panic` with 4 busy terminal panes and a client attached");
    let (w, h) = (120u16, 40u16);
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    for a in ["split-right", "split-down", "split-right"] {
        let _ = home.fk(&["action", a]).output();
    }
    for p in 1..=4 {
        poll(Duration::from_secs(20), || {
            home.capture(Some(p))
                .contains(PROMPT.trim_end())
                .then_some(())
        });
    }
    let (mut client, master) = spawn_pty(&mut home.fk(&["attach"]), w, h);
    let input = master.try_clone().expect("dup the client's pty");
    let arrivals = Arrivals::drain(master);
    arrivals.settle(Duration::from_millis(300));
    let (mut server_ms, mut cli_ms, mut client_ms) = (vec![], vec![], vec![]);
    for r in 0..rounds {
        if r > 0 {
            // The first key after a panic only lifts the blank screen.
            type_into(&input, b" ");
        }
        // Output in every pane (and its scrollback), so there is something to wipe.
        for p in 1..=4u64 {
            let _ = home
                .fk(&[
                    "send-keys",
                    "--pane",
                    &p.to_string(),
                    &format!("seq 1 3000; printf 'DO''NE-%s\\n' {r}"),
                    "Enter",
                ])
                .output();
        }
        let marker = format!("DONE-{r}");
        for p in 1..=4 {
            poll(Duration::from_secs(20), || {
                home.capture(Some(p)).contains(&marker).then_some(())
            });
        }
        arrivals.settle(Duration::from_millis(300));
        let t = Instant::now();
        let out = home
            .fk(&["panic"])
            .output()
            .expect("fieldkit panic should run");
        cli_ms.push(ms(t.elapsed()));
        let text = String::from_utf8_lossy(&out.stdout);
        let us: f64 = text
            .split("blanked in ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "`fieldkit panic` did not say `screens blanked in N µs`: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        server_ms.push(us / 1000.0);
        let seen = poll(Duration::from_secs(5), || arrivals.first_after(t));
        client_ms.push(ms(seen.duration_since(t)));
    }
    let _ = client.kill();
    let _ = client.wait();
    home.kill_server();
    println!("  method: a server with 4 terminal panes ({}, scrollback {SCROLLBACK}), a client attached on a {w}x{h} pty drained as it fills;", bench_shell().display());
    println!("          each round every pane prints `seq 1 3000`, the client's output goes quiet for 300 ms, then `fieldkit panic` runs; {rounds} rounds;");
    println!("          server: the reply's `screens blanked in N µs` (from the command to every client's blank frame handed to its connection);");
    println!("          CLI: `fieldkit panic` from spawn to exit; client: from spawning the CLI to the first bytes after it reaching the client's terminal.");
    println!("  peer: none. tmux has no one command that wipes every pane's screen and scrollback, locks secrets and blanks every client");
    println!("        (`clear-history` + `send-keys clear` per pane is the nearest, and does not blank clients): figures against the goal only.");
    for (what, v) in [
        ("server, to every blank frame", &server_ms),
        ("client's terminal gets it", &client_ms),
        ("`fieldkit panic` round trip", &cli_ms),
    ] {
        let (lo, mid, hi) = spread(v);
        println!(
            "  {what:<30} median {mid:8.3} ms   min {lo:8.3}   worst {hi:8.3} ms   (goal < 100 ms)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Search as you type.

/// 100,000 plausible entries from small word lists, the same every run (splitmix64).
fn entries(n: usize) -> Vec<EntrySummary> {
    const FOLDERS: &[&str] = &[
        "",
        "Work",
        "Personal",
        "Radio",
        "Field/Sat",
        "Field/Base",
        "Infra/Servers",
        "Infra/Network",
        "Finance",
        "Travel",
        "Comms",
        "Archive/2021",
        "Archive/2022",
        "Shared/Team",
        "Devices",
    ];
    const WORDS: &[&str] = &[
        "github",
        "gitlab",
        "mail",
        "bank",
        "router",
        "switch",
        "vpn",
        "satphone",
        "iridium",
        "starlink",
        "radio",
        "repeater",
        "hotspot",
        "camera",
        "drone",
        "laptop",
        "tablet",
        "ssh",
        "backup",
        "nas",
        "wiki",
        "jira",
        "slack",
        "signal",
        "matrix",
        "aws",
        "azure",
        "gcp",
        "docker",
        "grafana",
        "prometheus",
        "vault",
        "ledger",
        "payroll",
        "insurance",
        "visa",
        "airline",
        "hotel",
        "rental",
        "fuel",
        "clinic",
        "pharmacy",
        "school",
        "library",
        "museum",
        "station",
        "tower",
        "antenna",
        "modem",
        "firewall",
        "printer",
        "scanner",
        "console",
        "generator",
        "solar",
        "battery",
        "weather",
        "seismic",
        "logger",
        "gateway",
    ];
    const TAGS: &[&str] = &[
        "2fa", "shared", "old", "critical", "field", "office", "home", "admin", "readonly",
        "rotate", "legacy", "team", "travel", "radio",
    ];
    let mut s: u64 = 0x5eed_f1e1_d417;
    let mut next = move |m: usize| {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % m as u64) as usize
    };
    (0..n)
        .map(|i| {
            let a = WORDS[next(WORDS.len())];
            let b = WORDS[next(WORDS.len())];
            let title = match next(3) {
                0 => format!("{a} {b}"),
                1 => format!("{a}-{}", next(1000)),
                _ => format!("{a} {b} {}", i % 97),
            };
            let tags = (0..next(4))
                .map(|_| TAGS[next(TAGS.len())].to_string())
                .collect();
            EntrySummary {
                folder: FOLDERS[next(FOLDERS.len())].to_string(),
                user: format!("user{}", next(500)),
                url: format!("https://{a}.example.org"),
                kind: "login".into(),
                has_password: true,
                tags,
                title,
                ..EntrySummary::default()
            }
        })
        .collect()
}

fn search_bench(passes: usize) {
    const N: usize = 100_000;
    println!("4. search as you type over {N} entries");
    let es = entries(N);
    let t = Instant::now();
    let hay: Vec<Utf32String> = es.iter().map(haystack).collect();
    let built = t.elapsed();
    // The from-scratch answer, to check the typed one against.
    let mut matcher = Matcher::new(Config::DEFAULT);
    let queries = ["radio", "sat phone"];
    let keystrokes: Vec<String> = queries
        .iter()
        .flat_map(|q| (1..=q.chars().count()).map(move |k| q.chars().take(k).collect::<String>()))
        .collect();
    let peer = have("fzf", "fzf", "the fzf comparison");
    let tmp = tempfile::Builder::new()
        .prefix("fkb-search")
        .tempdir()
        .expect("a temp dir for the search bench");
    let lines = tmp.path().join("entries.txt");
    if peer {
        // The same text fieldkit searches, one entry a line.
        let text: String = es
            .iter()
            .map(|e| format!("{} {} {}\n", e.folder, e.title, e.tags.join(" ")))
            .collect();
        std::fs::write(&lines, text).expect("the entries' lines should be written");
    }
    // rows[k] = (fieldkit times, fieldkit matches, fzf times, fzf matches)
    let mut rows: Vec<(Vec<f64>, usize, Vec<f64>, usize)> =
        vec![(vec![], 0, vec![], 0); keystrokes.len()];
    for _ in 0..passes {
        // As the pane types: one Search per pass, each keystroke narrowing the last.
        let mut search = Search::default();
        for (k, q) in keystrokes.iter().enumerate() {
            let t = Instant::now();
            let shown = search.run(&hay, q);
            rows[k].0.push(ms(t.elapsed()));
            rows[k].1 = shown.len();
            assert_eq!(
                shown,
                filter(&hay, q, &mut matcher),
                "typed search and search from scratch must agree on {q:?}"
            );
            if peer {
                let t = Instant::now();
                let out = Command::new("fzf")
                    .arg("--filter")
                    .arg(q)
                    .env_remove("FZF_DEFAULT_OPTS")
                    .env_remove("FZF_DEFAULT_COMMAND")
                    .stdin(std::fs::File::open(&lines).expect("the entries' lines should open"))
                    .output()
                    .expect("fzf should run");
                rows[k].2.push(ms(t.elapsed()));
                // fzf exits 1 when nothing matches.
                assert!(
                    out.status.code().is_some_and(|c| c <= 1),
                    "fzf failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                rows[k].3 = out.stdout.iter().filter(|&&b| b == b'\n').count();
            }
        }
    }
    println!("  method: {N} entries (folder, title, 0-3 tags from small word lists, a seeded PRNG); fieldkit: over the pane's");
    println!("          haystacks (folder title tags), nucleo-matcher, smart case, as the pane does on each key: fieldkit_panes::vault::Search (a key that extends the query rescores the last matches only; scoring split over the cores; packed-integer sort), checked equal to a search from scratch (built once: {:.1} ms);", ms(built));
    println!("          peer: `fzf --filter QUERY` over the same lines, one process per keystroke, timed from spawn to exit (reading the 100k lines included, all cores);");
    println!("          queries {queries:?} typed a key at a time, passes: {passes}; per keystroke the median of its passes.");
    if peer {
        println!(
            "  {:<12} {:>9} {:>12}   {:>9} {:>12}   {:>7}",
            "keys", "matches", "fieldkit ms", "matches", "fzf ms", "ratio"
        );
    } else {
        println!("  {:<12} {:>9} {:>12}", "keys", "matches", "fieldkit ms");
    }
    let (mut fk_all, mut fz_all, mut fk_meds, mut fz_meds) = (vec![], vec![], vec![], vec![]);
    for (q, (f, fm, z, zm)) in keystrokes.iter().zip(&rows) {
        fk_all.extend(f);
        fz_all.extend(z);
        fk_meds.push(med(f));
        if peer {
            fz_meds.push(med(z));
            println!(
                "  {:<12} {fm:>9} {:>12.2}   {zm:>9} {:>12.2}   {:>6.2}x",
                format!("{q:?}"),
                med(f),
                med(z),
                med(f) / med(z)
            );
        } else {
            println!("  {:<12} {fm:>9} {:>12.2}", format!("{q:?}"), med(f));
        }
    }
    let (_, fk_mid, fk_worst) = spread(&fk_all);
    if peer {
        let (_, fz_mid, fz_worst) = spread(&fz_all);
        println!(
            "  per keystroke: fieldkit median {fk_mid:.2} ms, worst {fk_worst:.2} ms (goal < 16 ms)   fzf median {fz_mid:.2} ms, worst {fz_worst:.2} ms   ratio of medians {:.2}x",
            fk_mid / fz_mid
        );
    } else {
        println!(
            "  per keystroke: fieldkit median {fk_mid:.2} ms, worst {fk_worst:.2} ms (goal < 16 ms)"
        );
    }
}

fn main() {
    if let Ok(mode) = std::env::var(WORKER) {
        worker(&mode);
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run quickly then.
    let quick = std::env::var_os("FIELDKIT_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let mib: usize = std::env::var("FIELDKIT_BENCH_VAULT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 64 } else { 1024 });
    let runs = if quick { 1 } else { 3 };
    println!(
        "fieldkit {} (release) vault benchmarks; {}",
        env!("CARGO_PKG_VERSION"),
        if quick {
            "quick mode (FIELDKIT_BENCH_QUICK): a smaller file, fewer runs"
        } else {
            "full run"
        }
    );
    // `FIELDKIT_BENCH_ONLY=kdf,search` runs just those parts (kdf, files, panic, search).
    let only = std::env::var("FIELDKIT_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if wanted("kdf") {
        kdf_bench(3);
    }
    if wanted("files") {
        files_bench(mib, runs);
    }
    if wanted("panic") {
        panic_bench(if quick { 5 } else { 20 });
    }
    if wanted("search") {
        search_bench(if quick { 1 } else { 3 });
    }
}
