/*!
What changes a chat: the user (sending, regenerating, sessions, attachments, copying code) and
the server (sessions loaded, tokens streaming, answers stored, failures), each turned into what
the pane shows and asks next.
*/

use super::*;

crate::verbs! {
    /// What a chat pane does itself.
    pub enum ChatVerb {
        Send = ("send", "", "Chat: send the message"),
        Newline = ("newline", "", "Chat: a new line in the message"),
        Regenerate = ("regenerate", "", "Chat: answer the last question again"),
        CopyCode = ("copy-code", "", "Chat: copy the last code block (again: the one before)"),
        ChatSessions = ("chat-sessions", "", "Chat: switch to another chat session"),
        ChatOpen = ("chat-open", "[ID]", "Chat: show chat session ID (#12)"),
        ChatNew = ("chat-new", "", "Chat: start a new chat session"),
        ChatRename = ("chat-rename", "[NAME]", "Chat: rename this chat session"),
        ChatDelete = ("chat-delete", "", "Chat: delete this chat session"),
        ChatSearch = ("chat-search", "[TEXT]", "Chat: find chat sessions by what was said"),
        SystemPrompt = ("system-prompt", "[TEXT]", "Chat: set this session's system prompt"),
        Attachments = ("attachments", "", "Chat: open or fold the attachments"),
        Retrieval = ("retrieval", "", "Chat: add passages from the index to questions (on/off)"),
        Model = ("model", "[NAME]", "Chat: answer with another registered model"),
        Scroll = ("scroll", "up|down|page-up|page-down|top|bottom", "Chat: scroll the conversation"),
        Cancel = ("cancel", "", crate::action::CANCEL),
    }
}

impl ChatPane {
    pub(super) fn send(&mut self, replace_last: bool, cx: &mut Cx) {
        if self.stream.is_some() {
            self.note = Some(("an answer is being written: Esc stops it".into(), true));
            cx.dirty = true;
            return;
        }
        let Some(session) = self.session.as_mut() else {
            self.note = Some(("the chat session is not loaded yet".into(), true));
            cx.dirty = true;
            return;
        };
        let user = if replace_last {
            // Regenerate: the last question again, without its answer.
            if session
                .messages
                .last()
                .is_some_and(|m| m.role == "assistant")
            {
                session.messages.pop();
            }
            match session.messages.last() {
                Some(m) if m.role == "user" => m.clone(),
                _ => {
                    self.note = Some(("nothing to regenerate yet".into(), true));
                    cx.dirty = true;
                    return;
                }
            }
        } else {
            let text = self.input.lines().join("\n");
            if text.trim().is_empty() && self.pending.is_empty() {
                return;
            }
            let m = StoredMsg {
                id: 0,
                role: "user".into(),
                content: text.trim_end().to_string(),
                attachments: std::mem::take(&mut self.pending),
                meta: String::new(),
            };
            session.messages.push(m.clone());
            self.input = TextArea::default();
            m
        };
        cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Send {
            session: session.id,
            user,
            replace_last,
            retrieval: self.retrieval,
        })));
        self.stream = Some(Stream::default());
        self.note = None;
        self.scroll = 0;
        self.copy_back = 0;
        self.changed(cx);
    }

    pub(super) fn pane_action(
        &mut self,
        verb: ChatVerb,
        arg: Option<&str>,
        cx: &mut Cx,
    ) -> Outcome {
        let prompt = |cx: &mut Cx, title: &str, initial: &str, then: &str| {
            cx.push(Effect::Ui(UiCommand::Prompt {
                title: title.into(),
                initial: initial.into(),
                then: then.into(),
                on_empty: None,
            }));
        };
        match (verb, arg) {
            (ChatVerb::Send, _) => self.send(false, cx),
            (ChatVerb::Newline, _) => {
                self.input.insert_newline();
                cx.dirty = true;
            }
            (ChatVerb::Cancel, _) => {
                if self.stream.is_none() {
                    return Outcome::Ignored;
                }
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Cancel)));
                self.note = Some(("stopping…".into(), false));
                cx.dirty = true;
            }
            (ChatVerb::Regenerate, _) => self.send(true, cx),
            (ChatVerb::CopyCode, _) => self.copy_code(cx),
            (ChatVerb::ChatSessions, _) => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::List)));
            }
            (ChatVerb::ChatOpen, Some(a)) => {
                let id = a
                    .trim_start_matches('#')
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<i64>().ok());
                match id {
                    Some(id) => cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Open(
                        Some(id),
                    )))),
                    None => return Outcome::Ignored,
                }
            }
            (ChatVerb::ChatNew, _) => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::New)));
            }
            (ChatVerb::ChatRename, None) => {
                let cur = self
                    .session
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                prompt(cx, "rename chat", &cur, "chat-rename");
            }
            (ChatVerb::ChatRename, Some(n)) => {
                if let Some(s) = self.session.as_mut() {
                    s.name = n.to_string();
                    cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Rename {
                        session: s.id,
                        name: n.to_string(),
                    })));
                }
                cx.dirty = true;
            }
            (ChatVerb::ChatDelete, _) => {
                if let Some(s) = &self.session {
                    cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Delete {
                        session: s.id,
                    })));
                }
            }
            (ChatVerb::ChatSearch, None) => prompt(cx, "find chats containing", "", "chat-search"),
            (ChatVerb::ChatSearch, Some(t)) => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Search(
                    t.to_string(),
                ))));
            }
            (ChatVerb::SystemPrompt, None) => {
                let cur = self
                    .session
                    .as_ref()
                    .map(|s| s.system.clone())
                    .unwrap_or_default();
                prompt(cx, "system prompt of this chat", &cur, "system-prompt");
            }
            (ChatVerb::SystemPrompt, Some(t)) => {
                if let Some(s) = self.session.as_mut() {
                    s.system = t.to_string();
                    cx.push(Effect::Engine(EngineRequest::Chat(
                        ChatRequest::SetSystem {
                            session: s.id,
                            text: t.to_string(),
                        },
                    )));
                }
                self.note = Some(("system prompt set".into(), false));
                self.changed(cx);
            }
            (ChatVerb::Attachments, _) => {
                self.expanded = !self.expanded;
                self.changed(cx);
            }
            (ChatVerb::Retrieval, _) => {
                self.retrieval = !self.retrieval;
                self.note = Some((
                    if self.retrieval {
                        "retrieval on: questions get passages from the index (fieldkit index PATH)"
                    } else {
                        "retrieval off"
                    }
                    .into(),
                    false,
                ));
                cx.dirty = true;
            }
            (ChatVerb::Model, m) => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Model(
                    m.map(str::to_string),
                ))));
            }
            (ChatVerb::Scroll, Some(d)) => {
                match d {
                    "up" => self.scroll += 5,
                    "down" => self.scroll = self.scroll.saturating_sub(5),
                    "page-up" => self.scroll += 20,
                    "page-down" => self.scroll = self.scroll.saturating_sub(20),
                    "top" => self.scroll = usize::MAX / 2,
                    _ => self.scroll = 0,
                }
                cx.dirty = true;
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Consumed
    }

    pub(super) fn copy_code(&mut self, cx: &mut Cx) {
        let blocks: Vec<CodeBlock> = self
            .session
            .iter()
            .flat_map(|s| s.messages.iter())
            .filter(|m| m.role == "assistant")
            .flat_map(|m| markdown::render(&m.content, 200, &Theme::default()).1)
            .collect();
        if blocks.is_empty() {
            self.note = Some(("no code block in this chat yet".into(), true));
        } else {
            let i = blocks.len() - 1 - self.copy_back % blocks.len();
            let b = &blocks[i];
            cx.push(Effect::Ui(UiCommand::Clipboard(b.text.clone())));
            self.note = Some((
                format!(
                    "copied code block {} of {} ({} lines){}",
                    i + 1,
                    blocks.len(),
                    b.text.lines().count(),
                    if blocks.len() > 1 {
                        "; again for the one before"
                    } else {
                        ""
                    }
                ),
                false,
            ));
            self.copy_back += 1;
        }
        cx.dirty = true;
    }

    pub(super) fn on_chat(&mut self, ev: ChatEvent, cx: &mut Cx) -> Outcome {
        match ev {
            ChatEvent::Updated(s) => {
                if self.session.as_ref().map(|x| x.id) != Some(s.id) {
                    return Outcome::Consumed;
                }
                self.session = Some(s);
            }
            ChatEvent::Session(s) => {
                self.session = Some(s);
                self.wanted = None;
                self.stream = None;
                self.scroll = 0;
                self.copy_back = 0;
                self.note = None;
            }
            // The answer being written, the model, the pending attachments: drawn after the
            // stored conversation, so its cache stays.
            ChatEvent::Gen(LlmEvent::Loading { model, progress }) => {
                self.model = model;
                if let Some(st) = self.stream.as_mut() {
                    st.loading = Some(progress);
                }
                cx.dirty = true;
                return Outcome::Consumed;
            }
            ChatEvent::Gen(LlmEvent::Loaded { model, .. }) => {
                self.model = model;
                if let Some(st) = self.stream.as_mut() {
                    st.loading = None;
                }
                cx.dirty = true;
                return Outcome::Consumed;
            }
            ChatEvent::Gen(LlmEvent::Prompt { done, total }) => {
                if let Some(st) = self.stream.as_mut() {
                    st.loading = None;
                    st.prompt = Some((done, total));
                }
                cx.dirty = true;
                return Outcome::Consumed;
            }
            ChatEvent::Gen(LlmEvent::Token(t)) => {
                let st = self.stream.get_or_insert_with(Stream::default);
                st.loading = None;
                st.text.push_str(&t);
                st.tokens += 1;
                cx.dirty = true;
                return Outcome::Consumed;
            }
            ChatEvent::Gen(_) => return Outcome::Ignored,
            ChatEvent::Stored { id, role } => {
                if let Some(m) = self.session.as_mut().and_then(|s| {
                    s.messages
                        .iter_mut()
                        .rev()
                        .find(|m| m.id == 0 && m.role == role)
                }) {
                    m.id = id;
                }
            }
            ChatEvent::Add(m) => {
                if let Some(s) = self.session.as_mut() {
                    s.messages.push(m);
                }
            }
            ChatEvent::Finished { msg, stats } => {
                if let Some(s) = self.session.as_mut() {
                    s.messages.push(msg);
                }
                self.note = None;
                self.last = Some(stats);
                self.stream = None;
            }
            ChatEvent::Failed { partial, error } => {
                if let (Some(s), Some(p)) = (self.session.as_mut(), partial) {
                    s.messages.push(p);
                }
                self.note = Some((error, true));
                self.stream = None;
            }
            ChatEvent::Attach(a) => {
                self.note = Some((
                    format!("attached: {} (goes with your next message)", a.title),
                    false,
                ));
                self.pending.push(a);
            }
            ChatEvent::Model(m) => self.model = m,
            ChatEvent::Sources(a) => {
                if let Some(m) = self
                    .session
                    .as_mut()
                    .and_then(|s| s.messages.iter_mut().rev().find(|m| m.role == "user"))
                {
                    m.attachments.push(a);
                }
            }
        }
        self.changed(cx);
        Outcome::Consumed
    }
}
