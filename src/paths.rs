/*!
Where fieldkit keeps things, and the safety checks on the runtime directory.

`FIELDKIT_HOME` moves everything (tests give each run its own). The runtime directory holds the
server socket: it must be a real directory owned by us and closed to everyone else, or we
refuse to use it, because whoever can open the socket can type into every shell.
*/

use anyhow::{bail, Context, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
    pub runtime: PathBuf,
}

impl Dirs {
    pub fn from_env() -> Dirs {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(home) = var("FIELDKIT_HOME") {
            return Dirs {
                config: home.join("config"),
                data: home.join("data"),
                runtime: home.join("run"),
            };
        }
        let home = var("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let uid = unsafe { libc::getuid() };
        Dirs {
            config: var("XDG_CONFIG_HOME")
                .unwrap_or_else(|| home.join(".config"))
                .join("fieldkit"),
            data: var("XDG_DATA_HOME")
                .unwrap_or_else(|| home.join(".local/share"))
                .join("fieldkit"),
            runtime: var("XDG_RUNTIME_DIR")
                .map(|d| d.join("fieldkit"))
                .unwrap_or_else(|| PathBuf::from(format!("/tmp/fieldkit-{uid}"))),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.join("server.sock")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.runtime.join("server.pid")
    }
    pub fn start_lock(&self) -> PathBuf {
        self.runtime.join("start.lock")
    }
    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }
    pub fn state_db(&self) -> PathBuf {
        self.data.join("state.db")
    }
}

/// Creates the runtime directory (mode 0700) if missing, then checks it.
///
/// Errors: the path is a symlink or not a directory, is owned by another user, or is open to
/// group or others. The message says how to fix it; we never chmod a directory we did not
/// create.
pub fn secure_runtime_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    check_private_dir(dir)
}

/// The checks alone, for `doctor` and for a client about to connect.
pub fn check_private_dir(dir: &Path) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let d = dir.display();
    if meta.file_type().is_symlink() {
        bail!("refusing to use runtime dir {d}: it is a symbolic link; remove it");
    }
    if !meta.is_dir() {
        bail!("refusing to use runtime dir {d}: it is not a directory; remove it");
    }
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        bail!(
            "refusing to use runtime dir {d}: it is owned by uid {} and you are uid {uid}; \
             someone else may be able to reach your sessions. Remove it or set FIELDKIT_HOME",
            meta.uid()
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "refusing to use runtime dir {d}: its mode is {mode:o}, open to group or others; \
             run `chmod 700 {d}`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_and_refuses_open_dirs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("run");
        secure_runtime_dir(&dir).expect("fresh dir is fine");
        let mode = std::fs::metadata(&dir).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = secure_runtime_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("open to group or others"), "{err}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let err = check_private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
    }

    #[test]
    fn refuses_a_dir_owned_by_someone_else() {
        // Root hands a fresh dir to nobody; any other user meets `/`, which belongs to root.
        let tmp = tempfile::tempdir().expect("tempdir");
        let (dir, owner) = if unsafe { libc::getuid() } == 0 {
            let dir = tmp.path().join("run");
            secure_runtime_dir(&dir).expect("fresh");
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
            (dir, 65534)
        } else {
            (PathBuf::from("/"), 0)
        };
        let err = check_private_dir(&dir).unwrap_err().to_string();
        assert!(err.contains(&format!("owned by uid {owner}")), "{err}");
    }
}
