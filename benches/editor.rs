//! The editor's figures (issue 14), each beside a peer doing the same work in the same run:
//!
//! 1. Open a 100 MB file to its first screen: fieldkit's file engine reading it into a rope
//!    and the editor pane drawing its first 120x40 frame, in this process (what the server
//!    does), against `vim -u NONE` and micro (an empty config dir: no plugins, no settings) on
//!    a pty, each timed from its start to the file's first line on screen (`:q!` or C-q after).
//!    Memory: this process's resident growth for the rope against each peer's PSS once drawn,
//!    each as a share of the file's size (goal <= 1.5x).
//! 2. Keystroke to frame: a character typed in the middle of the 100 MB file, and at the end
//!    of one 8-million-character line, each a key handled and a whole 120x40 render (goal p99
//!    < 16 ms). No peer: vim's frame time is not observable from outside.
//! 3. Replace all of a word with 1,000,000 matches, as one undo step (goal < 2 s), against
//!    `sed 's/…/…/g'` over the same file to /dev/null.
//!
//! `FIELDKIT_BENCH_QUICK=1` uses 20 MB and 200,000 matches.
mod common;
use common::*;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fieldkit_panes::editor::{EditorEvent, EditorPane};
use fieldkit_panes::{Cx, EngineEvent, Pane, RenderCx};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn frame(p: &mut EditorPane, k: Option<KeyEvent>) -> f64 {
    let theme = fieldkit_widgets::Theme::default();
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    let t = Instant::now();
    if let Some(k) = k {
        p.on_input(&k, &mut Cx::default());
    }
    p.render(
        area,
        &mut buf,
        &RenderCx {
            theme: &theme,
            focused: true,
            retained: false,
        },
    );
    ms(t.elapsed())
}

fn opened(p: &mut EditorPane, path: &std::path::Path) -> f64 {
    let t = Instant::now();
    let l = fieldkit::engine::text::load(path).expect("load");
    p.on_engine(
        EngineEvent::Editor(EditorEvent::Opened {
            path: path.to_string_lossy().into_owned(),
            text: l.text,
            crlf: l.crlf,
            stamp: l.stamp,
            read_only: l.read_only,
            history: None,
        }),
        &mut Cx::default(),
    );
    frame(p, None);
    ms(t.elapsed())
}

/// A peer editor run by `cmd` opening the bench's file on a 120x40 pty, timed from its start
/// to the file's first line on screen, with its PSS at that moment; `quit` (the peer's keys to
/// leave without saving) is typed after, and the peer waited for. Returns the figures for the
/// report: "T ms, Mx; time ratio Rx NAME", M the PSS as a share of `file_kib` and R fieldkit's
/// `fk_ms` over T.
fn peer_open(cmd: &mut Command, quit: &[u8], name: &str, fk_ms: f64, file_kib: u64) -> String {
    let t = Instant::now();
    let (mut child, master) = spawn_pty(cmd, 120, 40);
    let took = ms(until_marker(&master, b"000000000 station-0", t));
    let pss = pss_kib(child.id());
    type_into(&master, quit);
    drain(master);
    let _ = child.wait();
    format!(
        "{took:.0} ms, {:.2}x; time ratio {:.2}x {name}",
        pss as f64 / file_kib as f64,
        fk_ms / took.max(0.001)
    )
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

fn main() {
    let quick = std::env::var_os("FIELDKIT_BENCH_QUICK").is_some();
    let mb = if quick { 20 } else { 100 };
    let dir = tempfile::Builder::new()
        .prefix("fke")
        .tempdir_in("/tmp")
        .expect("tmp");
    println!("fieldkit {} editor benchmarks", env!("CARGO_PKG_VERSION"));

    // A log-like file of `mb` MB: numbered lines of words.
    let big = dir.path().join("big.log");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("file"));
        let mut n = 0u64;
        let mut written = 0usize;
        while written < mb << 20 {
            let line = format!(
                "{n:09} station-{} reading ok temperature {} humidity {}\n",
                n % 97,
                n % 41,
                n % 89
            );
            written += line.len();
            f.write_all(line.as_bytes()).expect("write");
            n += 1;
        }
    }
    let size_kib = std::fs::metadata(&big).map(|m| m.len() / 1024).unwrap_or(1);

    // 1. Open to the first screen.
    println!("1. open a {mb} MB file to the first screen (120x40)");
    let before = rss_kib();
    let mut pane = EditorPane::default();
    let fk_ms = opened(&mut pane, &big);
    let grown = rss_kib().saturating_sub(before);
    let fk_mem = grown as f64 / size_kib as f64;
    if Command::new("vim").arg("--version").output().is_ok() {
        let mut cmd = Command::new("vim");
        cmd.args(["-u", "NONE", "-N", "-n"]).arg(&big);
        let vim = peer_open(&mut cmd, b"\x1b:q!\r", "vim", fk_ms, size_kib);
        println!("  fieldkit {fk_ms:.0} ms, {fk_mem:.2}x the file in memory; vim -u NONE {vim} (goal <= 1.0x)");
    } else {
        println!("  fieldkit {fk_ms:.0} ms, {fk_mem:.2}x the file in memory; vim is not installed (./setup), so no ratio");
    }
    if Command::new("micro").arg("--version").output().is_ok() {
        // Its own empty config dir: no plugins, no settings, nothing of the user's.
        let config = dir.path().join("micro-config");
        std::fs::create_dir_all(&config).expect("micro config dir");
        let mut cmd = Command::new("micro");
        cmd.env("MICRO_CONFIG_HOME", &config).arg(&big);
        let micro = peer_open(&mut cmd, b"\x11", "micro", fk_ms, size_kib);
        println!("  micro {micro}");
    } else {
        println!("  micro is not installed (./setup --bench installs Debian's micro), so no ratio");
    }
    println!("  method: fieldkit = engine::text::load (the server's read) + the pane's first frame, in this process; memory = this process's");
    println!("          resident growth; vim, micro = spawn on a pty to the file's first line drawn; memory = its PSS then.");

    // 2. Keystroke to frame.
    println!("2. keystroke to frame, 120x40");
    let lines = {
        let l = fieldkit::engine::text::load(&big).expect("load");
        l.text.len_lines()
    };
    let mut g = EditorPane::default();
    opened(&mut g, &big);
    g.on_action(
        &fieldkit_panes::Action::Pane {
            name: "goto-line",
            arg: Some((lines / 2).to_string()),
        },
        &mut Cx::default(),
    );
    let mut mid: Vec<f64> = (0..300)
        .map(|i| {
            frame(
                &mut g,
                Some(key(KeyCode::Char((b'a' + (i % 26) as u8) as char))),
            )
        })
        .collect();
    let (m1, p1) = p99(&mut mid);
    let long = dir.path().join("long.txt");
    std::fs::write(&long, "x".repeat(8_000_000)).expect("long line");
    let mut l = EditorPane::default();
    opened(&mut l, &long);
    frame(&mut l, Some(key(KeyCode::End)));
    let mut end: Vec<f64> = (0..300)
        .map(|i| {
            frame(
                &mut l,
                Some(key(KeyCode::Char((b'a' + (i % 26) as u8) as char))),
            )
        })
        .collect();
    let (m2, p2) = p99(&mut end);
    println!("  middle of the {mb} MB file: median {m1:.2} ms, p99 {p2a:.2} ms; end of an 8M-char line: median {m2:.2} ms, p99 {p2:.2} ms (goal p99 < 16 ms)", p2a = p1);
    println!("  method: 300 characters typed, each = the key handled + a whole render into a 120x40 buffer, in this process. No peer.");

    // 3. Replace all.
    let n = if quick { 200_000 } else { 1_000_000 };
    println!("3. replace all of a word with {n} matches");
    let words = dir.path().join("words.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&words).expect("file"));
        for i in 0..n {
            writeln!(f, "line {i} has the word pump in it").expect("write");
        }
    }
    let text = ropey::Rope::from_reader(std::fs::File::open(&words).expect("open")).expect("read");
    let mut doc = fieldkit_panes::editor::Doc::new(text);
    let t = Instant::now();
    let f = fieldkit_panes::editor::Finder::new(&fieldkit_panes::editor::Query {
        text: "pump".into(),
        regex: false,
        whole_word: true,
        case_sensitive: true,
    })
    .expect("finder");
    let hits = f.all(&doc.rope, usize::MAX);
    let found = hits.len();
    doc.replace_many(hits.into_iter().map(|r| (r, "valve".to_string())).collect());
    let fk = t.elapsed();
    assert_eq!(found, n, "every match found");
    assert!(doc.undo(), "one undo step");
    let t = Instant::now();
    let sed = Command::new("sed")
        .arg("s/\\bpump\\b/valve/g")
        .arg(&words)
        .stdout(std::process::Stdio::null())
        .status();
    let sed_t = t.elapsed();
    println!(
        "  fieldkit {:.0} ms (goal < 2000 ms); sed {:.0} ms{}; {:.2}x sed's time",
        ms(fk),
        ms(sed_t),
        if sed.is_ok_and(|s| s.success()) {
            ""
        } else {
            " (sed failed)"
        },
        ms(fk) / ms(sed_t).max(0.001)
    );
    println!("  method: fieldkit = find every whole-word match over the rope (regex-cursor) and replace them as one undo step, in this");
    println!("          process; sed = the same substitution over the same file, streamed to /dev/null (no undo, no rope).");
}
