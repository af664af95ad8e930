//! What the kernel enforces of a plugin's permissions, and the command line that asks it to.
//!
//! - Files: Landlock (Linux 5.13+). The plugin may read and run what a program needs to start
//!   (/usr, /lib, /lib64, /bin, /sbin, /etc, /proc, /dev; /dev/null is writable), its own
//!   folder, and what its grant names; write only where its grant says. Anything else is
//!   EACCES from the kernel, whatever the plugin's code tries.
//! - Network: none unless granted. A new user and network namespace (only a down loopback
//!   inside) where unprivileged namespaces are allowed; Landlock's TCP rules (Linux 6.7+) as
//!   well where the kernel has them, so a kernel that refuses namespaces still blocks TCP.
//! - The plugin leads its own process group (a stop kills what it started) and dies with the
//!   server (PR_SET_PDEATHSIG).
//!
//! What cannot be enforced here is said (`Enforced::describe`), and a grant must accept it
//! before such a plugin runs.

use super::manifest::Manifest;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// What the kernel of this machine can enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// The Landlock ABI (0: none).
    pub landlock: i32,
    /// Whether a process may make a user and network namespace.
    pub netns: bool,
}

impl Kernel {
    /// Asks the kernel (once per start; cheap).
    pub fn probe() -> Kernel {
        // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only
        // answers the ABI version (or fails); it takes no pointer it writes through.
        let abi = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                1u32,
            )
        };
        Kernel {
            landlock: if abi > 0 { abi as i32 } else { 0 },
            netns: netns_allowed(),
        }
    }

    pub fn files(&self) -> bool {
        self.landlock >= 1
    }

    pub fn tcp(&self) -> bool {
        self.landlock >= 4
    }
}

/// Whether an unprivileged child may unshare a user and network namespace: tried in a child.
fn netns_allowed() -> bool {
    let mut c = std::process::Command::new("/bin/true");
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: unshare(2) in the forked child before exec; no allocation.
    unsafe {
        c.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.status().is_ok_and(|s| s.success())
}

/// What will be enforced for one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforced {
    pub files: bool,
    /// The network is cut (not asked for, and the kernel can).
    pub network_cut: bool,
    /// The network is not asked for, but nothing here can cut it.
    pub network_open_anyway: bool,
}

impl Enforced {
    pub fn of(m: &Manifest, k: Kernel) -> Enforced {
        let cut = !m.permissions.network && (k.netns || k.tcp());
        Enforced {
            files: k.files(),
            network_cut: cut,
            network_open_anyway: !m.permissions.network && !cut,
        }
    }

    /// What a grant must accept: the permissions the kernel will not enforce here.
    pub fn unenforced(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.files {
            v.push("files: this kernel has no Landlock, so the plugin can read and write whatever you can".to_string());
        }
        if self.network_open_anyway {
            v.push("network: this kernel neither allows a network namespace nor has Landlock's TCP rules, so the plugin can reach the network".to_string());
        }
        v
    }

    pub fn describe(&self) -> String {
        let files = if self.files {
            "files: Landlock"
        } else {
            "files: not enforced"
        };
        let net = if self.network_cut {
            "network: cut"
        } else if self.network_open_anyway {
            "network: not enforced"
        } else {
            "network: granted"
        };
        format!("{files}; {net}")
    }
}

fn expand(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(p),
    }
}

/// The command that starts plugin `m` under what `k` can enforce.
pub fn command(
    m: &Manifest,
    k: Kernel,
    home: &Path,
) -> Result<(std::process::Command, Enforced), String> {
    let enforced = Enforced::of(m, k);
    let mut c = std::process::Command::new(&m.command);
    c.args(&m.args).current_dir(&m.dir).process_group(0);
    // Secrets of the session's environment are not the plugin's.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("FIELDKIT_VAULT") || key.ends_with("_TOKEN") || key.ends_with("_SECRET")
        {
            c.env_remove(&key);
        }
    }
    let ruleset = if enforced.files {
        Some(ruleset(m, k, home)?)
    } else {
        None
    };
    let netns = !m.permissions.network && k.netns;
    let mut ruleset = ruleset;
    // SAFETY: in the forked child before exec: prctl, unshare and Landlock's syscalls only
    // (the ruleset was built, and its memory allocated, in the parent).
    unsafe {
        c.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if netns && libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(r) = ruleset.take() {
                r.restrict_self()
                    .map_err(|_| std::io::Error::from_raw_os_error(libc::EPERM))?;
            }
            Ok(())
        });
    }
    Ok((c, enforced))
}

/// Where `command` is: as given when it has a slash (relative to `dir`), else on `PATH`.
fn resolve(command: &str, dir: &Path) -> Option<PathBuf> {
    if command.contains('/') {
        let p = dir.join(command);
        return p.canonicalize().ok().or(Some(p));
    }
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(command))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

fn ruleset(m: &Manifest, k: Kernel, home: &Path) -> Result<landlock::RulesetCreated, String> {
    use landlock::{
        path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset,
        RulesetAttr, RulesetCreatedAttr, ABI,
    };
    let abi = ABI::V4;
    let e = |e: landlock::RulesetError| format!("the Landlock rules: {e}");
    let mut r = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(e)?;
    if !m.permissions.network && k.tcp() {
        // No port rules: every TCP bind and connect is refused.
        r = r.handle_access(AccessNet::from_all(abi)).map_err(e)?;
    }
    let mut read: Vec<PathBuf> = [
        "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/dev",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if m.own_dir {
        read.push(m.dir.clone());
    }
    // The program itself, wherever it is installed.
    if let Some(exe) = resolve(&m.command, &m.dir) {
        if let Some(d) = exe.parent() {
            read.push(d.to_path_buf());
        }
    }
    read.extend(m.permissions.read.iter().map(|p| expand(p, home)));
    // A program granted: its folder (a folder granted: itself, as a version manager's).
    read.extend(m.permissions.run.iter().map(|p| {
        let p = expand(p, home);
        if p.is_dir() {
            p
        } else {
            p.parent().map(Path::to_path_buf).unwrap_or(p)
        }
    }));
    let mut write: Vec<PathBuf> = vec![PathBuf::from("/dev/null")];
    write.extend(m.permissions.write.iter().map(|p| expand(p, home)));
    r.create()
        .map_err(e)?
        .add_rules(path_beneath_rules(&read, AccessFs::from_read(abi)))
        .map_err(e)?
        .add_rules(path_beneath_rules(&write, AccessFs::from_all(abi)))
        .map_err(e)
}
