//! Writing a buffer back. The usual way is a new file beside the old one, synced, given the old
//! one's mode and owner, and renamed over it: until the rename the old file is untouched, and
//! after it the new one is whole. Two kinds of file cannot be replaced so: one with hard links
//! (its other names would keep the old text) and one whose owner this user cannot give the new
//! file (another user's, in a folder this user may write). Those are written in place, after a
//! synced copy is set aside beside them, and put back from it if the write fails.

use super::{folder_of, resolve, stamp_of, CHUNK};
use fieldkit_panes::editor::FileStamp;
use ropey::Rope;
use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a save did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// The file on disk is not as `expect` says: someone else changed, made or removed it.
    Changed(String),
    /// The save could not be done; the sentence says what happened and what to do.
    Failed(String),
}

impl SaveError {
    pub fn why(&self) -> &str {
        match self {
            SaveError::Changed(why) | SaveError::Failed(why) => why,
        }
    }
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.why())
    }
}

impl std::error::Error for SaveError {}

/// Writes `text` to `path` (through symbolic links, to the file they end at), with `\r\n` line
/// breaks when `crlf`. `expect` is the file as the buffer last saw it (`None`: it did not
/// exist); unless `force`, a file that is not so any more is left alone (`Changed`). Returns
/// the file's new stamp.
pub fn save(
    path: &Path,
    text: &Rope,
    crlf: bool,
    expect: Option<FileStamp>,
    force: bool,
) -> Result<FileStamp, SaveError> {
    let name = path.display();
    let (target, meta) = resolve(path).map_err(|e| {
        SaveError::Failed(match e.raw_os_error() {
            Some(libc::ELOOP) => format!(
                "{name} leads through too many symbolic links (a loop?): nothing was written; \
                 fix the link, or save elsewhere"
            ),
            _ => format!("cannot save {name} ({e}): nothing was written; save elsewhere"),
        })
    })?;
    if !force {
        let now = meta.as_ref().map(stamp_of);
        match (expect, now) {
            (Some(was), Some(now)) if was != now => return Err(changed(path)),
            (Some(_), None) => {
                return Err(SaveError::Changed(format!(
                    "{name} was deleted or moved on disk since it was read: save again with \
                     force to write it anew, or save elsewhere"
                )))
            }
            (None, Some(_)) => {
                return Err(SaveError::Changed(format!(
                    "{name} was created by someone else meanwhile: overwrite it (save again with \
                     force), open it instead, or save elsewhere"
                )))
            }
            _ => {}
        }
    }
    let dir = folder_of(&target);
    let job = Job {
        name: path,
        target: &target,
        dir: &dir,
        meta: meta.as_ref(),
        text,
        crlf,
        force,
    };
    match &meta {
        Some(m) if m.is_dir() => {
            return Err(SaveError::Failed(format!(
                "{name} is a folder: nothing was written; save elsewhere"
            )))
        }
        Some(m) if !m.is_file() => {
            return Err(SaveError::Failed(format!(
                "{name} is not a regular file (a pipe, socket or device): nothing was written; \
                 save elsewhere"
            )))
        }
        Some(m) => {
            // A rename would replace even a file this user may not write: refuse as writing
            // it would.
            if let Some(why) = super::cannot_write(&target) {
                return Err(SaveError::Failed(format!(
                    "you cannot write {name} ({why}): nothing was written; save elsewhere"
                )));
            }
            if m.nlink() > 1 {
                return job.in_place();
            }
        }
        None => match std::fs::metadata(&dir) {
            Ok(d) if d.is_dir() => {}
            _ => {
                return Err(SaveError::Failed(format!(
                    "the folder {} does not exist: {name} was not created; create the folder, \
                     or save elsewhere",
                    dir.display()
                )))
            }
        },
    }
    match job.replace()? {
        Some(stamp) => Ok(stamp),
        None => job.in_place(),
    }
}

fn changed(path: &Path) -> SaveError {
    SaveError::Changed(format!(
        "{} changed on disk since it was read: overwrite (save again with force), reload, or \
         save elsewhere",
        path.display()
    ))
}

/// One save: the path as the user named it, and the file it leads to.
struct Job<'a> {
    name: &'a Path,
    target: &'a Path,
    dir: &'a Path,
    meta: Option<&'a Metadata>,
    text: &'a Rope,
    crlf: bool,
    force: bool,
}

impl Job<'_> {
    /// A new file beside the target, renamed over it. `Ok(None)`: the new file could not be
    /// given the target's owner, so nothing was done and the target is to be written in place.
    fn replace(&self) -> Result<Option<FileStamp>, SaveError> {
        // Private until it has the target's mode; a new file gets 0666 less the umask (and a
        // folder's default ACL) from the kernel, as any program's new file does.
        let mode = if self.meta.is_some() { 0o600 } else { 0o666 };
        let (tmp, file) = self.create(|n| temp_name(self.target, n), mode)?;
        let gone = Remove(Some(tmp.clone()));
        write_text(&file, self.text, self.crlf).map_err(|e| self.nothing_written(&e))?;
        if let Some(m) = self.meta {
            // The owner first: a chown drops set-user-ID bits, which the chmod puts back.
            let ours = file.metadata().map_err(|e| self.nothing_written(&e))?;
            if (ours.uid(), ours.gid()) != (m.uid(), m.gid()) {
                if let Err(e) = std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid())) {
                    tracing::info!(
                        file = %self.target.display(),
                        "cannot give the new file the owner {}:{} ({e}): writing in place",
                        m.uid(),
                        m.gid()
                    );
                    return Ok(None);
                }
            }
            file.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(|e| self.nothing_written(&e))?;
        }
        file.sync_all().map_err(|e| self.nothing_written(&e))?;
        let stamp = file
            .metadata()
            .map(|m| stamp_of(&m))
            .map_err(|e| self.nothing_written(&e))?;
        // Someone may have written the file while this one was written: look again, as late
        // as can be.
        if !self.force && !self.unchanged(std::fs::symlink_metadata(self.target).ok().as_ref()) {
            return Err(self.changed_now());
        }
        std::fs::rename(&tmp, self.target).map_err(|e| self.nothing_written(&e))?;
        gone.keep();
        sync_folder(self.dir);
        Ok(Some(stamp))
    }

    /// Writes over the target itself, after a synced copy of it is set aside; the copy is put
    /// back if the write fails, and kept (and said where) if even that fails.
    fn in_place(&self) -> Result<FileStamp, SaveError> {
        let name = self.name.display();
        let (bak_path, mut bak) = self.create(|n| backup_name(self.target, n), 0o600)?;
        let gone = Remove(Some(bak_path.clone()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.target)
            .map_err(|e| self.nothing_written(&e))?;
        let now = file.metadata().map_err(|e| self.nothing_written(&e))?;
        if !self.force && !self.unchanged(Some(&now)) {
            return Err(self.changed_now());
        }
        io::copy(&mut file, &mut bak)
            .and_then(|_| bak.sync_all())
            .map_err(|e| self.nothing_written(&e))?;
        // The copy must outlive a crash during the write: its name too.
        sync_folder(self.dir);
        match write_over(&file, self.text, self.crlf) {
            Ok(()) => {
                drop(gone);
                // Written: a stamp that cannot be read only makes the next save ask first.
                Ok(file.metadata().map(|m| stamp_of(&m)).unwrap_or_default())
            }
            Err(e) => {
                let (what, todo) = trouble(&e, self.dir, false);
                let put_back = bak
                    .seek(SeekFrom::Start(0))
                    .and_then(|_| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| io::copy(&mut bak, &mut file))
                    .and_then(|n| file.set_len(n))
                    // Its old time too, so that the buffer's stamp still matches it and the
                    // next save does not take it for someone else's change.
                    .and_then(|_| {
                        let was = std::fs::FileTimes::new()
                            .set_accessed(now.accessed()?)
                            .set_modified(now.modified()?);
                        let _ = file.set_times(was);
                        file.sync_all()
                    });
                match put_back {
                    Ok(()) => Err(SaveError::Failed(format!(
                        "{what}: {name} was put back as it was; {todo}"
                    ))),
                    Err(e2) => {
                        gone.keep();
                        Err(SaveError::Failed(format!(
                            "{what}, and putting {name} back failed too ({e2}): its old text is \
                             kept in {}; copy it back before anything else",
                            bak_path.display()
                        )))
                    }
                }
            }
        }
    }

    /// A file of our own in the target's folder, named by `name(n)` for the first try `n` whose
    /// name is free.
    fn create(
        &self,
        name: impl Fn(u32) -> OsString,
        mode: u32,
    ) -> Result<(PathBuf, File), SaveError> {
        let mut last = None;
        for n in 0..100 {
            let path = self.dir.join(name(n));
            match OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(f) => return Ok((path, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    let (what, todo) = trouble(&e, self.dir, true);
                    return Err(self.failed(&what, todo));
                }
            }
        }
        let e = last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EEXIST));
        Err(self.nothing_written(&e))
    }

    /// Whether the target is still the file `meta` was taken from, as it was.
    fn unchanged(&self, now: Option<&Metadata>) -> bool {
        let key = |m: &Metadata| (m.dev(), m.ino(), stamp_of(m));
        now.map(key) == self.meta.map(key)
    }

    fn changed_now(&self) -> SaveError {
        changed(self.name)
    }

    fn nothing_written(&self, e: &io::Error) -> SaveError {
        let (what, todo) = trouble(e, self.dir, false);
        self.failed(&what, todo)
    }

    fn failed(&self, what: &str, todo: &str) -> SaveError {
        let name = self.name.display();
        SaveError::Failed(if self.meta.is_some() {
            format!("{what}: nothing was written over {name}; {todo}")
        } else {
            format!("{what}: {name} was not created; {todo}")
        })
    }
}

/// What went wrong, and what to do, for a sentence. `in_folder`: the error came from making a
/// file in `dir`.
fn trouble(e: &io::Error, dir: &Path, in_folder: bool) -> (String, &'static str) {
    let dir = dir.display();
    match e.raw_os_error() {
        Some(libc::ENOSPC) => ("the disk is full".into(), "free space, or save elsewhere"),
        Some(libc::EDQUOT) => (
            "your disk quota is used up".into(),
            "free space, or save elsewhere",
        ),
        Some(libc::EROFS) => (
            format!("{dir} is on a read-only file system"),
            "save elsewhere",
        ),
        Some(libc::EACCES | libc::EPERM) if in_folder => (
            format!("cannot write in {dir} (permission denied)"),
            "save elsewhere",
        ),
        Some(libc::EACCES | libc::EPERM) => ("permission denied".into(), "save elsewhere"),
        Some(libc::EIO) => (
            "the disk could not be written (input/output error)".into(),
            "save elsewhere, and check the disk",
        ),
        Some(libc::EFBIG) => (
            "the file is larger than this file system allows".into(),
            "save elsewhere",
        ),
        Some(libc::ETXTBSY) => (
            "the file is a program that is running".into(),
            "stop it first, or save elsewhere",
        ),
        _ => (format!("the save failed ({e})"), "save elsewhere"),
    }
}

/// `.NAME.fk-PID-N.tmp` beside `target`, N counting this process's saves.
fn temp_name(target: &Path, _try: u32) -> OsString {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    beside(target, &format!(".fk-{}-{n}.tmp", std::process::id()))
}

/// `.NAME.fk-backup~`, then `.NAME.fk-backup-N~` while an earlier one is still there (left by
/// a save that could not put its file back, so never written over).
fn backup_name(target: &Path, try_: u32) -> OsString {
    match try_ {
        0 => beside(target, ".fk-backup~"),
        n => beside(target, &format!(".fk-backup-{}~", n + 1)),
    }
}

/// `.NAME` + `tail`, NAME cut so the whole stays within a file name's 255 bytes.
fn beside(target: &Path, tail: &str) -> OsString {
    let base = target.file_name().map(|n| n.as_bytes()).unwrap_or(b"file");
    let room = 255 - 1 - tail.len();
    let mut out = Vec::with_capacity(255);
    out.push(b'.');
    out.extend_from_slice(&base[..base.len().min(room)]);
    out.extend_from_slice(tail.as_bytes());
    OsString::from_vec(out)
}

/// The rope's chunks through a 64 KiB buffer, `\n` as `\r\n` when `crlf`; the bytes written.
fn write_text(file: &File, text: &Rope, crlf: bool) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(CHUNK, file);
    let mut n = 0u64;
    for chunk in text.chunks() {
        let bytes = chunk.as_bytes();
        if crlf {
            let mut from = 0;
            for i in memchr::memchr_iter(b'\n', bytes) {
                out.write_all(&bytes[from..i])?;
                out.write_all(b"\r\n")?;
                n += (i - from) as u64 + 2;
                from = i + 1;
            }
            out.write_all(&bytes[from..])?;
            n += (bytes.len() - from) as u64;
        } else {
            out.write_all(bytes)?;
            n += bytes.len() as u64;
        }
    }
    out.flush()?;
    Ok(n)
}

/// Writes the text over `file` from its start (no truncation first: on most file systems the
/// old blocks are reused, so a nearly full disk can still take it), cuts what is left of the
/// old text, and syncs.
fn write_over(mut file: &File, text: &Rope, crlf: bool) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let n = write_text(file, text, crlf)?;
    file.set_len(n)?;
    file.sync_all()
}

/// Syncs a folder, so that a rename or a new name in it outlives a crash. A failure is only
/// logged: the file itself is written, and some file systems cannot sync folders at all.
fn sync_folder(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        if e.raw_os_error() != Some(libc::EINVAL) {
            tracing::warn!(folder = %dir.display(), "cannot sync the folder: {e}");
        }
    }
}

/// Removes a file of ours when dropped, unless it is to stay.
struct Remove(Option<PathBuf>);

impl Remove {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Remove {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}
