//! Terminal panes end to end: a real shell on a real pty inside fieldkit, inside tmux, typed
//! at as a person would.

mod common;

use common::{wait_until_within, Fk, BIN, PROMPT};

/// Opens fieldkit in a tmux window and waits for its shell prompt.
fn workspace(fk: &Fk, w: u16, h: u16) {
    fk.terminal("w", w, h);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the shell prompt in the first pane", |s| {
        s.contains("1 sh") && s.contains(PROMPT)
    });
}

/// `workspace`, in an outer terminal that keeps what programs put on its clipboard: tmux with
/// set-clipboard on turns an OSC 52 the client writes into a buffer we can read back.
fn workspace_with_clipboard(fk: &Fk) {
    fk.terminal("w", 100, 30);
    fk.tmux_run(&["set-option", "-g", "set-clipboard", "on"]);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the prompt", |s| {
        s.contains("1 sh") && s.contains(PROMPT)
    });
}

fn capture(fk: &Fk, args: &[&str]) -> String {
    fk.ok(&[&["capture"], args].concat())
}

#[test]
fn echo_and_colours_reach_the_screen() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    fk.type_line("w", "printf '\\033[31mRED\\033[0m \\033[1mBOLD\\033[0m \\033[38;5;202mIDX\\033[0m \\344\\270\\226wide\\n'");
    fk.wait_screen("w", "the output", |s| s.contains("RED BOLD IDX 世wide"));
    // The colours survive all the way to the outer terminal.
    let out = fk.tmux_run(&["capture-pane", "-p", "-e", "-t", "w"]);
    let screen = String::from_utf8_lossy(&out.stdout);
    let line = screen
        .lines()
        .find(|l| l.contains("RED") && l.contains("wide") && !l.contains("printf"))
        .expect("the output line");
    assert!(
        line.contains("\x1b[31mRED") || line.contains(";31mRED") || line.contains("31m\x1b"),
        "red: {line:?}"
    );
    assert!(line.contains("38;5;202"), "256-colour: {line:?}");
}

#[test]
fn vim_edits_saves_and_quits() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    let file = fk.path().join("note.txt");
    fk.type_line("w", &format!("vim -u NONE -N {}", file.display()));
    fk.wait_screen("w", "vim on the alternate screen", |s| {
        s.contains("~") && s.contains("note.txt")
    });
    fk.keys("w", &["i"]);
    fk.keys("w", &["-l", "field notes, day 1"]);
    fk.keys("w", &["Escape"]);
    fk.keys("w", &["-l", ":wq"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the shell again after :wq", |s| {
        !s.contains("~  ") && s.contains(PROMPT)
    });
    common::wait_until("the file on disk", || {
        std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| (t == "field notes, day 1\n").then_some(()).ok_or(t))
    });
}

#[test]
fn resizes_reach_the_program() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    fk.type_line("w", "stty size");
    // 100x30 less the tab bar, the hint bar and the pane border.
    fk.wait_screen("w", "stty size before", |s| s.contains("26 98"));
    fk.resize("w", 120, 40);
    fk.type_line("w", "stty size");
    fk.wait_screen("w", "stty size after the resize", |s| s.contains("36 118"));
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "the second pane", |s| s.contains("2 sh"));
    fk.type_line("w", "stty size");
    fk.wait_screen("w", "the split pane's size", |s| s.contains("36 58"));
}

#[test]
fn copy_mode_search_finds_a_line_5000_back_and_yank_reaches_the_client() {
    let fk = Fk::new();
    workspace_with_clipboard(&fk);
    let tmux = |args: &[&str]| fk.tmux_run(args);
    fk.type_line("w", "seq -f 'row %g' 1 6000");
    fk.wait_screen("w", "the last row", |s| s.contains("row 6000"));
    fk.keys("w", &["C-b", "["]);
    fk.wait_screen("w", "copy mode", |s| s.contains("[copy]"));
    fk.keys("w", &["?"]);
    fk.keys("w", &["-l", "row 1000"]);
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the match far back", |s| {
        s.lines().any(|l| l.starts_with("┃row 1000 "))
    });
    // The position indicator: lines scrolled back / lines of history.
    let pos = s.lines().nth(2).unwrap_or("");
    let indicator = pos.rsplit('[').next().unwrap_or("");
    let (back, total) = indicator
        .trim_end_matches(|c| c != ']')
        .trim_end_matches(']')
        .split_once('/')
        .expect("[back/total]");
    let (back, total): (usize, usize) =
        (back.parse().expect("back"), total.parse().expect("total"));
    assert!(
        back > 4900 && total >= 5970,
        "scrolled back {back} of {total}: {pos}"
    );
    fk.keys("w", &["V"]);
    fk.keys("w", &["y"]);
    fk.wait_screen("w", "copy mode left", |s| !s.contains("[copy]"));
    common::wait_until("the yank in the outer terminal's clipboard", || {
        let out = tmux(&["show-buffer"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.trim_end() == "row 1000").then_some(()).ok_or(text)
    });
    // prefix ] pastes it back into the shell.
    fk.keys("w", &["C-b", "]"]);
    fk.wait_screen("w", "the pasted yank at the prompt", |s| {
        s.lines()
            .any(|l| l.starts_with(&format!("┃{PROMPT}row 1000 ")))
    });
    // The scrollback capture has all of it.
    let all = capture(&fk, &["--pane", "1", "--scrollback"]);
    assert!(
        all.contains("\nrow 1\n") && all.contains("\nrow 6000\n"),
        "{} lines",
        all.lines().count()
    );
}

#[test]
fn output_goes_on_while_detached_and_reattach_shows_it() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    fk.type_line(
        "w",
        "for i in $(seq 1 400); do echo tick $i; sleep 0.005; done; echo all-done",
    );
    fk.wait_screen("w", "output started", |s| s.contains("tick "));
    fk.keys("w", &["C-b", "d"]);
    fk.wait_screen("w", "detached", |s| s.contains("[detached"));
    let done = |s: &str| {
        s.lines()
            .any(|l| l.trim_matches(|c: char| c == '┃' || c == ' ') == "all-done")
    };
    fk.wait_output(
        &["capture", "--pane", "1"],
        "the loop finished while detached",
        done,
    );
    fk.type_line("w", &format!("{BIN} attach"));
    let s = fk.wait_screen("w", "the current screen after reattach", done);
    assert!(s.contains("tick 400"), "{s}");
}

/// SIGKILLs the server, attaches again from window `w`'s shell and waits for the restored pane
/// to show `restored` above the restart note.
fn kill_9_and_reattach(fk: &Fk, restored: &str) {
    unsafe {
        libc::kill(fk.server_pid(), libc::SIGKILL);
    }
    fk.wait_output(&["ls"], "the server gone", |o| {
        o.contains("no server running")
    });
    fk.type_line("w", &format!("{BIN} attach -t main"));
    fk.wait_screen("w", "the restored pane", |s| {
        s.contains(restored) && s.contains("server restarted")
    });
}

#[test]
fn kill_9_brings_back_cwd_and_scrollback() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    let dir = fk.path().join("work dir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    fk.type_line(
        "w",
        &format!("cd '{}' && echo marker-before-crash", dir.display()),
    );
    fk.wait_screen("w", "the marker", |s| s.contains("marker-before-crash"));
    fk.keys("w", &["C-b", "d"]);
    fk.wait_screen("w", "detached (scrollback saved)", |s| {
        s.contains("[detached")
    });
    kill_9_and_reattach(&fk, "marker-before-crash");
    // The new shell's prompt under the restart note, before typing (keys typed earlier are
    // echoed before the prompt, as in any terminal).
    fk.wait_screen("w", "the new shell's prompt", |s| {
        s.split("the server restarted")
            .nth(1)
            .is_some_and(|after| after.contains(common::PROMPT))
    });
    fk.type_line("w", "pwd");
    let at = format!("┃{}", dir.display());
    fk.wait_screen("w", "the shell in its old directory", |s| {
        s.lines().any(|l| l.starts_with(&at))
    });
}

/// The scrollback state.db holds for pane `pane`, if saved.
fn saved_scrollback(fk: &Fk, pane: u64) -> Option<String> {
    let db = rusqlite::Connection::open(fk.path().join("data/state.db")).ok()?;
    db.query_row(
        "SELECT text FROM scrollback WHERE pane = ?1",
        [pane as i64],
        |r| r.get(0),
    )
    .ok()
}

#[test]
fn kill_9_while_vim_is_open_keeps_the_shell_history() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    fk.type_line("w", "seq -f 'line %g' 1 3000");
    fk.wait_screen("w", "the last line", |s| s.contains("line 3000"));
    fk.type_line("w", "vim -u NONE -N");
    fk.wait_screen("w", "vim on the alternate screen", |s| {
        s.lines().filter(|l| l.starts_with("┃~")).count() > 5
    });
    // The periodic save (5 s after output) runs while vim has the screen.
    let saved = common::wait_until("the save made while vim is open", || {
        let text = saved_scrollback(&fk, 1).unwrap_or_default();
        text.contains("was open full-screen here")
            .then(|| text.clone())
            .ok_or(text)
    });
    assert!(
        saved.contains("\nline 1\n") && saved.contains("\nline 3000\n"),
        "the shell's history is saved, not vim's screen: {saved}"
    );
    assert!(
        saved.contains("[fieldkit: vim was open full-screen here]"),
        "{saved}"
    );
    kill_9_and_reattach(&fk, "vim was open full-screen here");
    // Without --pane, --scrollback is the focused pane's.
    let all = capture(&fk, &["--scrollback"]);
    assert!(
        all.contains("\nline 1\n") && all.contains("\nline 3000\n"),
        "{} lines restored",
        all.lines().count()
    );
}

#[test]
fn echoback_queries_write_nothing_back() {
    let fk = Fk::new();
    workspace(&fk, 120, 30);
    // Reads whatever the terminal answers within half a second, and says how many bytes.
    let probe = |seq: &str, tag: &str| {
        format!("stty -echo -icanon min 0 time 5; printf '{seq}'; n=$(dd bs=1 count=200 2>/dev/null | wc -c); stty sane; echo {tag}=$n")
    };
    for (seq, tag) in [
        ("\\033[21t", "title"),
        ("\\033P$qm\\033\\\\", "decrqss"),
        ("\\033]50;?\\007", "font"),
        ("\\033]52;c;?\\007", "clipread"),
    ] {
        fk.type_line("w", &probe(seq, tag));
        fk.wait_screen("w", tag, |s| {
            s.contains(&format!("{tag}=0")) || s.lines().any(|l| l.starts_with(&format!("{tag}=")))
        });
        let s = fk.screen("w");
        assert!(
            s.contains(&format!("{tag}=0")),
            "{tag} wrote bytes back:\n{s}"
        );
    }
    // The control: device attributes are answered, so the probe can see answers at all.
    fk.type_line("w", &probe("\\033[c", "da"));
    let s = fk.wait_screen("w", "the DA answer", |s| {
        s.lines().any(|l| l.contains("da=") && !l.contains("da=$"))
    });
    assert!(!s.contains("da=0"), "{s}");
}

#[test]
fn exit_shows_how_and_a_key_closes() {
    let fk = Fk::new();
    workspace(&fk, 100, 30);
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "two panes", |s| s.contains("2 sh"));
    fk.type_line("w", "exit 3");
    fk.wait_screen("w", "the exit status", |s| s.contains("[exited 3]"));
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the pane closed", |s| {
        !s.contains("2 sh") && !s.contains("[exited")
    });
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 1 tabs, 1 panes, 1 clients (attached)\n"
    );
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// How much the server may grow while flooded: the flooded pane's screen and its scrollback
/// (100 lines of 800 columns here), what it queues for a client before holding frames back
/// (1 MiB), and room for the allocator. About 30 MiB is seen.
const FLOOD_MARGIN_KIB: u64 = 64 * 1024;
/// What the flood writes: four times the margin. A server that drew frames for the stalled
/// client and queued them without bound grows by about 120 MiB under it (seen with the
/// hold-back removed), so it fails here.
const FLOOD_BYTES: u64 = 4 * FLOOD_MARGIN_KIB * 1024;

#[test]
fn a_flood_to_a_stalled_client_keeps_memory_bounded() {
    let fk = Fk::new();
    // A wide screen, so each frame is large (what a server that never held frames back would
    // pile up is frames, not output); a short scrollback, so the pane's own memory stays
    // within the margin at that width.
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}scrollback_lines = 100\n", fk.shell_setting()),
    )
    .expect("config");
    fk.terminal("w", 800, 200);
    fk.type_line("w", &format!("exec {BIN}"));
    fk.wait_screen("w", "the prompt", |s| {
        s.contains("1 sh") && s.contains(PROMPT)
    });
    let client = fk.pane_pid("w");
    let server = fk.server_pid();
    // The client stops reading, as over a stalled ssh link.
    unsafe {
        libc::kill(client, libc::SIGSTOP);
    }
    fk.ok(&["action", "split-down"]);
    let before = rss_kib(server);
    // FLOOD_BYTES of random text in lines as wide as the pane into a pane nobody can see
    // arrive, every line unlike the last, so that each frame drawn from it differs from the
    // one before (lines all alike scroll without changing a cell, and frames of them are
    // tiny). The keys go in by script, since the stopped client cannot forward any.
    fk.ok(&[
        "send-keys",
        "--pane",
        "1",
        &format!(
            "head -c {} /dev/urandom | base64 -w 790; echo flood-done",
            FLOOD_BYTES / 4 * 3
        ),
        "Enter",
    ]);
    let peak = std::cell::Cell::new(0);
    wait_until_within(
        "the flood to finish",
        std::time::Duration::from_secs(180),
        || {
            peak.set(peak.get().max(rss_kib(server)));
            let out = fk.run(&["capture", "--pane", "1"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.lines().any(|l| l == "flood-done") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    let peak = peak.get().max(rss_kib(server));
    assert!(
        peak < before + FLOOD_MARGIN_KIB,
        "server grew from {before} KiB to {peak} KiB while {FLOOD_BYTES} bytes flooded a pane"
    );
    unsafe {
        libc::kill(client, libc::SIGCONT);
    }
    fk.wait_screen(
        "w",
        "the stalled client catches up with the final screen",
        |s| {
            s.lines()
                .any(|l| l.starts_with("│flood-done") || l.starts_with("┃flood-done"))
        },
    );
}

#[test]
fn mouse_clicks_focus_panes_and_reach_programs_that_ask() {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}mouse = true\n", fk.shell_setting()),
    )
    .expect("config");
    workspace(&fk, 100, 30);
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "pane 2 focused", |s| s.contains("┏ 2 sh"));
    // The outer terminal reports a left click at column 10, row 5 (1-based, SGR form).
    fk.keys("w", &["-l", "\x1b[<0;10;5M\x1b[<0;10;5m"]);
    fk.wait_screen("w", "pane 1 focused by the click", |s| s.contains("┏ 1 sh"));
    // A program that asks for SGR mouse reports gets them in its own pane's coordinates.
    fk.type_line("w", "printf '\\033[?1000h\\033[?1006h'; stty -echo -icanon min 1; head -c 9 | od -An -c; stty sane; printf '\\033[?1000l'");
    fk.wait_screen("w", "the program waiting", |s| s.contains("od -An"));
    // Screen column 6, row 4 (1-based) is inside pane 1 at column 5, row 2 (1-based): the tab
    // bar and the pane's border come first.
    fk.keys("w", &["-l", "\x1b[<0;6;4M"]);
    fk.wait_screen("w", "the report the program read", |s| {
        s.contains("5   ;   2   M")
    });
}

#[test]
fn a_bell_out_of_sight_marks_its_tab_and_program_clipboard_writes_reach_the_client() {
    let fk = Fk::new();
    workspace_with_clipboard(&fk);
    let tmux = |args: &[&str]| fk.tmux_run(args);
    // A program sets the clipboard (OSC 52 write): it reaches the outer terminal.
    fk.type_line("w", "printf '\\033]52;c;ZmllbGQgbm90ZXM=\\007'");
    common::wait_until("the program's clipboard write", || {
        let text = String::from_utf8_lossy(&tmux(&["show-buffer"]).stdout).into_owned();
        (text == "field notes").then_some(()).ok_or(text)
    });
    // A bell in tab 1 while tab 2 is shown marks tab 1.
    fk.type_line("w", "sleep 0.5; printf '\\a'");
    fk.keys("w", &["C-b", "c"]);
    fk.wait_screen("w", "the bell mark on tab 1", |s| {
        s.lines().next().is_some_and(|l| l.contains("1:1 !"))
    });
    fk.keys("w", &["C-b", "1"]);
    fk.wait_screen("w", "the pane title shows it too", |s| s.contains("1 ! sh"));
}
