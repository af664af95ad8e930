//! The editor's keys and verbs (what each does to the buffer), and what tells the server the
//! text changed, so it keeps unsaved text a moment after typing stops and hands it back after
//! a crash.

use super::*;

/// Keys and verbs, and what tells the server that text changed.
impl EditorPane {
    pub(super) fn action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let Some((verb, arg)) = EditorVerb::of(a) else {
            return Outcome::Ignored;
        };
        cx.dirty = true;
        self.note = None;
        // Asking again is only the same verb straight after.
        let armed = self.armed.take() == Some(verb);
        match verb {
            EditorVerb::Save => self.save(cx, None),
            EditorVerb::SaveAs => match arg {
                Some(p) if !p.trim().is_empty() => self.save(cx, Some(p.trim().to_string())),
                _ => cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "save as".into(),
                    initial: self.buf().path.clone().unwrap_or_default(),
                    then: "save-as".into(),
                    on_empty: None,
                })),
            },
            EditorVerb::Undo => {
                if !self.buf_mut().doc.undo() {
                    self.note = Some("nothing to undo".into());
                }
            }
            EditorVerb::Redo => {
                if !self.buf_mut().doc.redo() {
                    self.note = Some("nothing to redo".into());
                }
            }
            EditorVerb::Find => {
                self.bar = Bar::Find {
                    replace: None,
                    field: 0,
                    error: None,
                }
            }
            EditorVerb::Replace => {
                self.bar = Bar::Find {
                    replace: Some(String::new()),
                    field: 0,
                    error: None,
                }
            }
            EditorVerb::FindNext => self.find_step(true),
            EditorVerb::FindPrev => self.find_step(false),
            EditorVerb::GotoLine => match arg.map(|a| a.trim().parse::<usize>()) {
                Some(Ok(n)) if n >= 1 => {
                    let d = &mut self.buf_mut().doc;
                    let i = d.index(n - 1, 0);
                    d.move_to(i, false);
                }
                Some(_) => self.note = Some("go to line: a number from 1".into()),
                None => cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "go to line".into(),
                    initial: String::new(),
                    then: "goto-line".into(),
                    on_empty: None,
                })),
            },
            EditorVerb::SelectAll => {
                let d = &mut self.buf_mut().doc;
                d.sel = Sel {
                    anchor: 0,
                    head: d.rope.len_chars(),
                };
            }
            EditorVerb::Copy => self.copy(cx, false),
            EditorVerb::Cut => self.copy(cx, true),
            EditorVerb::Paste => {
                if self.editable() {
                    Self::ask(cx, EditorRequest::Paste)
                }
            }
            EditorVerb::Wrap => {
                self.wrap = !self.wrap;
                for b in &mut self.bufs {
                    b.left = 0;
                    b.top_row = 0;
                    b.doc.want_col = None;
                }
            }
            EditorVerb::NextBuffer => self.active = (self.active + 1) % self.bufs.len(),
            EditorVerb::PrevBuffer => {
                self.active = (self.active + self.bufs.len() - 1) % self.bufs.len()
            }
            EditorVerb::CloseBuffer => self.close_buffer(armed),
            EditorVerb::FindFile => {
                let near = self.buf().path.as_deref().and_then(|p| {
                    std::path::Path::new(p)
                        .parent()
                        .map(|d| d.to_string_lossy().into_owned())
                });
                Self::ask(cx, EditorRequest::Pick { near });
            }
            EditorVerb::AiExplain => self.ask_ai(crate::llm::EditHow::Explain, cx),
            EditorVerb::AiFix => self.ask_ai(crate::llm::EditHow::Fix, cx),
            EditorVerb::AiRewrite => match arg.map(str::trim).filter(|a| !a.is_empty()) {
                Some(how) => self.ask_ai(crate::llm::EditHow::Rewrite(how.to_string()), cx),
                None => cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "rewrite the selection: how?".into(),
                    initial: String::new(),
                    then: "ai-rewrite".into(),
                    on_empty: None,
                })),
            },
            EditorVerb::Reload => {
                let b = self.buf();
                match (&b.path, b.doc.modified()) {
                    (None, _) => self.note = Some("a scratch buffer has no file".into()),
                    (Some(_), true) if !armed => {
                        self.armed = Some(EditorVerb::Reload);
                        self.note = Some(
                            "unsaved changes: reload again replaces them with the file".into(),
                        );
                    }
                    (Some(p), _) => {
                        let p = p.clone();
                        let b = self.buf_mut();
                        b.reloading = true;
                        b.loading = true;
                        Self::ask(cx, EditorRequest::Open { path: p });
                    }
                }
            }
        }
        self.follow();
        Outcome::Consumed
    }

    pub(super) fn input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        // A note lasts until the next key.
        if self.note.take().is_some() {
            cx.dirty = true;
        }
        if self.ai_shown() {
            cx.dirty = true;
            return self.ai_input(k);
        }
        if k.code == KeyCode::Esc && self.ai_asking() {
            self.stop_ai(cx);
            return Outcome::Consumed;
        }
        if self.bar != Bar::None {
            let o = self.bar_input(k);
            if o == Outcome::Consumed {
                cx.dirty = true;
                return o;
            }
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        let shift = k.modifiers.contains(KeyModifiers::SHIFT);
        let h = self.view.1.max(2) as isize - 1;
        self.armed = None;
        match k.code {
            KeyCode::Left if ctrl => self.move_word(false, shift),
            KeyCode::Right if ctrl => self.move_word(true, shift),
            KeyCode::Left => {
                let d = &mut self.buf_mut().doc;
                let r = d.sel.range();
                let to = if !shift && !r.is_empty() {
                    r.start
                } else {
                    d.sel.head.saturating_sub(1)
                };
                d.move_to(to, shift);
                d.want_col = None;
            }
            KeyCode::Right => {
                let d = &mut self.buf_mut().doc;
                let r = d.sel.range();
                let to = if !shift && !r.is_empty() {
                    r.end
                } else {
                    d.sel.head + 1
                };
                d.move_to(to, shift);
                d.want_col = None;
            }
            KeyCode::Up => self.move_v(-1, shift),
            KeyCode::Down => self.move_v(1, shift),
            KeyCode::PageUp => self.move_v(-h, shift),
            KeyCode::PageDown => self.move_v(h, shift),
            KeyCode::Home if ctrl => self.buf_mut().doc.move_to(0, shift),
            KeyCode::End if ctrl => {
                let d = &mut self.buf_mut().doc;
                d.move_to(d.rope.len_chars(), shift);
            }
            KeyCode::Home => {
                // To the first non-blank, then to the line's start.
                let d = &mut self.buf_mut().doc;
                let (line, col) = d.line_col(d.sel.head);
                let ind = d.indent_of(line).chars().count();
                let to = if col == ind { 0 } else { ind };
                let i = d.index(line, to);
                d.move_to(i, shift);
                d.want_col = None;
            }
            KeyCode::End => {
                let d = &mut self.buf_mut().doc;
                let (line, _) = d.line_col(d.sel.head);
                let i = d.index(line, usize::MAX);
                d.move_to(i, shift);
                d.want_col = None;
            }
            _ if is_edit(k) && !self.editable() => {}
            KeyCode::Enter => {
                // Auto-indent: the new line starts as indented as this one.
                let d = &mut self.buf_mut().doc;
                let (line, _) = d.line_col(d.sel.range().start);
                let ind = d.indent_of(line);
                d.type_text(&format!("\n{ind}"));
                d.break_typing();
            }
            KeyCode::Backspace => self.buf_mut().doc.backspace(),
            KeyCode::Delete => self.buf_mut().doc.delete(),
            KeyCode::Tab => self.indent(false),
            KeyCode::BackTab => self.indent(true),
            KeyCode::Char(c) if !ctrl && !alt => {
                let mut s = [0u8; 4];
                self.buf_mut().doc.type_text(c.encode_utf8(&mut s));
            }
            _ => return Outcome::Ignored,
        }
        self.follow();
        cx.dirty = true;
        Outcome::Consumed
    }

    /// Tells the server the text changed (it keeps unsaved text a moment after typing
    /// stops, so a crash loses at most that moment).
    pub(super) fn notice_change(&mut self, cx: &mut Cx) {
        if self.sql {
            return;
        }
        let v: u64 = self.bufs.iter().map(|b| b.doc.version).sum();
        if v != self.seen_version {
            self.seen_version = v;
            Self::ask(cx, EditorRequest::Changed);
        }
    }

    /// What to keep of every buffer: the unsaved ones' text, and which are saved (their kept
    /// copies go). Only what changed since the last keep is sent.
    pub(super) fn keep(&mut self, cx: &mut Cx) {
        let mut out = Vec::new();
        for b in &mut self.bufs {
            if b.kept_version == Some(b.doc.version) || b.loading {
                continue;
            }
            b.kept_version = Some(b.doc.version);
            let modified = b.doc.modified();
            if b.path.is_none() && b.doc.rope.len_chars() == 0 && !modified {
                continue;
            }
            out.push(KeptBuf {
                path: b.path.clone(),
                text: if modified {
                    b.doc.rope.clone()
                } else {
                    Rope::new()
                },
                crlf: b.crlf,
                stamp: b.stamp,
                modified,
                history: modified.then(|| b.doc.history()),
            });
        }
        if !out.is_empty() {
            Self::ask(cx, EditorRequest::Keep(out));
        }
    }

    /// Text kept from before the server stopped: the buffer holds it, unsaved.
    pub(super) fn recovered(
        &mut self,
        path: Option<String>,
        text: Rope,
        crlf: bool,
        stamp: Option<FileStamp>,
        history: Option<History>,
    ) {
        let i = match &path {
            Some(p) => self.slot_for(p),
            None => match self.bufs.iter().position(|b| b.path.is_none()) {
                Some(i) => i,
                None => {
                    self.bufs.push(Buf::default());
                    self.bufs.len() - 1
                }
            },
        };
        let b = &mut self.bufs[i];
        b.doc = Doc::new(text);
        // Unsaved: it differs from the file (or has none).
        b.doc.version = 1;
        b.doc.mark_unsaved();
        if let Some(h) = history {
            b.doc.restore_history(h, false);
        }
        b.kept_version = Some(1);
        b.crlf = crlf;
        b.stamp = stamp;
        b.loading = false;
        b.restoring = false;
        self.hl = None;
        self.note = Some(format!(
            "{}: unsaved changes from before the server stopped, recovered (C-s saves them)",
            b.name()
        ));
    }
}
