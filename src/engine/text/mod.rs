/*!
The editor's files: read into a rope as text, and written back without ever losing what was
there.

Loading refuses what the editor cannot show faithfully (a folder, a binary, bytes that are not
UTF-8, more than 1 GiB) with a sentence that says what to do instead. It reads 64 KiB at a time
straight into the rope, so a file is never in memory twice, and keeps its bytes exactly: a file
whose every line ends in `\r\n` is edited with `\n` and written back with `\r\n`; in any other
file the `\r`s are part of the text.

Saving (save.rs) writes a new file beside the old one and renames it over, so a full disk, a
crash or a spent quota leaves the old one as it was. A file with hard links (which a rename
would split from its other names) or one another user owns (whose owner a rename would change)
is written in place instead, after a copy is set aside to put back if the write fails. A
symbolic link is followed to its file and stays a link. Every save first compares the file with
the stamp it was read at, so what someone else wrote meanwhile is never overwritten unasked.
*/

mod save;

pub use save::{save, SaveError};

use fieldkit_panes::editor::FileStamp;
use ropey::{Rope, RopeBuilder};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest file the editor opens.
pub const MAX_SIZE: u64 = 1 << 30;
/// A NUL byte in this much of a file's start says it is not text.
const SNIFF: usize = 8 * 1024;
/// Read and written this much at a time.
const CHUNK: usize = 64 * 1024;
/// Symbolic links followed before a path counts as a loop (the kernel's own limit).
const MAX_HOPS: usize = 40;

/// A file read for the editor.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file's text, with `\n` for its `\r\n`s when `crlf`.
    pub text: Rope,
    /// Every line break in the file was `\r\n` (and there was one): written back so.
    pub crlf: bool,
    /// The file as it was read; `None` for a file that does not exist yet.
    pub stamp: Option<FileStamp>,
    /// Why the buffer cannot be saved here, when it cannot.
    pub read_only: Option<String>,
}

/// Reads `path` as text. A path that does not exist is a new, empty buffer (stamp None) if its
/// folder exists.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let name = path.display();
    let (target, meta) = resolve(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => format!(
            "{name} leads through too many symbolic links (a loop?): fix the link, or open the \
             file it should point to"
        ),
        _ => cannot_read(path, &e),
    })?;
    let dir = folder_of(&target);
    let Some(meta) = meta else {
        return match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(Loaded {
                text: Rope::new(),
                crlf: false,
                stamp: None,
                read_only: cannot_write_in(&dir)
                    .map(|why| format!("you cannot create {name}: {why} in {}", dir.display())),
            }),
            Ok(_) => Err(format!(
                "{name} cannot be created: {} is not a folder",
                dir.display()
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!(
                "{name} does not exist, nor does its folder {}: create the folder first, or \
                 open another file",
                dir.display()
            )),
            Err(e) => Err(cannot_read(path, &e)),
        };
    };
    not_a_file(path, &meta)?;
    too_big(path, meta.len())?;
    // Not blocking: a FIFO put in the file's place meanwhile must not hang the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&target)
        .map_err(|e| cannot_read(path, &e))?;
    // The file as opened (it may have been replaced since the lstat): its stamp is taken before
    // reading, so a change made while it is read shows at the next save.
    let meta = file.metadata().map_err(|e| cannot_read(path, &e))?;
    not_a_file(path, &meta)?;
    too_big(path, meta.len())?;
    let stamp = stamp_of(&meta);
    let mut head = vec![0u8; SNIFF];
    let n = read_full_at(&file, &mut head, 0).map_err(|e| cannot_read(path, &e))?;
    if memchr::memchr(0, &head[..n]).is_some() {
        return Err(format!(
            "{name} looks binary (a NUL byte in its first 8 KiB): the editor opens text only"
        ));
    }
    drop(head);
    let (text, crlf) = match read_text(&file, path, true)? {
        Some(read) => read,
        // A file whose first line breaks were `\r\n` and a later one not: read it as it is.
        None => read_text(&file, path, false)?.unwrap_or_default(),
    };
    let read_only = match cannot_write(&target) {
        Some(why) => Some(format!("you cannot write {name} ({why})")),
        // Saving writes a new file beside it (or a copy, to write in place): the folder too.
        None => cannot_write_in(&dir).map(|why| {
            format!(
                "{name} cannot be saved: {why} in its folder {}",
                dir.display()
            )
        }),
    };
    Ok(Loaded {
        text,
        crlf,
        stamp: Some(stamp),
        read_only,
    })
}

/// The file's stamp now (through symbolic links); `None` when there is no file to stamp.
pub fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| stamp_of(&m))
}

pub(crate) fn stamp_of(m: &Metadata) -> FileStamp {
    FileStamp {
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        size: m.len(),
    }
}

/// Follows symbolic links from `path` to the file they end at, which may not exist (a dangling
/// link is where a new file goes); with its metadata when it does. A loop is ELOOP.
pub(crate) fn resolve(path: &Path) -> io::Result<(PathBuf, Option<Metadata>)> {
    let mut at = path.to_path_buf();
    for _ in 0..=MAX_HOPS {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&at)?;
                // Relative to the link's folder; an absolute target replaces the whole path.
                at = match at.parent() {
                    Some(dir) => dir.join(to),
                    None => to,
                };
            }
            Ok(m) => return Ok((at, Some(m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((at, None)),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn not_a_file(path: &Path, meta: &Metadata) -> Result<(), String> {
    let name = path.display();
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    if t.is_dir() {
        return Err(format!("{name} is a folder: open a file in it"));
    }
    let what = if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(format!(
        "{name} is {what}, not a file: the editor opens files only"
    ))
}

fn too_big(path: &Path, size: u64) -> Result<(), String> {
    if size <= MAX_SIZE {
        return Ok(());
    }
    Err(format!(
        "{} is {}, more than the editor opens ({}): view it with a pager (less) instead",
        path.display(),
        human(size),
        human(MAX_SIZE)
    ))
}

fn human(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB).replace(".0 ", " ")
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB).replace(".0 ", " ")
    } else {
        format!("{bytes} bytes")
    }
}

fn cannot_read(path: &Path, e: &io::Error) -> String {
    let name = path.display();
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => {
            format!("you cannot read {name} (permission denied): ask its owner, or open a copy")
        }
        Some(libc::ENOTDIR) => {
            format!("{name} cannot be opened: a folder on its path is a file")
        }
        Some(libc::EIO) => format!(
            "{name} could not be read (input/output error): the disk may be failing; copy what \
             you can elsewhere"
        ),
        _ => format!("{name} could not be read ({e})"),
    }
}

/// Why this user may not write the file at `path`, when they may not.
fn cannot_write(path: &Path) -> Option<&'static str> {
    denied(path, libc::W_OK)
}

/// Why this user may not make files in `dir`, when they may not.
fn cannot_write_in(dir: &Path) -> Option<&'static str> {
    denied(dir, libc::W_OK | libc::X_OK).map(|why| match why {
        "permission" => "permission denied",
        other => other,
    })
}

fn denied(path: &Path, how: libc::c_int) -> Option<&'static str> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a NUL-terminated string that lives across the call.
    if unsafe { libc::access(c.as_ptr(), how) } == 0 {
        return None;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => Some("permission"),
        Some(libc::EROFS) => Some("read-only file system"),
        // Anything else (a running program's file, ETXTBSY) shows when saving, said there.
        _ => None,
    }
}

/// Reads until `buf` is full or the file ends; how much was read.
fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaks {
    /// No line break read yet.
    Unknown,
    /// Every one so far was `\r\n`: the rope gets `\n`.
    Crlf,
    /// The text goes in as it is.
    Exact,
}

/// One pass over the whole file into a rope, checking UTF-8 as it goes. `convert`: when the
/// first line break is `\r\n`, every one must be, and the rope gets `\n` for them; `Ok(None)`
/// when a later one turns out bare (a mixed file, to read again with `convert` false). The
/// rope and a 64 KiB buffer are all it holds.
fn read_text(file: &File, path: &Path, convert: bool) -> Result<Option<(Rope, bool)>, String> {
    let mut rope = RopeBuilder::new();
    // Room for a read and what the last one left: an unfinished UTF-8 sequence (at most 3
    // bytes) and a `\r` whose `\n` may come next.
    let mut buf = vec![0u8; CHUNK + 4];
    let mut held = 0usize;
    // The file offset of buf[0].
    let mut pos = 0u64;
    let mut breaks = if convert {
        Breaks::Unknown
    } else {
        Breaks::Exact
    };
    let mut line = String::new();
    loop {
        let n = read_full_at(file, &mut buf[held..held + CHUNK], pos + held as u64)
            .map_err(|e| cannot_read(path, &e))?;
        let end = held + n;
        let eof = n == 0;
        too_big(path, pos + end as u64)?;
        let text = match std::str::from_utf8(&buf[..end]) {
            Ok(text) => text,
            // A sequence cut by the end of this read: finished by the next.
            Err(e) if e.error_len().is_none() && !eof => {
                std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(e) => {
                return Err(format!(
                    "{} is not UTF-8 text (the first bad byte is at offset {}): convert it \
                     (iconv -f ENCODING -t UTF-8) or open it with another program",
                    path.display(),
                    pos + e.valid_up_to() as u64
                ))
            }
        };
        let mut take = text.len();
        if !eof && text.ends_with('\r') {
            take -= 1;
        }
        let text = &text[..take];
        if breaks == Breaks::Exact {
            rope.append(text);
        } else {
            line.clear();
            let bytes = text.as_bytes();
            let mut from = 0;
            for i in memchr::memchr_iter(b'\n', bytes) {
                let cr = i > 0 && bytes[i - 1] == b'\r';
                match (breaks, cr) {
                    (Breaks::Unknown, true) => breaks = Breaks::Crlf,
                    (Breaks::Unknown, false) => {
                        breaks = Breaks::Exact;
                        break;
                    }
                    (Breaks::Crlf, false) => return Ok(None),
                    _ => {}
                }
                line.push_str(&text[from..i - 1]);
                line.push('\n');
                from = i + 1;
            }
            line.push_str(&text[from..]);
            rope.append(&line);
        }
        buf.copy_within(take..end, 0);
        held = end - take;
        pos += take as u64;
        if eof {
            break;
        }
    }
    Ok(Some((rope.finish(), breaks == Breaks::Crlf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn put(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).expect("write");
    }

    fn get(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("read")
    }

    /// Files a save of ours may have left in `dir` (temporary files, backups).
    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".fk-"))
            .collect()
    }

    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .expect("a Umask line");
        u32::from_str_radix(line.trim(), 8).expect("octal")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Writes `bytes`, loads them, saves the rope back and checks the file is byte for byte
    /// what it was.
    fn round_trip(bytes: &[u8]) -> Loaded {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        put(&path, bytes);
        let l = load(&path).expect("load");
        assert_eq!(l.stamp, stamp(&path));
        assert_eq!(l.read_only, None);
        let saved = save(&path, &l.text, l.crlf, l.stamp, false).expect("save");
        assert_eq!(get(&path), bytes);
        assert_eq!(Some(saved), stamp(&path));
        assert!(leftovers(dir.path()).is_empty());
        l
    }

    #[test]
    fn lf_round_trip() {
        let l = round_trip(b"one\ntwo\n");
        assert!(!l.crlf);
        assert_eq!(l.text.to_string(), "one\ntwo\n");
    }

    #[test]
    fn crlf_round_trip() {
        let l = round_trip("one\r\ntwo é\r\n\r\n".as_bytes());
        assert!(l.crlf);
        assert_eq!(l.text.to_string(), "one\ntwo é\n\n");
        // A lone `\r` is text, and stays.
        let l = round_trip(b"lone\rcr\r\nnext\r\n");
        assert!(l.crlf);
        assert_eq!(l.text.to_string(), "lone\rcr\nnext\n");
    }

    #[test]
    fn mixed_endings_stay_exact() {
        for bytes in [
            &b"one\r\ntwo\nthree\r\n"[..],
            b"one\ntwo\r\nthree\n",
            b"one\r\r\ntwo\n",
        ] {
            let l = round_trip(bytes);
            assert!(!l.crlf);
            assert_eq!(l.text.to_string().as_bytes(), bytes);
        }
    }

    #[test]
    fn no_final_newline_stays_missing() {
        let l = round_trip(b"one\r\ntwo");
        assert!(l.crlf);
        assert_eq!(l.text.to_string(), "one\ntwo");
        let l = round_trip(b"one\ntwo");
        assert!(!l.crlf);
        assert_eq!(l.text.to_string(), "one\ntwo");
        let l = round_trip(b"no break at all\r");
        assert!(!l.crlf);
        assert_eq!(l.text.to_string(), "no break at all\r");
        let l = round_trip(b"");
        assert!(!l.crlf);
        assert_eq!(l.text.len_bytes(), 0);
    }

    /// `\r\n` and a two-byte character cut by the 64 KiB reads; a bare `\n` only after three
    /// of them (so the file is read again, as it is).
    #[test]
    fn chunk_boundaries() {
        let mut bytes = vec![b'a'; CHUNK - 1];
        bytes.extend_from_slice(b"\r\n");
        bytes.resize(2 * CHUNK - 1, b'b');
        bytes.extend_from_slice("é\r\n".as_bytes());
        while bytes.len() < 3 * CHUNK + 10 {
            bytes.extend_from_slice(b"x\r\n");
        }
        let l = round_trip(&bytes);
        assert!(l.crlf);
        let want = String::from_utf8(bytes.clone())
            .expect("utf8")
            .replace("\r\n", "\n");
        assert_eq!(l.text.to_string(), want);
        bytes.extend_from_slice(b"bare\nend\r\n");
        let l = round_trip(&bytes);
        assert!(!l.crlf);
        assert_eq!(l.text.to_string().as_bytes(), &bytes[..]);
    }

    #[test]
    fn refuses_what_is_not_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = load(dir.path()).expect_err("a folder");
        assert!(e.contains("is a folder"), "{e}");

        let bin = dir.path().join("bin");
        put(&bin, b"abc\0def");
        let e = load(&bin).expect_err("binary");
        assert!(e.contains("looks binary") && e.contains("bin"), "{e}");
        // A NUL past the first 8 KiB is text (valid UTF-8) as far as the editor goes.
        let mut late = vec![b'a'; SNIFF];
        late.push(0);
        put(&bin, &late);
        assert_eq!(load(&bin).expect("late NUL").text.len_bytes(), SNIFF + 1);

        let bad = dir.path().join("latin1.txt");
        put(&bad, b"hello\xffworld");
        let e = load(&bad).expect_err("not UTF-8");
        assert!(e.contains("not UTF-8") && e.contains("offset 5"), "{e}");
        let mut far = vec![b'a'; 70_000];
        far.extend_from_slice(b"\xc3(");
        put(&bad, &far);
        let e = load(&bad).expect_err("not UTF-8");
        assert!(e.contains("offset 70000"), "{e}");
        put(&bad, b"abc\xe2\x82");
        let e = load(&bad).expect_err("cut short");
        assert!(e.contains("offset 3"), "{e}");

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("cstring");
        // SAFETY: `c` is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = load(&fifo).expect_err("a pipe");
        assert!(e.contains("named pipe"), "{e}");
    }

    #[test]
    fn refuses_symlink_loops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink("b", &a).expect("symlink");
        std::os::unix::fs::symlink("a", &b).expect("symlink");
        let e = load(&a).expect_err("loop");
        assert!(e.contains("symbolic links"), "{e}");
        match save(&a, &Rope::from_str("x"), false, None, true) {
            Err(SaveError::Failed(e)) => assert!(e.contains("symbolic links"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(std::fs::symlink_metadata(&a).expect("a").is_symlink());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn refuses_over_a_gib_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.log");
        let f = File::create(&big).expect("create");
        f.set_len(MAX_SIZE + (MAX_SIZE >> 1)).expect("sparse");
        let started = std::time::Instant::now();
        let e = load(&big).expect_err("too big");
        assert!(e.contains("1.5 GiB") && e.contains("(1 GiB)"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn refuses_unreadable() {
        if root() {
            eprintln!("skipped: root reads files whatever their mode");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.txt");
        put(&path, b"secret\n");
        set_mode(&path, 0o000);
        let e = load(&path).expect_err("unreadable");
        assert!(
            e.contains("permission denied") && e.contains("secret.txt"),
            "{e}"
        );
    }

    #[test]
    fn save_keeps_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        for m in [0o640, 0o755, 0o600] {
            let path = dir.path().join(format!("f{m:o}"));
            put(&path, b"old\n");
            set_mode(&path, m);
            let l = load(&path).expect("load");
            save(&path, &Rope::from_str("new\n"), l.crlf, l.stamp, false).expect("save");
            assert_eq!(mode(&path), m);
            assert_eq!(get(&path), b"new\n");
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn save_keeps_owner_as_root() {
        if !root() {
            eprintln!("skipped: only root can make a file another user's");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("theirs.txt");
        put(&path, b"old\n");
        std::os::unix::fs::chown(&path, Some(12345), Some(12346)).expect("chown");
        set_mode(&path, 0o2640);
        let l = load(&path).expect("load");
        save(&path, &Rope::from_str("new\n"), false, l.stamp, false).expect("save");
        let m = std::fs::metadata(&path).expect("meta");
        assert_eq!((m.uid(), m.gid()), (12345, 12346));
        assert_eq!(mode(&path), 0o2640);
        assert_eq!(get(&path), b"new\n");
    }

    /// Another user's file, writable by all, saved by a user who cannot give a new file to its
    /// owner: written in place, so its owner, mode and inode stay. As root, the user is played
    /// by this thread's file system ids (which drop CAP_CHOWN and the like for it alone).
    #[test]
    fn save_keeps_another_users_file_in_place() {
        if !root() {
            eprintln!("skipped: needs root, to make a file another user's");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        set_mode(dir.path(), 0o777);
        let path = dir.path().join("shared.txt");
        put(&path, b"old\n");
        std::os::unix::fs::chown(&path, Some(12345), Some(12346)).expect("chown");
        set_mode(&path, 0o666);
        let ino = std::fs::metadata(&path).expect("meta").ino();
        let l = load(&path).expect("load");
        // SAFETY: plain system calls on this thread's own credentials.
        unsafe {
            libc::setfsgid(65534);
            libc::setfsuid(65534);
        }
        let saved = save(&path, &Rope::from_str("new\n"), false, l.stamp, false);
        // SAFETY: as above.
        unsafe {
            libc::setfsuid(0);
            libc::setfsgid(0);
        }
        saved.expect("save");
        let m = std::fs::metadata(&path).expect("meta");
        assert_eq!((m.uid(), m.gid(), m.ino()), (12345, 12346, ino));
        assert_eq!(mode(&path), 0o666);
        assert_eq!(get(&path), b"new\n");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }

    #[test]
    fn save_through_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target.txt");
        let link = dir.path().join("link");
        let link2 = dir.path().join("link2");
        put(&target, b"old\r\n");
        set_mode(&target, 0o640);
        std::os::unix::fs::symlink("target.txt", &link).expect("symlink");
        std::os::unix::fs::symlink(&link, &link2).expect("symlink");
        let l = load(&link2).expect("load");
        assert!(l.crlf);
        save(&link2, &Rope::from_str("new\n"), l.crlf, l.stamp, false).expect("save");
        assert_eq!(get(&target), b"new\r\n");
        assert_eq!(mode(&target), 0o640);
        for (l, to) in [(&link, Path::new("target.txt")), (&link2, link.as_path())] {
            assert!(std::fs::symlink_metadata(l).expect("link").is_symlink());
            assert_eq!(std::fs::read_link(l).expect("readlink"), to);
        }
        // A dangling link: a new file where it points.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("new.txt", &dangling).expect("symlink");
        let l = load(&dangling).expect("load");
        assert_eq!(l.stamp, None);
        save(&dangling, &Rope::from_str("made\n"), false, None, false).expect("save");
        assert!(std::fs::symlink_metadata(&dangling)
            .expect("link")
            .is_symlink());
        assert_eq!(get(&dir.path().join("new.txt")), b"made\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn save_hard_linked_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        put(&a, b"old text\n");
        set_mode(&a, 0o640);
        std::fs::hard_link(&a, &b).expect("link");
        let ino = std::fs::metadata(&a).expect("meta").ino();
        // A backup left by an earlier save that could not put its file back is never lost.
        let earlier = dir.path().join(".a.txt.fk-backup~");
        put(&earlier, b"precious\n");
        let l = load(&a).expect("load");
        let got = save(
            &a,
            &Rope::from_str("new, longer text\n"),
            false,
            l.stamp,
            false,
        )
        .expect("save");
        assert_eq!(get(&a), b"new, longer text\n");
        assert_eq!(get(&b), b"new, longer text\n");
        let m = std::fs::metadata(&b).expect("meta");
        assert_eq!((m.ino(), m.nlink()), (ino, 2));
        assert_eq!(mode(&a), 0o640);
        assert_eq!(Some(got), stamp(&b));
        assert_eq!(get(&earlier), b"precious\n");
        std::fs::remove_file(&earlier).expect("rm");
        // Shorter: what is left of the old text is cut.
        save(&b, &Rope::from_str("x\n"), true, Some(got), false).expect("save");
        assert_eq!(get(&a), b"x\r\n");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        // Changed meanwhile: refused, the same as any file.
        put(&b, b"theirs\n");
        let stale = Some(got);
        assert!(matches!(
            save(&a, &Rope::from_str("mine\n"), false, stale, false),
            Err(SaveError::Changed(_))
        ));
        assert_eq!(get(&a), b"theirs\n");
    }

    #[test]
    fn changed_on_disk_refused_then_forced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        put(&path, b"mine\n");
        let l = load(&path).expect("load");
        put(&path, b"someone else's\n");
        let mine = Rope::from_str("mine, edited\n");
        match save(&path, &mine, false, l.stamp, false) {
            Err(SaveError::Changed(e)) => {
                assert!(e.contains("changed on disk") && e.contains("force"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&path), b"someone else's\n");
        let got = save(&path, &mine, false, l.stamp, true).expect("forced");
        assert_eq!(get(&path), b"mine, edited\n");
        assert_eq!(Some(got), stamp(&path));
        // Saved again from the new stamp: no complaint.
        save(&path, &mine, false, Some(got), false).expect("again");

        // Removed meanwhile.
        std::fs::remove_file(&path).expect("rm");
        assert!(matches!(
            save(&path, &mine, false, Some(got), false),
            Err(SaveError::Changed(_))
        ));
        assert!(!path.exists());
        save(&path, &mine, false, Some(got), true).expect("forced");
        assert_eq!(get(&path), b"mine, edited\n");

        // Made by someone else while the buffer was new.
        let new = dir.path().join("new.txt");
        let l = load(&new).expect("new");
        assert_eq!((l.stamp, l.text.len_bytes()), (None, 0));
        put(&new, b"theirs\n");
        match save(&new, &mine, false, None, false) {
            Err(SaveError::Changed(e)) => assert!(e.contains("created by someone else"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&new), b"theirs\n");
        save(&new, &mine, false, None, true).expect("forced");
        assert_eq!(get(&new), b"mine, edited\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn new_file_gets_the_umask_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new.txt");
        let l = load(&path).expect("load");
        assert_eq!((l.stamp, l.read_only, l.crlf), (None, None, false));
        assert_eq!(stamp(&path), None);
        let got = save(&path, &Rope::from_str("hello"), false, None, false).expect("save");
        assert_eq!(mode(&path), 0o666 & !umask());
        assert_eq!(get(&path), b"hello");
        assert_eq!(Some(got), stamp(&path));
        assert!(leftovers(dir.path()).is_empty());

        // No folder: refused both ways.
        let lost = dir.path().join("no/such/folder/f.txt");
        let e = load(&lost).expect_err("no folder");
        assert!(e.contains("nor does its folder"), "{e}");
        match save(&lost, &Rope::from_str("x"), false, None, false) {
            Err(SaveError::Failed(e)) => assert!(e.contains("does not exist"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn read_only_file() {
        if root() {
            eprintln!("skipped: root may write files whatever their mode");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ro.txt");
        put(&path, b"keep\n");
        set_mode(&path, 0o444);
        let l = load(&path).expect("load");
        let why = l.read_only.expect("read-only");
        assert!(
            why.contains("you cannot write") && why.contains("permission"),
            "{why}"
        );
        match save(&path, &Rope::from_str("x"), false, l.stamp, true) {
            Err(SaveError::Failed(e)) => assert!(e.contains("you cannot write"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&path), b"keep\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// Makes `dir` unwritable for the rest of the test: by its mode for a user, by the
    /// immutable flag for root (who ignores modes), undone when dropped. `None` when it cannot.
    struct Frozen<'a>(&'a Path, bool);

    impl<'a> Frozen<'a> {
        fn new(dir: &'a Path) -> Option<Frozen<'a>> {
            if !root() {
                set_mode(dir, 0o555);
                return Some(Frozen(dir, false));
            }
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(Frozen(dir, true))
        }
    }

    impl Drop for Frozen<'_> {
        fn drop(&mut self) {
            if self.1 {
                let _ = std::process::Command::new("chattr")
                    .arg("-i")
                    .arg(self.0)
                    .status();
            } else {
                set_mode(self.0, 0o755);
            }
        }
    }

    #[test]
    fn read_only_folder_leaves_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        let linked = dir.path().join("g.txt");
        put(&path, b"original\n");
        put(&linked, b"linked\n");
        std::fs::hard_link(&linked, dir.path().join("h.txt")).expect("link");
        let (l, lg) = (load(&path).expect("load"), load(&linked).expect("load"));
        let Some(frozen) = Frozen::new(dir.path()) else {
            eprintln!("skipped: as root, this file system cannot make a folder immutable");
            return;
        };
        if !root() {
            let why = load(&path).expect("load").read_only.expect("read-only");
            assert!(why.contains("permission denied"), "{why}");
        }
        for (p, l, was) in [(&path, &l, &b"original\n"[..]), (&linked, &lg, b"linked\n")] {
            match save(p, &Rope::from_str("new\n"), false, l.stamp, false) {
                Err(SaveError::Failed(e)) => assert!(
                    e.contains("cannot write in") && e.contains("nothing was written"),
                    "{e}"
                ),
                other => panic!("{other:?}"),
            }
            assert_eq!(get(p), was);
        }
        drop(frozen);
        assert!(leftovers(dir.path()).is_empty());
    }

    /// A 64 KiB tmpfs, mounted for the test (root only), unmounted when dropped.
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn new() -> Option<Tmpfs> {
            if !root() {
                return None;
            }
            let dir = tempfile::tempdir().ok()?;
            let c = |s: &[u8]| std::ffi::CString::new(s).expect("cstring");
            let (src, at, kind, opts) = (
                c(b"tmpfs"),
                c(dir.path().as_os_str().as_bytes()),
                c(b"tmpfs"),
                c(b"size=64k"),
            );
            // SAFETY: NUL-terminated strings that live across the call.
            let r = unsafe {
                libc::mount(
                    src.as_ptr(),
                    at.as_ptr(),
                    kind.as_ptr(),
                    0,
                    opts.as_ptr().cast(),
                )
            };
            (r == 0).then_some(Tmpfs(dir))
        }

        /// Remounts it read-only; whether that worked.
        fn read_only(&self) -> bool {
            let c = |s: &[u8]| std::ffi::CString::new(s).expect("cstring");
            let (src, at, kind) = (
                c(b"tmpfs"),
                c(self.0.path().as_os_str().as_bytes()),
                c(b"tmpfs"),
            );
            // SAFETY: NUL-terminated strings that live across the call.
            let r = unsafe {
                libc::mount(
                    src.as_ptr(),
                    at.as_ptr(),
                    kind.as_ptr(),
                    libc::MS_REMOUNT | libc::MS_RDONLY,
                    std::ptr::null(),
                )
            };
            r == 0
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let at = std::ffi::CString::new(self.0.path().as_os_str().as_bytes()).expect("c");
            // SAFETY: a NUL-terminated path.
            unsafe { libc::umount2(at.as_ptr(), libc::MNT_DETACH) };
        }
    }

    /// Writes `filler` until the disk is full; then frees `free` bytes of it.
    fn fill(filler: &Path, free: u64) {
        let mut f = File::create(filler).expect("filler");
        let block = vec![b'z'; 4096];
        loop {
            match std::io::Write::write(&mut f, &block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let len = f.metadata().expect("meta").len();
        f.set_len(len.saturating_sub(free)).expect("truncate");
    }

    #[test]
    fn full_disk_leaves_the_file() {
        let Some(fs) = Tmpfs::new() else {
            eprintln!("skipped: mounting a small tmpfs needs root (and the right to mount)");
            return;
        };
        let dir = fs.0.path();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let path = dir.join("f.txt");
        let linked = dir.join("g.txt");
        let old: Vec<u8> =
            b"old line\n".repeat(2 * page as usize / 9 + 1)[..2 * page as usize].to_vec();
        put(&path, &old);
        put(&linked, &old);
        std::fs::hard_link(&linked, dir.join("h.txt")).expect("link");
        let (l, lg) = (load(&path).expect("load"), load(&linked).expect("load"));
        let big = Rope::from_str(&"new text\n".repeat(20 * page as usize / 9));
        let filler = dir.join("filler");
        fill(&filler, 0);
        for (p, l) in [(&path, &l), (&linked, &lg)] {
            match save(p, &big, false, l.stamp, false) {
                Err(SaveError::Failed(e)) => assert!(
                    e.contains("the disk is full: nothing was written over"),
                    "{e}"
                ),
                other => panic!("{other:?}"),
            }
            assert_eq!(get(p), old);
            assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
        }
        // Room for the copy set aside and a page more: the write in place fails half way,
        // and the file is put back from the copy.
        std::fs::remove_file(&filler).expect("rm");
        fill(&filler, 3 * page);
        match save(&linked, &big, false, lg.stamp, false) {
            Err(SaveError::Failed(e)) => {
                assert!(
                    e.contains("the disk is full") && e.contains("put back"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&linked), old);
        assert_eq!(get(&dir.join("h.txt")), old);
        assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
        // Put back with its old time: once there is room, the buffer saves without a
        // complaint that the file changed.
        assert_eq!(stamp(&linked), lg.stamp);
        std::fs::remove_file(&filler).expect("rm");
        let fits = Rope::from_str(&"new text\n".repeat(5 * page as usize / 9));
        save(&linked, &fits, false, lg.stamp, false).expect("save with room");
        assert_eq!(get(&dir.join("h.txt")), fits.to_string().as_bytes());
        assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
    }

    #[test]
    fn read_only_file_system() {
        let Some(fs) = Tmpfs::new() else {
            eprintln!("skipped: mounting a small tmpfs needs root (and the right to mount)");
            return;
        };
        let path = fs.0.path().join("f.txt");
        put(&path, b"old\n");
        assert!(fs.read_only());
        let l = load(&path).expect("load");
        let why = l.read_only.expect("read-only");
        assert!(why.contains("read-only file system"), "{why}");
        match save(&path, &Rope::from_str("new\n"), false, l.stamp, false) {
            Err(SaveError::Failed(e)) => assert!(e.contains("read-only file system"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&path), b"old\n");
    }

    #[test]
    fn fifty_mb_round_trip() {
        let mut bytes = Vec::with_capacity(52 << 20);
        let mut i = 0u64;
        while bytes.len() < 50 << 20 {
            bytes.extend_from_slice(
                format!("{i:>9} the quick brown fox — jumps over the lazy dog ✓\r\n").as_bytes(),
            );
            i += 1;
        }
        bytes.extend_from_slice(b"last line, no break");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.csv");
        put(&path, &bytes);
        let started = std::time::Instant::now();
        let l = load(&path).expect("load");
        let loaded = started.elapsed();
        assert!(l.crlf);
        assert_eq!(l.text.len_bytes() as u64, bytes.len() as u64 - i);
        let started = std::time::Instant::now();
        save(&path, &l.text, l.crlf, l.stamp, false).expect("save");
        eprintln!(
            "50 MB: loaded in {loaded:?}, saved in {:?}",
            started.elapsed()
        );
        assert!(get(&path) == bytes, "not byte-exact");
    }
}
