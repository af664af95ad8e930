//! The vault from the command line, against a real server, real files and real crypto (the
//! KDF at its floor, 64 MiB and 3 passes, so the suite stays quick).
mod common;

use common::{Fk, BIN};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `fieldkit ARGS` with `input` on standard input (a passphrase or secret for `--*-fd 0`).
fn with_stdin(fk: &Fk, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("FIELDKIT_HOME", fk.path())
        .env("FIELDKIT_VAULT_KDF_SECONDS", "0.01")
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fieldkit");
    // A command refused before it reads (an existing vault) closes its end: not an error here.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("wait")
}

/// A new vault under `pass`, unlocked in the server.
fn unlocked_vault(fk: &Fk, pass: &str) {
    let init = with_stdin(
        fk,
        &["vault", "init", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(init.status.success(), "{}", text(&init));
    let u = with_stdin(
        fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(u.status.success(), "{}", text(&u));
}

/// `vault add TITLE [--user USER] --secret-fd 0` with `secret` on stdin; asserts it worked.
fn add_secret(fk: &Fk, title: &str, user: Option<&str>, secret: &str) {
    let mut args = vec!["vault", "add", title];
    if let Some(u) = user {
        args.extend(["--user", u]);
    }
    args.extend(["--secret-fd", "0"]);
    let add = with_stdin(fk, &args, &format!("{secret}\n"));
    assert!(add.status.success(), "{}", text(&add));
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Every file under the data folder and the runtime folder, searched for `needle`.
fn found_on_disk(fk: &Fk, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![fk.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn init_unlock_add_get_lock_headless_and_no_secret_on_disk() {
    let fk = Fk::new();
    let init = with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        "field team 7\n",
    );
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("Argon2id 64 MiB, 3 passes"),
        "{}",
        text(&init)
    );
    // Never overwritten.
    let again = with_stdin(&fk, &["vault", "init", "--passphrase-fd", "0"], "other\n");
    assert!(!again.status.success());
    assert!(
        text(&again).contains("never overwritten"),
        "{}",
        text(&again)
    );

    // A wrong passphrase: refused in a sentence; the server holds nothing.
    let wrong = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "field team 8\n",
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("wrong passphrase"),
        "{}",
        text(&wrong)
    );
    let empty = with_stdin(&fk, &["vault", "unlock", "--passphrase-fd", "0"], "\n");
    assert!(
        text(&empty).contains("empty passphrase"),
        "{}",
        text(&empty)
    );

    let unlock = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "field team 7\n",
    );
    assert!(unlock.status.success(), "{}", text(&unlock));
    let marker = "Kilo-7-Zulu-marker-secret";
    add_secret(&fk, "Radio net", Some("ops"), marker);
    fk.ok(&["vault", "add", "Camp wifi", "--generate"]);
    assert_eq!(fk.ok(&["vault", "ls"]), "Camp wifi\nRadio net\n");
    assert_eq!(fk.ok(&["vault", "get", "radio net"]), format!("{marker}\n"));
    assert_eq!(
        fk.ok(&["vault", "get", "Radio net", "--field", "user"]),
        "ops\n"
    );
    let generated = fk.ok(&["vault", "get", "Camp wifi"]);
    assert_eq!(generated.trim().len(), 24, "{generated}");
    let dup = fk.run(&["vault", "add", "Radio net"]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already"));

    // The secret is in no file: not state.db, not a log, not the vault in clear.
    assert_eq!(found_on_disk(&fk, marker), Vec::<String>::new());
    assert_eq!(found_on_disk(&fk, "field team 7"), Vec::<String>::new());

    fk.ok(&["vault", "lock"]);
    let locked = fk.run(&["vault", "get", "Radio net"]);
    assert!(!locked.status.success());
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("the vault is locked"),
        "{}",
        text(&locked)
    );
    // What was added is in the file: a new server (kill-server) unlocks it again.
    fk.ok(&["kill-server"]);
    let unlock = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "field team 7\n",
    );
    assert!(unlock.status.success(), "{}", text(&unlock));
    assert_eq!(fk.ok(&["vault", "get", "Radio net"]), format!("{marker}\n"));
    let status = fk.ok(&["vault", "status"]);
    assert!(
        status.contains("unlocked, 2 entries") && status.contains("64 MiB"),
        "{status}"
    );
}

#[test]
fn a_decoy_passphrase_opens_the_decoy_and_a_killed_server_loses_no_acknowledged_entry() {
    let fk = Fk::new();
    let init = with_stdin(
        &fk,
        &["vault", "init", "--decoy", "--passphrase-fd", "0"],
        "real words\ndecoy words\n",
    );
    assert!(init.status.success(), "{}", text(&init));
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "decoy words\n",
    );
    assert!(u.status.success(), "{}", text(&u));
    fk.ok(&["vault", "add", "Groceries", "--note", "milk"]);
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "real words\n",
    );
    assert!(u.status.success(), "{}", text(&u));
    assert_eq!(
        fk.ok(&["vault", "ls"]),
        "",
        "the real vault has none of the decoy's entries"
    );

    // Saves under a kill -9: every entry whose add was acknowledged is there afterwards.
    let mut acknowledged = Vec::new();
    for i in 0..40 {
        if i == 25 {
            unsafe {
                libc::kill(fk.server_pid(), libc::SIGKILL);
            }
        }
        let title = format!("entry {i:02}");
        let out = fk.run(&["vault", "add", &title, "--generate"]);
        if out.status.success() {
            acknowledged.push(title);
        } else {
            break;
        }
    }
    assert_eq!(
        acknowledged.len(),
        25,
        "the adds after the kill find no server holding the vault"
    );
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "real words\n",
    );
    assert!(u.status.success(), "{}", text(&u));
    let ls = fk.ok(&["vault", "ls"]);
    for t in &acknowledged {
        assert!(ls.contains(t.as_str()), "{t} lost: {ls}");
    }
    // And the decoy is still there, untouched by the real vault's saves.
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "decoy words\n",
    );
    assert!(u.status.success(), "{}", text(&u));
    assert_eq!(
        fk.ok(&["vault", "get", "Groceries", "--field", "note"]),
        "milk\n"
    );
}

/// A secret into a process's environment only (as `op run`): the program sees it, its argv
/// does not hold it, no file does; a locked vault or a missing entry runs nothing.
#[test]
fn run_puts_secrets_in_the_environment_only() {
    let fk = Fk::new();
    unlocked_vault(&fk, "pass words");
    let marker = "Lima-9-marker-secret";
    add_secret(&fk, "Radio net", Some("ops"), marker);
    let out = fk.ok(&[
        "run",
        "--env",
        "RADIO_KEY=vault:Radio net/password",
        "--env",
        "RADIO_USER=vault:Radio net/user",
        "--",
        "sh",
        "-c",
        "printf '%s %s\\n' \"$RADIO_USER\" \"$RADIO_KEY\"; tr '\\0' ' ' < /proc/$$/cmdline",
    ]);
    assert!(out.starts_with(&format!("ops {marker}\n")), "{out}");
    assert!(
        !out.lines().nth(1).unwrap_or("").contains(marker),
        "argv holds it: {out}"
    );
    let bad = fk.run(&["run", "--env", "X=vault:Nope/password", "--", "true"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no entry titled"));
    fk.ok(&["vault", "lock"]);
    let locked = fk.run(&["run", "--env", "X=vault:Radio net/password", "--", "true"]);
    assert!(!locked.status.success(), "a locked vault runs nothing");
    assert_eq!(found_on_disk(&fk, marker), Vec::<String>::new());
}

/// The vault locks itself after `lock_after_minutes` without use (here about a second).
#[test]
fn an_idle_vault_locks_itself() {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        "[vault]\nlock_after_minutes = 0.02\n",
    )
    .expect("config");
    unlocked_vault(&fk, "pass words");
    let status = fk.ok(&["vault", "status"]);
    assert!(
        status.contains("unlocked") && status.contains("locks after"),
        "{status}"
    );
    // Nothing touches it now: the server's own timer locks it, and says so in its log.
    let log = fk.path().join("data/logs/server.log");
    common::wait_until("the vault to lock itself", || {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        l.contains("vault locked after").then_some(()).ok_or(l)
    });
    assert!(fk.ok(&["vault", "status"]).ends_with("locked\n"));
    assert!(!fk.run(&["vault", "get", "anything"]).status.success());
}

/// The vault pane in a real session: locked until `vault unlock` from a shell, then the list,
/// and locked again the moment `vault lock` runs, with nothing of the entries left on screen.
#[test]
fn the_vault_pane_follows_unlock_and_lock_from_a_shell() {
    let fk = Fk::new();
    let init = with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        "pass words\n",
    );
    assert!(init.status.success(), "{}", text(&init));
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "vault"]);
    fk.wait_screen("w", "the locked vault", |s| {
        s.contains("The vault is locked")
    });
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "pass words\n",
    );
    assert!(u.status.success(), "{}", text(&u));
    fk.ok(&["vault", "add", "Radio net", "--user", "ops", "--generate"]);
    fk.wait_screen("w", "the entry listed", |s| {
        s.contains("Radio net") && s.contains("ops")
    });
    // The status pane's vault row says unlocked, with the entries and the KDF.
    fk.ok(&["action", "open", "status"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "the vault's status row", |s| {
        s.lines()
            .any(|l| l.contains("vault") && l.contains("unlocked") && l.contains("1 entries"))
    });
    fk.ok(&["action", "zoom"]);
    fk.ok(&["action", "focus-prev"]);
    fk.ok(&["vault", "lock"]);
    let locked = fk.wait_screen("w", "locked again", |s| s.contains("The vault is locked"));
    assert!(!locked.contains("Radio net"), "{locked}");
}

/// With `lock_on_detach`, the vault locks when the last client detaches.
#[test]
fn the_vault_locks_when_the_last_client_detaches_if_asked() {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}[vault]\nlock_on_detach = true\n", fk.shell_setting()),
    )
    .expect("config");
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    unlocked_vault(&fk, "pass words");
    assert!(fk.ok(&["vault", "status"]).contains("unlocked"));
    fk.keys("w", &["C-b", "d"]);
    fk.wait_screen("w", "detached", |s| s.contains("[detached"));
    assert!(fk.ok(&["vault", "status"]).ends_with("locked\n"));
}

/// `Enter` in the vault pane copies the password to the client's clipboard (OSC 52), and after
/// `clip_seconds` the server writes an empty clipboard, seen here by a client speaking the
/// protocol itself.
#[test]
fn a_copied_secret_reaches_the_client_and_is_cleared_after_clip_seconds() {
    use fieldkit::protocol::{self, AttachMode, ClientMsg, ServerMsg};
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}[vault]\nclip_seconds = 0.5\n", fk.shell_setting()),
    )
    .expect("config");
    fk.ok(&["new", "-d", "-s", "main"]);
    unlocked_vault(&fk, "pass words");
    let marker = "Oscar-52-marker";
    add_secret(&fk, "Radio net", None, marker);
    fk.ok(&["action", "open", "vault"]);

    let sock = fk.path().join("run/server.sock");
    let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    protocol::client_handshake(&mut s).expect("handshake");
    protocol::write_msg(
        &mut s,
        &ClientMsg::Attach {
            session: "main".into(),
            mode: AttachMode::Existing,
            cols: 100,
            rows: 30,
            caps: fieldkit_widgets::TermCaps::default(),
            cwd: None,
        },
    )
    .expect("attach");
    // Keys go over the same connection (another would be another client).
    let mut keys = s.try_clone().expect("clone");
    let mut read_until = |what: &str, want: &[u8]| {
        let mut seen = Vec::new();
        while !seen.windows(want.len()).any(|w| w == want) {
            match fieldkit::wire::read_frame::<ServerMsg>(&mut s) {
                Ok(Some(ServerMsg::Output { bytes })) => seen.extend_from_slice(&bytes),
                Ok(Some(_)) => {}
                other => panic!("waiting for {what}: {other:?}"),
            }
        }
    };
    read_until("the vault pane's list", b"Radio net");
    let enter = crossterm::event::Event::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ));
    protocol::write_msg(&mut keys, &ClientMsg::Input { event: enter }).expect("enter");
    let copied = format!(
        "\x1b]52;c;{}\x07",
        fieldkit::logging::base64(marker.as_bytes())
    );
    read_until("the password on the clipboard", copied.as_bytes());
    read_until("the clipboard cleared", b"\x1b]52;c;\x07");
}

/// A KeePassXC CSV export imported: good rows taken, a bad row reported by line, a title the
/// vault has kept as it was; a KDBX file is refused with what to do instead.
#[test]
fn a_keepassxc_csv_export_is_imported() {
    let fk = Fk::new();
    unlocked_vault(&fk, "pass words");
    fk.ok(&["vault", "add", "Radio net", "--note", "mine"]);
    let csv = fk.path().join("export.csv");
    std::fs::write(
        &csv,
        "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n\
         \"Root\",\"Camp wifi\",\"\",\"hunter2\",\"\",\"\"\n\
         \"Root\",\"Radio net\",\"ops\",\"theirs\",\"\",\"\"\n\
         \"Root\",\"short\"\n",
    )
    .expect("csv");
    let out = fk.run(&["vault", "import", &csv.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("imported 1 entries"), "{said}");
    assert!(said.contains("line 4: 2 fields"), "{said}");
    assert!(said.contains("Radio net"), "{said}");
    assert_eq!(fk.ok(&["vault", "get", "Camp wifi"]), "hunter2\n");
    assert_eq!(
        fk.ok(&["vault", "get", "Radio net", "--field", "note"]),
        "mine\n"
    );
    let kdbx = fk.path().join("db.kdbx");
    std::fs::write(&kdbx, b"\x03\xd9\xa2\x9a").expect("kdbx");
    let out = fk.run(&["vault", "import", &kdbx.display().to_string()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("export CSV from KeePassXC"),
        "{}",
        text(&out)
    );
}

/// A revealed password is masked again after `clip_seconds` by itself.
#[test]
fn a_revealed_password_is_masked_again_after_a_while() {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}[vault]\nclip_seconds = 0.5\n", fk.shell_setting()),
    )
    .expect("config");
    unlocked_vault(&fk, "pass words");
    add_secret(&fk, "Radio net", None, "Tango-reveal-marker");
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "vault"]);
    fk.wait_screen("w", "the entry", |s| s.contains("Radio net"));
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "revealed", |s| s.contains("Tango-reveal-marker"));
    fk.wait_screen("w", "masked again", |s| {
        !s.contains("Tango-reveal-marker") && s.contains("C-r reveals")
    });
}
