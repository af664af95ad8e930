//! The editor end to end: the real binary in tmux, keys typed as a person would, files on a
//! real disk. What was typed is what is on disk after C-s; a symlink stays a link and the file's
//! mode is kept; a file changed on disk is not overwritten until asked; a binary file is
//! refused with a sentence; a save to a full disk writes nothing and leaves the buffer unsaved;
//! undo outlives the server; the model's rewrite of a selection is a diff to accept.
mod common;

use common::{wait_until, Fk, BIN};
use std::os::unix::fs::PermissionsExt;

fn start(fk: &Fk) {
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
}

/// Waits until `query` (with `arg` as ?1, where it has one) counts exactly one row in `db`.
fn one_row(db: &std::path::Path, what: &str, query: &str, arg: &str) {
    wait_until(what, || {
        let c = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
        let mut st = c.prepare(query).map_err(|e| e.to_string())?;
        let n: i64 = if st.parameter_count() == 1 {
            st.query_row([arg], |r| r.get(0))
        } else {
            st.query_row([], |r| r.get(0))
        }
        .map_err(|e| e.to_string())?;
        (n == 1).then_some(()).ok_or(format!("{n} rows"))
    });
}

/// `kill -9` of the server; waits for the client in window `w` to say it lost it.
fn kill_server(fk: &Fk) {
    let pid = fk.server_pid();
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    fk.wait_screen("w", "the client to end", |s| s.contains("[lost server]"));
}

fn file_is(path: &std::path::Path, want: &str) {
    wait_until(&format!("{} to hold {want:?}", path.display()), || {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        (got == want).then_some(()).ok_or(got)
    });
}

#[test]
fn typed_text_is_saved_through_a_symlink_keeping_the_link_and_the_mode() {
    let fk = Fk::new();
    let dir = fk.path().join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("camp.txt");
    std::fs::write(&real, "water: 20 l\nfuel: 5 l\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("today.txt");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    start(&fk);
    fk.ok(&["edit", &link.to_string_lossy()]);
    fk.wait_screen("w", "the file in the editor", |s| {
        s.contains("water: 20 l") && s.contains("edit: today.txt")
    });
    // To the end of the first line, then type.
    fk.keys("w", &["End"]);
    fk.keys("w", &["-l", " (boiled)"]);
    fk.keys("w", &["Down", "Enter"]);
    fk.keys("w", &["-l", "rope: 30 m"]);
    fk.wait_screen("w", "the unsaved mark", |s| {
        s.contains("rope: 30 m") && s.contains("[+]")
    });
    fk.keys("w", &["C-s"]);
    file_is(&real, "water: 20 l (boiled)\nfuel: 5 l\nrope: 30 m\n");
    fk.wait_screen("w", "saved", |s| s.contains("saved ") && !s.contains("[+]"));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is still a link");
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // No temp files left beside it.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Undo, save, and the file is back.
    fk.keys("w", &["C-z"]);
    fk.keys("w", &["C-z"]);
    fk.keys("w", &["C-z"]);
    fk.keys("w", &["C-s"]);
    file_is(&real, "water: 20 l\nfuel: 5 l\n");
}

#[test]
fn a_file_changed_on_disk_is_not_overwritten_until_asked_and_binaries_are_refused() {
    let fk = Fk::new();
    let path = fk.path().join("plan.md");
    std::fs::write(&path, "# Plan\r\nday 1: north\r\n").unwrap();
    start(&fk);
    fk.ok(&["edit", &path.to_string_lossy()]);
    fk.wait_screen("w", "the file", |s| {
        s.contains("day 1: north") && s.contains("CRLF")
    });
    // Someone else changes it meanwhile.
    std::fs::write(&path, "# Plan\r\nday 1: south\r\n").unwrap();
    fk.keys("w", &["C-End"]);
    fk.keys("w", &["-l", "day 2: east"]);
    fk.keys("w", &["C-s"]);
    fk.wait_screen("w", "the refusal", |s| {
        s.contains("changed on disk") && s.contains("kept in the editor")
    });
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# Plan\r\nday 1: south\r\n",
        "the other writer's text is untouched"
    );
    fk.keys("w", &["Escape"]);
    // The popup gone first: an Escape and a key close behind it read as Alt and the key.
    fk.wait_screen("w", "the popup closed", |s| {
        !s.contains("kept in the editor")
    });
    fk.keys("w", &["C-s"]);
    // Overwritten as asked, with the file's CRLF line endings kept.
    file_is(&path, "# Plan\r\nday 1: north\r\nday 2: east");
    // A binary file is refused with a sentence; the editor goes on.
    let bin = fk.path().join("blob.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    fk.ok(&["edit", &bin.to_string_lossy()]);
    fk.wait_screen("w", "the refusal", |s| s.contains("binary"));
}

/// Unsaved text is kept a moment after typing stops: a `kill -9` of the server loses nothing,
/// and the next server's editor comes back with it, marked unsaved.
#[test]
fn unsaved_changes_come_back_after_the_server_is_killed() {
    let fk = Fk::new();
    let path = fk.path().join("log.txt");
    std::fs::write(&path, "day 1\n").unwrap();
    start(&fk);
    fk.ok(&["edit", &path.to_string_lossy()]);
    fk.wait_screen("w", "the file", |s| s.contains("day 1"));
    fk.keys("w", &["C-End"]);
    fk.keys("w", &["-l", "day 2: rain"]);
    fk.wait_screen("w", "the typing", |s| s.contains("day 2: rain"));
    // Kept in state.db once typing pauses.
    let db = fk.path().join("data/state.db");
    one_row(
        &db,
        "the unsaved text to be kept",
        "SELECT count(*) FROM editor_kept WHERE text LIKE '%day 2: rain%'",
        "",
    );
    kill_server(&fk);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "day 1\n");
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the recovered text", |s| {
        s.contains("day 2: rain") && s.contains("[+]")
    });
    fk.keys("w", &["C-s"]);
    file_is(&path, "day 1\nday 2: rain");
}

/// C-o picks a file by a few letters of its name from the folder the user works in, as git
/// sees it: ignored and hidden files are not offered.
#[test]
fn the_file_picker_opens_a_file_by_a_few_letters_and_leaves_ignored_ones_out() {
    let fk = Fk::new();
    let proj = fk.path().join("proj");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::create_dir_all(proj.join("build")).unwrap();
    std::fs::write(proj.join(".gitignore"), "build/\n").unwrap();
    std::fs::write(proj.join("src/pump_control.rs"), "fn pump() {}\n").unwrap();
    std::fs::write(proj.join("build/pump_generated.rs"), "junk\n").unwrap();
    std::fs::write(proj.join(".secret_pump"), "hidden\n").unwrap();
    // git reads .gitignore only inside a repository; so does the walker.
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    start(&fk);
    // The picker walks the terminal's folder: the shell is there before the editor opens.
    fk.type_line("w", &format!("cd {} && echo in-$((40+2))", proj.display()));
    fk.wait_screen("w", "the shell in the project", |s| s.contains("in-42"));
    fk.ok(&["action", "edit", "notes.txt"]);
    fk.wait_screen("w", "the editor", |s| s.contains("edit: notes.txt"));
    fk.keys("w", &["C-o"]);
    fk.wait_screen("w", "the picker", |s| s.contains("edit a file under"));
    fk.keys("w", &["-l", "pump"]);
    let s = fk.wait_screen("w", "the match", |s| s.contains("pump_control.rs"));
    assert!(!s.contains("pump_generated"), "ignored: {s}");
    assert!(!s.contains(".secret_pump"), "hidden: {s}");
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the picked file", |s| {
        s.contains("fn pump() {}") && s.contains("pump_control.rs")
    });
}

/// A save to a full disk writes nothing over the file and leaves the buffer unsaved; once
/// there is room, the same C-s saves it. The disk is a 256 KiB tmpfs that the workspace mounts
/// in a mount namespace of its own (`unshare -rm`: an unprivileged user namespace, so this runs
/// as any user), filled to the last page before the file is opened.
#[test]
fn full_disk_save_leaves_the_file_and_the_buffer_unsaved() {
    let fk = Fk::new();
    let full = fk.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    let mount = format!("mount -t tmpfs -o size=256k tmpfs {}", full.display());
    // The only skip: a kernel or sandbox that lets no ordinary user mount in a namespace.
    match std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &mount])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: unshare -rm cannot mount a tmpfs here (user namespaces off?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: unshare cannot be run ({e})");
            return;
        }
    }
    let path = full.join("log.txt");
    // The workspace's client, and so the server it starts, in the namespace that sees the
    // tmpfs: the file written and the disk filled before it starts.
    fk.terminal("w", 120, 36);
    fk.type_line(
        "w",
        &format!(
            "unshare -rm sh -c '{mount} && printf \"day 1\\n\" > {file} \
             && {{ cat /dev/zero > {filler} 2>/dev/null; exec {BIN}; }}'",
            file = path.display(),
            filler = full.join("filler").display(),
        ),
    );
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    // What the server sees: its root, in its own mount namespace (readable by the same user).
    let seen = format!("/proc/{}/root{}", fk.server_pid(), path.display());
    let seen = std::path::Path::new(&seen);
    assert_eq!(std::fs::read_to_string(seen).unwrap(), "day 1\n");
    // The server opens the path in its namespace, whoever asks.
    fk.ok(&["edit", &path.to_string_lossy()]);
    fk.wait_screen("w", "the file", |s| {
        s.contains("day 1") && s.contains("edit: log.txt")
    });
    fk.keys("w", &["C-End"]);
    fk.keys("w", &["-l", "day 2: rain"]);
    fk.wait_screen("w", "the unsaved mark", |s| {
        s.contains("day 2: rain") && s.contains("[+]")
    });
    fk.keys("w", &["C-s"]);
    fk.wait_screen("w", "the refusal", |s| {
        s.contains("not saved")
            && s.contains("the disk is full")
            && s.contains("kept in the editor")
    });
    assert_eq!(
        std::fs::read_to_string(seen).unwrap(),
        "day 1\n",
        "the file is as it was"
    );
    let mut names: Vec<String> = std::fs::read_dir(seen.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["filler", "log.txt"], "nothing left beside it");
    fk.keys("w", &["Escape"]);
    // The popup gone first: an Escape and a key close behind it read as Alt and the key.
    fk.wait_screen("w", "the buffer, still unsaved", |s| {
        !s.contains("not saved") && s.contains("day 2: rain") && s.contains("[+]")
    });
    // Room again: the same buffer saves.
    std::fs::remove_file(seen.with_file_name("filler")).unwrap();
    fk.keys("w", &["C-s"]);
    file_is(seen, "day 1\nday 2: rain");
    fk.wait_screen("w", "saved", |s| s.contains("saved ") && !s.contains("[+]"));
}

/// Undo outlives the server: a file saved in the editor, the server killed, the file opened
/// again unchanged, and C-z still takes back what was typed before.
#[test]
fn undo_outlives_the_server() {
    let fk = Fk::new();
    let path = fk.path().join("kit.txt");
    std::fs::write(&path, "tent\n").unwrap();
    start(&fk);
    fk.ok(&["edit", &path.to_string_lossy()]);
    fk.wait_screen("w", "the file", |s| {
        s.contains("tent") && s.contains("edit: kit.txt")
    });
    fk.keys("w", &["C-End"]);
    fk.keys("w", &["-l", "stakes: 12"]);
    fk.wait_screen("w", "the typing", |s| s.contains("stakes: 12"));
    fk.keys("w", &["C-s"]);
    file_is(&path, "tent\nstakes: 12");
    let db = fk.path().join("data/state.db");
    one_row(
        &db,
        "the undo history to be kept",
        "SELECT count(*) FROM editor_undo WHERE path = ?1",
        &path.to_string_lossy(),
    );
    kill_server(&fk);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the file opened again, saved", |s| {
        s.contains("stakes: 12") && s.contains("edit: kit.txt") && !s.contains("[+]")
    });
    fk.keys("w", &["C-z"]);
    fk.wait_screen("w", "the typing undone", |s| {
        !s.contains("stakes: 12") && s.contains("edit: kit.txt [+]")
    });
    fk.keys("w", &["C-y"]);
    fk.wait_screen("w", "redone, the saved text again", |s| {
        s.contains("stakes: 12") && s.contains("edit: kit.txt") && !s.contains("[+]")
    });
}

/// The model (a generated random-weight one: its answer is nonsense, but a real answer from
/// llama.cpp) rewrites a selection: the rewrite is shown as a diff, Enter applies it, C-z
/// takes it back in one step.
#[test]
fn a_rewrite_by_the_model_is_a_diff_to_accept_and_one_undo_step() {
    let fk = Fk::new();
    let model = fk.path().join("tiny.gguf");
    fieldkit::format::gguf::tiny::write(&model, &fieldkit::format::gguf::tiny::Spec::default())
        .expect("model");
    fk.ok(&["model", "add", &model.to_string_lossy()]);
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!(
            "{}\n[llm]\ntemperature = 0.0\nthreads = 1\nmax_tokens = 12\n",
            fk.shell_setting()
        ),
    )
    .expect("config");
    let path = fk.path().join("pump.sh");
    std::fs::write(&path, "echo start pump\nsleep 5\n").unwrap();
    start(&fk);
    fk.ok(&["edit", &path.to_string_lossy()]);
    fk.wait_screen("w", "the file", |s| s.contains("echo start pump"));
    fk.keys("w", &["C-a"]);
    fk.keys("w", &["M-r"]);
    fk.wait_screen("w", "the question", |s| {
        s.contains("rewrite the selection: how?")
    });
    fk.keys("w", &["-l", "make it shorter"]);
    fk.keys("w", &["Enter"]);
    let shown = fk.wait_screen("w", "the diff", |s| {
        s.contains("rewrite: +") && s.contains("Enter/y accepts")
    });
    assert!(shown.contains("- echo start pump"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "echo start pump\nsleep 5\n",
        "nothing written"
    );
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the rewrite applied", |s| {
        s.contains("rewrite applied") && s.contains("edit: pump.sh [+]") && !s.contains("sleep 5")
    });
    fk.keys("w", &["C-z"]);
    fk.wait_screen("w", "the text back in one undo", |s| {
        s.contains("echo start pump") && s.contains("sleep 5") && !s.contains("[+]")
    });
}
