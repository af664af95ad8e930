//! The mesh with real processes: each node is a fieldkit server with its own FIELDKIT_HOME and
//! its own `mesh` worker, on loopback, driven by the CLI as a person (or a script) would drive
//! it. mDNS is off (the tests dial by address, as on a network where multicast does not pass),
//! and every port is picked by the system. Every wait is `wait_until` on what the CLI shows.
mod common;

use common::{wait_until, wait_until_within, Fk};
use serde_json::Value;
use std::time::Duration;

/// A node: its own home, config and server.
fn node(name: &str) -> Fk {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!(
            "{}[mesh]\nname = \"{name}\"\nlisten = \"127.0.0.1:0\"\npair_listen = \
             \"127.0.0.1:0\"\nmdns = false\n[queue]\nme = \"{name}\"\n",
            fk.shell_setting()
        ),
    )
    .expect("config");
    fk
}

fn json(fk: &Fk, args: &[&str]) -> Value {
    let out = fk.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn err_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An invite for `role` on `fk`: (code, pairing address), as its output says them.
fn invite(fk: &Fk, role: &str) -> (String, String) {
    let out = fk.ok(&["mesh", "invite", "--role", role]);
    let code = out.lines().last().expect("a last line").trim().to_string();
    let addr = out
        .split("--addr ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {out}"))
        .to_string();
    (code, addr)
}

/// `joiner` joins `inviter`'s team as `role`.
fn pair(inviter: &Fk, joiner: &Fk, role: &str) {
    let (code, addr) = invite(inviter, role);
    let out = joiner.ok(&["mesh", "join", &code, "--addr", &addr]);
    assert!(out.contains(&format!("as a {role}")), "{out}");
}

fn device_id(fk: &Fk) -> String {
    json(fk, &["mesh", "id", "--json"])["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Where `fk` listens for the team, once it does.
fn listening(fk: &Fk) -> String {
    wait_until("the mesh to listen", || {
        let v = json(fk, &["mesh", "id", "--json"]);
        v["listening"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| v.to_string())
    })
}

fn online(fk: &Fk, id: &str) -> bool {
    json(fk, &["mesh", "ls", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .any(|d| d["id"] == id && d["online"] == true)
}

fn wait_online(fk: &Fk, other: &Fk) {
    let id = device_id(other);
    wait_until("the other device online", || {
        online(fk, &id)
            .then_some(())
            .ok_or_else(|| fk.ok(&["mesh", "ls"]))
    });
}

/// The items `fk`'s queue holds (every state).
fn items(fk: &Fk) -> Vec<Value> {
    json(fk, &["queue", "ls", "--all", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn item(fk: &Fk, id: &str) -> Option<Value> {
    items(fk).into_iter().find(|i| i["id"] == id)
}

/// Waits until `fk` has item `id` with `field` equal to `want`.
fn wait_field(fk: &Fk, id: &str, field: &str, want: &str) {
    wait_until(
        &format!("{field} = {want:?} on the other device"),
        || match item(fk, id) {
            Some(i) if i[field] == want => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
}

fn log(fk: &Fk) -> String {
    fk.ok(&["mesh", "log", "--lines", "1000"])
}

#[test]
fn pairing_by_code_syncs_items_both_ways_and_a_wrong_code_burns_it() {
    let a = node("base-camp");
    let b = node("tent-2");
    let id = a
        .ok(&["queue", "add", "Fill water tanks"])
        .trim()
        .to_string();
    // A wrong guess: the right nameplate (the first two characters), the rest wrong.
    let (code, addr) = invite(&a, "member");
    let plain: String = code.chars().filter(|c| *c != '-').collect();
    let wrong: String = plain
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i >= 2 {
                if c == 'X' {
                    'Y'
                } else {
                    'X'
                }
            } else {
                c
            }
        })
        .collect();
    let out = b.run(&["mesh", "join", &wrong, "--addr", &addr]);
    assert!(!out.status.success());
    assert!(err_of(&out).contains("wrong code"), "{}", err_of(&out));
    // The guess burned the code: the right one is refused now.
    let out = b.run(&["mesh", "join", &code, "--addr", &addr]);
    assert!(!out.status.success(), "a burned code paired");
    assert!(
        err_of(&out).contains("used already") || err_of(&out).contains("cannot reach"),
        "{}",
        err_of(&out)
    );
    assert!(log(&a).contains("pairing from"), "{}", log(&a));
    // A fresh code pairs; what A had reaches B.
    pair(&a, &b, "member");
    wait_online(&a, &b);
    wait_field(&b, &id, "title", "Fill water tanks");
    // B's devices: A as admin with its name, B as member.
    let ls = json(&b, &["mesh", "ls", "--json"]);
    let devs = ls.as_array().expect("array");
    assert_eq!(devs.len(), 2, "{ls}");
    assert!(devs
        .iter()
        .any(|d| d["name"] == "base-camp" && d["role"] == "admin"));
    assert!(devs
        .iter()
        .any(|d| d["name"] == "tent-2" && d["role"] == "member"));
    // Changes made on either side reach the other: a move on B, a new item and an edit on A.
    b.ok(&["queue", "claim", &id]);
    wait_field(&a, &id, "state", "CLAIMED");
    b.ok(&["queue", "comment", &id, "tank 2 is leaking"]);
    wait_until("the comment on A", || {
        let it = json(&a, &["queue", "show", &id, "--json"]);
        it["comments"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["text"] == "tank 2 is leaking"))
            .then_some(())
            .ok_or_else(|| it.to_string())
    });
    let id2 = a
        .ok(&["queue", "add", "Check the generator"])
        .trim()
        .to_string();
    wait_field(&b, &id2, "title", "Check the generator");
    // The history came along: B sees who claimed it.
    let it = json(&a, &["queue", "show", &id, "--json"]);
    assert!(
        it["history"].as_array().is_some_and(|h| h
            .iter()
            .any(|t| t["who"] == "tent-2" && t["to"] == "CLAIMED")),
        "{it}"
    );
}

#[test]
fn ten_thousand_items_sync_to_a_new_device() {
    let a = node("base-camp");
    let b = node("tent-2");
    // 10,000 items of about 1 KB each, imported on A in our own export format.
    let seed = a.ok(&["queue", "add", "seed"]).trim().to_string();
    let proto = json(&a, &["queue", "show", &seed, "--json"]);
    let body = "water sample log. ".repeat(52);
    let all: Vec<Value> = (0..10_000)
        .map(|i| {
            let mut it = proto.clone();
            it["id"] = format!("{i:032x}").into();
            it["title"] = format!("Sample {i}").into();
            it["body"] = body.clone().into();
            it["history"] = Value::Array(vec![]);
            it
        })
        .collect();
    let file = a.path().join("items.json");
    std::fs::write(&file, serde_json::to_string(&all).unwrap()).unwrap();
    let out = a.ok(&["queue", "import", file.to_str().unwrap()]);
    assert!(out.contains("imported 10000 items"), "{out}");
    pair(&a, &b, "member");
    wait_until_within("10,001 items on B", Duration::from_secs(180), || {
        let n = items(&b).len();
        (n == 10_001)
            .then_some(())
            .ok_or_else(|| format!("{n} items"))
    });
    let some = item(&b, &format!("{:032x}", 7_777)).expect("item 7777");
    assert_eq!(some["title"], "Sample 7777");
    let full = json(&b, &["queue", "show", &format!("{:032x}", 7_777), "--json"]);
    assert_eq!(full["body"], body.as_str());
}

#[test]
fn edits_made_apart_converge_and_the_loser_is_kept_as_a_conflict() {
    let a = node("base-camp");
    let b = node("tent-2");
    pair(&a, &b, "member");
    wait_online(&a, &b);
    let id = a.ok(&["queue", "add", "Fix the pump"]).trim().to_string();
    wait_field(&b, &id, "title", "Fix the pump");
    // Apart: A's server stops; B edits; B's stops; A starts again and edits the same field.
    a.ok(&["kill-server"]);
    b.ok(&["queue", "edit", &id, "--title", "Fix the pump (B)"]);
    b.ok(&["queue", "edit", &id, "--priority", "H"]);
    b.ok(&["kill-server"]);
    a.ok(&["queue", "edit", &id, "--title", "Fix the pump (A)"]);
    // Together again: B starts and dials A where it listens now.
    let at = listening(&a);
    b.ok(&["mesh", "connect", &at]);
    wait_online(&a, &b);
    // Both converge to one title; the other field's edit (B's priority) is kept by both.
    let title = wait_until("the same title on both", || {
        let (ta, tb) = (
            item(&a, &id).map(|i| i["title"].clone()),
            item(&b, &id).map(|i| i["title"].clone()),
        );
        match (&ta, &tb) {
            (Some(x), Some(y)) if x == y && item(&a, &id).unwrap()["priority"] == "H" => {
                Ok(x.as_str().unwrap_or("").to_string())
            }
            _ => Err(format!("A {ta:?} B {tb:?}")),
        }
    });
    assert!(
        title == "Fix the pump (A)" || title == "Fix the pump (B)",
        "{title}"
    );
    let lost = if title.ends_with("(A)") {
        "Fix the pump (B)"
    } else {
        "Fix the pump (A)"
    };
    // The losing edit is kept, on both devices, as a conflict to review.
    for fk in [&a, &b] {
        let c = wait_until("the conflict", || {
            let c = json(fk, &["mesh", "conflicts"]);
            c.as_array()
                .is_some_and(|v| v.iter().any(|c| c["lost"] == lost && c["field"] == "title"))
                .then_some(c.clone())
                .ok_or_else(|| c.to_string())
        });
        assert!(c.to_string().contains(&title), "{c}");
    }
    // Restoring the lost title on B puts it back on both, and settles the conflict.
    let out = b.ok(&["mesh", "restore", &id[..8], "title"]);
    assert!(out.contains(lost), "{out}");
    wait_field(&a, &id, "title", lost);
    wait_field(&b, &id, "title", lost);
    for fk in [&a, &b] {
        wait_until("the conflict settled", || {
            let c = json(fk, &["mesh", "conflicts"]);
            (!c.to_string().contains("\"field\":\"title\""))
                .then_some(())
                .ok_or_else(|| c.to_string())
        });
    }
    let out = b.run(&["mesh", "restore", &id[..8], "title"]);
    assert!(
        err_of(&out).contains("no edit of title lost"),
        "{}",
        err_of(&out)
    );
}

#[test]
fn three_in_a_line_converge_through_the_middle() {
    let a = node("a");
    let b = node("b");
    let c = node("c");
    // A admits B as an admin, who admits C: C knows only B.
    pair(&a, &b, "admin");
    wait_online(&a, &b);
    // B invites once it holds the record that makes it an admin (as `mesh id` shows it).
    wait_until("B's admin role in its records", || {
        let v = json(&b, &["mesh", "id", "--json"]);
        (v["role"] == "admin")
            .then_some(())
            .ok_or_else(|| v.to_string())
    });
    pair(&b, &c, "member");
    wait_online(&b, &c);
    let id = a.ok(&["queue", "add", "Relay check"]).trim().to_string();
    wait_field(&c, &id, "title", "Relay check");
    c.ok(&["queue", "start", &id]);
    wait_field(&a, &id, "state", "IN_PROGRESS");
    // A and C never connected, and know each other from the records.
    let cid = device_id(&c);
    assert!(!online(&a, &cid), "A and C met");
    let ls = json(&a, &["mesh", "ls", "--json"]);
    assert!(
        ls.as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == cid.as_str() && d["name"] == "c"),
        "{ls}"
    );
}

#[test]
fn a_guests_edit_is_refused_and_a_stranger_gets_no_stream() {
    let a = node("base-camp");
    let g = node("visitor");
    let s = node("stranger");
    pair(&a, &g, "guest");
    wait_online(&a, &g);
    let id = a
        .ok(&["queue", "add", "Read-only for guests"])
        .trim()
        .to_string();
    wait_field(&g, &id, "title", "Read-only for guests");
    // The guest's own queue takes the edit; A refuses it and says so.
    g.ok(&["queue", "edit", &id, "--title", "changed by a guest"]);
    wait_until("A to refuse the guest's change", || {
        let l = log(&a);
        l.contains("refused a change from visitor")
            .then_some(())
            .ok_or(l)
    });
    assert_eq!(item(&a, &id).unwrap()["title"], "Read-only for guests");
    // A device of no team (its own team key) dials A: the handshake cannot finish, A takes
    // nothing and never lists it.
    let at = listening(&a);
    s.ok(&["mesh", "connect", &at]);
    wait_until("the stranger's dial to fail", || {
        let l = log(&s);
        l.contains("could not connect").then_some(()).ok_or(l)
    });
    let sid = device_id(&s);
    let short: String = sid.chars().take(7).collect();
    assert!(!log(&a).contains(&short), "{}", log(&a));
    assert!(!online(&a, &sid));
}

#[test]
fn a_revoked_device_is_cut_off_and_the_rest_sync_on_a_new_team_key() {
    let a = node("base-camp");
    let b = node("tent-2");
    let c = node("ridge");
    pair(&a, &b, "member");
    pair(&a, &c, "member");
    wait_online(&a, &b);
    wait_online(&a, &c);
    let before = a.ok(&["queue", "add", "Known to all"]).trim().to_string();
    wait_field(&c, &before, "title", "Known to all");
    let cid = device_id(&c);
    let out = a.ok(&["mesh", "revoke", &cid[..8]]);
    assert!(out.contains("revoked ridge"), "{out}");
    // B takes the new key and comes back; C is out.
    wait_online(&a, &b);
    let after = a
        .ok(&["queue", "add", "After the revoke"])
        .trim()
        .to_string();
    wait_until("the new item on B", || match item(&b, &after) {
        Some(_) => Ok(()),
        None => Err(format!("A:\n{}\nB:\n{}", log(&a), log(&b))),
    });
    let ls = json(&a, &["mesh", "ls", "--json"]);
    assert!(
        ls.as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == cid.as_str() && d["role"] == "revoked" && d["online"] == false),
        "{ls}"
    );
    // C keeps what it had, gets nothing new, and cannot come back in.
    assert!(item(&c, &before).is_some());
    let at = listening(&a);
    c.ok(&["mesh", "connect", &at]);
    wait_until("C's dial to fail", || {
        let l = log(&c);
        l.contains("could not connect").then_some(()).ok_or(l)
    });
    assert!(
        item(&c, &after).is_none(),
        "a revoked device got a new item"
    );
    // C leaves the team it was revoked from: a team of its own, its queue as it was, and it
    // may be paired again.
    let out = c.ok(&["mesh", "leave"]);
    assert!(out.contains("left the team"), "{out}");
    assert!(item(&c, &before).is_some());
    let ls = json(&c, &["mesh", "ls", "--json"]);
    assert_eq!(ls.as_array().map(|a| a.len()), Some(1), "{ls}");
    pair(&a, &c, "member");
    wait_field(&c, &after, "title", "After the revoke");
}

#[test]
fn a_killed_worker_restarts_and_resumes_and_panic_stops_it() {
    let a = node("base-camp");
    let b = node("tent-2");
    pair(&a, &b, "member");
    wait_online(&a, &b);
    let pid = common::worker_pid(b.server_pid(), "mesh").expect("B's mesh worker");
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    // B's worker comes back with everything and reaches A again (B dials the peers it knew).
    let id = a
        .ok(&["queue", "add", "After the crash"])
        .trim()
        .to_string();
    wait_field(&b, &id, "title", "After the crash");
    let again = common::worker_pid(b.server_pid(), "mesh").expect("a new worker");
    assert_ne!(again, pid);
    // Panic on B: its worker is gone, with its listeners; A sees B go.
    let bid = device_id(&b);
    b.ok(&["panic"]);
    wait_until("B's mesh worker to stop", || {
        match common::worker_pid(b.server_pid(), "mesh") {
            None => Ok(()),
            Some(p) => Err(format!("worker {p} still runs")),
        }
    });
    wait_until("A to see B gone", || {
        (!online(&a, &bid))
            .then_some(())
            .ok_or_else(|| a.ok(&["mesh", "ls"]))
    });
}

/// The mesh pane as a person uses it, in a real terminal: open it, make an invite with `i`
/// (the code shows in the pane), pair another device with that code, see it online, and
/// revoke it with `r` and a yes.
#[test]
fn the_mesh_pane_invites_joins_shows_the_team_and_revokes() {
    let a = node("base-camp");
    let b = node("tent-2");
    a.terminal("w", 120, 36);
    a.type_line("w", common::BIN);
    a.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    a.ok(&["action", "open", "mesh"]);
    let s = a.wait_screen("w", "the mesh pane", |s| {
        s.contains("This device") && s.contains("listening on 127.0.0.1:")
    });
    assert!(s.contains("base-camp"), "{s}");
    a.keys("w", &["i"]);
    // The code alone on the note's last line (5 characters, a dash, 5); the address where the
    // pairing port is open.
    let is_code = |l: &str| {
        let l = l.trim_matches(|c: char| c == '┃' || c == '│' || c.is_whitespace());
        l.len() == 11
            && l.as_bytes()[5] == b'-'
            && l.chars().all(|c| c == '-' || c.is_ascii_alphanumeric())
    };
    let s = a.wait_screen("w", "the invite's code", |s| {
        s.contains("fieldkit mesh join") && s.lines().any(is_code)
    });
    let code = s
        .lines()
        .find(|l| is_code(l))
        .map(|l| {
            l.trim_matches(|c: char| c == '┃' || c == '│' || c.is_whitespace())
                .to_string()
        })
        .expect("code");
    let addr = s
        .split("pairing port open on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the pairing address")
        .trim_end_matches(['┃', '│'])
        .to_string();
    // B joins from its own mesh pane: J, the code and the address, Enter.
    b.terminal("v", 120, 36);
    b.type_line("v", common::BIN);
    b.wait_screen("v", "the workspace", |s| s.contains("C-b prefix"));
    b.ok(&["action", "open", "mesh"]);
    b.wait_screen("v", "B's mesh pane", |s| s.contains("This device"));
    b.keys("v", &["J"]);
    b.wait_screen("v", "the join prompt", |s| s.contains("join a team"));
    b.type_line("v", &format!("{code} {addr}"));
    b.wait_screen("v", "joined, in B's pane", |s| s.contains("as a member"));
    b.wait_screen("v", "base-camp in B's pane", |s| {
        s.lines()
            .any(|l| l.contains("base-camp") && l.contains("admin"))
    });
    a.wait_screen("w", "tent-2 online in the pane", |s| {
        s.lines()
            .any(|l| l.contains("tent-2") && l.contains("online"))
    });
    // Select tent-2 (the second device) and revoke it.
    a.keys("w", &["j"]);
    a.keys("w", &["r"]);
    a.wait_screen("w", "the question", |s| s.contains("revoke tent-2"));
    a.keys("w", &["y"]);
    a.wait_screen("w", "tent-2 revoked", |s| {
        s.lines()
            .any(|l| l.contains("tent-2") && l.contains("revoked"))
    });
}

/// A device that never used the mesh has no device key and no mesh.db: the queue alone does
/// not make them, and no worker listens.
#[test]
fn the_queue_alone_makes_no_mesh() {
    let a = node("base-camp");
    let id = a.ok(&["queue", "add", "Local only"]).trim().to_string();
    a.ok(&["queue", "claim", &id]);
    assert!(!a.path().join("data/mesh.key").exists());
    assert!(!a.path().join("data/mesh.db").exists());
    assert_eq!(common::worker_pid(a.server_pid(), "mesh"), None);
}

/// What `mesh shared --json` says on `fk`.
fn shared(fk: &Fk) -> Value {
    json(fk, &["mesh", "shared", "--json"])
}

/// The shared chat called `name` on `fk`, once `pred` holds for it.
fn wait_chat(fk: &Fk, name: &str, desc: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(desc, || {
        let v = shared(fk);
        v["chats"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
            .filter(|c| pred(c))
            .ok_or_else(|| v.to_string())
    })
}

fn vault_with(fk: &Fk, args: &[&str], input: &str) -> String {
    let out = common::with_stdin(fk, args, input);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        err_of(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The team vault key in `fk`'s mesh.db, unless it moved into the vault (zeros).
fn vault_key_in_mesh_db(fk: &Fk) -> Option<Vec<u8>> {
    let db = rusqlite::Connection::open(fk.path().join("data/mesh.db")).expect("mesh.db");
    let k: Vec<u8> = db
        .query_row("SELECT vault_key FROM team", [], |r| r.get(0))
        .expect("the team row");
    assert_eq!(k.len(), 32);
    k.iter().any(|b| *b != 0).then_some(k)
}

#[test]
fn chats_workflows_and_the_team_vault_are_shared() {
    let a = node("base-camp");
    let b = node("tent-2");
    // Short answers: the random-weight model's text is noise, and need not fill the context.
    for fk in [&a, &b] {
        let cfg = fk.config_dir().join("config.toml");
        let text = std::fs::read_to_string(&cfg).expect("config");
        std::fs::write(&cfg, format!("{text}[llm]\nmax_tokens = 16\n")).expect("config");
    }
    pair(&a, &b, "member");
    wait_online(&a, &b);

    // A chat answered by a real model (a tiny random-weight GGUF), shared by its name.
    let model = a.path().join("tiny.gguf");
    fieldkit::format::gguf::tiny::write(&model, &Default::default()).expect("model");
    let model = model.to_str().expect("path");
    a.ok(&[
        "chat",
        "--model",
        model,
        "--session",
        "radio-plan",
        "which channel tonight?",
    ]);
    let none = a.run(&["mesh", "share", "chat", "no-such-chat"]);
    assert!(
        !none.status.success() && err_of(&none).contains("radio-plan"),
        "{}",
        err_of(&none)
    );
    let out = a.ok(&["mesh", "share", "chat", "radio-plan"]);
    assert!(out.contains("2 messages"), "{out}");
    wait_chat(&b, "radio-plan", "the shared chat on B", |c| {
        c["messages"] == 2
    });
    // B adds to it from its own shell; A gets the question and the answer.
    b.ok(&[
        "chat",
        "--model",
        model,
        "--session",
        "radio-plan",
        "and tomorrow at dawn?",
    ]);
    wait_chat(&a, "radio-plan", "B's turn on A", |c| c["messages"] == 4);
    a.ok(&["chat", "--model", model, "--session", "radio-plan", "ok"]);
    let on_a = wait_chat(&a, "radio-plan", "A's own turn", |c| c["messages"] == 6);
    let on_b = wait_chat(&b, "radio-plan", "A's next turn on B", |c| {
        c["messages"] == 6
    });
    assert_eq!(on_a["last"], on_b["last"]);

    // The team vault: an entry in the team folder on A reaches B sealed, waits while B's
    // vault is locked, and opens into it on unlock; an edit on B comes back; a delete goes.
    common::unlocked_vault(&a, "base camp pass");
    // The team vault key left mesh.db for A's vault; B, with no vault yet, holds it in mesh.db.
    assert!(vault_key_in_mesh_db(&a).is_none());
    let b_key = vault_key_in_mesh_db(&b).expect("B's team vault key, before B has a vault");
    vault_with(
        &a,
        &[
            "vault",
            "add",
            "Radio net",
            "--folder",
            "team",
            "--user",
            "ops",
            "--secret-fd",
            "0",
        ],
        "channel-7-key\n",
    );
    vault_with(
        &a,
        &["vault", "add", "Private", "--secret-fd", "0"],
        "mine alone\n",
    );
    vault_with(
        &b,
        &["vault", "init", "--passphrase-fd", "0"],
        "tent pass\n",
    );
    wait_until("the sealed entry on B", || {
        let v = shared(&b);
        (v["vault"]["entries"] == 1 && v["vault"]["unlocked"] == false)
            .then_some(())
            .ok_or_else(|| v.to_string())
    });
    assert!(
        common::found_on_disk(&b, "channel-7-key").is_empty(),
        "the secret is on B's disk in the clear"
    );
    vault_with(
        &b,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "tent pass\n",
    );
    assert!(
        vault_key_in_mesh_db(&b).is_none(),
        "B's key stayed in mesh.db"
    );
    assert!(
        !std::fs::read(b.path().join("data/mesh.db"))
            .expect("mesh.db")
            .windows(32)
            .any(|w| w == b_key.as_slice()),
        "the key's bytes are still in B's mesh.db"
    );
    assert_eq!(b.ok(&["vault", "get", "team/Radio net"]), "channel-7-key\n");
    assert_eq!(
        b.ok(&["vault", "get", "team/Radio net", "--field", "user"]),
        "ops\n"
    );
    assert!(b.run(&["vault", "get", "Private"]).status.code() != Some(0));
    vault_with(
        &b,
        &["vault", "edit", "team/Radio net", "--secret-fd", "0"],
        "channel-9-key\n",
    );
    wait_until("B's edit on A", || {
        let p = a.ok(&["vault", "get", "team/Radio net"]);
        (p == "channel-9-key\n").then_some(()).ok_or(p)
    });
    a.ok(&["vault", "rm", "team/Radio net"]);
    wait_until("the delete on B", || {
        let v = shared(&b);
        (v["vault"]["entries"] == 0
            && v["vault"]["titles"]
                .as_array()
                .is_some_and(|t| t.is_empty()))
        .then_some(())
        .ok_or_else(|| v.to_string())
    });
    assert!(b.ok(&["vault", "ls"]).lines().all(|l| !l.contains("Radio")));
    // The key lives in A's vault: while it is locked, A cannot invite.
    a.ok(&["vault", "lock"]);
    let out = a.run(&["mesh", "invite"]);
    assert!(
        !out.status.success() && err_of(&out).contains("unlock the vault"),
        "{}",
        err_of(&out)
    );
    vault_with(
        &a,
        &["vault", "unlock", "--passphrase-fd", "0"],
        "base camp pass\n",
    );
    a.ok(&["mesh", "invite"]);

    // A shared workflow reaches B but does not run there until approved.
    let wf_dir = a.config_dir().join("workflows");
    std::fs::create_dir_all(&wf_dir).expect("dir");
    let text = "shared = true\ndescription = \"log the radio check\"\n[[steps]]\nname = \"log\"\nkind = \"shell\"\nrun = \"echo checked\"\n";
    std::fs::write(wf_dir.join("radio-check.toml"), text).expect("workflow");
    wait_until("the workflow offered on B", || {
        let v = shared(&b);
        v["workflows"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["name"] == "radio-check"))
            .filter(|w| {
                w["state"] == "waiting for approval"
                    && w["by"].as_str().is_some_and(|b| b.starts_with("base-camp"))
            })
            .map(|_| ())
            .ok_or_else(|| v.to_string())
    });
    assert!(!b.ok(&["workflow", "ls"]).contains("radio-check"));
    let run = b.run(&["workflow", "run", "radio-check"]);
    assert!(!run.status.success(), "an unapproved workflow ran");
    let out = b.ok(&["mesh", "approve", "radio-check"]);
    assert!(out.contains("base-camp"), "{out}");
    assert_eq!(
        std::fs::read_to_string(b.config_dir().join("workflows/radio-check.toml")).expect("file"),
        text
    );
    b.wait_output(&["workflow", "ls"], "the approved workflow listed", |o| {
        o.contains("radio-check")
    });
    let v = shared(&b);
    assert!(
        v["workflows"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w["name"] == "radio-check" && w["state"] == "installed")),
        "{v}"
    );
    // Approving it did not send it back as a change of B's.
    assert!(
        !log(&b).contains("shared workflow radio-check"),
        "{}",
        log(&b)
    );
    // A change on A waits for approval again on B.
    std::fs::write(
        wf_dir.join("radio-check.toml"),
        text.replace("checked", "checked twice"),
    )
    .expect("workflow");
    wait_until("the change offered on B", || {
        let v = shared(&b);
        v["workflows"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["name"] == "radio-check"))
            .filter(|w| w["state"] == "changed by the team: waiting for approval")
            .map(|_| ())
            .ok_or_else(|| v.to_string())
    });
    assert_eq!(
        std::fs::read_to_string(b.config_dir().join("workflows/radio-check.toml")).expect("file"),
        text,
        "B's approved copy changed without approval"
    );
}

#[test]
fn joining_without_an_address_finds_the_inviting_device_on_the_lan() {
    // A pairing port both devices agree on, as the default 4702 is on a real LAN (a free one
    // here, so tests running at once do not meet).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let a = node("base-camp");
    let b = node("tent-2");
    for fk in [&a, &b] {
        let cfg = fk.config_dir().join("config.toml");
        let text = std::fs::read_to_string(&cfg).expect("config");
        let text = text.replace(
            "pair_listen = \"127.0.0.1:0\"",
            &format!("pair_listen = \"127.0.0.1:{port}\""),
        );
        std::fs::write(&cfg, text).expect("config");
    }
    // No invite open: nobody answers, and the message says what to do.
    let out = b.run(&["mesh", "join", "K7ABC-DEFGH"]);
    assert!(!out.status.success());
    assert!(
        err_of(&out).contains("no device with an open invite answered")
            && err_of(&out).contains("--addr"),
        "{}",
        err_of(&out)
    );
    let (code, addr) = invite(&a, "member");
    assert!(addr.ends_with(&format!(":{port}")), "{addr}");
    // A code of another invite: the device says so, and its own invite is not spent.
    let other = if code.starts_with('A') {
        "BAAAA-AAAAA"
    } else {
        "AAAAA-AAAAA"
    };
    let out = b.run(&["mesh", "join", other]);
    assert!(!out.status.success());
    assert!(
        err_of(&out).contains("no open invite has that code"),
        "{}",
        err_of(&out)
    );
    let out = b.ok(&["mesh", "join", &code]);
    assert!(out.contains("as a member"), "{out}");
    wait_online(&a, &b);
    wait_online(&b, &a);
}
