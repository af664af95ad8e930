//! `open term --env NAME=vault:ENTRY/FIELD`: a terminal pane whose shell has a secret in its
//! environment, and nowhere else. The shell proves it has the value by printing its SHA-256
//! (the value itself is never printed, so the scrollback holds only the hash); state.db, the
//! saved scrollback, the logs and the server's argv must not hold it.
mod common;

use common::{found_on_disk, wait_until, with_stdin, Fk};
use sha2::{Digest, Sha256};

#[test]
fn a_terminal_opened_with_env_has_the_secret_and_nothing_saves_it() {
    let fk = Fk::new();
    let pass = "env test passphrase";
    assert!(with_stdin(
        &fk,
        &["vault", "init", "--passphrase-fd", "0"],
        &format!("{pass}\n")
    )
    .status
    .success());
    fk.ok(&["new", "-d", "-s", "env"]);
    // Locked: refused in a sentence, no pane opened.
    let locked = fk.run(&[
        "action",
        "open",
        "term",
        "--env",
        "DB=vault:Database/password",
    ]);
    assert!(!locked.status.success());
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("locked"),
        "{locked:?}"
    );
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(u.status.success(), "{u:?}");
    let secret = format!("env-secret-{}-Hq2", std::process::id());
    let add = with_stdin(
        &fk,
        &["vault", "add", "Database", "--secret-fd", "0"],
        &format!("{secret}\n"),
    );
    assert!(add.status.success(), "{add:?}");
    // A reference to an entry that is not there, or a bad form: a sentence each.
    let missing = fk.run(&["action", "open", "term", "--env", "DB=vault:Nope/password"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no entry titled \"Nope\""));
    let bad = fk.run(&["action", "open", "term", "--env", "DB=Database"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("NAME=vault:ENTRY/FIELD"));
    fk.ok(&[
        "action",
        "open",
        "term",
        "--env",
        "DB_PASS=vault:Database/password",
    ]);
    let want: String = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    fk.ok(&["send-keys", "printf %s \"$DB_PASS\" | sha256sum", "Enter"]);
    wait_until("the new terminal to print the secret's hash", || {
        let screen = fk.ok(&["capture"]);
        if screen.contains(&want[..32]) {
            Ok(())
        } else {
            Err(screen)
        }
    });
    // The server's own argv and environment do not hold it.
    let pid = fk.server_pid();
    for what in ["cmdline", "environ"] {
        let b = std::fs::read(format!("/proc/{pid}/{what}")).expect(what);
        assert!(
            !b.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the server's {what} holds the secret"
        );
    }
    // Stopping saves layouts and scrollback: neither holds the secret, nor any log.
    fk.ok(&["kill-server"]);
    wait_until("the server to stop", || {
        if fk.path().join("run/server.sock").exists() {
            Err("socket still there".to_string())
        } else {
            Ok(())
        }
    });
    let hits = found_on_disk(&fk, &secret);
    assert!(
        hits.is_empty(),
        "the secret is on disk in plain text: {hits:?}"
    );
    assert!(
        !found_on_disk(&fk, &want[..32]).is_empty(),
        "the scrollback was saved (with the hash), so the check above looked at it"
    );
}
