/*!
Plugins' tools in the chat. Each chat job carries the granted plugins' tools
(`ToolSpec`s); the llm engine tells them to the model in its GGUF's own tool template where it
has one, else in the documented prompted format (engine/llm/tools.rs), and `tool_call_in`
reads a call in either.

An answer holding a call is shown as it is; the call runs after the user's yes (a popup), or
at once when the tool is read-only in its manifest and trusted in config (`[llm]
trusted_tools`). Its result is stored as a message `<tool_result name="...">...</tool_result>`
(which a template gets as a `tool` message) and the answer goes on from there. At most
`MAX_CALLS` calls follow one question, so a model that keeps calling stops.
*/

use super::*;
use crate::server::plugins::CallWaiter;

/// Tool calls that may follow one question of the user's.
pub(in crate::server) const MAX_CALLS: usize = 4;

pub use crate::engine::llm::tool_call_in;
use crate::engine::llm::ToolSpec;

impl Server {
    /// The tools a chat's model may call: the granted plugins' tools.
    pub(super) fn chat_tools(&mut self) -> Vec<ToolSpec> {
        self.plugin_tool_list()
            .into_iter()
            .map(|(name, description, schema)| ToolSpec {
                name,
                description,
                schema,
            })
            .collect()
    }

    /// The model asked for `tool` with `args` in chat pane `pane`: run after a yes, or at once
    /// when trusted.
    pub(super) fn chat_tool_call(
        &mut self,
        name: &str,
        pane: u64,
        session: i64,
        call: Result<(String, serde_json::Value), String>,
    ) {
        let (tool, args) = match call {
            Ok(c) => c,
            Err(e) => {
                self.chat_error(name, pane, e);
                return;
            }
        };
        // Calls since the user last asked: a model that keeps calling is stopped.
        let calls = self
            .store
            .as_ref()
            .and_then(|st| st.chat(session).ok().flatten())
            .map(|s| {
                s.messages
                    .iter()
                    .rev()
                    .take_while(|m| m.role != "user" || m.content.starts_with("<tool_result"))
                    .filter(|m| m.content.starts_with("<tool_result"))
                    .count()
            })
            .unwrap_or(0);
        if calls >= MAX_CALLS {
            self.chat_error(
                name,
                pane,
                format!("the model called {MAX_CALLS} tools for one question; stopped there"),
            );
            return;
        }
        let shown = format!("{tool} {args}");
        if self.tool_trusted(&tool) {
            let w = CallWaiter::Chat {
                session_name: name.to_string(),
                pane,
                chat: session,
                tool: tool.clone(),
            };
            self.plugin_call(&tool, args, w);
            return;
        }
        if let Some(s) = self.sessions.get_mut(name) {
            s.popup = Some(Popup::Confirm {
                title: "run the model's tool call?".into(),
                text: format!(
                    "{}\n\nRun it?",
                    shown.chars().take(1500).collect::<String>()
                ),
                yes: Confirmed::ChatTool {
                    pane,
                    session,
                    tool,
                    args: args.to_string(),
                },
            });
            s.dirty = true;
        }
    }

    /// A tool call's result goes into the chat, and the answer goes on.
    pub(in crate::server) fn chat_tool_result(
        &mut self,
        name: &str,
        pane: u64,
        session: i64,
        tool: &str,
        result: Result<crate::engine::plugin::host::Answer, String>,
    ) {
        let text = match result {
            Ok(a) if !a.is_error => a.text,
            Ok(a) => format!("error: {}", a.text),
            Err(e) => format!("error: the tool did not run: {e}"),
        };
        let content = format!("<tool_result name=\"{tool}\">\n{text}\n</tool_result>");
        let Some(st) = &self.store else { return };
        if let Err(e) = st.add_message(session, &StoredMsg::new("user", &content, "")) {
            self.chat_error(
                name,
                pane,
                format!("the tool's result could not be stored (state.db: {e:#})"),
            );
            return;
        }
        let Some(chat) = st.chat(session).ok().flatten() else {
            return;
        };
        self.chat_to(name, pane, ChatEvent::Updated(chat.clone()));
        self.mesh_chat_changed(session);
        let (turns, ids) = turns_of(&chat);
        self.start_for_pane(name, pane, Purpose::Chat { session, ids }, turns);
    }
}
