//! The vault from the command line, against a real server, real files and real crypto (the
//! KDF at its floor, 64 MiB and 3 passes, so the suite stays quick).
mod common;

use common::{found_on_disk, unlocked_vault, with_stdin, ChildServer, Fk, BIN};
use std::process::Output;

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
    assert!(text(&out).contains("cut short"), "{}", text(&out));
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

/// A value no test types and no program prints by accident: `what` and this process's id and
/// clock, in hex.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{what}-{:x}-{nanos:x}", std::process::id())
}

/// A client of `session` speaking the protocol itself (as the existing OSC 52 test does), to see
/// the bytes the server sends every client of the session: a clipboard write is an OSC 52
/// sequence among them.
struct Observer {
    s: std::os::unix::net::UnixStream,
    seen: Vec<u8>,
    /// Where the next `read_until` starts looking: what was found before is not found again.
    from: usize,
}

impl Observer {
    fn attach(fk: &Fk, session: &str, cols: u16, rows: u16) -> Observer {
        use fieldkit::protocol::{self, AttachMode, ClientMsg};
        let mut s = std::os::unix::net::UnixStream::connect(fk.path().join("run/server.sock"))
            .expect("connect");
        s.set_read_timeout(Some(common::TIMEOUT)).expect("timeout");
        protocol::client_handshake(&mut s).expect("handshake");
        protocol::write_msg(
            &mut s,
            &ClientMsg::Attach {
                session: session.into(),
                mode: AttachMode::Existing,
                cols,
                rows,
                caps: fieldkit_widgets::TermCaps::default(),
                cwd: None,
            },
        )
        .expect("attach");
        Observer {
            s,
            seen: Vec::new(),
            from: 0,
        }
    }

    /// Reads what the server sends until `want` arrives (the read times out after
    /// `common::TIMEOUT` with nothing new).
    fn read_until(&mut self, what: &str, want: &[u8]) {
        use fieldkit::protocol::ServerMsg;
        loop {
            if let Some(p) = self.seen[self.from..]
                .windows(want.len())
                .position(|w| w == want)
            {
                self.from += p + want.len();
                return;
            }
            match fieldkit::wire::read_frame::<ServerMsg>(&mut self.s) {
                Ok(Some(ServerMsg::Output { bytes })) => self.seen.extend_from_slice(&bytes),
                Ok(Some(_)) => {}
                other => panic!("waiting for {what}: {other:?}"),
            }
        }
    }
}

/// The vault pane as a person uses it: the passphrase typed into the pane (a wrong one first),
/// an entry added through the form, found by typing part of its title, its password copied to
/// the clipboard (seen reaching a client as OSC 52, then cleared after `clip_seconds`), and
/// deleted after a yes. Neither passphrase nor the password is ever on screen, in the log or in
/// any file.
#[test]
fn the_vault_pane_unlocks_adds_finds_copies_and_deletes_and_never_shows_a_secret() {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}[vault]\nclip_seconds = 0.5\n", fk.shell_setting()),
    )
    .expect("config");
    let pass = unique("pane pass");
    let wrong = unique("wrong pass");
    let secret = unique("Papa-form-secret");
    let init = with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(init.status.success(), "{}", text(&init));
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "vault"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "the locked vault", |s| {
        s.contains("The vault is locked")
    });
    let shown = |s: &str| {
        [&pass, &wrong, &secret]
            .iter()
            .any(|x| s.contains(x.as_str()))
    };

    // A wrong passphrase: typed, shown as dots only, refused in a sentence.
    fk.keys("w", &["-l", &wrong]);
    let s = fk.wait_screen("w", "the typed passphrase as dots", |s| {
        s.contains("Passphrase: ••••••••")
    });
    assert!(!shown(&s), "{s}");
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the wrong passphrase refused", |s| {
        s.contains("wrong passphrase")
    });
    assert!(!shown(&s), "{s}");
    assert!(s.contains("The vault is locked"), "{s}");

    // The right one opens the list.
    fk.keys("w", &["-l", &pass]);
    let s = fk.wait_screen("w", "the typed passphrase as dots", |s| {
        s.contains("Passphrase: ••••••••")
    });
    assert!(!shown(&s), "{s}");
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the unlocked, empty list", |s| {
        s.contains("no entries yet")
    });
    assert!(!shown(&s), "{s}");
    assert!(fk.ok(&["vault", "status"]).contains("unlocked, 0 entries"));

    // Another entry from a shell, so that search has something to leave out.
    add_secret(&fk, "Camp wifi", Some("guest"), "camp-wifi-secret");
    fk.wait_screen("w", "the entry from the shell listed", |s| {
        s.contains("Camp wifi")
    });

    // A new entry through the form: title, Tab to user (past folder and tags), Tab to password.
    fk.keys("w", &["C-n"]);
    fk.wait_screen("w", "the form", |s| s.contains("New entry"));
    fk.keys("w", &["-l", "Radio net"]);
    fk.keys("w", &["Tab", "Tab", "Tab"]);
    fk.keys("w", &["-l", "ops-radio"]);
    fk.keys("w", &["Tab"]);
    fk.keys("w", &["-l", &secret]);
    let s = fk.wait_screen("w", "the form filled in", |s| {
        s.contains("title     Radio net")
            && s.contains("user      ops-radio")
            && s.contains("› password  ••••••••")
    });
    assert!(!shown(&s), "{s}");
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the entry saved", |s| {
        s.contains("added Radio net") && s.contains("2/2")
    });
    assert!(!shown(&s), "{s}");
    assert_eq!(fk.ok(&["vault", "get", "Radio net"]), format!("{secret}\n"));
    assert_eq!(
        fk.ok(&["vault", "get", "Radio net", "--field", "user"]),
        "ops-radio\n"
    );

    // Type-to-filter: part of the title leaves only it, selected (its detail shown).
    fk.keys("w", &["-l", "radi"]);
    let s = fk.wait_screen("w", "the search narrowed to Radio net", |s| {
        s.contains("/ radi") && s.contains("1/2") && s.contains("user      ops-radio")
    });
    assert!(s.contains("• Radio net"), "{s}");
    assert!(!s.contains("Camp wifi"), "{s}");

    // Enter copies the password: an OSC 52 write to the session's clients, then an empty one
    // after clip_seconds. A second client (speaking the protocol) sees what every client gets.
    let mut observer = Observer::attach(&fk, "main", 120, 36);
    observer.read_until("the vault pane on the second client", b"ops-radio");
    fk.keys("w", &["Enter"]);
    let copied = format!(
        "\x1b]52;c;{}\x07",
        fieldkit::logging::base64(secret.as_bytes())
    );
    observer.read_until("the password on the clipboard", copied.as_bytes());
    let s = fk.wait_screen("w", "the copy noted", |s| {
        s.contains("password of Radio net copied")
    });
    assert!(!shown(&s), "{s}");
    observer.read_until("the clipboard cleared", b"\x1b]52;c;\x07");
    drop(observer);

    // C-d asks, y deletes.
    fk.keys("w", &["C-d"]);
    fk.wait_screen("w", "the question", |s| {
        s.contains("Delete Radio net? y deletes it")
    });
    fk.keys("w", &["y"]);
    let s = fk.wait_screen("w", "the entry deleted", |s| {
        s.contains("removed Radio net") && s.contains("0/1")
    });
    assert!(!s.contains("• Radio net"), "{s}");
    assert_eq!(fk.ok(&["vault", "ls"]), "Camp wifi\n");

    // Not in the log, not in any file.
    let log = std::fs::read_to_string(fk.path().join("data/logs/server.log")).expect("log");
    assert!(log.contains("vault unlocked"), "{log}");
    assert!(!shown(&log), "a secret in the server's log:\n{log}");
    for x in [&pass, &wrong, &secret] {
        assert_eq!(found_on_disk(&fk, x), Vec::<String>::new(), "{x}");
    }
}

/// Base32 (RFC 4648, no padding needed) as authenticator apps take TOTP secrets.
fn base32(s: &str) -> Vec<u8> {
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 4226's HOTP with HMAC-SHA1 (RFC 6238's TOTP at `counter` = unix time / 30), `digits`
/// long, computed here apart from fieldkit's own code.
fn hotp_sha1(key: &[u8], counter: u64, digits: u32) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("key");
    m.update(&counter.to_be_bytes());
    let mac = m.finalize().into_bytes();
    let off = (mac[mac.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([mac[off] & 0x7f, mac[off + 1], mac[off + 2], mac[off + 3]]);
    format!(
        "{:0w$}",
        bin as u64 % 10u64.pow(digits),
        w = digits as usize
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// `vault get --field totp` prints the RFC 6238 code of the current 30-second window, the same
/// as one computed here independently; a TOTP secret that does not read is refused in a
/// sentence and changes nothing.
#[test]
fn totp_codes_match_rfc_6238_and_a_bad_secret_is_refused() {
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    // The computation here checked against RFC 6238's own vector (SHA-1, T = 59 s).
    let key = base32(SECRET);
    assert_eq!(key, b"12345678901234567890");
    assert_eq!(hotp_sha1(&key, 59 / 30, 8), "94287082");

    let fk = Fk::new();
    unlocked_vault(&fk, "pass words");
    add_secret(&fk, "Radio", None, "radio-password");
    let no = fk.run(&["vault", "get", "Radio", "--field", "totp"]);
    assert!(!no.status.success());
    assert!(text(&no).contains("has no TOTP secret"), "{}", text(&no));
    let set = with_stdin(
        &fk,
        &["vault", "edit", "Radio", "--totp-fd", "0"],
        &format!("{SECRET}\n"),
    );
    assert!(set.status.success(), "{}", text(&set));

    // The window may turn while the command runs: any window from before it to after it.
    let before = unix_now();
    let code = fk.ok(&["vault", "get", "Radio", "--field", "totp"]);
    let after = unix_now();
    let code = code.trim_end_matches('\n');
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code:?}"
    );
    let expected: Vec<String> = (before / 30..=after / 30)
        .map(|t| hotp_sha1(&key, t, 6))
        .collect();
    assert!(
        expected.iter().any(|e| e == code),
        "{code} is none of {expected:?}"
    );

    // A secret that is not base32: refused, in a sentence; the entry keeps the one it had.
    for bad in ["not base32 at all!", "otpauth://hotp/x?secret=GEZDGNBV"] {
        let out = with_stdin(
            &fk,
            &["vault", "edit", "Radio", "--totp-fd", "0"],
            &format!("{bad}\n"),
        );
        assert!(!out.status.success(), "{bad}: {}", text(&out));
        assert!(
            text(&out).contains("the TOTP secret:"),
            "{bad}: {}",
            text(&out)
        );
        let out = with_stdin(
            &fk,
            &["vault", "add", "Other", "--totp-fd", "0"],
            &format!("{bad}\n"),
        );
        assert!(!out.status.success(), "{bad}: {}", text(&out));
        assert!(
            text(&out).contains("the TOTP secret:"),
            "{bad}: {}",
            text(&out)
        );
    }
    assert_eq!(fk.ok(&["vault", "ls"]), "Radio\n");
    let before = unix_now();
    let code = fk.ok(&["vault", "get", "Radio", "--field", "totp"]);
    let after = unix_now();
    assert!(
        (before / 30..=after / 30).any(|t| hotp_sha1(&key, t, 6) == code.trim_end()),
        "{code}"
    );
}

/// The sealed files beside the vault under `data/vault-files`.
fn sealed_files(fk: &Fk) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(fk.path().join("data/vault-files"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A 3 MB file sealed into an entry and extracted byte for byte; extracting never overwrites;
/// the sealed copy holds nothing of the plaintext; one damaged byte makes extraction fail in a
/// sentence leaving nothing behind; removing the entry deletes the sealed file.
#[test]
fn a_file_is_sealed_extracted_identically_refused_when_damaged_and_deleted_with_its_entry() {
    let fk = Fk::new();
    unlocked_vault(&fk, "pass words");
    let marker = unique("Mike-file-marker");
    let mut plain = vec![0u8; 3_000_000];
    getrandom::fill(&mut plain).expect("random");
    plain[1_234_567..1_234_567 + marker.len()].copy_from_slice(marker.as_bytes());
    let src = fk.path().join("maps.bin");
    std::fs::write(&src, &plain).expect("write");

    let out = fk.run(&["vault", "attach", "Maps", &src.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("maps.bin sealed into Maps"),
        "{}",
        text(&out)
    );
    let sealed = sealed_files(&fk);
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert!(
        sealed[0].extension().is_some_and(|e| e == "fkf"),
        "{sealed:?}"
    );
    let bytes = std::fs::read(&sealed[0]).expect("sealed");
    assert!(bytes.len() >= plain.len(), "{}", bytes.len());
    assert!(
        !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "the sealed file holds the plaintext's marker"
    );
    assert!(
        !bytes.windows(32).any(|w| w == &plain[..32]),
        "the sealed file holds the plaintext's first bytes"
    );

    let dest = fk.path().join("out.bin");
    let d = dest.display().to_string();
    let out = fk.run(&["vault", "extract", "Maps", &d]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::read(&dest).expect("extracted") == plain,
        "not the same bytes"
    );
    // An existing file is never overwritten.
    std::fs::write(&dest, b"mine").expect("write");
    let out = fk.run(&["vault", "extract", "Maps", &d]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("exists: it is never overwritten"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&dest).expect("dest"), b"mine");

    // One byte changed in the middle of the sealed file.
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    std::fs::write(&sealed[0], &damaged).expect("damage");
    let dest2 = fk.path().join("out2.bin");
    let out = fk.run(&["vault", "extract", "Maps", &dest2.display().to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the sealed file is damaged at chunk"),
        "{}",
        text(&out)
    );
    assert!(!dest2.exists(), "half a file left at {}", dest2.display());
    let leftovers: Vec<_> = std::fs::read_dir(fk.path())
        .expect("home")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out2"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    // The byte put back: it extracts again (the damage, nothing else, was refused).
    std::fs::write(&sealed[0], &bytes).expect("repair");
    let out = fk.run(&["vault", "extract", "Maps", &dest2.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(&dest2).expect("out2") == plain);

    let out = fk.run(&["vault", "rm", "Maps"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!sealed[0].exists(), "the sealed file outlived its entry");
    assert_eq!(sealed_files(&fk), Vec::<std::path::PathBuf>::new());
    assert_eq!(fk.ok(&["vault", "ls"]), "");
    // The plaintext is where the test put it (the source and the copy extracted), nowhere else.
    let mut hits = found_on_disk(&fk, &marker);
    hits.sort();
    assert_eq!(
        hits,
        vec![src.display().to_string(), dest2.display().to_string()]
    );
}

/// A password changed twice keeps the old ones in its history; `mv` files the entry in a
/// folder; `export` writes a vault under a passphrase of its own that the vault's format reads
/// back, refuses CSV unless told `--plaintext`, and that CSV imports into a fresh vault.
#[test]
fn edits_keep_a_history_mv_files_and_exports_read_back() {
    let fk = Fk::new();
    unlocked_vault(&fk, "pass words");
    add_secret(&fk, "T", Some("ops"), "first-pw-1");
    for new in ["second-pw-2", "third-pw-3"] {
        let out = with_stdin(
            &fk,
            &["vault", "edit", "T", "--secret-fd", "0"],
            &format!("{new}\n"),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(fk.ok(&["vault", "get", "T"]), "third-pw-3\n");
    let history = fk.ok(&["vault", "get", "T", "--field", "history"]);
    let old: Vec<&str> = history
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit('\t').next().unwrap_or(""))
        .collect();
    let mut sorted = old.clone();
    sorted.sort();
    assert_eq!(sorted, ["first-pw-1", "second-pw-2"], "{history}");

    fk.ok(&["vault", "mv", "T", "camp"]);
    assert_eq!(fk.ok(&["vault", "ls"]), "camp/T\n");
    assert_eq!(fk.ok(&["vault", "get", "T"]), "third-pw-3\n");
    assert_eq!(fk.ok(&["vault", "get", "camp/T"]), "third-pw-3\n");

    // A sealed export, under its own passphrase.
    let fkx = fk.path().join("out.fk");
    let out = with_stdin(
        &fk,
        &[
            "vault",
            "export",
            &fkx.display().to_string(),
            "--passphrase-fd",
            "0",
        ],
        "export words\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 entries written"), "{}", text(&out));
    let bytes = std::fs::read(&fkx).expect("export");
    assert!(
        fieldkit::engine::vault::format::unlock(&bytes, b"pass words").is_err(),
        "the export opens with the vault's own passphrase"
    );
    let opened =
        fieldkit::engine::vault::format::unlock(&bytes, b"export words").expect("the export opens");
    let entries = fieldkit::engine::vault::entries::Entries::from_plaintext(&opened.plaintext)
        .expect("entries");
    assert_eq!(entries.entries.len(), 1);
    let t = entries.find("T").expect("T in the export");
    assert_eq!(t.password, "third-pw-3");
    assert_eq!(t.folder, "camp");
    assert_eq!(t.user, "ops");
    assert_eq!(t.history.len(), 2);
    assert_eq!(found_on_disk(&fk, "third-pw-3"), Vec::<String>::new());

    // CSV is plaintext: only when said so.
    let csv = fk.path().join("out.csv");
    let out = fk.run(&["vault", "export", &csv.display().to_string()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("CSV is plaintext"), "{}", text(&out));
    assert!(!csv.exists());
    let out = fk.run(&["vault", "export", &csv.display().to_string(), "--plaintext"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("plain text"), "{}", text(&out));
    let written = std::fs::read_to_string(&csv).expect("csv");
    assert!(written.contains("third-pw-3"), "{written}");

    // Read back by `vault import` into a vault of its own.
    let fresh = Fk::new();
    unlocked_vault(&fresh, "other words");
    let out = fresh.run(&["vault", "import", &csv.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("imported 1 entries"), "{}", text(&out));
    assert_eq!(fresh.ok(&["vault", "ls"]), "camp/T\n");
    assert_eq!(fresh.ok(&["vault", "get", "T"]), "third-pw-3\n");
    assert_eq!(fresh.ok(&["vault", "get", "T", "--field", "user"]), "ops\n");
}

/// Why process `pid`'s memory cannot be read, with the setting that decides it.
fn unreadable(pid: i32, e: &std::io::Error) -> String {
    let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .map(|s| format!("Yama ptrace_scope is {}", s.trim()))
        .unwrap_or_else(|_| "Yama is not in this kernel".into());
    format!(
        "cannot read the server's memory through /proc/{pid}/mem ({e}); {yama}. The scan needs \
         ptrace access to a child process of the same user (ptrace_scope 0 or 1; 2 needs \
         CAP_SYS_PTRACE, 3 forbids it): without it this test cannot show that panic wipes the \
         server's memory, so it fails rather than pass without looking"
    )
}

/// Reads every readable mapping of process `pid` (/proc/PID/maps) through /proc/PID/mem and
/// says, for each of `needles`, whether it is anywhere in it; also how many bytes were read.
/// Mappings the kernel does not let /proc/PID/mem read ([vvar] and the like: EIO) are skipped;
/// a refusal for want of permission is an error that says what to change.
fn in_memory(pid: i32, needles: &[&str]) -> Result<(Vec<bool>, u64), String> {
    use std::os::unix::fs::FileExt;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("/proc/{pid}/maps: {e}"))?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|e| unreadable(pid, &e))?;
    let finders: Vec<memchr::memmem::Finder> = needles
        .iter()
        .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
        .collect();
    // Reads overlap by this much, so a needle across two reads is still found.
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(1) - 1;
    let mut found = vec![false; needles.len()];
    let mut read = 0u64;
    let mut buf = vec![0u8; 4 << 20];
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        if !perms.starts_with('r') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(mut at), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        while at < end {
            let want = ((end - at) as usize).min(buf.len());
            match mem.read_at(&mut buf[..want], at) {
                Ok(0) => break,
                Ok(n) => {
                    read += n as u64;
                    for (hit, finder) in found.iter_mut().zip(&finders) {
                        *hit |= finder.find(&buf[..n]).is_some();
                    }
                    at += if n > overlap && at + (n as u64) < end {
                        (n - overlap) as u64
                    } else {
                        n as u64
                    };
                }
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::PermissionDenied)
                        || e.raw_os_error() == Some(libc::EPERM) =>
                {
                    return Err(unreadable(pid, &e))
                }
                Err(_) => break,
            }
        }
    }
    Ok((found, read))
}

/// Panic (C-M-k in the client): the screen goes blank, the vault locks, and the secret a
/// terminal printed and the passphrase are in no file and nowhere in the server's memory
/// (which is first shown to hold the secret, and state.db the saved scrollback with it, so
/// that both looks can fail). A key brings the session back, its terminal still running.
#[test]
fn panic_blanks_the_screen_and_leaves_the_secret_in_no_file_and_not_in_the_servers_memory() {
    let fk = Fk::new();
    let server = ChildServer::start(&fk);
    let marker = unique("MARKER");
    let pass = unique("panic pass");
    unlocked_vault(&fk, &pass);
    add_secret(&fk, "Entry", None, &marker);
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace's shell", |s| {
        s.contains("C-b prefix") && s.contains(common::PROMPT)
    });
    // The secret reaches the terminal only as a program's output, never typed.
    fk.type_line(
        "w",
        &format!("{BIN} run --env S=vault:Entry/password -- sh -c 'printf \"%s\\n\" \"$S\"'"),
    );
    fk.wait_screen("w", "the secret printed", |s| s.contains(&marker));

    // Both looks can find it: the scrollback is saved (a few seconds after output) into
    // state.db, and the unlocked vault holds it in the server's memory.
    let saved = common::wait_until("the scrollback saved with the secret", || {
        let hits = found_on_disk(&fk, &marker);
        hits.iter()
            .any(|h| h.contains("state.db"))
            .then_some(hits.clone())
            .ok_or_else(|| format!("{hits:?}"))
    });
    let (found, read) =
        in_memory(server.pid(), &[&marker, &pass]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        read > 1 << 20,
        "only {read} bytes of the server's memory read"
    );
    assert!(
        found[0],
        "the scan does not find the secret in the memory of a server holding it ({read} bytes \
         read): it could not see it after the panic either"
    );
    // The passphrase never reaches the server: Argon2id runs in `fieldkit vault unlock`.
    assert!(!found[1], "the passphrase is in the server's memory");

    fk.keys("w", &["C-M-k"]);
    let s = fk.wait_screen("w", "a blank screen", |s| s.trim().is_empty());
    assert!(!s.contains(&marker) && !s.contains(common::PROMPT), "{s}");
    // The log line comes after the disk is wiped.
    let log = fk.path().join("data/logs/server.log");
    common::wait_until("the panic's log line", || {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        l.contains("panic: vault locked, panes and scrollback wiped")
            .then_some(())
            .ok_or(l)
    });
    assert!(fk.ok(&["vault", "status"]).ends_with("\nlocked\n"));
    assert!(!fk.run(&["vault", "get", "Entry"]).status.success());
    assert_eq!(
        found_on_disk(&fk, &marker),
        Vec::<String>::new(),
        "before the panic: {saved:?}"
    );
    assert_eq!(found_on_disk(&fk, &pass), Vec::<String>::new());
    let (found, read) =
        in_memory(server.pid(), &[&marker, &pass]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        read > 1 << 20,
        "only {read} bytes of the server's memory read"
    );
    assert_eq!(
        found,
        [false, false],
        "[secret, passphrase] in the server's memory after the panic"
    );

    // The first key lifts the blank; the terminal runs on with an empty screen.
    fk.keys("w", &["Space"]);
    fk.wait_screen("w", "the session again", |s| s.contains("C-b prefix"));
    fk.type_line("w", "echo alive");
    let s = fk.wait_screen("w", "the shell answering", |s| {
        s.matches("alive").count() >= 2
    });
    assert!(!s.contains(&marker), "{s}");
}

/// Whether process `pid` has ended (gone, or a zombie its parent has not reaped yet).
fn ended(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The server killed with SIGKILL, waited for until it has ended.
fn kill_server(fk: &Fk) {
    let pid = fk.server_pid();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {pid}");
    common::wait_until("the killed server to end", || {
        ended(pid)
            .then_some(())
            .ok_or_else(|| format!("{pid} runs"))
    });
}

/// 200 adds run back to back while the server is killed with SIGKILL four times, each time
/// the moment another add was acknowledged (so the kill lands in the next add: its save,
/// its reply, or between). After each kill a new server opens the vault, and every entry
/// whose add was acknowledged is in it.
#[test]
fn kill_9_during_200_saves_loses_no_acknowledged_entry() {
    const ADDS: usize = 200;
    const KILL_AFTER: [usize; 4] = [37, 89, 141, 183];
    let fk = Fk::new();
    let pass = "kill nine words";
    unlocked_vault(&fk, pass);
    let unlock_and_check = |acked: &[String]| {
        let u = with_stdin(
            &fk,
            &["vault", "unlock", "--passphrase-fd", "0"],
            &format!("{pass}\n"),
        );
        assert!(u.status.success(), "the vault does not open: {}", text(&u));
        let ls = fk.ok(&["vault", "ls"]);
        let listed: std::collections::HashSet<&str> = ls.lines().collect();
        let lost: Vec<&String> = acked
            .iter()
            .filter(|t| !listed.contains(t.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "acknowledged but lost: {lost:?}\n{}",
            text(&u)
        );
    };
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(String, bool)>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let fk = &fk;
        scope.spawn(move || {
            for i in 0..ADDS {
                let title = format!("E{i:03}");
                let out = with_stdin(
                    fk,
                    &["vault", "add", &title, "--secret-fd", "0"],
                    &format!("secret-{i}\n"),
                );
                let ok = out.status.success();
                if done_tx.send((title, ok)).is_err() {
                    return;
                }
                // Refused (no server): go on once a new one holds the vault.
                if !ok && go_rx.recv().is_err() {
                    return;
                }
            }
        });
        let mut kills = KILL_AFTER.iter().peekable();
        for _ in 0..ADDS {
            let (title, ok) = done_rx
                .recv_timeout(common::TIMEOUT)
                .expect("an add that never returned");
            if ok {
                acked.push(title);
                if kills.next_if(|k| **k == acked.len()).is_some() {
                    kill_server(fk);
                }
            } else {
                refused.push(title);
                unlock_and_check(&acked);
                go_tx.send(()).expect("the adding thread");
            }
        }
    });
    // One add refused per kill (the one it interrupted, or the next); the rest acknowledged.
    assert_eq!(refused.len(), KILL_AFTER.len(), "refused: {refused:?}");
    assert_eq!(acked.len() + refused.len(), ADDS);
    // And from the file alone, after a last kill.
    kill_server(&fk);
    unlock_and_check(&acked);
    assert!(fk.ok(&["vault", "status"]).contains("unlocked"));
}

/// Bad input, each refused in a sentence: a locked vault's secrets, an empty passphrase, a cut
/// vault file (left as it was), a KeePass database.
#[test]
fn bad_input_is_refused_in_a_sentence_and_a_cut_vault_is_left_untouched() {
    let fk = Fk::new();
    let init = with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        "pass words\n",
    );
    assert!(init.status.success(), "{}", text(&init));
    // No server yet: nothing holds the vault open, and the command says why it cannot answer.
    let none = fk.run(&["vault", "get", "Anything"]);
    assert!(!none.status.success());
    assert!(text(&none).contains("no server running"), "{}", text(&none));
    assert!(fk
        .ok(&["vault", "status"])
        .ends_with("locked (no server running)\n"));
    fk.ok(&["new", "-d", "-s", "main"]);
    let locked = fk.run(&["vault", "get", "Anything"]);
    assert!(!locked.status.success());
    assert!(
        text(&locked).contains("the vault is locked: fieldkit vault unlock"),
        "{}",
        text(&locked)
    );

    for input in ["\n", ""] {
        let empty = with_stdin(&fk, &["vault", "unlock", "--passphrase-fd", "0"], input);
        assert!(!empty.status.success(), "{input:?}");
        assert!(
            text(&empty).contains("an empty passphrase protects nothing"),
            "{input:?}: {}",
            text(&empty)
        );
    }
    assert!(fk.ok(&["vault", "status"]).ends_with("\nlocked\n"));

    // A vault file cut short, at several places: refused, and not touched.
    let path = fk.path().join("data/vault.fk");
    let whole = std::fs::read(&path).expect("vault");
    for cut in [0, 7, 64, whole.len() / 2, whole.len() - 1] {
        std::fs::write(&path, &whole[..cut]).expect("cut");
        let u = with_stdin(
            &fk,
            &["vault", "unlock", "--passphrase-fd", "0"],
            "pass words\n",
        );
        assert!(!u.status.success(), "cut at {cut}: {}", text(&u));
        let said = text(&u);
        assert!(
            said.contains("not a fieldkit vault")
                || said.contains("cut short")
                || said.contains("damaged"),
            "cut at {cut}: {said}"
        );
        assert_eq!(
            std::fs::read(&path).expect("vault"),
            &whole[..cut],
            "cut at {cut}: the file was changed"
        );
        assert!(fk.ok(&["vault", "status"]).ends_with("\nlocked\n"));
    }
    std::fs::write(&path, &whole).expect("restore");
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "pass words\n",
    );
    assert!(u.status.success(), "{}", text(&u));

    // A KeePass database this fieldkit does not read (KDBX 3.1's signature and version): refused
    // with what to do in KeePassXC instead: save it as KDBX 4.
    let kdbx = fk.path().join("x.kdbx");
    std::fs::write(
        &kdbx,
        [
            0x03, 0xd9, 0xa2, 0x9a, 0x67, 0xfb, 0x4b, 0xb5, 0x01, 0x00, 0x03, 0x00,
        ],
    )
    .expect("kdbx");
    let out = fk.run(&["vault", "import", &kdbx.display().to_string()]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("KeePassXC") && said.contains("Format: KDBX 4, save, and import it again"),
        "{said}"
    );
    assert_eq!(fk.ok(&["vault", "ls"]), "");
}
