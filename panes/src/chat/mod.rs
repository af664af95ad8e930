/*!
The chat pane: a conversation with the local model, beside the shell and the grid.

The pane shows one chat session (the server loads it from state.db and stores every message),
an input box (tui-textarea: several lines, emacs keys, undo), attachments waiting to go with
the next question (context from other panes, folded to one line until opened), and a footer
with the model, tokens and tokens per second. Answers stream in token by token; markdown is
drawn by `widgets::markdown`, code blocks coloured by syntect and copyable.

Like every pane it only sends requests (`ChatRequest`) and takes events (`ChatEvent`): the
pane never sees llama.cpp, so it is tested by feeding it events and reading its screen.
*/

mod actions;
pub use actions::ChatVerb;
mod draw;

use crate::llm::StoredMsg;
use crate::llm::{folds, Attachment, ChatEvent, ChatRequest, ChatSession, GenStats, LlmEvent};
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, KeyEvent, Outcome, Pane, PaneKind, PaneState,
    RenderCx, UiCommand,
};
use fieldkit_widgets::markdown::{self, CodeBlock, MdLine};
use fieldkit_widgets::table::{put, text_width};
use fieldkit_widgets::{Hint, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use std::borrow::Cow;
use tui_textarea::TextArea;

/// The chat's registration: it needs the llm engine.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Chat,
    all_keys: false,
    actions: ChatVerb::CATALOGUE,
    engines: &[crate::Engine::Llm],
    fresh: |_| Box::new(ChatPane::new(None)),
    restore: |st| match st {
        PaneState::Chat { session } => Some(Box::new(ChatPane::new(*session))),
        _ => None,
    },
};

/// Most lines the input box grows to.
const INPUT_MAX: u16 = 6;

/// The answer being written.
#[derive(Debug, Default, Clone, PartialEq)]
struct Stream {
    text: String,
    tokens: u32,
    /// Loading the model: how far (0..=1).
    loading: Option<f32>,
    /// Reading the prompt: tokens done, of all.
    prompt: Option<(u32, u32)>,
}

#[derive(Debug)]
pub struct ChatPane {
    session: Option<ChatSession>,
    /// The session to ask for when the pane comes back from a saved layout.
    wanted: Option<i64>,
    input: TextArea<'static>,
    pending: Vec<Attachment>,
    /// Attachments drawn in full rather than as one line each.
    expanded: bool,
    stream: Option<Stream>,
    /// A line for the footer: an error (true) or a note.
    note: Option<(String, bool)>,
    model: String,
    last: Option<GenStats>,
    /// Lines scrolled up from the bottom (0 follows the conversation).
    scroll: usize,
    /// Which code block `copy-code` copies next, counted from the last.
    copy_back: usize,
    retrieval: bool,
    /// Rendered conversation for a width, rebuilt when either changes.
    cache: Option<(u16, u64, Vec<MdLine>)>,
    /// Bumped whenever what the conversation shows changes.
    version: u64,
}

impl Default for ChatPane {
    fn default() -> Self {
        ChatPane::new(None)
    }
}

impl ChatPane {
    pub fn new(session: Option<i64>) -> ChatPane {
        ChatPane {
            session: None,
            wanted: session,
            input: TextArea::default(),
            pending: Vec::new(),
            expanded: false,
            stream: None,
            note: None,
            model: String::new(),
            last: None,
            scroll: 0,
            copy_back: 0,
            retrieval: false,
            cache: None,
            version: 0,
        }
    }

    /// The session the server should load for this pane.
    pub fn wanted(&self) -> Option<i64> {
        self.session.as_ref().map(|s| s.id).or(self.wanted)
    }

    pub fn is_streaming(&self) -> bool {
        self.stream.is_some()
    }

    fn changed(&mut self, cx: &mut Cx) {
        self.version += 1;
        cx.dirty = true;
    }

    fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }
}

impl Pane for ChatPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Chat
    }

    fn title(&self) -> Cow<'_, str> {
        match &self.session {
            Some(s) => Cow::Owned(format!("chat: {}", s.name)),
            None => Cow::Borrowed("chat"),
        }
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::Pane { .. } => match ChatVerb::of(a) {
                Some((verb, arg)) => self.pane_action(verb, arg, cx),
                None => Outcome::Ignored,
            },
            Action::Refresh => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Open(
                    self.wanted(),
                ))));
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
        if k.kind == KeyEventKind::Release {
            return Outcome::Ignored;
        }
        match k.code {
            KeyCode::Enter if k.modifiers.is_empty() => {
                self.send(false, cx);
                return Outcome::Consumed;
            }
            KeyCode::Enter => {
                // Alt-Enter, Shift-Enter: a new line in the message.
                self.input.insert_newline();
            }
            KeyCode::Char('j') if k.modifiers == KeyModifiers::CONTROL => {
                self.input.insert_newline();
            }
            KeyCode::Backspace if self.input_text().is_empty() && !self.pending.is_empty() => {
                // Backspace in an empty box drops the last attachment.
                if let Some(a) = self.pending.pop() {
                    self.note = Some((format!("dropped the attachment {}", a.title), false));
                }
            }
            _ => {
                self.input.input(tui_textarea::Input::from(*k));
            }
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => {
                cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Open(
                    self.wanted(),
                ))));
                Outcome::Consumed
            }
            EngineEvent::Chat(c) => self.on_chat(c, cx),
            _ => Outcome::Ignored,
        }
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        if area.height < 4 || area.width < 12 {
            return;
        }
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        let input_h = self.input_height(area);
        let pending_h = (self.pending.len() as u16).min(3);
        let convo_h = area.height.saturating_sub(input_h + pending_h + 2);
        let width = area.width.saturating_sub(1);
        self.refresh_cache(width, t);
        let tail = self.tail_lines(width, t);
        let cached: &[MdLine] = self.cache.as_ref().map(|c| &c.2[..]).unwrap_or(&[]);
        let total = cached.len() + tail.len();
        let max_scroll = total.saturating_sub(convo_h as usize);
        self.scroll = self.scroll.min(max_scroll);
        let start = total.saturating_sub(convo_h as usize + self.scroll);
        if total == 0 {
            let hint = match &self.session {
                None => "loading the chat…",
                Some(_) => "Ask anything: Enter sends, Alt-Enter adds a line. Attach a pane's context with prefix a.",
            };
            put(
                buf,
                area.x,
                area.y,
                area.width,
                hint,
                Style::new().fg(t.muted),
            );
        }
        let cached: &[MdLine] = self.cache.as_ref().map(|c| &c.2[..]).unwrap_or(&[]);
        let lines = cached.iter().chain(tail.iter());
        for (i, l) in lines.skip(start).take(convo_h as usize).enumerate() {
            let y = area.y + i as u16;
            let mut x = area.x;
            for (s, st) in l {
                let w = text_width(s) as u16;
                let room = (area.x + width).saturating_sub(x);
                if room == 0 {
                    break;
                }
                put(buf, x, y, w.min(room), s, *st);
                x += w.min(room);
            }
        }
        if self.scroll > 0 {
            let s = format!(" ↑ {} more below ", self.scroll);
            let w = text_width(&s) as u16;
            put(
                buf,
                area.x + area.width.saturating_sub(w + 1),
                area.y + convo_h.saturating_sub(1),
                w,
                &s,
                Style::new().fg(t.bg).bg(t.warn),
            );
        }
        // Attachments waiting for the next message.
        let mut y = area.y + convo_h;
        for a in self.pending.iter().take(pending_h as usize) {
            let s = format!("+ attached: {} · {} lines", a.title, a.body.lines().count());
            put(buf, area.x, y, area.width, &s, Style::new().fg(t.hint_key));
            y += 1;
        }
        // The input box: a rule, then the text.
        let rule = if self.stream.is_some() {
            "─ answering… Esc stops "
        } else {
            "─ message · Enter sends · Alt-Enter new line "
        };
        put(
            buf,
            area.x,
            y,
            area.width,
            &format!(
                "{rule}{}",
                "─".repeat((area.width as usize).saturating_sub(text_width(rule)))
            ),
            Style::new().fg(if rcx.focused {
                t.border_focused
            } else {
                t.border
            }),
        );
        y += 1;
        let (row, _) = self.input.cursor();
        let top = row.saturating_sub(input_h as usize - 1);
        for (i, l) in self
            .input
            .lines()
            .iter()
            .skip(top)
            .take(input_h as usize)
            .enumerate()
        {
            put(
                buf,
                area.x,
                y + i as u16,
                area.width,
                l,
                Style::new().fg(t.fg),
            );
        }
        let (foot, style) = self.footer(t);
        put(
            buf,
            area.x,
            area.y + area.height - 1,
            area.width,
            &foot,
            style,
        );
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        if area.height < 4 {
            return None;
        }
        let input_h = self.input_height(area);
        let (row, col) = self.input.cursor();
        let top = row.saturating_sub(input_h as usize - 1);
        let line = self.input.lines().get(row)?;
        let before: String = line.chars().take(col).collect();
        let x = area.x + text_width(&before) as u16;
        let y = area.y + area.height - 1 - input_h + (row - top) as u16;
        (x < area.x + area.width).then(|| Position::new(x, y))
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.stream.is_some() {
            out.push(Hint::new("Esc", "stop"));
        } else {
            out.push(Hint::new("Enter", "send"));
        }
        crate::Hints::WithKeymap
    }

    fn busy(&self) -> Option<String> {
        self.stream
            .is_some()
            .then(|| "An answer is being written (what came so far is kept).".into())
    }

    fn save(&self) -> PaneState {
        PaneState::Chat {
            session: self.wanted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Role;
    use crate::testkit::settings;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn opened_asks_for_its_session() {
        let mut cx = Cx::default();
        ChatPane::new(Some(7)).on_engine(EngineEvent::Opened, &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Chat(ChatRequest::Open(
                Some(7)
            )))]
        );
        let mut cx = Cx::default();
        ChatPane::new(None).on_engine(EngineEvent::Opened, &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Chat(ChatRequest::Open(None)))]
        );
    }

    fn msg(id: i64, role: &str, content: &str) -> StoredMsg {
        StoredMsg {
            id,
            role: role.into(),
            content: content.into(),
            attachments: vec![],
            meta: String::new(),
        }
    }

    fn pane_with(messages: Vec<StoredMsg>) -> ChatPane {
        let mut p = ChatPane::new(None);
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Session(ChatSession {
                id: 1,
                name: "field notes".into(),
                system: "Be brief.".into(),
                messages,
            })),
            &mut cx,
        );
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Model("gemma-3-270m".into())),
            &mut cx,
        );
        p
    }

    fn typed(p: &mut ChatPane, s: &str) -> Cx {
        let mut cx = Cx::default();
        for ch in s.chars() {
            p.on_input(&KeyEvent::from(KeyCode::Char(ch)), &mut cx);
        }
        cx
    }

    fn screen(p: &mut ChatPane, w: u16, h: u16) -> String {
        crate::testkit::snapshot(p, w, h)
    }

    fn token(p: &mut ChatPane, t: &str) {
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Gen(LlmEvent::Token(t.into()))),
            &mut Cx::default(),
        );
    }

    #[test]
    fn a_teammates_message_shows_in_the_session_it_belongs_to_and_no_other() {
        let mut p = pane_with(vec![msg(1, "user", "q"), msg(2, "assistant", "a")]);
        typed(&mut p, "half typed");
        token(&mut p, "streaming");
        let other = ChatSession {
            id: 9,
            name: "other".into(),
            system: String::new(),
            messages: vec![msg(5, "user", "not here")],
        };
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Updated(other)),
            &mut Cx::default(),
        );
        assert!(!screen(&mut p, 80, 24).contains("not here"));
        let mine = ChatSession {
            id: 1,
            name: "field notes".into(),
            system: "Be brief.".into(),
            messages: vec![
                msg(1, "user", "q"),
                msg(2, "assistant", "a"),
                msg(3, "user", "from the tent: channel 9"),
            ],
        };
        let mut cx = Cx::default();
        p.on_engine(EngineEvent::Chat(ChatEvent::Updated(mine)), &mut cx);
        assert!(cx.dirty);
        let shown = screen(&mut p, 80, 24);
        assert!(shown.contains("from the tent: channel 9"), "{shown}");
        // What was being typed and written is left alone.
        assert_eq!(p.input_text(), "half typed");
        assert!(p.is_streaming() && shown.contains("streaming"), "{shown}");
    }

    #[test]
    fn enter_sends_the_conversation_and_tokens_stream_in() {
        let mut p = pane_with(vec![msg(1, "user", "hi"), msg(2, "assistant", "hello")]);
        typed(&mut p, "list files");
        let mut cx = Cx::default();
        p.on_input(&KeyEvent::from(KeyCode::Enter), &mut cx);
        let Some(Effect::Engine(EngineRequest::Chat(ChatRequest::Send { user, .. }))) =
            cx.effects.first()
        else {
            panic!("no send: {:?}", cx.effects);
        };
        assert_eq!(user.content, "list files");
        // What the server will send: the stored session plus this message.
        let (turns, _) = crate::llm::turns_of(p.session.as_ref().unwrap());
        assert_eq!(
            turns.iter().map(|t| t.role).collect::<Vec<_>>(),
            vec![Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert!(p.is_streaming());
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Gen(LlmEvent::Prompt {
                done: 64,
                total: 256,
            })),
            &mut Cx::default(),
        );
        let s = screen(&mut p, 60, 14);
        assert!(
            s.contains("reading the prompt [█████░") && s.contains("25% of 256 toke"),
            "{s}"
        );
        for t in ["Use", " `ls", " -la`", "."] {
            token(&mut p, t);
        }
        let s = screen(&mut p, 60, 14);
        assert!(s.contains("Use ls -la.▌"), "{s}");
        assert!(s.contains("4 tokens · Esc stops"), "{s}");
        // A second Enter while it answers does not send.
        typed(&mut p, "more");
        let mut cx = Cx::default();
        p.on_input(&KeyEvent::from(KeyCode::Enter), &mut cx);
        assert!(cx.effects.is_empty());
        // Esc (the keymap's `cancel`) asks the server to stop.
        let mut cx = Cx::default();
        p.on_action(
            &Action::Pane {
                name: "cancel",
                arg: None,
            },
            &mut cx,
        );
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Chat(ChatRequest::Cancel))]
        );
    }

    #[test]
    fn alt_enter_adds_a_line_and_regenerate_resends_the_last_question() {
        let mut p = pane_with(vec![msg(1, "user", "q"), msg(2, "assistant", "a")]);
        typed(&mut p, "one");
        p.on_input(
            &KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT),
            &mut Cx::default(),
        );
        typed(&mut p, "two");
        assert_eq!(p.input_text(), "one\ntwo");
        let mut cx = Cx::default();
        p.on_action(
            &Action::Pane {
                name: "regenerate",
                arg: None,
            },
            &mut cx,
        );
        let Some(Effect::Engine(EngineRequest::Chat(ChatRequest::Send {
            user, replace_last, ..
        }))) = cx.effects.first()
        else {
            panic!("{:?}", cx.effects);
        };
        assert!(replace_last);
        assert_eq!(user.content, "q");
        // The old answer is gone from what is shown (the server drops it from state.db).
        let (turns, _) = crate::llm::turns_of(p.session.as_ref().unwrap());
        assert_eq!(turns.last().map(|t| t.content.as_str()), Some("q"));
        // The input is kept for later.
        assert_eq!(p.input_text(), "one\ntwo");
    }

    #[test]
    fn copy_code_copies_the_last_block_then_the_one_before() {
        let mut p = pane_with(vec![
            msg(1, "user", "q"),
            msg(2, "assistant", "```sh\nls\n```\nand\n```py\nprint(1)\n```"),
        ]);
        let copy = |p: &mut ChatPane| {
            let mut cx = Cx::default();
            p.on_action(
                &Action::Pane {
                    name: "copy-code",
                    arg: None,
                },
                &mut cx,
            );
            cx.effects
        };
        assert_eq!(
            copy(&mut p),
            vec![Effect::Ui(UiCommand::Clipboard("print(1)".into()))]
        );
        assert_eq!(
            copy(&mut p),
            vec![Effect::Ui(UiCommand::Clipboard("ls".into()))]
        );
    }

    #[test]
    fn summaries_show_where_they_happened_and_turns_skip_what_they_fold() {
        let mut sum = msg(5, "summary", "They talked about water.");
        sum.meta = "folds:2".into();
        let p = pane_with(vec![
            msg(1, "user", "old q"),
            msg(2, "assistant", "old a"),
            msg(3, "user", "new q"),
            msg(4, "assistant", "new a"),
            sum,
        ]);
        let (turns, _) = crate::llm::turns_of(p.session.as_ref().unwrap());
        let texts: Vec<&str> = turns.iter().map(|t| t.content.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Be brief.",
                "Summary of the earlier conversation: They talked about water.",
                "new q",
                "new a"
            ]
        );
        let mut p = p;
        let s = screen(&mut p, 70, 20);
        let at_summary = s.find("summarised here").unwrap();
        assert!(
            s.find("old a").unwrap() < at_summary && at_summary < s.find("new q").unwrap(),
            "{s}"
        );
    }

    #[test]
    fn attachments_go_with_the_next_message() {
        let mut p = pane_with(vec![]);
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Attach(Attachment {
                title: "grid trips.csv".into(),
                body: "id INTEGER, city VARCHAR\n1, Oslo".into(),
            })),
            &mut Cx::default(),
        );
        typed(&mut p, "which city?");
        let mut cx = Cx::default();
        p.on_input(&KeyEvent::from(KeyCode::Enter), &mut cx);
        let Some(Effect::Engine(EngineRequest::Chat(ChatRequest::Send { user, .. }))) =
            cx.effects.first()
        else {
            panic!()
        };
        assert_eq!(user.attachments.len(), 1);
        let last = crate::llm::user_prompt(user);
        assert!(
            last.starts_with("grid trips.csv:\n```\nid INTEGER"),
            "{last}"
        );
        assert!(last.ends_with("which city?"));
    }

    // Snapshots: 80x24 and a wide size, each state the issue names.

    #[test]
    fn snapshot_streaming() {
        let mut p = pane_with(vec![msg(1, "user", "What does `du -sh` print?"), {
            let mut m = msg(
                2,
                "assistant",
                "The **total size** of each argument, in *human* units.",
            );
            m.meta = "24 tokens · 31.5 tok/s · gemma-3-270m".into();
            m
        }]);
        typed(&mut p, "and for hidden files?");
        p.on_input(&KeyEvent::from(KeyCode::Enter), &mut Cx::default());
        for t in ["Add", " a", " glob", ":", " `du -sh .[!.]*`"] {
            token(&mut p, t);
        }
        settings().bind(|| {
            insta::assert_snapshot!("chat_streaming_80x24", screen(&mut p, 80, 24));
            insta::assert_snapshot!("chat_streaming_140x30", screen(&mut p, 140, 30));
        });
    }

    #[test]
    fn snapshot_code_block() {
        let mut a = msg(
            2,
            "assistant",
            "## Disk use\n\nRun this:\n\n```sh\n# biggest folders first\ndu -h --max-depth=1 | sort -rh | head -n 5\n```\n\n- `-h` human sizes\n- `sort -rh` largest first",
        );
        a.meta = "48 tokens · 29.0 tok/s · gemma-3-270m".into();
        let mut p = pane_with(vec![msg(1, "user", "what is using my disk?"), a]);
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Finished {
                msg: msg(3, "assistant", "Anything else?"),
                stats: GenStats {
                    prompt_tokens: 61,
                    tokens: 3,
                    prompt_ms: 120.0,
                    gen_ms: 100.0,
                    ..Default::default()
                },
            }),
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_code_80x24", screen(&mut p, 80, 24));
            insta::assert_snapshot!("chat_code_140x30", screen(&mut p, 140, 30));
        });
    }

    #[test]
    fn snapshot_attachment() {
        let mut m = msg(1, "user", "Which city has the most trips?");
        m.attachments.push(Attachment {
            title: "grid trips_2024 (4 columns, rows 1-3 of 5000)".into(),
            body: "columns: id BIGINT, city_name VARCHAR, fare DOUBLE, _when DATE\nid\tcity_name\tfare\t_when\n0\tOslo\t0.0\t2024-01-01\n1\tLima\t1.5\t2024-01-02".into(),
        });
        let mut p = pane_with(vec![m]);
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Attach(Attachment {
                title: "terminal: last 40 lines".into(),
                body: "$ ls\nnotes.md trips.csv".into(),
            })),
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_attachment_folded_80x24", screen(&mut p, 80, 24));
        });
        p.on_action(
            &Action::Pane {
                name: "attachments",
                arg: None,
            },
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_attachment_open_140x30", screen(&mut p, 140, 30));
        });
    }

    #[test]
    fn snapshot_sources_whose_title_is_wider_than_the_pane_open_wrapped() {
        let mut m = msg(1, "user", "How often does the generator need diesel?");
        m.attachments.push(Attachment {
            title: "sources: /home/ana/notes/camp.md:1, /home/ana/notes/fuel.md:26 · found by \
                    words alone, as their vectors are not bge's 384 dimensions: /home/ana/notes \
                    (nomic, 768 dimensions); `fieldkit index --rebuild` embeds them again"
                .into(),
            body: "Passages from the user's files.\n\n--- /home/ana/notes/camp.md:1 ---\nThe generator needs diesel every six hours.".into(),
        });
        let mut p = pane_with(vec![m]);
        p.on_action(
            &Action::Pane {
                name: "attachments",
                arg: None,
            },
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_sources_open_80x24", screen(&mut p, 80, 24));
            insta::assert_snapshot!("chat_sources_open_140x30", screen(&mut p, 140, 30));
        });
    }

    #[test]
    fn snapshot_error() {
        let mut p = pane_with(vec![msg(1, "user", "hello")]);
        p.stream = Some(Stream::default());
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Failed {
                partial: None,
                error: "The llm worker stopped (killed by signal 9); it has been restarted. \
                        Your message is kept: C-r asks again."
                    .into(),
            }),
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_error_80x24", screen(&mut p, 80, 24));
            insta::assert_snapshot!("chat_error_140x30", screen(&mut p, 140, 30));
        });
    }

    #[test]
    fn snapshot_loading() {
        let mut p = pane_with(vec![]);
        typed(&mut p, "hello");
        p.on_input(&KeyEvent::from(KeyCode::Enter), &mut Cx::default());
        p.on_engine(
            EngineEvent::Chat(ChatEvent::Gen(LlmEvent::Loading {
                model: "gemma-3-270m".into(),
                progress: 0.4,
            })),
            &mut Cx::default(),
        );
        settings().bind(|| {
            insta::assert_snapshot!("chat_loading_80x24", screen(&mut p, 80, 24));
        });
    }
}
