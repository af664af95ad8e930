/*!
The plugins' service: which plugins there are (read from `plugins/` and config.toml each time
they are asked for, so a new folder needs no restart), which are granted their permissions,
and one host task per running plugin (`engine::plugin::host`). A plugin starts on its first
call and stays up for the next; when it fails (exits, hangs, writes junk) the host stops it,
the calls waiting on it get the reason, its status row says it, and the next call starts it
again. Callers are the CLI (`fieldkit plugin call`), workflow steps (`kind = "plugin"`), and
later the palette and the chat; each gets its answer as an event, off the loop.
*/

use super::*;
use crate::engine::plugin::host::{self, Answer, Call, HostEvent, Tool};
use crate::engine::plugin::manifest::{Manifest, ManifestError};
use crate::engine::plugin::sandbox::{self, Enforced, Kernel};
use crate::protocol::PluginCommand;
use std::collections::BTreeMap;

/// Who waits for a call's answer.
#[derive(Debug, Clone)]
pub enum CallWaiter {
    Client(ClientId),
    /// The palette's form in session `.0`: the answer shows in a popup.
    Popup(String),
    /// The model's call in chat pane `pane` of workspace session `session_name`, chat `chat`.
    Chat {
        session_name: String,
        pane: u64,
        chat: i64,
        tool: String,
    },
    /// Try `n` of step `step` of workflow run `run`.
    Workflow {
        run: String,
        step: usize,
        n: u32,
    },
}

/// What the hosts tell the loop.
#[derive(Debug)]
pub enum PluginEv {
    Host {
        name: String,
        gen: u64,
        ev: HostEvent,
    },
    Answer {
        waiter: CallWaiter,
        result: Result<Answer, String>,
    },
}

/// A plugin that runs (or is starting).
struct Running {
    calls: mpsc::UnboundedSender<Call>,
    /// Which start of it this is, so a late event of an earlier one is not taken for it.
    gen: u64,
    pid: Option<u32>,
    tools: Option<Vec<Tool>>,
    sandbox: String,
}

#[derive(Default)]
pub(super) struct Plugins {
    kernel: Option<Kernel>,
    running: BTreeMap<String, Running>,
    /// Per plugin: starts, and why the last one stopped.
    starts: BTreeMap<String, u32>,
    failed: BTreeMap<String, String>,
    /// Tools as last listed, kept while the plugin is not running.
    tools: BTreeMap<String, Vec<Tool>>,
    next_gen: u64,
    /// The tools' list was read from its file (what plugins listed in earlier runs).
    tools_read: bool,
    /// Per session: the tool whose arguments the palette's form asks for.
    forms: BTreeMap<String, Form>,
}

/// A tool's arguments, asked one by one in prompts.
struct Form {
    tool: String,
    /// (name, JSON type, required), required ones first.
    fields: Vec<(String, String, bool)>,
    next: usize,
    args: serde_json::Map<String, serde_json::Value>,
}

impl Server {
    fn plugin_kernel(&mut self) -> Kernel {
        *self.plugins.kernel.get_or_insert_with(Kernel::probe)
    }

    fn plugins_dir(&self) -> std::path::PathBuf {
        self.dirs.config.join("plugins")
    }

    /// The plugins declared now, and the mistakes in their manifests.
    fn plugin_manifests(&self) -> (Vec<Manifest>, Vec<ManifestError>) {
        let from_config: Vec<(String, String)> = self
            .config
            .plugins
            .iter()
            .map(|(name, t)| (name.clone(), toml::to_string(t).unwrap_or_default()))
            .collect();
        crate::engine::plugin::load(&self.plugins_dir(), &from_config)
    }

    fn plugin_grants(&self) -> (BTreeMap<String, String>, Option<String>) {
        crate::engine::plugin::read_grants(&self.plugins_dir().join("grants.toml"))
    }

    fn home(&self) -> std::path::PathBuf {
        std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/".into())
    }

    /// `fieldkit plugin ...`.
    pub(super) fn plugin_command(&mut self, cmd: PluginCommand) -> Result<String, String> {
        match cmd {
            PluginCommand::List => Ok(self.plugin_list()),
            PluginCommand::Grant { name, accept } => self.plugin_grant(&name, accept),
            PluginCommand::Revoke { name } => {
                let (mut grants, why) = self.plugin_grants();
                if let Some(w) = why {
                    return Err(w);
                }
                if grants.remove(&name).is_none() {
                    return Err(format!("plugin {name} has no grant"));
                }
                crate::engine::plugin::write_grants(
                    &self.plugins_dir().join("grants.toml"),
                    &grants,
                )
                .map_err(|e| format!("grants.toml: {e}"))?;
                self.plugin_stop(&name);
                Ok(format!(
                    "plugin {name} may no longer run (stopped if it ran)\n"
                ))
            }
            // Answered when the call ends (`plugin_call`).
            PluginCommand::Call { .. } => Err("a call is answered by plugin_call".into()),
        }
    }

    fn plugin_list(&mut self) -> String {
        let k = self.plugin_kernel();
        let (ms, errors) = self.plugin_manifests();
        let (grants, grants_error) = self.plugin_grants();
        let plugins: Vec<serde_json::Value> = ms
            .iter()
            .map(|m| {
                let enforced = Enforced::of(m, k);
                let granted = grants.get(&m.name)
                    == Some(&crate::engine::plugin::grant_digest(
                        m,
                        &enforced.unenforced(),
                    ));
                let r = self.plugins.running.get(&m.name);
                let state = match (r, self.plugins.failed.get(&m.name)) {
                    (Some(r), _) if r.tools.is_some() => "running".to_string(),
                    (Some(_), _) => "starting".to_string(),
                    (None, Some(f)) => format!("failed: {f}"),
                    (None, None) if !granted => "not granted".to_string(),
                    (None, None) => "not started".to_string(),
                };
                let tools: Vec<serde_json::Value> = self
                    .plugins
                    .tools
                    .get(&m.name)
                    .map(|ts| {
                        ts.iter()
                            .map(|t| {
                                serde_json::json!({
                                    "name": format!("{}.{}", m.name, t.name),
                                    "description": t.description,
                                    "read_only": m.read_only.contains(&t.name),
                                    "input_schema": t.input_schema,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({
                    "name": m.name,
                    "description": m.description,
                    "source": m.source,
                    "state": state,
                    "granted": granted,
                    "permissions": m.permissions.describe(),
                    "enforced": enforced.describe(),
                    "unenforced": enforced.unenforced(),
                    "tools": tools,
                })
            })
            .collect();
        let mut errs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        errs.extend(grants_error);
        let mut out = serde_json::json!({ "plugins": plugins, "errors": errs }).to_string();
        out.push('\n');
        out
    }

    fn plugin_grant(&mut self, name: &str, accept: bool) -> Result<String, String> {
        let k = self.plugin_kernel();
        let (ms, _) = self.plugin_manifests();
        let m = ms
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| format!("no plugin is called {name} (fieldkit plugin ls)"))?;
        let enforced = Enforced::of(m, k);
        let unenforced = enforced.unenforced();
        if !unenforced.is_empty() && !accept {
            return Err(format!(
                "this machine cannot enforce all that plugin {name} is limited to:\n  {}\nrun `fieldkit plugin grant {name} --accept-unenforced` to let it run anyway",
                unenforced.join("\n  ")
            ));
        }
        let (mut grants, why) = self.plugin_grants();
        if let Some(w) = why {
            return Err(w);
        }
        grants.insert(
            name.to_string(),
            crate::engine::plugin::grant_digest(m, &unenforced),
        );
        crate::engine::plugin::write_grants(&self.plugins_dir().join("grants.toml"), &grants)
            .map_err(|e| format!("grants.toml: {e}"))?;
        Ok(format!(
            "granted plugin {name}:\n  {}\nenforced here: {}\n",
            m.permissions.describe().join("\n  "),
            enforced.describe()
        ))
    }

    /// Calls `PLUGIN.TOOL` with `args`; the answer goes to `waiter` as an event.
    pub(super) fn plugin_call(&mut self, tool: &str, args: serde_json::Value, waiter: CallWaiter) {
        let answer_now = |srv: &mut Server, r: Result<Answer, String>| {
            let _ = srv.events.send(Ev::Plugin(PluginEv::Answer {
                waiter: waiter.clone(),
                result: r,
            }));
        };
        let Some((name, tool)) = tool.split_once('.') else {
            answer_now(self, Err(format!("{tool:?}: a tool is named PLUGIN.TOOL")));
            return;
        };
        if !args.is_object() {
            answer_now(self, Err("a tool's arguments are a JSON object".into()));
            return;
        }
        let calls = match self.plugin_ensure(name) {
            Ok(c) => c,
            Err(e) => {
                answer_now(self, Err(e));
                return;
            }
        };
        // Checked against the schema the plugin listed, when it has been listed.
        if let Some(ts) = self.plugins.tools.get(name) {
            match ts.iter().find(|t| t.name == tool) {
                None => {
                    let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
                    answer_now(
                        self,
                        Err(format!(
                            "plugin {name} has no tool {tool:?} (it has: {})",
                            names.join(", ")
                        )),
                    );
                    return;
                }
                Some(t) => {
                    if let Err(e) = check_args(&t.input_schema, &args) {
                        answer_now(self, Err(format!("{name}.{tool}: {e}")));
                        return;
                    }
                }
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let call = Call {
            tool: tool.to_string(),
            args,
            reply: tx,
        };
        if calls.send(call).is_err() {
            answer_now(self, Err(format!("plugin {name} stopped")));
            return;
        }
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = rx
                .await
                .unwrap_or_else(|_| Err("the plugin stopped before answering".into()));
            let _ = events.send(Ev::Plugin(PluginEv::Answer { waiter, result }));
        });
    }

    /// The plugin's call channel, starting it if it is not running.
    fn plugin_ensure(&mut self, name: &str) -> Result<mpsc::UnboundedSender<Call>, String> {
        if let Some(r) = self.plugins.running.get(name) {
            if !r.calls.is_closed() {
                return Ok(r.calls.clone());
            }
        }
        let k = self.plugin_kernel();
        let (ms, errors) = self.plugin_manifests();
        let Some(m) = ms.into_iter().find(|m| m.name == name) else {
            let why = errors
                .iter()
                .find(|e| {
                    e.file.contains(&format!("/{name}/")) || e.file.ends_with(&format!(".{name}]"))
                })
                .map(|e| format!(": {e}"))
                .unwrap_or_else(|| " (fieldkit plugin ls)".into());
            return Err(format!("no plugin {name} is installed{why}"));
        };
        let (mut command, enforced) = sandbox::command(&m, k, &self.home())?;
        let (grants, why) = self.plugin_grants();
        if let Some(w) = why {
            return Err(w);
        }
        if grants.get(name)
            != Some(&crate::engine::plugin::grant_digest(
                &m,
                &enforced.unenforced(),
            ))
        {
            return Err(format!(
                "plugin {name} is not granted its permissions yet ({}): see them with `fieldkit plugin ls`, then `fieldkit plugin grant {name}`",
                m.permissions.describe().join("; ")
            ));
        }
        // The vault fields its grant names, from the unlocked vault, in its environment only.
        if !m.permissions.vault.is_empty() {
            let specs: Vec<String> = m
                .permissions
                .vault
                .iter()
                .map(|(k, v)| format!("{k}=vault:{v}"))
                .collect();
            let env = self.vault_env(&specs).map_err(|e| {
                format!("plugin {name} is granted vault fields, and they cannot be read: {e}")
            })?;
            for (k, v) in env {
                command.env(k, v.as_str());
            }
        }
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
        self.plugins.next_gen += 1;
        let gen = self.plugins.next_gen;
        let events = self.events.clone();
        let n = name.to_string();
        tokio::spawn(async move {
            while let Some(ev) = ev_rx.recv().await {
                if events
                    .send(Ev::Plugin(PluginEv::Host {
                        name: n.clone(),
                        gen,
                        ev,
                    }))
                    .is_err()
                {
                    break;
                }
            }
        });
        let launch = host::Launch {
            command,
            sandbox: enforced.describe(),
        };
        tokio::spawn(host::run(m, launch, calls_rx, ev_tx));
        *self.plugins.starts.entry(name.to_string()).or_default() += 1;
        self.plugins.failed.remove(name);
        self.plugins.running.insert(
            name.to_string(),
            Running {
                calls: calls_tx.clone(),
                gen,
                pid: None,
                tools: None,
                sandbox: enforced.describe(),
            },
        );
        Ok(calls_tx)
    }

    fn plugin_stop(&mut self, name: &str) {
        // Dropping its call channel ends the host, which stops the process.
        self.plugins.running.remove(name);
    }

    pub(super) fn plugin_event(&mut self, ev: PluginEv) {
        match ev {
            PluginEv::Host { name, gen, ev } => {
                let current = self
                    .plugins
                    .running
                    .get(&name)
                    .is_some_and(|r| r.gen == gen);
                match ev {
                    HostEvent::Ready {
                        pid,
                        tools,
                        sandbox,
                    } => {
                        tracing::info!(plugin = %name, pid, tools = tools.len(), %sandbox, "plugin ready");
                        self.plugin_tools_load();
                        self.plugins.tools.insert(name.clone(), tools.clone());
                        self.plugin_tools_save();
                        if let Some(r) = self.plugins.running.get_mut(&name).filter(|_| current) {
                            r.pid = Some(pid);
                            r.tools = Some(tools);
                        }
                    }
                    HostEvent::Stopped(why) => {
                        if current {
                            self.plugins.running.remove(&name);
                        }
                        if let Some(w) = why {
                            tracing::warn!(plugin = %name, "plugin stopped: {w}");
                            self.plugins.failed.insert(name, w);
                        }
                    }
                }
            }
            PluginEv::Answer { waiter, result } => match waiter {
                CallWaiter::Client(id) => self.reply(
                    id,
                    result.and_then(|a| {
                        if a.is_error {
                            Err(format!("the tool failed: {}", a.text))
                        } else {
                            Ok(if a.text.ends_with('\n') {
                                a.text
                            } else {
                                a.text + "\n"
                            })
                        }
                    }),
                ),
                CallWaiter::Workflow { run, step, n } => {
                    self.workflow_plugin_done(&run, step, n, result)
                }
                CallWaiter::Chat {
                    session_name,
                    pane,
                    chat,
                    tool,
                } => self.chat_tool_result(&session_name, pane, chat, &tool, result),
                CallWaiter::Popup(session) => match result {
                    Ok(a) if !a.is_error => self.show(&session, "the tool's answer", &a.text),
                    Ok(a) => self.show(&session, "the tool failed", &a.text),
                    Err(e) => self.show(&session, "the tool did not run", &e),
                },
            },
        }
    }

    /// The status pane's rows: one per plugin that ran since the server started.
    pub(super) fn plugin_rows(&self) -> Vec<EngineRow> {
        let names: std::collections::BTreeSet<&String> = self
            .plugins
            .running
            .keys()
            .chain(self.plugins.failed.keys())
            .collect();
        names
            .into_iter()
            .map(|n| {
                let r = self.plugins.running.get(n);
                let (state, detail) = match (r, self.plugins.failed.get(n)) {
                    (Some(r), _) if r.tools.is_some() => (
                        EngineState::Ready,
                        format!(
                            "{} tools · {}",
                            r.tools.as_ref().map_or(0, Vec::len),
                            r.sandbox
                        ),
                    ),
                    (Some(_), _) => (EngineState::Starting, "starting".into()),
                    (None, Some(f)) => (EngineState::Failed(f.clone()), String::new()),
                    (None, None) => (EngineState::NotStarted, String::new()),
                };
                EngineRow {
                    name: format!("plugin {n}"),
                    state,
                    pid: r.and_then(|r| r.pid),
                    restarts: self
                        .plugins
                        .starts
                        .get(n)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(1),
                    detail,
                }
            })
            .collect()
    }

    fn tools_file(&self) -> std::path::PathBuf {
        self.dirs.data.join("plugin-tools.json")
    }

    /// The tools plugins listed in earlier runs, so the palette offers them before a plugin
    /// has started in this one.
    fn plugin_tools_load(&mut self) {
        if self.plugins.tools_read {
            return;
        }
        self.plugins.tools_read = true;
        if let Ok(text) = std::fs::read_to_string(self.tools_file()) {
            match serde_json::from_str::<BTreeMap<String, Vec<Tool>>>(&text) {
                Ok(t) => {
                    for (k, v) in t {
                        self.plugins.tools.entry(k).or_insert(v);
                    }
                }
                Err(e) => tracing::warn!("plugin-tools.json does not read, left out: {e}"),
            }
        }
    }

    fn plugin_tools_save(&self) {
        let text = serde_json::to_string(&self.plugins.tools).unwrap_or_default();
        let file = self.tools_file();
        let tmp = file.with_extension("json.part");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &file)) {
            tracing::warn!("plugin-tools.json not written: {e}");
        }
    }

    /// The tools of granted plugins: (PLUGIN.TOOL, description, input schema as JSON).
    pub(super) fn plugin_tool_list(&mut self) -> Vec<(String, String, String)> {
        self.plugin_tools_load();
        let (grants, _) = self.plugin_grants();
        self.plugins
            .tools
            .iter()
            .filter(|(p, _)| grants.contains_key(*p))
            .flat_map(|(p, ts)| {
                ts.iter().map(move |t| {
                    (
                        format!("{p}.{}", t.name),
                        t.description.clone(),
                        t.input_schema.to_string(),
                    )
                })
            })
            .collect()
    }

    /// Whether the chat may run `PLUGIN.TOOL` without asking: trusted in config and read-only
    /// in its manifest.
    pub(super) fn tool_trusted(&self, tool: &str) -> bool {
        let Some((p, t)) = tool.split_once('.') else {
            return false;
        };
        self.config.llm.trusted_tools.iter().any(|x| x == tool)
            && self
                .plugin_manifests()
                .0
                .iter()
                .any(|m| m.name == p && m.read_only.iter().any(|r| r == t))
    }

    /// The palette's entries for plugins' tools: those of granted plugins.
    pub(super) fn plugin_palette_items(&mut self) -> Vec<fieldkit_widgets::PickerItem> {
        self.plugin_tool_list()
            .into_iter()
            .map(|(name, desc, _)| fieldkit_widgets::PickerItem {
                detail: if desc.is_empty() {
                    format!("plugin {}", name.split('.').next().unwrap_or(""))
                } else {
                    desc
                },
                text: format!("tool {name}"),
                key: String::new(),
            })
            .collect()
    }

    /// `tool PLUGIN.TOOL`: its arguments are asked one by one, then it is called.
    pub(super) fn tool_form_start(&mut self, session: &str, tool: &str) -> Result<(), String> {
        self.plugin_tools_load();
        let (p, t) = tool
            .split_once('.')
            .ok_or_else(|| format!("{tool:?}: a tool is named PLUGIN.TOOL"))?;
        let schema = self
            .plugins
            .tools
            .get(p)
            .and_then(|ts| ts.iter().find(|x| x.name == t))
            .map(|x| x.input_schema.clone())
            .ok_or_else(|| {
                format!("no tool {tool} is known yet: `fieldkit plugin ls` lists them (a plugin lists its tools once it has run)")
            })?;
        let required: Vec<String> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut fields: Vec<(String, String, bool)> = schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|props| {
                props
                    .iter()
                    .map(|(k, v)| {
                        let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("string");
                        (k.clone(), ty.to_string(), required.contains(k))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Required ones first, in the order the schema's `required` lists them (an object's
        // keys come back sorted), then the others.
        fields.sort_by_key(|f| {
            (
                required
                    .iter()
                    .position(|r| *r == f.0)
                    .unwrap_or(usize::MAX),
                f.0.clone(),
            )
        });
        self.plugins.forms.insert(
            session.to_string(),
            Form {
                tool: tool.to_string(),
                fields,
                next: 0,
                args: serde_json::Map::new(),
            },
        );
        self.tool_form_next(session, None);
        Ok(())
    }

    /// Asks the form's next question, or calls the tool when none is left.
    fn tool_form_next(&mut self, session: &str, error: Option<String>) {
        let Some(f) = self.plugins.forms.get(session) else {
            return;
        };
        let Some((name, ty, required)) = f.fields.get(f.next).cloned() else {
            let Some(f) = self.plugins.forms.remove(session) else {
                return;
            };
            self.plugin_call(
                &f.tool,
                serde_json::Value::Object(f.args),
                CallWaiter::Popup(session.to_string()),
            );
            return;
        };
        let mut title = format!(
            "{} · {name} ({ty}{})",
            f.tool,
            if required {
                ", required"
            } else {
                ", Enter to leave out"
            }
        );
        if let Some(e) = error {
            title = format!("{e} · {title}");
        }
        if let Some(s) = self.sessions.get_mut(session) {
            s.popup = Some(popup::Popup::Prompt {
                title,
                input: String::new(),
                then: "tool-arg".into(),
                on_empty: Some("tool-arg".into()),
            });
            s.dirty = true;
        }
    }

    /// The form's current question answered with `v`.
    pub(super) fn tool_form_answer(&mut self, session: &str, v: &str) -> Result<(), String> {
        let f = self
            .plugins
            .forms
            .get_mut(session)
            .ok_or("no tool's form is open (tool PLUGIN.TOOL opens one)")?;
        let Some((name, ty, required)) = f.fields.get(f.next).cloned() else {
            return Ok(());
        };
        let v = v.trim();
        if v.is_empty() {
            if required {
                self.tool_form_next(session, Some(format!("{name} is required")));
                return Ok(());
            }
            f.next += 1;
            self.tool_form_next(session, None);
            return Ok(());
        }
        let value = match ty.as_str() {
            "number" => v
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(serde_json::Value::Number)),
            "integer" => v.parse::<i64>().ok().map(|n| n.into()),
            "boolean" => match v.to_lowercase().as_str() {
                "true" | "yes" | "y" => Some(true.into()),
                "false" | "no" | "n" => Some(false.into()),
                _ => None,
            },
            "array" | "object" => serde_json::from_str(v).ok(),
            _ => Some(serde_json::Value::String(v.to_string())),
        };
        match value {
            Some(x) => {
                f.args.insert(name, x);
                f.next += 1;
                self.tool_form_next(session, None);
            }
            None => self.tool_form_next(session, Some(format!("{v:?} is not a {ty}"))),
        }
        Ok(())
    }

    /// Panic: every plugin stops.
    pub(super) fn plugins_stop_all(&mut self) {
        self.plugins.running.clear();
    }
}

/// Whether `args` fits the tool's input schema as far as fieldkit checks it: an object, its
/// required properties present, and each given property of the declared JSON type.
pub fn check_args(schema: &serde_json::Value, args: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let Some(obj) = args.as_object() else {
        return Err("the arguments are not an object".into());
    };
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                return Err(format!("argument {r:?} is required"));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    for (k, v) in obj {
        let Some(p) = props.and_then(|p| p.get(k)) else {
            if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                return Err(format!("argument {k:?} is not one the tool takes"));
            }
            continue;
        };
        let ok = match p.get("type").and_then(Value::as_str) {
            Some("string") => v.is_string(),
            Some("number") => v.is_number(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("boolean") => v.is_boolean(),
            Some("array") => v.is_array(),
            Some("object") => v.is_object(),
            Some("null") => v.is_null(),
            _ => true,
        };
        if !ok {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("?");
            let a = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(format!("argument {k:?} should be {a} {ty} (got {v})"));
        }
        if let Some(choices) = p.get("enum").and_then(Value::as_array) {
            if !choices.contains(v) {
                return Err(format!(
                    "argument {k:?} is one of {}",
                    Value::Array(choices.clone())
                ));
            }
        }
    }
    Ok(())
}
