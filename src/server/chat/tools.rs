/*!
Plugins' tools in the chat. The model is told the tools of granted plugins in a system turn, in
a documented, prompted format (one for every model, local or remote: fieldkit does not yet read
a GGUF's own tool-call template):

```text
<tool_call>{"name": "units.convert", "arguments": {"value": 12, "from": "ft", "to": "m"}}</tool_call>
```

An answer holding such a call is shown as it is; the call runs after the user's yes (a popup),
or at once when the tool is read-only in its manifest and trusted in config (`[llm]
trusted_tools`). Its result is stored as a message `<tool_result name="...">...</tool_result>`
and the answer goes on from there. At most `MAX_CALLS` calls follow one question, so a model
that keeps calling stops.
*/

use super::*;
use crate::server::plugins::CallWaiter;

/// Tool calls that may follow one question of the user's.
pub(in crate::server) const MAX_CALLS: usize = 4;

/// The call in an answer, if it makes one: the tool's name and its arguments.
pub fn tool_call_in(answer: &str) -> Option<Result<(String, serde_json::Value), String>> {
    let start = answer.find("<tool_call>")? + "<tool_call>".len();
    let end = answer[start..]
        .find("</tool_call>")
        .map(|e| start + e)
        .unwrap_or(answer.len());
    let body = answer[start..end].trim();
    let body = body
        .strip_prefix("```json")
        .or_else(|| body.strip_prefix("```"))
        .unwrap_or(body)
        .trim_end_matches("```")
        .trim();
    Some(match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => match (v.get("name").and_then(|n| n.as_str()), v.get("arguments")) {
            (Some(n), Some(a)) if a.is_object() => Ok((n.to_string(), a.clone())),
            (Some(n), None) => Ok((n.to_string(), serde_json::json!({}))),
            _ => {
                Err("the model's tool call has no name or arguments that are not an object".into())
            }
        },
        Err(e) => Err(format!("the model's tool call is not JSON ({e})")),
    })
}

impl Server {
    /// A failure the chat pane shows in its footer.
    fn chat_error(&mut self, name: &str, pane: u64, error: String) {
        self.chat_to(
            name,
            pane,
            ChatEvent::Failed {
                partial: None,
                error,
            },
        );
    }

    /// A session's turns as the model gets them: the plugins' tools it may call told after the
    /// system prompt.
    pub(super) fn chat_turns(
        &mut self,
        chat: &fieldkit_panes::llm::ChatSession,
    ) -> (Vec<Turn>, Vec<Option<i64>>) {
        let (mut turns, mut ids) = turns_of(chat);
        if let Some(t) = self.chat_tools_turn() {
            let at = usize::from(turns.first().is_some_and(|t| t.role == Role::System));
            turns.insert(at, t);
            ids.insert(at, None);
        }
        (turns, ids)
    }

    /// The system turn that tells the model the tools it may call (none: no granted plugin has
    /// listed any).
    fn chat_tools_turn(&mut self) -> Option<Turn> {
        let items = self.plugin_tool_list();
        if items.is_empty() {
            return None;
        }
        let mut t = String::from(
            "You can use these tools. To use one, answer with only a tool call, exactly:\n\
             <tool_call>{\"name\": \"TOOL\", \"arguments\": {...}}</tool_call>\n\
             The result comes back in a <tool_result> message; then answer the user with it. \
             Use a tool only when it helps.\n\nTools:\n",
        );
        for (name, desc, schema) in items {
            t.push_str(&format!(
                "- {name}: {desc} Arguments (JSON schema): {schema}\n"
            ));
        }
        Some(Turn::new(Role::System, t))
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
        let (turns, ids) = self.chat_turns(&chat);
        self.start_for_pane(name, pane, Purpose::Chat { session, ids }, turns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_call_is_found_in_an_answer_and_a_bad_one_is_said() {
        let (t, a) = tool_call_in(
            "Let me check.\n<tool_call>{\"name\": \"units.convert\", \"arguments\": {\"value\": 1}}</tool_call>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (t.as_str(), a),
            ("units.convert", serde_json::json!({"value": 1}))
        );
        // A fenced body, and a missing close (the answer was cut off at max_tokens).
        let (t, _) =
            tool_call_in("<tool_call>```json\n{\"name\": \"a.b\", \"arguments\": {}}\n```")
                .unwrap()
                .unwrap();
        assert_eq!(t, "a.b");
        assert!(tool_call_in("no call here").is_none());
        assert!(tool_call_in("<tool_call>{nope}</tool_call>")
            .unwrap()
            .is_err());
        assert!(tool_call_in("<tool_call>{\"arguments\": {}}</tool_call>")
            .unwrap()
            .is_err());
    }
}
