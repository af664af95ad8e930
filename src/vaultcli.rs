/*!
`fieldkit vault ...`: the vault from a shell, over ssh, with no GUI and no keychain. The
passphrase is read from the terminal with echo off, or from a file descriptor (`--passphrase-fd
N`, one line, as gpg's), never from argv. Argon2id runs here, in this process: the server is
handed the resulting key-encryption key and never stalls on the KDF. `unlock` leaves the vault
open in the running server for every session until `lock` (as ssh-agent holds keys).
*/

use crate::client;
use crate::engine::vault::{entries::Entries, file, format, Kdf};
use crate::paths::Dirs;
use crate::protocol::{Command, VaultCommand};
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, Read};
use zeroize::Zeroizing;

#[derive(clap::Subcommand, Debug)]
pub enum VaultCmd {
    /// Make a new vault (the KDF calibrated to about a second here; never below 64 MiB, 3 passes).
    Init {
        /// Also a decoy vault in the same file, opened by a second passphrase.
        #[arg(long)]
        decoy: bool,
        /// Read the passphrase (and with --decoy the decoy's, on the next line) from this fd.
        #[arg(long)]
        passphrase_fd: Option<i32>,
    },
    /// Open the vault in the running server for every session, until `lock`.
    Unlock {
        #[arg(long)]
        passphrase_fd: Option<i32>,
    },
    /// Close the vault: its keys and entries are wiped from the server's memory.
    Lock,
    /// Locked or not, and the file's key derivation parameters.
    Status,
    /// The entries' titles (folder/title).
    Ls,
    /// Print one field of an entry (password by default) while unlocked.
    Get {
        title: String,
        #[arg(long, default_value = "password")]
        field: String,
    },
    /// Add an entry.
    Add {
        title: String,
        #[arg(long, default_value = "")]
        user: String,
        #[arg(long, default_value = "")]
        url: String,
        /// Read the secret from this fd (one line).
        #[arg(long, conflicts_with = "generate")]
        secret_fd: Option<i32>,
        /// Generate a 24-character password.
        #[arg(long)]
        generate: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Remove an entry.
    Rm { title: String },
    /// Take the entries of a KeePassXC or Bitwarden CSV export (rows that do not read are
    /// reported and skipped; titles the vault has already are kept as they are).
    Import { file: std::path::PathBuf },
    /// Print a generated password.
    Gen {
        #[arg(long, default_value_t = 24)]
        length: usize,
    },
}

pub fn run(dirs: &Dirs, cmd: VaultCmd) -> Result<i32> {
    let path = dirs.data.join("vault.fk");
    match cmd {
        VaultCmd::Init {
            decoy,
            passphrase_fd,
        } => {
            if path.exists() || file::backup_of(&path).exists() {
                bail!(
                    "there is a vault at {} already; it is never overwritten",
                    path.display()
                );
            }
            let mut source = Source::new(passphrase_fd)?;
            let pass = source.read("new vault passphrase", true)?;
            let decoy_pass = if decoy {
                Some(source.read("decoy passphrase (opens the decoy's entries)", true)?)
            } else {
                None
            };
            if decoy_pass.as_ref().is_some_and(|d| **d == *pass) {
                bail!("the decoy's passphrase must differ from the vault's");
            }
            let secs = std::env::var("FIELDKIT_VAULT_KDF_SECONDS")
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(1.0);
            eprintln!("calibrating Argon2id to about {secs} s on this machine…");
            let kdf = Kdf::calibrate(std::time::Duration::from_secs_f64(secs))?;
            let empty = Entries::default().to_plaintext();
            let bytes = format::create(
                kdf,
                pass.as_bytes(),
                &empty,
                decoy_pass
                    .as_ref()
                    .map(|d| (d.as_bytes(), empty.as_slice())),
            )?;
            std::fs::create_dir_all(&dirs.data)?;
            file::save(&path, &bytes, None)?;
            println!(
                "vault created at {} (Argon2id {} MiB, {} passes)",
                path.display(),
                kdf.memory_kib / 1024,
                kdf.passes
            );
            Ok(0)
        }
        VaultCmd::Unlock { passphrase_fd } => {
            let (bytes, from_backup) = file::read(&path).map_err(|e| {
                anyhow!("no vault at {} ({e}): fieldkit vault init", path.display())
            })?;
            if from_backup {
                eprintln!("the vault file is missing; its backup is used");
            }
            let pass = Source::new(passphrase_fd)?.read("vault passphrase", false)?;
            let opened = match format::unlock(&bytes, pass.as_bytes()) {
                Ok(o) => o,
                Err(e) => {
                    // A wrong guess costs the guesser a moment more, not the machine.
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    bail!("{e}");
                }
            };
            let cmd = VaultCommand::Unlock {
                slot: opened.slot,
                kek: opened.kek(),
            };
            drop(opened);
            send(dirs, cmd, true)
        }
        VaultCmd::Lock => send(dirs, VaultCommand::Lock, false),
        VaultCmd::Status => {
            match crate::server::vault::describe(&path) {
                Ok(d) => println!("{d}"),
                Err(e) => println!("{e}"),
            }
            if dirs.socket().exists() {
                send(dirs, VaultCommand::Status, false)
            } else {
                println!("locked (no server running)");
                Ok(0)
            }
        }
        VaultCmd::Ls => send(dirs, VaultCommand::Ls, false),
        VaultCmd::Get { title, field } => send(dirs, VaultCommand::Get { title, field }, false),
        VaultCmd::Add {
            title,
            user,
            url,
            secret_fd,
            generate,
            note,
        } => {
            let secret = match (secret_fd, generate) {
                (Some(fd), _) => Source::new(Some(fd))?.read("secret", false)?,
                (None, true) => generate_password(24),
                (None, false) => Zeroizing::new(String::new()),
            };
            send(
                dirs,
                VaultCommand::Add {
                    title,
                    user,
                    url,
                    secret: secret.to_string(),
                    note,
                },
                false,
            )
        }
        VaultCmd::Rm { title } => send(dirs, VaultCommand::Rm { title }, false),
        VaultCmd::Import { file } => {
            let ext = file
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if ext == "kdbx" {
                bail!("KeePass databases (.kdbx) are not read yet: export CSV from KeePassXC (Database > Export > CSV) and import that");
            }
            let text = Zeroizing::new(
                std::fs::read_to_string(&file).map_err(|e| anyhow!("{}: {e}", file.display()))?,
            );
            let (entries, bad) = crate::engine::vault::import::from_csv(&text)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            for b in &bad {
                eprintln!("{}: skipped {b}", file.display());
            }
            send(dirs, VaultCommand::Import { entries }, false)
        }
        VaultCmd::Gen { length } => {
            if !(8..=256).contains(&length) {
                bail!("a length from 8 to 256");
            }
            println!("{}", *generate_password(length));
            Ok(0)
        }
    }
}

/// `fieldkit run --env NAME=vault:ENTRY/FIELD ... -- CMD`: CMD runs with each secret in its
/// environment and nowhere else (not argv, not a file, not a log), as `op run` does. The
/// secrets are fetched from the unlocked vault in the server; a locked vault runs nothing.
pub fn run_with_secrets(dirs: &Dirs, env: &[String], cmd: &[String]) -> Result<i32> {
    let mut vars: Vec<(String, Zeroizing<String>)> = Vec::new();
    for spec in env {
        let (name, reference) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--env {spec:?}: NAME=vault:ENTRY/FIELD"))?;
        let reference = reference
            .strip_prefix("vault:")
            .ok_or_else(|| anyhow!("--env {name}: the value must be vault:ENTRY/FIELD"))?;
        let (title, field) = reference.rsplit_once('/').ok_or_else(|| {
            anyhow!("--env {name}: vault:ENTRY/FIELD, e.g. vault:Database/password")
        })?;
        if name.is_empty() || name.contains(['\0', '=']) {
            bail!("--env {name:?}: not a variable name");
        }
        let (code, out, err) = client::command(
            dirs,
            None,
            Command::Vault(VaultCommand::Get {
                title: title.to_string(),
                field: field.to_string(),
            }),
            false,
        )?;
        let out = Zeroizing::new(out);
        if code != 0 {
            bail!("{name}: {}", err.trim_end());
        }
        vars.push((
            name.to_string(),
            Zeroizing::new(out.strip_suffix('\n').unwrap_or(&out).to_string()),
        ));
    }
    let (prog, args) = cmd
        .split_first()
        .ok_or_else(|| anyhow!("no command to run"))?;
    let mut c = std::process::Command::new(prog);
    c.args(args);
    for (n, v) in &vars {
        c.env(n, v.as_str());
    }
    let status = c
        .status()
        .map_err(|e| anyhow!("cannot run {prog:?}: {e}"))?;
    Ok(status.code().unwrap_or(1))
}

fn send(dirs: &Dirs, cmd: VaultCommand, start: bool) -> Result<i32> {
    let (code, out, err) = client::command(dirs, None, Command::Vault(cmd), start)?;
    print!("{out}");
    if !err.is_empty() {
        eprintln!("fieldkit: {}", err.trim_end());
    }
    Ok(code)
}

/// A password of `length` characters from letters, digits and symbols, each class present.
pub fn generate_password(length: usize) -> Zeroizing<String> {
    const SETS: [&[u8]; 4] = [
        b"abcdefghijkmnopqrstuvwxyz",
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"23456789",
        b"!#$%&*+-=?@^_~",
    ];
    let all: Vec<u8> = SETS.concat();
    loop {
        let mut raw = Zeroizing::new(vec![0u8; length * 2]);
        getrandom::fill(&mut raw).expect("the operating system's random number source failed");
        // Rejection sampling: no bias toward the first characters of the set.
        let limit = 256 - 256 % all.len();
        let pw: Zeroizing<String> = Zeroizing::new(
            raw.iter()
                .filter(|b| (**b as usize) < limit)
                .take(length)
                .map(|b| all[*b as usize % all.len()] as char)
                .collect(),
        );
        if pw.len() == length && SETS.iter().all(|s| pw.bytes().any(|c| s.contains(&c))) {
            return pw;
        }
    }
}

/// Where passphrases come from: a file descriptor, or the terminal with echo off.
enum Source {
    Fd(std::io::BufReader<std::fs::File>),
    Tty,
}

impl Source {
    fn new(fd: Option<i32>) -> Result<Source> {
        Ok(match fd {
            Some(fd) => {
                use std::os::fd::FromRawFd;
                if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                    bail!("file descriptor {fd} is not open");
                }
                // The descriptor is the caller's to give: it is read here and closed after.
                Source::Fd(std::io::BufReader::new(unsafe {
                    std::fs::File::from_raw_fd(fd)
                }))
            }
            None => Source::Tty,
        })
    }

    fn read(&mut self, prompt: &str, confirm: bool) -> Result<Zeroizing<String>> {
        let pass = match self {
            Source::Fd(r) => {
                let mut line = Zeroizing::new(String::new());
                r.read_line(&mut line)?;
                Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string())
            }
            Source::Tty => {
                let p = tty_read(&format!("{prompt}: "))?;
                if confirm {
                    let again = tty_read("again: ")?;
                    if *again != *p {
                        bail!("the two did not match");
                    }
                }
                p
            }
        };
        if pass.is_empty() {
            bail!("an empty passphrase protects nothing");
        }
        if pass.len() > 4096 {
            bail!("a passphrase of over 4096 bytes: refused");
        }
        Ok(pass)
    }
}

/// Reads a line from the controlling terminal with echo off (restored whatever happens).
fn tty_read(prompt: &str) -> Result<Zeroizing<String>> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| anyhow!("no terminal to ask on: pass --passphrase-fd N"))?;
    let fd = tty.as_raw_fd();
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        bail!("the terminal cannot turn echo off: pass --passphrase-fd N");
    }
    let mut quiet = old;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ICANON;
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut buf = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    let read = loop {
        match tty.read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) if byte[0] == b'\n' => break Ok(()),
            Ok(_) => buf.push(byte[0]),
            Err(e) => break Err(e),
        }
    };
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    let _ = tty.write_all(b"\n");
    read?;
    Ok(Zeroizing::new(String::from_utf8_lossy(&buf).into_owned()))
}
