//! A save that cannot be written (a folder that takes no new file, as a full disk or a
//! read-only mount would): the vault on disk stays byte for byte as it was, the change stays in
//! the unlocked vault and the error is shown, and the next save that can be written keeps it.
//! The folder is made unwritable as the user running the test can: `chmod 0500` for an
//! ordinary user, and `chattr +i` as root (root ignores permission bits, not the immutable
//! flag), on the filesystem /tmp is on.
mod common;

use common::{unlocked_vault, with_stdin, Fk};
use std::path::Path;
use std::process::Command;

/// Makes `dir` take no new file, or says plainly why it cannot.
fn freeze(dir: &Path, on: bool) {
    if unsafe { libc::geteuid() } == 0 {
        let out = Command::new("chattr")
            .arg(if on { "+i" } else { "-i" })
            .arg(dir)
            .output()
            .expect("chattr (e2fsprogs) runs");
        assert!(
            out.status.success(),
            "chattr {} {}: {} (this test needs a filesystem with the immutable flag when run as root)",
            if on { "+i" } else { "-i" },
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir,
            std::fs::Permissions::from_mode(if on { 0o500 } else { 0o700 }),
        )
        .expect("chmod");
    }
}

#[test]
fn a_save_that_cannot_be_written_keeps_the_old_file_and_the_change_in_memory() {
    let fk = Fk::new();
    let pass = "full disk passphrase";
    unlocked_vault(&fk, pass);
    let add = |title: &str, secret: &str| {
        with_stdin(
            &fk,
            &["vault", "add", title, "--secret-fd", "0"],
            &format!("{secret}\n"),
        )
    };
    assert!(add("Alpha", "one").status.success());
    let data = fk.path().join("data");
    let vault = data.join("vault.fk");
    let before = std::fs::read(&vault).expect("vault");
    freeze(&data, true);
    let refused = add("Bravo", "two");
    freeze(&data, false);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "the save could not have worked");
    assert!(
        said.contains("was not saved") && said.contains("kept in memory"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(&vault).expect("vault"),
        before,
        "the file is as it was"
    );
    assert!(
        !data.join("vault.fk.tmp").exists(),
        "no temporary file is left"
    );
    // The change is in the unlocked vault...
    let ls = fk.ok(&["vault", "ls"]);
    assert!(ls.contains("Alpha") && ls.contains("Bravo"), "{ls}");
    // ...and the next save that can be written keeps it.
    assert!(add("Charlie", "three").status.success());
    fk.ok(&["vault", "lock"]);
    let u = with_stdin(
        &fk,
        &["vault", "unlock", "--passphrase-fd", "0"],
        &format!("{pass}\n"),
    );
    assert!(u.status.success(), "{u:?}");
    assert_eq!(fk.ok(&["vault", "ls"]), "Alpha\nBravo\nCharlie\n");
    assert_eq!(fk.ok(&["vault", "get", "Bravo"]), "two\n");
}
