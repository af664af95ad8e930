/*!
Writing a vault so that no crash, full disk or read-only folder ever leaves a half-written one:
the new generation goes to a temporary file beside it, is synced, read back and checked with the
key in hand, then the current file becomes `NAME.bak` and the new one takes its name, and the
folder is synced. Opening falls back to `NAME.bak` when a crash came between the two renames.
*/

use super::format::{Opened, VaultError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a save did not happen; the vault on disk is as it was.
#[derive(Debug)]
pub enum SaveError {
    Io(std::io::Error),
    /// What was written did not read back as what was meant (a failing disk).
    Verify(VaultError),
    Seal(VaultError),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::Io(e) => write!(f, "the vault was not saved ({e}); the file on disk is as it was and the change is kept in memory"),
            SaveError::Verify(e) => write!(f, "the vault written did not read back ({e}); the file on disk is as it was"),
            SaveError::Seal(e) => write!(f, "the vault could not be sealed: {e}"),
        }
    }
}

impl std::error::Error for SaveError {}

pub fn backup_of(path: &Path) -> PathBuf {
    let mut b = path.as_os_str().to_owned();
    b.push(".bak");
    PathBuf::from(b)
}

fn temp_of(path: &Path) -> PathBuf {
    let mut b = path.as_os_str().to_owned();
    b.push(".tmp");
    PathBuf::from(b)
}

/// Writes `bytes` as the new generation of the vault at `path`, checked with `opened` (the
/// vault being saved) before it replaces the old one.
pub fn save(path: &Path, bytes: &[u8], opened: Option<&Opened>) -> Result<(), SaveError> {
    let tmp = temp_of(path);
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode_0600()
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(SaveError::Io(e));
    }
    let back = std::fs::read(&tmp).map_err(SaveError::Io)?;
    if back != bytes {
        let _ = std::fs::remove_file(&tmp);
        return Err(SaveError::Verify(VaultError::HeaderDamaged));
    }
    if let Some(o) = opened {
        if let Err(e) = o.reopen(&back) {
            let _ = std::fs::remove_file(&tmp);
            return Err(SaveError::Verify(e));
        }
    }
    if path.exists() {
        std::fs::rename(path, backup_of(path)).map_err(SaveError::Io)?;
    }
    std::fs::rename(&tmp, path).map_err(SaveError::Io)?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(SaveError::Io)?;
    }
    Ok(())
}

/// The vault's bytes: the file, or its backup when a crash came between the two renames of a
/// save (then `true`).
pub fn read(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    match std::fs::read(path) {
        Ok(b) => Ok((b, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::read(backup_of(path))
            .map(|b| (b, true))
            .map_err(|_| e),
        Err(e) => Err(e),
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}
