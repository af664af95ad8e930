//! Plugins with real processes: the shipped examples (Python `units`, compiled `fieldkit-gpx`)
//! granted and called through a real server, from the CLI and from a workflow step; the kernel
//! refusing a plugin what its grant does not give (Landlock for files, a network namespace or
//! Landlock for TCP); and plugins that crash, hang, write junk, write a huge line, flood
//! notifications or answer the wrong request, each stopped with its reason while the server
//! goes on.
mod common;

use common::{wait_until, Fk};
use fieldkit::engine::plugin::sandbox::Kernel;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A plugin folder `name` in `fk`'s config, with `files` (name, text) and its manifest.
fn plugin(fk: &Fk, name: &str, manifest: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = fk.config_dir().join("plugins").join(name);
    std::fs::create_dir_all(&d).expect("plugin dir");
    std::fs::write(d.join("plugin.toml"), manifest).expect("manifest");
    for (f, text) in files {
        std::fs::write(d.join(f), text).expect("plugin file");
    }
    d
}

fn copy_example(fk: &Fk, name: &str) {
    let from = repo().join("plugins").join(name);
    let to = fk.config_dir().join("plugins").join(name);
    std::fs::create_dir_all(&to).expect("dir");
    for e in std::fs::read_dir(&from).expect("example").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn call(fk: &Fk, tool: &str, args: &str) -> std::process::Output {
    fk.run(&["plugin", "call", tool, args])
}

fn ls(fk: &Fk) -> serde_json::Value {
    serde_json::from_str(&fk.ok(&["plugin", "ls", "--json"])).expect("json")
}

#[test]
fn the_python_example_is_granted_then_called_and_bad_calls_are_told() {
    let fk = Fk::new();
    copy_example(&fk, "units");
    let v = ls(&fk);
    assert_eq!(v["plugins"][0]["name"], "units");
    assert_eq!(v["plugins"][0]["granted"], false);
    // Not granted: it does not start.
    let o = call(
        &fk,
        "units.convert",
        r#"{"value": 12, "from": "ft", "to": "m"}"#,
    );
    assert!(
        !o.status.success() && err(&o).contains("fieldkit plugin grant units"),
        "{}",
        err(&o)
    );
    let g = fk.ok(&["plugin", "grant", "units"]);
    assert!(g.contains("network: no"), "{g}");
    assert_eq!(
        fk.ok(&[
            "plugin",
            "call",
            "units.convert",
            r#"{"value": 12, "from": "ft", "to": "m"}"#
        ]),
        "12 ft = 3.6576 m\n"
    );
    let out = fk.ok(&[
        "plugin",
        "call",
        "units.coords",
        r#"{"position": "46.558333, 7.834167"}"#,
    ]);
    assert!(
        out.contains("46°33'30.0\"N 7°50'03.0\"E") && out.contains("JN36"),
        "{out}"
    );
    for (tool, args, want) in [
        (
            "units.convert",
            r#"{"value": "x", "from": "ft", "to": "m"}"#,
            "should be a number",
        ),
        (
            "units.convert",
            r#"{"from": "ft", "to": "m"}"#,
            "\"value\" is required",
        ),
        (
            "units.convert",
            r#"{"value": 1, "from": "kg", "to": "m"}"#,
            "the tool failed: cannot convert kg to m",
        ),
        ("units.teleport", "{}", "has no tool \"teleport\""),
        ("units.convert", "[1]", "a JSON object"),
        ("units.convert", "{not json", "not JSON"),
        ("nothing.here", "{}", "no plugin nothing is installed"),
        ("convert", "{}", "PLUGIN.TOOL"),
    ] {
        let o = call(&fk, tool, args);
        assert!(!o.status.success(), "{tool} {args}");
        assert!(err(&o).contains(want), "{tool} {args}: {}", err(&o));
    }
    let v = ls(&fk);
    let p = &v["plugins"][0];
    assert_eq!(p["state"], "running");
    assert_eq!(p["tools"][0]["name"], "units.convert");
    assert_eq!(p["tools"][0]["read_only"], true);
    // A changed manifest (more permissions) needs a new grant.
    let m = fk.config_dir().join("plugins/units/plugin.toml");
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("network = false", "network = true");
    std::fs::write(&m, text).unwrap();
    fk.ok(&["plugin", "revoke", "units"]);
    let o = call(
        &fk,
        "units.convert",
        r#"{"value": 1, "from": "m", "to": "ft"}"#,
    );
    assert!(err(&o).contains("not granted"), "{}", err(&o));
}

#[test]
fn a_manifest_with_mistakes_is_named_with_its_line_and_the_others_load() {
    let fk = Fk::new();
    copy_example(&fk, "units");
    plugin(&fk, "broken", "command = \"x\"\npermisions = 1\n", &[]);
    let v = ls(&fk);
    assert_eq!(v["plugins"].as_array().map(Vec::len), Some(1));
    let e = v["errors"].to_string();
    assert!(
        e.contains("plugins/broken/plugin.toml:2: unknown field `permisions`"),
        "{e}"
    );
}

const GPX: &str = r#"<?xml version="1.0"?>
<gpx version="1.1"><trk><trkseg>
<trkpt lat="46.5000" lon="7.8000"><ele>2000</ele><time>2026-11-29T08:00:00Z</time></trkpt>
<trkpt lat="46.5100" lon="7.8100"><ele>2100</ele><time>2026-11-29T08:30:00Z</time></trkpt>
<trkpt lat="46.5200" lon="7.8200"><ele>2050</ele><time>2026-11-29T09:00:00Z</time></trkpt>
</trkseg></trk></gpx>
"#;

#[test]
fn the_compiled_example_reads_tracks_in_its_grant_and_the_kernel_refuses_the_rest() {
    let fk = Fk::new();
    let tracks = fk.path().join("tracks");
    std::fs::create_dir_all(&tracks).unwrap();
    std::fs::write(tracks.join("ridge.gpx"), GPX).unwrap();
    let secret = fk.path().join("data/not-a-track.gpx");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, GPX).unwrap();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!(
            "{}[plugins.gpx]\ncommand = \"{}\"\nread_only = [\"read\", \"summary\"]\n[plugins.gpx.permissions]\nread = [\"{}\"]\n",
            fk.shell_setting(),
            env!("CARGO_BIN_EXE_fieldkit-gpx"),
            tracks.display()
        ),
    )
    .unwrap();
    fk.ok(&["plugin", "grant", "gpx", "--accept-unenforced"]);
    let args = |p: &Path| format!("{{\"path\": \"{}\"}}", p.display());
    let s = fk.ok(&[
        "plugin",
        "call",
        "gpx.summary",
        &args(&tracks.join("ridge.gpx")),
    ]);
    assert!(s.starts_with("3 points, 2.70 km, 100 m climbed"), "{s}");
    let csv = fk.ok(&[
        "plugin",
        "call",
        "gpx.read",
        &args(&tracks.join("ridge.gpx")),
    ]);
    assert!(
        csv.starts_with("time,lat,lon,ele\n2026-11-29T08:00:00Z,46.5000000,7.8000000,2000.0\n"),
        "{csv}"
    );
    if !Kernel::probe().files() {
        eprintln!("skipped: this kernel has no Landlock, so the grant's limits are not enforced");
        return;
    }
    let o = call(&fk, "gpx.summary", &args(&secret));
    assert!(!o.status.success());
    assert!(err(&o).contains("Permission denied"), "{}", err(&o));
}

/// A Python MCP server that does what `behaviour` says on a `tools/call` (and answers
/// initialize and tools/list properly, unless told not to).
fn misbehaving(behaviour: &str) -> String {
    format!(
        r#"import json, os, sys, time, socket
B = {behaviour:?}
def out(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m: continue
    meth = m["method"]
    if meth == "initialize":
        if B == "silent": continue
        out({{"jsonrpc": "2.0", "id": m["id"], "result": {{"protocolVersion": "2025-06-18", "capabilities": {{}}, "serverInfo": {{"name": "x", "version": "0"}}}}}})
    elif meth == "tools/list":
        out({{"jsonrpc": "2.0", "id": m["id"], "result": {{"tools": [{{"name": "go", "inputSchema": {{"type": "object"}}}}]}}}})
    elif meth == "tools/call":
        arg = m["params"]["arguments"].get("arg", "")
        if B == "crash": sys.stderr.write("about to fall over\n"); sys.stderr.flush(); os._exit(3)
        if B == "hang": time.sleep(60)
        if B == "junk": print("hello, I am a log line"); sys.stdout.flush(); time.sleep(60)
        if B == "huge": sys.stdout.write("x" * (2 << 20)); sys.stdout.flush(); time.sleep(60)
        if B == "flood":
            for i in range(5000): out({{"jsonrpc": "2.0", "method": "notifications/progress", "params": {{"n": i}}}})
            time.sleep(60)
        if B == "wrong-id": out({{"jsonrpc": "2.0", "id": 999, "result": {{}}}}); time.sleep(60)
        text = "ok"
        if B == "env": text = os.environ.get(arg, "unset")
        if B == "read":
            try: text = open(arg).read()
            except OSError as e: text = "error: " + str(e)
        if B == "connect":
            host, port = arg.split(":")
            try: socket.create_connection((host, int(port)), timeout=5); text = "connected"
            except OSError as e: text = "error: " + str(e)
        out({{"jsonrpc": "2.0", "id": m["id"], "result": {{"content": [{{"type": "text", "text": text}}]}}}})
"#
    )
}

fn bad_plugin(fk: &Fk, name: &str, behaviour: &str, extra: &str) {
    plugin(
        fk,
        name,
        &format!("command = \"/usr/bin/python3\"\nargs = [\"p.py\"]\ntimeout = \"2s\"\n{extra}"),
        &[("p.py", &misbehaving(behaviour))],
    );
    fk.ok(&["plugin", "grant", name, "--accept-unenforced"]);
}

#[test]
fn plugins_that_crash_hang_or_write_junk_are_stopped_with_the_reason_and_nothing_else_is() {
    let fk = Fk::new();
    copy_example(&fk, "units");
    fk.ok(&["plugin", "grant", "units"]);
    for (name, behaviour, want) in [
        ("crash", "crash", "it exited"),
        ("hang", "hang", "did not answer tools/call within 2 s"),
        ("junk", "junk", "not JSON-RPC"),
        ("huge", "huge", "a line of over"),
        ("flood", "flood", "notifications in a second"),
        ("wrongid", "wrong-id", "answered request 999"),
        ("silent", "silent", "did not answer initialize"),
    ] {
        bad_plugin(&fk, name, behaviour, "");
        let o = call(&fk, &format!("{name}.go"), "{}");
        assert!(!o.status.success(), "{name} succeeded");
        assert!(err(&o).contains(want), "{name}: {}", err(&o));
        // The state says it failed, with the reason; the server and the other plugin go on.
        let v = ls(&fk);
        let p = v["plugins"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .expect("listed");
        assert!(
            p["state"]
                .as_str()
                .is_some_and(|s| s.starts_with("failed:") && s.contains(want)),
            "{p}"
        );
        assert_eq!(
            fk.ok(&[
                "plugin",
                "call",
                "units.convert",
                r#"{"value": 1, "from": "km", "to": "m"}"#
            ]),
            "1 km = 1000 m\n"
        );
    }
    // What a crash said on stderr comes with the reason.
    let o = call(&fk, "crash.go", "{}");
    assert!(err(&o).contains("about to fall over"), "{}", err(&o));
    // A plugin that died is started again by the next call: a fixed one answers.
    std::fs::write(
        fk.config_dir().join("plugins/crash/p.py"),
        misbehaving("fine"),
    )
    .unwrap();
    assert_eq!(fk.ok(&["plugin", "call", "crash.go", "{}"]), "ok\n");
    // No plugin process is left behind by the hung one (found by its working folder).
    let hang_dir = fk.config_dir().join("plugins/hang");
    wait_until("the hung plugin gone", || {
        let left: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .chars()
                    .all(|c| c.is_ascii_digit())
            })
            .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == hang_dir))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.is_empty()
            .then_some(())
            .ok_or_else(|| format!("{left:?}"))
    });
}

#[test]
fn the_kernel_refuses_a_python_plugin_files_and_network_its_grant_does_not_give() {
    let k = Kernel::probe();
    let fk = Fk::new();
    let allowed = fk.path().join("shared");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::write(allowed.join("ok.txt"), "open to it").unwrap();
    let private = fk.path().join("private.txt");
    std::fs::write(&private, "not for plugins").unwrap();
    bad_plugin(
        &fk,
        "peek",
        "read",
        &format!("[permissions]\nread = [\"{}\"]\n", allowed.display()),
    );
    let read = |p: &Path| {
        fk.ok(&[
            "plugin",
            "call",
            "peek.go",
            &format!("{{\"arg\": \"{}\"}}", p.display()),
        ])
    };
    assert_eq!(read(&allowed.join("ok.txt")), "open to it\n");
    if k.files() {
        let got = read(&private);
        assert!(got.contains("Permission denied"), "{got}");
    } else {
        eprintln!("files part skipped: this kernel has no Landlock");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    bad_plugin(&fk, "dial", "connect", "");
    let got = fk.ok(&[
        "plugin",
        "call",
        "dial.go",
        &format!("{{\"arg\": \"{addr}\"}}"),
    ]);
    if k.netns || k.tcp() {
        assert!(
            got.starts_with("error:"),
            "the plugin reached the network: {got}"
        );
    } else {
        eprintln!("network part skipped: no network namespace and no Landlock TCP rules here");
    }
    // Granted the network, it connects.
    bad_plugin(&fk, "dial2", "connect", "[permissions]\nnetwork = true\n");
    let got = fk.ok(&[
        "plugin",
        "call",
        "dial2.go",
        &format!("{{\"arg\": \"{addr}\"}}"),
    ]);
    assert_eq!(got, "connected\n");
}

#[test]
fn a_workflow_step_calls_a_plugin_tool_with_templated_arguments() {
    let fk = Fk::new();
    copy_example(&fk, "units");
    fk.ok(&["plugin", "grant", "units"]);
    let out = fk.path().join("out.txt");
    let wf = fk.config_dir().join("workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(
        wf.join("distance.toml"),
        format!(
            "[[steps]]\nname = \"conv\"\nkind = \"plugin\"\ntool = \"units.convert\"\nargs = {{ value = 3, from = \"{{{{ 'mi' }}}}\", to = \"km\" }}\n[[steps]]\nname = \"save\"\nkind = \"shell\"\nrun = \"echo {{{{ steps.conv.text }}}} > {}\"\n",
            out.display()
        ),
    )
    .unwrap();
    fk.wait_output(&["workflow", "ls"], "the workflow", |o| {
        o.contains("distance")
    });
    fk.ok(&["workflow", "run", "distance"]);
    wait_until("the step's answer written", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fk.ok(&["workflow", "runs"]))
    });
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "3 mi = 4.82803 km\n"
    );
    // A tool that fails fails the step, with the tool's words.
    std::fs::write(
        wf.join("bad.toml"),
        "[[steps]]\nname = \"conv\"\nkind = \"plugin\"\ntool = \"units.convert\"\nargs = { value = 1, from = \"kg\", to = \"m\" }\n",
    )
    .unwrap();
    fk.wait_output(&["workflow", "ls"], "the bad workflow", |o| {
        o.contains("bad")
    });
    let id = fk.ok(&["workflow", "run", "bad"]).trim().to_string();
    fk.wait_output(&["workflow", "show", &id], "the failed step", |o| {
        o.contains("cannot convert kg to m")
    });
}

#[test]
fn a_tool_is_called_from_the_palette_with_its_arguments_asked_in_a_form() {
    let fk = Fk::new();
    copy_example(&fk, "units");
    fk.ok(&["plugin", "grant", "units"]);
    // Once it has run, its tools are known (and kept for later runs).
    fk.ok(&[
        "plugin",
        "call",
        "units.convert",
        r#"{"value": 1, "from": "m", "to": "cm"}"#,
    ]);
    fk.terminal("w", 110, 30);
    fk.type_line("w", common::BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.keys("w", &["C-b", ":"]);
    fk.wait_screen("w", "the palette", |s| s.contains("command palette"));
    fk.keys("w", &["u", "n", "i", "t", "s", ".", "c", "o", "n", "v"]);
    fk.wait_screen("w", "the tool in the palette", |s| {
        s.contains("tool units.convert")
    });
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the first argument asked", |s| {
        s.contains("units.convert · value (number, required)")
    });
    fk.type_line("w", "twelve");
    fk.wait_screen("w", "a number asked again", |s| {
        s.contains("\"twelve\" is not a number")
    });
    fk.type_line("w", "12");
    fk.wait_screen("w", "the unit asked", |s| s.contains("· from (string"));
    fk.type_line("w", "ft");
    fk.wait_screen("w", "the other unit asked", |s| s.contains("· to (string"));
    fk.type_line("w", "m");
    fk.wait_screen("w", "the answer in a popup", |s| {
        s.contains("12 ft = 3.6576 m")
    });
}

#[test]
fn the_chat_calls_a_tool_after_a_yes_and_its_answer_goes_on_from_the_result() {
    use common::llm::FakeOpenAi;
    let fk = Fk::new();
    copy_example(&fk, "units");
    // The model (a fake OpenAI-compatible server: the test is about fieldkit's side) asks for
    // a conversion, then answers from the result.
    let server = FakeOpenAi::start(vec![
        "<tool_call>{\"name\": \"units.convert\", \"arguments\": {\"value\": 12, \"from\": \"ft\", \"to\": \"m\"}}</tool_call>".into(),
        "The mast is 3.66 metres tall.".into(),
    ]);
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}\n[llm]\nallow_remote = true\n", fk.shell_setting()),
    )
    .unwrap();
    fk.ok(&[
        "model",
        "add",
        "--url",
        &server.url,
        "--remote-model",
        "fake",
        "--name",
        "lan",
    ]);
    fk.ok(&["plugin", "grant", "units"]);
    fk.ok(&[
        "plugin",
        "call",
        "units.convert",
        r#"{"value": 1, "from": "m", "to": "cm"}"#,
    ]);
    fk.terminal("w", 120, 36);
    fk.type_line("w", common::BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "chat"]);
    fk.wait_screen("w", "the chat pane", |s| s.contains("Enter sends"));
    fk.keys("w", &["-l", "how tall is a 12 ft mast in metres?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the call asked", |s| {
        s.contains("run the model's tool call?") && s.contains("units.convert")
    });
    // The model was told the tool, in the documented format.
    let first = server.requests.lock().unwrap()[0].clone();
    assert!(
        first.contains("units.convert") && first.contains("<tool_call>"),
        "{first}"
    );
    fk.keys("w", &["y"]);
    fk.wait_screen("w", "the result and the answer", |s| {
        s.contains("12 ft = 3.6576 m") && s.contains("The mast is 3.66 metres tall.")
    });
    let second = server.requests.lock().unwrap()[1].clone();
    assert!(
        second.contains("3.6576"),
        "the result went back to the model: {second}"
    );
}

#[test]
fn a_server_written_with_the_official_python_sdk_runs_as_a_plugin_in_the_sandbox() {
    let fk = Fk::new();
    let tools_dir = common::tools::dir();
    plugin(
        &fk,
        "sdk",
        &format!(
            "command = \"{}\"\nargs = [\"server.py\"]\n[permissions]\n# Its Python and the SDK live in the tools folder.\nread = [\"{}\"]\n",
            common::tools::python().display(),
            tools_dir.display()
        ),
        &[(
            "server.py",
            "from mcp.server.mcpserver import MCPServer\n\napp = MCPServer(\"sdk-demo\")\n\n\n@app.tool()\ndef add(a: int, b: int) -> str:\n    \"\"\"Add two numbers.\"\"\"\n    return str(a + b)\n\n\napp.run()\n",
        )],
    );
    fk.ok(&["plugin", "grant", "sdk", "--accept-unenforced"]);
    assert_eq!(
        fk.ok(&["plugin", "call", "sdk.add", r#"{"a": 2, "b": 40}"#]),
        "42\n"
    );
    let v = ls(&fk);
    assert_eq!(v["plugins"][0]["tools"][0]["name"], "sdk.add", "{v}");
    assert_eq!(
        v["plugins"][0]["tools"][0]["description"],
        "Add two numbers."
    );
    let o = call(&fk, "sdk.add", r#"{"a": "two", "b": 40}"#);
    assert!(
        err(&o).contains("\"a\" should be an integer"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_plugin_gets_only_the_vault_fields_its_grant_names_and_none_while_locked() {
    let fk = Fk::new();
    common::unlocked_vault(&fk, "camp pass");
    let add = common::with_stdin(
        &fk,
        &["vault", "add", "Radio net", "--secret-fd", "0"],
        "channel-7-key\n",
    );
    assert!(add.status.success());
    bad_plugin(
        &fk,
        "granted",
        "env",
        "[permissions.vault]\nRADIO_KEY = \"Radio net/password\"\n",
    );
    bad_plugin(&fk, "other", "env", "");
    let get = |p: &str| {
        fk.ok(&[
            "plugin",
            "call",
            &format!("{p}.go"),
            r#"{"arg": "RADIO_KEY"}"#,
        ])
    };
    assert_eq!(get("granted"), "channel-7-key\n");
    assert_eq!(get("other"), "unset\n");
    let v = ls(&fk);
    assert!(
        v.to_string()
            .contains("vault: Radio net/password as $RADIO_KEY"),
        "{v}"
    );
    // Locked: a plugin granted vault fields does not start.
    fk.ok(&["plugin", "revoke", "granted"]);
    fk.ok(&["vault", "lock"]);
    fk.ok(&["plugin", "grant", "granted", "--accept-unenforced"]);
    let o = call(&fk, "granted.go", r#"{"arg": "RADIO_KEY"}"#);
    assert!(
        !o.status.success() && err(&o).contains("the vault is locked"),
        "{}",
        err(&o)
    );
    // A grant naming a field wrongly is a manifest error with its key.
    plugin(
        &fk,
        "typo",
        "command = \"x\"\n[permissions.vault]\nKEY = \"no-field\"\n",
        &[],
    );
    assert!(
        ls(&fk)["errors"]
            .to_string()
            .contains("permissions.vault: KEY"),
        "{}",
        ls(&fk)
    );
}
