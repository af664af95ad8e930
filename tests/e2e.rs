//! End to end: the real binary in a real terminal, as a person would use it.

mod common;

use common::{wait_until, Fk, BIN};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

fn tab_bar(screen: &str) -> String {
    screen.lines().next().unwrap_or("").trim_end().to_string()
}

#[test]
fn split_palette_detach_ls_reattach() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace with its hint bar", |s| {
        s.contains("C-b prefix") && s.contains("1 sh")
    });

    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "a second pane after C-b %", |s| s.contains("2 sh"));
    fk.keys("w", &["C-b", "\""]);
    fk.wait_screen("w", "a third pane after C-b \"", |s| s.contains("3 sh"));

    // The palette: fuzzy-find an action and run it.
    fk.keys("w", &["C-b", ":"]);
    fk.wait_screen("w", "the command palette", |s| {
        s.contains("command palette")
    });
    fk.keys("w", &["-l", "newtab"]);
    fk.wait_screen("w", "new-tab ranked first", |s| {
        s.lines().any(|l| l.contains("› newtab")) && s.contains("new-tab")
    });
    fk.keys("w", &["Enter"]);
    let screen = fk.wait_screen("w", "a second tab", |s| tab_bar(s).contains("2:2"));
    assert!(!screen.contains("command palette"), "the palette closed");

    // Rename the tab through the prompt.
    fk.keys("w", &["C-b", ","]);
    fk.wait_screen("w", "the rename prompt", |s| s.contains("rename tab"));
    fk.keys("w", &["BSpace"]);
    fk.keys("w", &["-l", "logs"]);
    fk.keys("w", &["Enter"]);
    let before = fk.wait_screen("w", "the renamed tab", |s| tab_bar(s).contains("2:logs"));

    fk.keys("w", &["C-b", "d"]);
    fk.wait_screen("w", "the detach message in the shell", |s| {
        s.contains("[detached (from session main)]")
    });
    fk.type_line("w", &format!("{BIN} ls"));
    fk.wait_screen("w", "ls in the same shell", |s| {
        s.contains("main: 2 tabs, 4 panes, 0 clients")
    });

    fk.type_line("w", &format!("{BIN} attach -t main"));
    let after = fk.wait_screen("w", "the same layout after reattach", |s| {
        tab_bar(s).contains("2:logs")
    });
    assert_eq!(tab_bar(&after), tab_bar(&before));
    fk.keys("w", &["C-b", "1"]);
    let tab1 = fk.wait_screen("w", "tab 1 with its three panes", |s| s.contains("3 sh"));
    assert!(tab1.contains("1 sh") && tab1.contains("2 sh"));
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 2 tabs, 4 panes, 1 clients (attached)\n"
    );
}

#[test]
fn kill_9_of_the_server_restores_every_session_tab_and_split() {
    let fk = Fk::new();
    fk.ok(&["new", "-d", "-s", "work"]);
    fk.ok(&["action", "-t", "work", "split-right"]);
    fk.ok(&["action", "-t", "work", "split-down"]);
    fk.ok(&["action", "-t", "work", "resize", "left", "7"]);
    fk.ok(&["action", "-t", "work", "new-tab"]);
    fk.ok(&["action", "-t", "work", "rename-tab", "field", "notes"]);
    fk.ok(&["new", "-d", "-s", "second"]);
    let before_ls = fk.ok(&["ls"]);
    fk.ok(&["action", "-t", "work", "select-tab", "1"]);
    let before = fk.ok(&["capture", "-t", "work"]);

    let pid = fk.server_pid();
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    fk.wait_output(&["ls"], "the server to be gone", |o| {
        o.contains("no server running")
    });

    // Any command that starts the server brings everything back.
    fk.ok(&["new", "-d", "-s", "third"]);
    let after_ls = fk.ok(&["ls"]);
    let mut want: Vec<&str> = before_ls.lines().collect();
    want.push("third: 1 tabs, 1 panes, 0 clients");
    want.sort();
    assert_eq!(after_ls.lines().collect::<Vec<_>>(), want);
    let after = fk.ok(&["capture", "-t", "work"]);
    // Borders only: the figures inside the panes (uptime, pids) differ by design.
    let shape = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.chars().filter(|c| "┌┐└┘│─┏┓┗┛┃━".contains(*c)).collect())
            .collect()
    };
    assert_eq!(shape(&after), shape(&before), "same splits, same sizes");
    assert_eq!(tab_bar(&after), tab_bar(&before));
    assert!(tab_bar(&after).contains("2:field notes"));
}

#[test]
fn a_killed_worker_fails_then_comes_back_and_nothing_else_moves() {
    let fk = Fk::new();
    fk.ok(&["new", "-d", "-s", "main"]);
    fk.ok(&["action", "open", "status"]);
    fk.ok(&["action", "zoom"]);
    let screen = fk.wait_output(&["capture", "--pane", "2"], "the probe ready", |o| {
        o.contains("probe    ready")
    });
    let row = screen
        .lines()
        .find(|l| l.starts_with("probe"))
        .expect("probe row")
        .to_string();
    let pid: i32 = row
        .split_whitespace()
        .nth(2)
        .expect("pid column")
        .parse()
        .expect("pid");
    let server = fk.server_pid();

    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    fk.wait_output(
        &["capture", "--pane", "2"],
        "the probe marked failed",
        |o| {
            o.lines().any(|l| {
                l.starts_with("probe") && l.contains("failed") && l.contains("killed by signal 9")
            })
        },
    );
    let back = fk.wait_output(&["capture", "--pane", "2"], "the probe ready again", |o| {
        o.lines().any(|l| {
            l.starts_with("probe")
                && l.contains("ready")
                && l.split_whitespace().nth(3) == Some("1")
        })
    });
    let new_row = back.lines().find(|l| l.starts_with("probe")).expect("row");
    assert!(
        !new_row.contains(&pid.to_string()),
        "a new process: {new_row}"
    );
    assert!(
        new_row.contains("killed by signal 9"),
        "the last failure stays visible: {new_row}"
    );
    assert_eq!(fk.server_pid(), server, "the server lived on");
    assert_eq!(fk.ok(&["ls"]), "main: 1 tabs, 2 panes, 0 clients\n");
}

#[test]
fn an_open_or_foreign_runtime_dir_is_refused() {
    let fk = Fk::new();
    let run = fk.path().join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for args in [&["ls"][..], &["new", "-d", "-s", "x"], &[]] {
        let out = fk.run(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("refusing to use runtime dir") && err.contains("chmod 700"),
            "{err}"
        );
    }
    assert!(!run.join("server.sock").exists(), "no socket was made");
    // A runtime dir that belongs to someone else. Root hands ours to nobody; any other user
    // points FIELDKIT_HOME at `/`, whose runtime dir `/run` belongs to root.
    let (home, owner) = if unsafe { libc::getuid() } == 0 {
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::os::unix::fs::chown(&run, Some(65534), Some(65534)).expect("chown");
        (fk.path().to_path_buf(), 65534)
    } else {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata("/run").expect("/run exists on Linux");
        assert_ne!(meta.uid(), unsafe { libc::getuid() }, "/run is not ours");
        (std::path::PathBuf::from("/"), meta.uid())
    };
    let out = std::process::Command::new(BIN)
        .args(["new", "-d", "-s", "x"])
        .env("FIELDKIT_HOME", &home)
        .output()
        .expect("run fieldkit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("owned by uid {owner}")),
        "{err}"
    );
}

#[test]
fn garbage_and_other_versions_on_the_socket_do_no_harm() {
    let fk = Fk::new();
    fk.ok(&["new", "-d", "-s", "main"]);
    let sock = fk.path().join("run/server.sock");
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // Not fieldkit at all: dropped without a word.
    let mut s = UnixStream::connect(&sock).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n\x00\xff\xfe garbage")
        .expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty(), "garbage gets no answer");

    // Another protocol version: told so in words.
    let mut s = UnixStream::connect(&sock).expect("connect");
    s.write_all(b"FKIT\x00\x00\x00\x00").expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf);
    assert_eq!(buf[8], 1, "refused");
    assert!(
        text.contains("speaks protocol 0") && text.contains("kill-server"),
        "{text}"
    );

    // A good handshake, then a hostile frame: that connection ends, nothing else.
    for frame in [
        &b"\xff\xff\xff\xff"[..],
        b"\x05\x00\x00\x00\x09\x09\x09\x09\x09",
        b"\x02\x00",
    ] {
        let mut s = UnixStream::connect(&sock).expect("connect");
        s.write_all(b"FKIT").expect("write");
        s.write_all(&fieldkit::protocol::PROTOCOL_VERSION.to_le_bytes())
            .expect("write");
        let mut hello = [0u8; 13];
        s.read_exact(&mut hello).expect("hello");
        assert_eq!(hello[8], 0);
        s.write_all(frame).expect("write");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    assert_eq!(fk.ok(&["ls"]), "main: 1 tabs, 1 panes, 0 clients\n");
}

#[test]
fn two_clients_see_every_update_and_the_smaller_size_wins() {
    let fk = Fk::new();
    fk.terminal("big", 120, 36);
    fk.terminal("small", 90, 26);
    fk.type_line("big", &format!("exec {BIN}"));
    fk.wait_screen("big", "the first client", |s| s.contains("1 sh"));
    fk.type_line("small", &format!("exec {BIN} attach -t main"));
    fk.wait_screen("small", "the second client", |s| s.contains("1 sh"));
    fk.ok(&["action", "split-right"]);
    fk.wait_screen("big", "the split on the big client", |s| s.contains("2 sh"));
    fk.wait_screen("small", "the split on the small client", |s| {
        s.contains("2 sh")
    });
    // The bigger client shows the session at the smaller size, the rest dotted.
    let big = fk.wait_screen("big", "filler beyond 90 columns", |s| {
        s.lines()
            .nth(5)
            .is_some_and(|l| l.chars().nth(95) == Some('·'))
    });
    assert!(
        big.lines().nth(30).is_some_and(|l| l.starts_with('·')),
        "{big}"
    );
    // Keys from one client show on both.
    fk.keys("small", &["C-b", "c"]);
    fk.wait_screen("big", "the new tab on the other client", |s| {
        tab_bar(s).contains("2:2")
    });
    // The big client detaches: the small one keeps its size, and ls says one client.
    fk.keys("big", &["C-b", "d"]);
    fk.wait_output(&["ls"], "one client left", |o| o.contains("1 clients"));
}

#[test]
fn killed_and_hung_up_clients_leave_the_session_alive() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", &format!("exec {BIN}"));
    fk.wait_screen("w", "the workspace", |s| s.contains("1 sh"));
    fk.ok(&["action", "split-down"]);
    // SIGKILL the client (it replaced the shell, so it is the terminal's process).
    unsafe {
        libc::kill(fk.pane_pid("w"), libc::SIGKILL);
    }
    fk.wait_output(&["ls"], "no clients, session kept", |o| {
        o == "main: 1 tabs, 2 panes, 0 clients\n"
    });
    // Closing the terminal (SIGHUP) does the same.
    fk.terminal("w2", 100, 30);
    fk.type_line("w2", &format!("exec {BIN} attach"));
    fk.wait_output(&["ls"], "attached again", |o| o.contains("1 clients"));
    fk.close_terminal("w2");
    fk.wait_output(&["ls"], "no clients after the terminal closed", |o| {
        o == "main: 1 tabs, 2 panes, 0 clients\n"
    });
}

#[test]
fn config_errors_are_shown_and_defaults_stay() {
    let fk = Fk::new();
    std::fs::create_dir_all(fk.config_dir()).expect("mkdir");
    std::fs::write(
        fk.config_dir().join("keymap.toml"),
        "[[prefix]]\non = [\"%\"]\nrun = \"spilt-right\"\n",
    )
    .expect("write");
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("theme = \"gold\"\n{}", fk.shell_setting()),
    )
    .expect("write");
    fk.terminal("w", 110, 30);
    fk.type_line("w", &format!("exec {BIN}"));
    let s = fk.wait_screen("w", "the config error popup", |s| {
        s.contains("unknown action \"spilt-right\"")
    });
    assert!(s.contains("keymap.toml:3"), "{s}");
    fk.keys("w", &["Escape"]);
    fk.wait_screen("w", "the popup closed", |s| !s.contains("spilt-right"));
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "the default binding still works", |s| {
        s.contains("2 sh")
    });
    let doctor = fk.ok(&["doctor"]);
    assert!(
        doctor.contains("error:") && doctor.contains("spilt-right"),
        "{doctor}"
    );
    assert!(doctor.contains("theme    gold"), "{doctor}");
    assert!(doctor.contains("running (pid"), "{doctor}");
}

#[test]
fn tiny_huge_and_storms_of_resizes() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", &format!("exec {BIN}"));
    fk.wait_screen("w", "the workspace", |s| s.contains("1 sh"));
    fk.ok(&["action", "split-right"]);
    for (w, h) in [
        (1, 1),
        (500, 200),
        (2, 1),
        (3, 3),
        (80, 24),
        (1, 50),
        (300, 2),
    ] {
        fk.resize("w", w, h);
    }
    for i in 0..60u16 {
        fk.resize("w", 10 + i * 3, 5 + (i % 20));
    }
    fk.resize("w", 100, 30);
    fk.wait_screen("w", "a whole frame at 100x30", |s| {
        s.lines().count() >= 30 && s.contains("2 sh") && s.contains("C-b prefix")
    });
    assert!(fk.ok(&["ls"]).contains("1 clients"));
}

#[test]
fn scripting_action_and_capture_report_errors() {
    let fk = Fk::new();
    let out = fk.run(&["ls"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no server running"));
    fk.ok(&["new", "-d", "-s", "main"]);
    // The server logs to its own file, never the client's.
    let log = std::fs::read_to_string(fk.path().join("data/logs/server.log")).unwrap_or_default();
    assert!(log.contains("server ready"), "server.log: {log}");
    let client_log =
        std::fs::read_to_string(fk.path().join("data/logs/client.log")).unwrap_or_default();
    assert!(
        !client_log.contains("server ready"),
        "client.log: {client_log}"
    );
    let out = fk.run(&["action", "spilt-right"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action \"spilt-right\""));
    let out = fk.run(&["action", "-t", "nope", "zoom"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session named \"nope\""));
    let out = fk.run(&["new", "-d", "-s", "main"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate session: main"));
    let out = fk.run(&["new", "-d", "-s", "bad name"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot contain"));
    let out = fk.run(&["action", "close-pane"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("last pane"));
    let out = fk.run(&["capture", "--pane", "5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pane 5"));
    fk.ok(&["action", "open", "status"]);
    let pane = fk.ok(&["capture", "--pane", "2"]);
    assert!(
        pane.starts_with("fieldkit "),
        "a pane's text without its border: {pane}"
    );
    let out = fk.run(&["action", "open", "gps"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown pane kind \"gps\""));
    fk.ok(&["kill-session", "-t", "main"]);
    let out = fk.run(&["ls"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sessions"));
    fk.ok(&["kill-server"]);
    wait_until("the server to stop", || {
        let out = fk.run(&["ls"]);
        let e = String::from_utf8_lossy(&out.stderr).into_owned();
        e.contains("no server running").then_some(()).ok_or(e)
    });
    let out = fk.run(&["attach"]);
    assert!(
        !out.status.success(),
        "attach without a terminal is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}

#[test]
fn reload_config_reports_errors_and_keeps_what_works() {
    let fk = Fk::new();
    fk.ok(&["new", "-d", "-s", "main"]);
    std::fs::write(
        fk.config_dir().join("keymap.toml"),
        "[[prefix]]\non = [\"v\"]\nrun = \"split-sideways\"\n",
    )
    .expect("write");
    let out = fk.run(&["action", "reload-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keymap.toml:3: unknown action \"split-sideways\""),
        "{err}"
    );
    // The defaults are still in force: the server keeps working.
    fk.ok(&["action", "split-right"]);
    assert_eq!(fk.ok(&["ls"]), "main: 1 tabs, 2 panes, 0 clients\n");
    fk.terminal("w", 120, 30);
    fk.type_line("w", &format!("exec {BIN} attach -t main"));
    fk.wait_screen("w", "the session with two panes", |s| {
        s.contains("1 sh") && s.contains("2 sh")
    });
    // The broken binding did nothing: C-b v is unbound. Keys are handled in order, so once
    // the C-b " after it has split, C-b v has been dealt with too.
    fk.keys("w", &["C-b", "v"]);
    fk.keys("w", &["C-b", "\""]);
    fk.wait_screen("w", "a third pane from C-b \"", |s| s.contains("3 sh"));
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 1 tabs, 3 panes, 1 clients (attached)\n"
    );
    // Fixed, it takes effect: C-b v now splits the focused pane (3) to the right, so the new
    // pane's title sits on the same line as pane 3's.
    std::fs::write(
        fk.config_dir().join("keymap.toml"),
        "[[prefix]]\non = [\"v\"]\nrun = \"split-right\"\n",
    )
    .expect("write");
    fk.ok(&["action", "reload-config"]);
    fk.keys("w", &["C-b", "v"]);
    let s = fk.wait_screen("w", "a fourth pane from the fixed C-b v", |s| {
        s.contains("4 sh")
    });
    assert!(
        s.lines().any(|l| l.contains("3 sh") && l.contains("4 sh")),
        "pane 4 beside pane 3, not below it:\n{s}"
    );
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 1 tabs, 4 panes, 1 clients (attached)\n"
    );
}

#[test]
fn palette_entries_that_need_an_argument_ask_for_it() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("1 sh"));
    fk.type_line("w", "echo tab-one-marker");
    fk.wait_screen("w", "the marker in tab 1", |s| {
        s.lines().any(|l| l.starts_with("┃tab-one-marker"))
    });
    fk.keys("w", &["C-b", "c"]);
    fk.wait_screen("w", "tab 2 shown, without the marker", |s| {
        tab_bar(s).contains("2:2") && !s.contains("tab-one-marker")
    });
    fk.keys("w", &["C-b", ":"]);
    fk.wait_screen("w", "the palette", |s| s.contains("command palette"));
    fk.keys("w", &["-l", "select-tab"]);
    fk.wait_screen("w", "select-tab listed", |s| s.contains("select-tab …"));
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the prompt for N", |s| s.contains("╭ select-tab"));
    fk.keys("w", &["-l", "1"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "tab 1 shown again", |s| {
        s.lines().any(|l| l.starts_with("┃tab-one-marker")) && !s.contains("select-tab")
    });
    // A wrong argument is refused in words, not ignored.
    fk.keys("w", &["C-b", ":"]);
    fk.keys("w", &["-l", "select-tab"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the prompt again", |s| s.contains("╭ select-tab"));
    fk.keys("w", &["-l", "9"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the refusal", |s| s.contains("There is no tab 9"));
}

#[test]
fn kill_server_tells_the_attached_client_why_it_ended() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["kill-server"]);
    let s = fk.wait_screen("w", "the client's last word", |s| {
        s.contains("[server exited]")
    });
    assert!(!s.contains("unexpectedly"), "{s}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let fk = Fk::new();
    let bash = fk.ok(&["completions", "bash"]);
    assert!(
        bash.contains("send-keys") && bash.contains("--scrollback"),
        "{bash}"
    );
    // bash itself loads the script and binds it to the command.
    let script = fk.path().join("fieldkit.bash");
    std::fs::write(&script, &bash).expect("write");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && complete -p fieldkit", script.display()))
        .output()
        .expect("bash");
    let bound = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && bound.contains("fieldkit"),
        "{bound}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fk
        .ok(&["completions", "zsh"])
        .starts_with("#compdef fieldkit"));
    assert!(fk
        .ok(&["completions", "fish"])
        .contains("complete -c fieldkit"));
    let out = fk.run(&["completions", "tcsh"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("possible values") && err.contains("bash"),
        "{err}"
    );
}

/// `C-b x` on a terminal running a program asks first (tmux asks for every pane); `n` keeps
/// it, `y` closes it; an idle shell closes at once; `C-b u` brings a closed pane back.
#[test]
fn closing_a_pane_with_a_running_program_asks_first() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| {
        s.contains("C-b prefix") && s.contains("1 sh")
    });
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "a second pane", |s| s.contains("2 sh"));
    // A duration no other test uses, so the process found is this pane's.
    let nap = format!("sleep 9{}", std::process::id());
    fk.type_line("w", &nap);
    // Wait until sleep is the terminal's foreground program.
    wait_until("sleep in the foreground", || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &format!("^{nap}$")])
            .output()
            .map_err(|e| e.to_string())?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    fk.keys("w", &["C-b", "x"]);
    let asked = fk.wait_screen("w", "the question", |s| s.contains("close pane 2?"));
    assert!(asked.contains("sleep is running"), "{asked}");
    fk.keys("w", &["n"]);
    fk.wait_screen("w", "the question gone, the pane kept", |s| {
        !s.contains("close pane 2?") && s.contains("2 sh")
    });
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 1 tabs, 2 panes, 1 clients (attached)\n"
    );
    fk.keys("w", &["C-b", "x"]);
    fk.wait_screen("w", "the question again", |s| s.contains("close pane 2?"));
    fk.keys("w", &["y"]);
    fk.wait_screen("w", "the pane closed", |s| !s.contains("2 sh"));
    assert_eq!(
        fk.ok(&["ls"]),
        "main: 1 tabs, 1 panes, 1 clients (attached)\n"
    );
    // An idle shell closes without a question; C-b u brings it back.
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "a new second pane", |s| s.contains("2 sh"));
    fk.keys("w", &["C-b", "x"]);
    fk.wait_screen("w", "closed at once", |s| {
        !s.contains("2 sh") && !s.contains("close pane")
    });
    fk.keys("w", &["C-b", "u"]);
    fk.wait_screen("w", "reopened", |s| s.contains("2 sh"));
}

/// New shells start in the folder the client was started in (as tmux's), and the prefix
/// pressed while a popup is open is the prefix, not text for the popup.
#[test]
fn shells_start_where_the_client_did_and_the_prefix_reaches_through_popups() {
    let fk = Fk::new();
    let here = fk.path().join("survey site");
    std::fs::create_dir_all(&here).expect("mkdir");
    fk.terminal("w", 100, 30);
    fk.type_line("w", &format!("cd '{}' && {BIN}", here.display()));
    fk.wait_screen("w", "the workspace", |s| {
        s.contains("C-b prefix") && s.contains("1 sh")
    });
    fk.type_line("w", "pwd");
    fk.wait_screen("w", "the shell in the client's folder", |s| {
        s.lines()
            .any(|l| l.contains("survey site") && !l.contains("cd "))
    });
    fk.keys("w", &["C-b", "%"]);
    fk.wait_screen("w", "a second pane", |s| s.contains("2 sh"));
    fk.keys("w", &["C-b", ":"]);
    fk.wait_screen("w", "the palette", |s| s.contains("command palette"));
    fk.keys("w", &["C-b", "z"]);
    let zoomed = fk.wait_screen("w", "zoomed, the palette gone", |s| {
        !s.contains("command palette") && !s.contains("1 sh")
    });
    assert!(
        !zoomed.contains("› z"),
        "the z was not typed into the palette: {zoomed}"
    );
}
