/*!
`fieldkit vault ...`: the vault from a shell, over ssh, with no GUI and no keychain. The
passphrase is read from the terminal with echo off, or from a file descriptor (`--passphrase-fd
N`, one line, as gpg's), never from argv. Argon2id runs here, in this process: the server is
handed the resulting key-encryption key and never stalls on the KDF. `unlock` leaves the vault
open in the running server for every session until `lock` (as ssh-agent holds keys).
*/

use crate::client;
use crate::engine::vault::entries::{Attachment, Edit, Entries, Entry, Field, Kind};
use crate::engine::vault::generate::{self, Classes};
use crate::engine::vault::{attach, file, format, kdbx, Kdf};
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
    /// Add an entry (a login; `--kind note` for a secure note).
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
        #[arg(long, default_value = "")]
        folder: String,
        /// A tag (repeat for more).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Read a TOTP secret (base32 or otpauth:// URI) from this fd (one line).
        #[arg(long)]
        totp_fd: Option<i32>,
        /// login or note.
        #[arg(long, default_value = "login")]
        kind: String,
    },
    /// Change an entry: each option given replaces that field (a new password goes to the
    /// entry's history).
    Edit {
        title: String,
        #[arg(long = "title")]
        new_title: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, conflicts_with = "generate")]
        secret_fd: Option<i32>,
        #[arg(long)]
        generate: bool,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        folder: Option<String>,
        /// Replace the tags (repeat for more).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        totp_fd: Option<i32>,
        /// Set a field of your own (its value from --value-fd; an empty line removes it).
        #[arg(long, requires = "value_fd")]
        field: Option<String>,
        #[arg(long)]
        value_fd: Option<i32>,
        /// The field is a secret (masked in the pane).
        #[arg(long)]
        secret_field: bool,
    },
    /// Move an entry to a folder ("" for none).
    Mv { title: String, folder: String },
    /// A secure note (markdown) from FILE, or standard input with `-`.
    Note {
        title: String,
        file: std::path::PathBuf,
    },
    /// Seal a file of any size into the entry TITLE (made if there is none), streamed in 64 KiB
    /// chunks; `-` reads standard input.
    Attach {
        title: String,
        file: std::path::PathBuf,
    },
    /// Write an entry's file back out to PATH (`-`: standard output).
    Extract {
        title: String,
        path: std::path::PathBuf,
    },
    /// Remove an entry.
    Rm { title: String },
    /// Take the entries of a KeePass database (KDBX 4, as KeePassXC saves it) or of a KeePassXC
    /// or Bitwarden CSV export (what does not read or is left out is reported; titles the vault
    /// has already are kept as they are).
    Import {
        file: std::path::PathBuf,
        /// A KeePass database's own password from this fd (one line); without it, it is asked
        /// for on the terminal.
        #[arg(long)]
        file_passphrase_fd: Option<i32>,
    },
    /// Write the open vault's entries to PATH: a new vault file under a passphrase of its own,
    /// or, with --plaintext, CSV (KeePassXC's columns) that anyone can read.
    Export {
        path: std::path::PathBuf,
        #[arg(long)]
        plaintext: bool,
        /// The new file's passphrase from this fd.
        #[arg(long)]
        passphrase_fd: Option<i32>,
    },
    /// Print a generated password, or with --words a passphrase.
    Gen {
        #[arg(long, default_value_t = 24)]
        length: usize,
        /// Character classes: lower,upper,digits,symbols.
        #[arg(long, default_value = "lower,upper,digits,symbols")]
        classes: String,
        /// N words from the EFF list instead.
        #[arg(long)]
        words: Option<usize>,
        #[arg(long, default_value = "-")]
        separator: String,
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
            folder,
            tags,
            totp_fd,
            kind,
        } => {
            let mut e = Entry::titled(&title);
            e.kind = match kind.as_str() {
                "login" => Kind::Login,
                "note" => Kind::Note,
                other => bail!("--kind {other:?}: login or note (files: fieldkit vault attach)"),
            };
            e.user = user;
            e.url = url;
            e.note = note;
            e.folder = folder;
            e.tags = tags;
            e.password = secret(secret_fd, generate)?
                .map(|s| s.to_string())
                .unwrap_or_default();
            if let Some(fd) = totp_fd {
                e.totp = Source::new(Some(fd))?
                    .read("TOTP secret", false)?
                    .to_string();
            }
            send(dirs, VaultCommand::Add { entry: Box::new(e) }, false)
        }
        VaultCmd::Edit {
            title,
            new_title,
            user,
            url,
            secret_fd,
            generate,
            note,
            folder,
            tags,
            totp_fd,
            field,
            value_fd,
            secret_field,
        } => {
            let mut edit = Edit {
                title: new_title,
                user,
                url,
                note,
                folder,
                tags: (!tags.is_empty()).then_some(tags),
                password: secret(secret_fd, generate)?.map(|s| s.to_string()),
                ..Edit::default()
            };
            if let Some(fd) = totp_fd {
                edit.totp = Some(
                    Source::new(Some(fd))?
                        .read("TOTP secret", false)?
                        .to_string(),
                );
            }
            if let (Some(name), Some(fd)) = (field, value_fd) {
                let value = Source::new(Some(fd))?.read_allow_empty()?;
                edit.field = Some(Field {
                    name,
                    value: value.to_string(),
                    secret: secret_field,
                });
            }
            edit.check().map_err(|e| anyhow!(e))?;
            send(
                dirs,
                VaultCommand::Edit {
                    title,
                    edit: Box::new(edit),
                },
                false,
            )
        }
        VaultCmd::Mv { title, folder } => {
            let edit = Edit {
                folder: Some(folder),
                ..Edit::default()
            };
            send(
                dirs,
                VaultCommand::Edit {
                    title,
                    edit: Box::new(edit),
                },
                false,
            )
        }
        VaultCmd::Note { title, file } => {
            let mut text = Zeroizing::new(String::new());
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                *text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            }
            // A note that exists is replaced; otherwise a new secure note.
            let edit = Edit {
                note: Some(text.to_string()),
                ..Edit::default()
            };
            let (code, out, err) = client::command(
                dirs,
                None,
                Command::Vault(VaultCommand::Edit {
                    title: title.clone(),
                    edit: Box::new(edit),
                }),
                false,
            )?;
            if code == 0 {
                print!("{out}");
                return Ok(0);
            }
            if !err.contains("no entry titled") {
                eprintln!("fieldkit: {}", err.trim_end());
                return Ok(code);
            }
            let mut e = Entry::titled(&title);
            e.kind = Kind::Note;
            e.note = text.to_string();
            send(dirs, VaultCommand::Add { entry: Box::new(e) }, false)
        }
        VaultCmd::Attach { title, file } => {
            let files = dirs.data.join("vault-files");
            let (sealed, name) = if file.as_os_str() == "-" {
                (
                    attach::seal(&mut std::io::stdin().lock(), &files)?,
                    "stdin".to_string(),
                )
            } else {
                let mut f =
                    std::fs::File::open(&file).map_err(|e| anyhow!("{}: {e}", file.display()))?;
                if f.metadata()?.is_dir() {
                    bail!(
                        "{} is a folder: attach one file (tar it first)",
                        file.display()
                    );
                }
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (attach::seal(&mut f, &files)?, name)
            };
            let size = sealed.size;
            let a = Attachment {
                id: sealed.id.clone(),
                name,
                size,
                key: sealed.key.to_string(),
            };
            let (code, out, err) = client::command(
                dirs,
                None,
                Command::Vault(VaultCommand::Attach {
                    title,
                    attachment: a,
                }),
                false,
            )?;
            if code != 0 {
                // Not taken (locked, say): the sealed copy is of no use to anyone.
                let _ = std::fs::remove_file(attach::path_of(&files, &sealed.id));
                bail!("{}", err.trim_end());
            }
            print!("{out}");
            eprintln!("{} bytes sealed", fieldkit_messages::text::group(size));
            Ok(0)
        }
        VaultCmd::Extract { title, path } => {
            let (code, out, err) = client::command(
                dirs,
                None,
                Command::Vault(VaultCommand::FileKey {
                    title: title.clone(),
                }),
                false,
            )?;
            let out = Zeroizing::new(out);
            if code != 0 {
                bail!("{}", err.trim_end());
            }
            let parts: Vec<&str> = out.trim_end().splitn(4, '\t').collect();
            let [id, key, _size, name] = parts[..] else {
                bail!("the server's answer does not read");
            };
            let files = dirs.data.join("vault-files");
            let n = if path.as_os_str() == "-" {
                attach::open(&files, id, key, &mut std::io::stdout())
                    .map_err(|e| anyhow!("{title}: {e}"))?
            } else {
                let dest = if path.is_dir() {
                    path.join(name)
                } else {
                    path.clone()
                };
                if dest.exists() {
                    bail!("{} exists: it is never overwritten", dest.display());
                }
                let n =
                    attach::export(&files, id, key, &dest).map_err(|e| anyhow!("{title}: {e}"))?;
                eprintln!(
                    "{} written ({} bytes)",
                    dest.display(),
                    fieldkit_messages::text::group(n)
                );
                n
            };
            let _ = n;
            Ok(0)
        }
        VaultCmd::Rm { title } => send(dirs, VaultCommand::Rm { title }, false),
        VaultCmd::Import {
            file,
            file_passphrase_fd,
        } => {
            let bytes = Zeroizing::new(
                std::fs::read(&file).map_err(|e| anyhow!("{}: {e}", file.display()))?,
            );
            let ext = file
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if ext == "kdbx" || kdbx::is_kdbx(&bytes) {
                return import_kdbx(dirs, &file, &bytes, file_passphrase_fd);
            }
            if file_passphrase_fd.is_some() {
                eprintln!(
                    "{}: not a KeePass database: read as CSV (--file-passphrase-fd is not used)",
                    file.display()
                );
            }
            let text = Zeroizing::new(
                std::str::from_utf8(&bytes)
                    .map_err(|_| {
                        anyhow!(
                            "{}: neither a KeePass database nor CSV text (it is not UTF-8)",
                            file.display()
                        )
                    })?
                    .to_string(),
            );
            let (rows, bad) = crate::engine::vault::import::from_csv(&text)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            for b in &bad {
                eprintln!("{}: skipped {b}", file.display());
            }
            let entries = rows
                .iter()
                .map(|r| {
                    let mut e = Entry::titled(&r.title);
                    e.user = r.user.clone();
                    e.password = r.password.clone();
                    e.url = r.url.clone();
                    e.note = r.note.clone();
                    e.folder = r.folder.clone();
                    e.totp = r.totp.clone();
                    e
                })
                .collect();
            send(dirs, VaultCommand::Import { entries }, false)
        }
        VaultCmd::Export {
            path,
            plaintext,
            passphrase_fd,
        } => export(dirs, &path, plaintext, passphrase_fd),
        VaultCmd::Gen {
            length,
            classes,
            words,
            separator,
        } => {
            let pw = match words {
                Some(n) => generate::passphrase(n, &separator),
                None => {
                    generate::password(length, Classes::parse(&classes).map_err(|e| anyhow!(e))?)
                }
            }
            .map_err(|e| anyhow!(e))?;
            println!("{}", *pw);
            Ok(0)
        }
    }
}

/// `vault import FILE.kdbx`: the header is checked before the password is asked for (a KDBX 3
/// file is told so at once), the database is read here (its KDF runs in this process, as the
/// vault's own does), and the entries go to the server as a CSV import's do.
fn import_kdbx(dirs: &Dirs, file: &std::path::Path, bytes: &[u8], fd: Option<i32>) -> Result<i32> {
    let name = file.display().to_string();
    kdbx::check(bytes, &name).map_err(|e| anyhow!(e))?;
    let pass = Source::new(fd)?
        .read(&format!("password of {name}"), false)
        .map_err(|e| match fd {
            None => anyhow!("{e} (for the database's own password: --file-passphrase-fd N)"),
            Some(_) => e,
        })?;
    let db = kdbx::read(bytes, &pass, &name).map_err(|e| anyhow!(e))?;
    drop(pass);
    eprintln!(
        "{name}: KDBX {}, {} entries read",
        db.version,
        db.entries.len()
    );
    for n in &db.notes {
        eprintln!("{name}: {n}");
    }
    send(
        dirs,
        VaultCommand::Import {
            entries: db.entries,
        },
        false,
    )
}

/// A secret from a descriptor, generated, or none.
fn secret(fd: Option<i32>, generate: bool) -> Result<Option<Zeroizing<String>>> {
    Ok(match (fd, generate) {
        (Some(fd), _) => Some(Source::new(Some(fd))?.read("secret", false)?),
        (None, true) => Some(generate_password(24)),
        (None, false) => None,
    })
}

/// `vault export`: the entries as a new vault file under its own passphrase, or as CSV.
fn export(dirs: &Dirs, path: &std::path::Path, plaintext: bool, fd: Option<i32>) -> Result<i32> {
    if path.exists() {
        bail!("{} exists: it is never overwritten", path.display());
    }
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if csv && !plaintext {
        bail!("CSV is plaintext: anyone who reads the file reads every secret; say --plaintext if that is what you want");
    }
    let (code, out, err) = client::command(dirs, None, Command::Vault(VaultCommand::Dump), false)?;
    let out = Zeroizing::new(out);
    if code != 0 {
        bail!("{}", err.trim_end());
    }
    let entries = Entries::from_plaintext(out.as_bytes()).map_err(|e| anyhow!(e))?;
    let files = entries.entries.iter().filter(|e| e.file.is_some()).count();
    if plaintext {
        eprintln!(
            "warning: {} holds every secret in plain text; delete it when done (shred -u)",
            path.display()
        );
        let text = Zeroizing::new(crate::engine::vault::import::to_csv(&entries));
        write_new(path, text.as_bytes())?;
    } else {
        let pass = Source::new(fd)?.read("passphrase for the exported vault", true)?;
        let secs = std::env::var("FIELDKIT_VAULT_KDF_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(1.0);
        let kdf = Kdf::calibrate(std::time::Duration::from_secs_f64(secs))?;
        let bytes = format::create(kdf, pass.as_bytes(), out.as_bytes(), None)?;
        write_new(path, &bytes)?;
    }
    println!(
        "{} entries written to {}",
        entries.entries.len(),
        path.display()
    );
    if files > 0 {
        let files = if files == 1 {
            "1 entry holds".to_string()
        } else {
            format!("{files} entries hold")
        };
        eprintln!("{files} files: the export names them but their contents stay in {}; take them out with fieldkit vault extract", dirs.data.join("vault-files").display());
    }
    Ok(0)
}

/// Writes a file that must not exist yet, 0600, synced.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
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

/// A password of `length` characters from every class.
pub fn generate_password(length: usize) -> Zeroizing<String> {
    generate::password(length.clamp(4, 256), Classes::default())
        .unwrap_or_else(|_| Zeroizing::new(String::new()))
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
            if prompt.contains("passphrase") {
                bail!("an empty passphrase protects nothing");
            }
            bail!("the {prompt} is empty");
        }
        if pass.len() > 4096 {
            bail!("a passphrase of over 4096 bytes: refused");
        }
        Ok(pass)
    }
}

impl Source {
    /// One line from a descriptor, which may be empty (a field's value to remove it).
    fn read_allow_empty(&mut self) -> Result<Zeroizing<String>> {
        match self {
            Source::Fd(r) => {
                let mut line = Zeroizing::new(String::new());
                r.read_line(&mut line)?;
                Ok(Zeroizing::new(
                    line.trim_end_matches(['\n', '\r']).to_string(),
                ))
            }
            Source::Tty => tty_read("value: "),
        }
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
