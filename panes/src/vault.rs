/*!
The vault pane (`open vault`). Locked, it asks for the passphrase (typed into the pane, shown as
a fixed row of dots whatever its length, never echoed, logged or kept once sent; `fieldkit vault
unlock` from any shell does the same). Unlocked, it lists the entries, fuzzy-searched with nucleo
over folders, titles and tags as you type, and shows the one under the cursor: secrets masked
until revealed (and masked again after `clip_seconds`), the TOTP code with its countdown, fields,
file and history. It adds, edits, moves and deletes (after a yes) through a form, and generates
passwords and passphrases.

The pane is modal (list, passphrase, form, delete confirmation, generator). While a mode takes
text (the passphrase, the form, the generator), `hints()` says `Hints::Typing` and the server
gives it every key but the prefix and `[[always]]` keys, so a binding never steals a letter.
Everything secret it holds is wiped when it is hidden, sent, locked or dropped.
*/

use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx,
};
use crossterm::event::{KeyCode, KeyModifiers};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32String};

/// Search text, as nucleo reads it (the queue pane uses `Search` too).
pub use nucleo_matcher::Utf32String as Utf32;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use std::borrow::Cow;

crate::verbs! {
    /// What the vault pane does itself.
    pub enum VaultVerb {
        Reveal = ("reveal", "", "Vault: show the selected entry's secret (masked again after a while)"),
        CopyPassword = ("copy-password", "", "Vault: copy the selected entry's password to the clipboard"),
        CopyUser = ("copy-user", "", "Vault: copy the selected entry's user name"),
        CopyTotp = ("copy-totp", "", "Vault: copy the selected entry's current TOTP code"),
        ShowTotp = ("show-totp", "", "Vault: show the selected entry's TOTP code and its countdown"),
        New = ("new-entry", "", "Vault: add an entry"),
        Edit = ("edit-entry", "", "Vault: edit the selected entry"),
        Move = ("move-entry", "", "Vault: move the selected entry to another folder"),
        Delete = ("delete-entry", "", "Vault: delete the selected entry (asks first)"),
        Generator = ("generator", "", "Vault: generate a password or passphrase"),
    }
}

/// The vault pane's registration: it needs the vault engine.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Vault,
    all_keys: false,
    actions: VaultVerb::CATALOGUE,
    engines: &[crate::Engine::Vault],
    fresh: |_| Box::new(VaultPane::default()),
    restore: |st| match st {
        PaneState::Vault => Some(Box::new(VaultPane::default())),
        _ => None,
    },
};

/// One entry as the pane shows it: everything but its secrets (password, TOTP secret, the
/// values of secret fields), which come one at a time when asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntrySummary {
    pub title: String,
    pub folder: String,
    pub user: String,
    pub url: String,
    /// login, note or file.
    pub kind: String,
    pub tags: Vec<String>,
    pub has_password: bool,
    pub has_totp: bool,
    /// A note is shown in the detail (a secure note's only when revealed).
    pub note: String,
    /// The entry's own fields: name, and the value unless the field is secret.
    pub fields: Vec<(String, Option<String>)>,
    /// The sealed file's name and size.
    pub file: Option<(String, u64)>,
    /// How many old passwords it keeps.
    pub history: usize,
    /// When it last changed, as text.
    pub updated: String,
}

impl EntrySummary {
    pub fn path(&self) -> String {
        if self.folder.is_empty() {
            self.title.clone()
        } else {
            format!("{}/{}", self.folder, self.title)
        }
    }
}

/// An entry as the add/edit form holds it. `password`/`totp` are `None` when left as they were.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EntryForm {
    pub title: String,
    pub folder: String,
    pub tags: String,
    pub user: String,
    pub password: Option<String>,
    pub url: String,
    pub totp: Option<String>,
    pub note: String,
}

impl std::fmt::Debug for EntryForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryForm {{ {:?}, <redacted> }}", self.title)
    }
}

impl EntryForm {
    fn wipe(&mut self) {
        for s in [&mut self.password, &mut self.totp].into_iter().flatten() {
            zero(s);
        }
        zero(&mut self.note);
    }
}

/// What the generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenSpec {
    /// Words of a passphrase; `None`: a password of `length` characters.
    pub words: Option<usize>,
    pub length: usize,
    pub lower: bool,
    pub upper: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            words: None,
            length: 24,
            lower: true,
            upper: true,
            digits: true,
            symbols: true,
        }
    }
}

/// From the pane to the vault's service.
#[derive(Clone, PartialEq)]
pub enum VaultRequest {
    /// The entries, now and after every change, lock or unlock.
    Watch,
    /// One field of an entry, answered with `Revealed` (or put on the clipboard).
    Field {
        title: String,
        field: String,
        to_clipboard: bool,
    },
    /// The passphrase typed into the pane.
    Unlock {
        passphrase: String,
    },
    /// A new entry (`original: None`) or changes to the one titled `original`.
    Save {
        original: Option<String>,
        form: EntryForm,
    },
    Delete {
        title: String,
    },
    Generate(GenSpec),
    /// Text the pane holds (a generated password) to the clipboard, cleared as a copy is.
    Copy {
        text: String,
    },
    /// Codes for this entry every second, until `Hide` or the reveal time is up.
    Totp {
        title: String,
    },
}

impl std::fmt::Debug for VaultRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultRequest::Watch => f.write_str("Watch"),
            VaultRequest::Field { title, field, .. } => write!(f, "Field({title:?}, {field})"),
            VaultRequest::Unlock { .. } => f.write_str("Unlock(<redacted>)"),
            VaultRequest::Save { original, .. } => write!(f, "Save({original:?}, <redacted>)"),
            VaultRequest::Delete { title } => write!(f, "Delete({title:?})"),
            VaultRequest::Generate(g) => write!(f, "Generate({g:?})"),
            VaultRequest::Copy { .. } => f.write_str("Copy(<redacted>)"),
            VaultRequest::Totp { title } => write!(f, "Totp({title:?})"),
        }
    }
}

/// From the vault's service to its panes.
#[derive(Clone, PartialEq)]
pub enum VaultEvent {
    Locked,
    Entries(Vec<EntrySummary>),
    /// A secret field of `title`, shown until `Hide`.
    Revealed {
        title: String,
        field: String,
        value: String,
    },
    /// A revealed secret's time is up: masked again.
    Hide,
    Note(String),
    /// The passphrase is being tried (Argon2id takes about a second).
    Unlocking,
    /// The passphrase did not open the vault.
    UnlockFailed(String),
    Generated {
        value: String,
        bits: f64,
    },
    /// The current code of `title`'s TOTP, and the seconds it has left.
    Totp {
        title: String,
        code: String,
        left: u64,
        period: u64,
    },
    /// An entry was saved (the form closes) or deleted.
    Saved(String),
    /// A save was refused: the form stays open with this sentence.
    Refused(String),
}

impl std::fmt::Debug for VaultEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultEvent::Locked => f.write_str("Locked"),
            VaultEvent::Entries(e) => write!(f, "Entries({})", e.len()),
            VaultEvent::Revealed { title, field, .. } => {
                write!(f, "Revealed({title:?}, {field}, <redacted>)")
            }
            VaultEvent::Hide => f.write_str("Hide"),
            VaultEvent::Note(n) => write!(f, "Note({n:?})"),
            VaultEvent::Unlocking => f.write_str("Unlocking"),
            VaultEvent::UnlockFailed(e) => write!(f, "UnlockFailed({e:?})"),
            VaultEvent::Generated { bits, .. } => write!(f, "Generated(<redacted>, {bits:.0})"),
            VaultEvent::Totp { title, left, .. } => write!(f, "Totp({title:?}, {left})"),
            VaultEvent::Saved(t) => write!(f, "Saved({t:?})"),
            VaultEvent::Refused(e) => write!(f, "Refused({e:?})"),
        }
    }
}

/// The form's fields, in order.
const FORM_FIELDS: [&str; 8] = [
    "title", "folder", "tags", "user", "password", "url", "totp", "note",
];

#[derive(Debug, Default)]
enum Mode {
    #[default]
    List,
    Form {
        original: Option<String>,
        form: EntryForm,
        at: usize,
        show_password: bool,
        error: Option<String>,
    },
    ConfirmDelete(String),
    Generator {
        spec: GenSpec,
        value: Option<(String, f64)>,
    },
}

#[derive(Default)]
pub struct VaultPane {
    /// `None`: locked.
    entries: Option<Vec<EntrySummary>>,
    /// The search text of each entry (folder, title, tags), kept for nucleo.
    haystacks: Vec<Utf32String>,
    /// Indices into `entries` that match the query, best first.
    shown: Vec<usize>,
    query: String,
    sel: usize,
    mode: Mode,
    /// The passphrase being typed while locked.
    passphrase: String,
    unlocking: bool,
    /// A revealed field: entry title, field, value.
    revealed: Option<(String, String, String)>,
    /// The TOTP code being shown: title, code, seconds left, period.
    totp: Option<(String, String, u64, u64)>,
    note: Option<String>,
    search: Option<Search>,
}

impl std::fmt::Debug for VaultPane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VaultPane {{ locked: {}, mode: {} }}",
            self.entries.is_none(),
            match self.mode {
                Mode::List => "list",
                Mode::Form { .. } => "form",
                Mode::ConfirmDelete(_) => "delete",
                Mode::Generator { .. } => "generator",
            }
        )
    }
}

/// Overwrites a secret's bytes before it is freed.
fn zero(s: &mut String) {
    // SAFETY: zero bytes are valid UTF-8.
    unsafe { s.as_bytes_mut().fill(0) };
    s.clear();
}

/// The entries that match `query` (nucleo, smart case, over folder, title and tags), best
/// first, ties in list order; every entry when the query is empty. `haystacks` are
/// `haystack(e)` of each entry, made once per list. Stateless: the pane uses `Search`.
pub fn filter(haystacks: &[Utf32String], query: &str, matcher: &mut Matcher) -> Vec<usize> {
    if query.trim().is_empty() {
        return (0..haystacks.len()).collect();
    }
    let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
    let mut keys: Vec<u64> = haystacks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| pattern.score(h.slice(..), matcher).map(|s| key(s, i)))
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(index).collect()
}

/// Score and position packed so that one integer sort puts the best first and ties in order.
fn key(score: u32, i: usize) -> u64 {
    (u64::from(u32::MAX - score) << 32) | i as u64
}

fn index(k: u64) -> usize {
    (k & 0xffff_ffff) as usize
}

/// Search as you type. A query that extends the last one (a letter typed at the end) is
/// matched against the last one's matches only, since a longer fuzzy pattern can only match
/// fewer; patterns with negation (`!`), alternatives (`|`) or escapes start over. Scoring is
/// split across the machine's cores (up to 4), each with its own matcher, and the results are
/// sorted as packed integers. What the vault bench measures is this.
pub struct Search {
    matchers: Vec<Matcher>,
    /// The queries typed so far, each a prefix of the next, with their matches (in list order)
    /// and their ranking: a Backspace goes back to the one before at no cost.
    stack: Vec<Typed>,
}

struct Typed {
    query: String,
    matched: Vec<usize>,
    shown: Vec<usize>,
}

/// How many typed queries `Search` keeps to go back to.
const KEPT: usize = 16;

impl Default for Search {
    fn default() -> Self {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        Search {
            matchers: (0..n).map(|_| Matcher::new(Config::DEFAULT)).collect(),
            stack: Vec::new(),
        }
    }
}

impl Search {
    /// Forgets the last query (the list changed).
    pub fn reset(&mut self) {
        self.stack.clear();
    }

    /// The positions in `haystacks` matching `query`, best first.
    pub fn run(&mut self, haystacks: &[Utf32String], query: &str) -> Vec<usize> {
        if query.trim().is_empty() {
            self.stack.clear();
            return (0..haystacks.len()).collect();
        }
        let narrowing = |q: &str| !q.contains(['!', '|', '\\']);
        if !narrowing(query) {
            self.stack.clear();
        }
        // Back to the longest query typed before that this one extends (or is).
        while self
            .stack
            .last()
            .is_some_and(|t| !query.starts_with(&t.query) || t.query.trim().is_empty())
        {
            self.stack.pop();
        }
        if let Some(t) = self.stack.last().filter(|t| t.query == query) {
            return t.shown.clone();
        }
        let from: Option<&Vec<usize>> = self.stack.last().map(|t| &t.matched);
        let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
        let total = from.as_ref().map_or(haystacks.len(), |m| m.len());
        let parts = self.matchers.len().min(total / 8192 + 1).max(1);
        let per = total.div_ceil(parts).max(1);
        let score = |m: &mut Matcher, range: std::ops::Range<usize>| -> Vec<u64> {
            let mut out = Vec::new();
            for j in range {
                let i = from.as_ref().map_or(j, |f| f[j]);
                if let Some(s) = pattern.score(haystacks[i].slice(..), m) {
                    out.push(key(s, i));
                }
            }
            out
        };
        let mut keys: Vec<u64> = if parts == 1 {
            score(&mut self.matchers[0], 0..total)
        } else {
            std::thread::scope(|sc| {
                let handles: Vec<_> = self
                    .matchers
                    .iter_mut()
                    .take(parts)
                    .enumerate()
                    .map(|(k, m)| {
                        let range = k * per..((k + 1) * per).min(total);
                        let score = &score;
                        sc.spawn(move || score(m, range))
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        keys.sort_unstable();
        let shown: Vec<usize> = keys.into_iter().map(index).collect();
        // Kept in list order, so the next narrowing visits the haystacks in memory order.
        let mut matched = shown.clone();
        matched.sort_unstable();
        if self.stack.len() == KEPT {
            self.stack.remove(0);
        }
        self.stack.push(Typed {
            query: query.to_string(),
            matched,
            shown: shown.clone(),
        });
        shown
    }
}

/// What search reads of an entry.
pub fn haystack(e: &EntrySummary) -> Utf32String {
    Utf32String::from(format!("{} {} {}", e.folder, e.title, e.tags.join(" ")).as_str())
}

impl VaultPane {
    fn rank(&mut self) {
        let search = self.search.get_or_insert_with(Search::default);
        self.shown = search.run(&self.haystacks, &self.query);
        self.sel = self.sel.min(self.shown.len().saturating_sub(1));
    }

    fn selected(&self) -> Option<&EntrySummary> {
        let i = *self.shown.get(self.sel)?;
        self.entries.as_ref()?.get(i)
    }

    fn ask(cx: &mut Cx, r: VaultRequest) {
        cx.push(Effect::Engine(EngineRequest::Vault(r)));
    }

    fn hide(&mut self) {
        if let Some((_, _, mut v)) = self.revealed.take() {
            zero(&mut v);
        }
        if let Some((_, mut c, _, _)) = self.totp.take() {
            zero(&mut c);
        }
    }

    fn close_mode(&mut self) {
        match std::mem::take(&mut self.mode) {
            Mode::Form { mut form, .. } => form.wipe(),
            Mode::Generator {
                value: Some((mut v, _)),
                ..
            } => zero(&mut v),
            _ => {}
        }
    }

    fn lock(&mut self) {
        self.hide();
        self.close_mode();
        zero(&mut self.passphrase);
        self.entries = None;
        self.haystacks.clear();
        self.search = None;
        self.shown.clear();
        self.query.clear();
        self.sel = 0;
        self.unlocking = false;
    }

    fn open_form(&mut self, original: Option<&EntrySummary>, at: usize) {
        let form = match original {
            Some(e) => EntryForm {
                title: e.title.clone(),
                folder: e.folder.clone(),
                tags: e.tags.join(", "),
                user: e.user.clone(),
                password: None,
                url: e.url.clone(),
                totp: None,
                note: e.note.clone(),
            },
            None => EntryForm {
                folder: self
                    .selected()
                    .map(|e| e.folder.clone())
                    .unwrap_or_default(),
                ..EntryForm::default()
            },
        };
        self.close_mode();
        self.mode = Mode::Form {
            original: original.map(|e| e.title.clone()),
            form,
            at,
            show_password: false,
            error: None,
        };
    }

    fn form_key(&mut self, k: &KeyEvent, cx: &mut Cx) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let Mode::Form {
            original,
            form,
            at,
            show_password,
            error,
        } = &mut self.mode
        else {
            return;
        };
        match k.code {
            KeyCode::Esc => {
                self.close_mode();
                return;
            }
            KeyCode::Enter => {
                if form.title.trim().is_empty() {
                    *error = Some("an entry needs a title".into());
                    return;
                }
                Self::ask(
                    cx,
                    VaultRequest::Save {
                        original: original.clone(),
                        form: form.clone(),
                    },
                );
                *error = Some("saving…".into());
                return;
            }
            KeyCode::Tab | KeyCode::Down => *at = (*at + 1) % FORM_FIELDS.len(),
            KeyCode::BackTab | KeyCode::Up => {
                *at = (*at + FORM_FIELDS.len() - 1) % FORM_FIELDS.len()
            }
            KeyCode::Char('r') if ctrl => *show_password = !*show_password,
            KeyCode::Char('g') if ctrl => {
                *at = 4;
                Self::ask(cx, VaultRequest::Generate(GenSpec::default()));
            }
            KeyCode::Backspace | KeyCode::Char(_) => {
                if ctrl && k.code != KeyCode::Char('u') {
                    return;
                }
                // A secret left untouched stays `None` (unchanged); editing it starts empty.
                let field: &mut String = match FORM_FIELDS[*at] {
                    "title" => &mut form.title,
                    "folder" => &mut form.folder,
                    "tags" => &mut form.tags,
                    "user" => &mut form.user,
                    "password" => form.password.get_or_insert_with(String::new),
                    "url" => &mut form.url,
                    "totp" => form.totp.get_or_insert_with(String::new),
                    _ => &mut form.note,
                };
                match k.code {
                    KeyCode::Backspace => {
                        field.pop();
                    }
                    KeyCode::Char(_) if ctrl => zero(field),
                    KeyCode::Char(c) => field.push(c),
                    _ => {}
                }
            }
            _ => return,
        }
        *error = None;
    }

    fn generator_key(&mut self, k: &KeyEvent, cx: &mut Cx) {
        let Mode::Generator { spec, value } = &mut self.mode else {
            return;
        };
        let before = *spec;
        match k.code {
            KeyCode::Esc => {
                self.close_mode();
                return;
            }
            KeyCode::Enter => {
                if let Some((v, _)) = value {
                    Self::ask(cx, VaultRequest::Copy { text: v.clone() });
                }
                self.close_mode();
                return;
            }
            KeyCode::Right | KeyCode::Char('+') => match &mut spec.words {
                Some(w) => *w = (*w + 1).min(20),
                None => spec.length = (spec.length + 1).min(256),
            },
            KeyCode::Left | KeyCode::Char('-') => match &mut spec.words {
                Some(w) => *w = w.saturating_sub(1).max(3),
                None => spec.length = spec.length.saturating_sub(1).max(4),
            },
            KeyCode::Char('w') => {
                spec.words = match spec.words {
                    Some(_) => None,
                    None => Some(6),
                }
            }
            KeyCode::Char('1') => spec.lower = !spec.lower,
            KeyCode::Char('2') => spec.upper = !spec.upper,
            KeyCode::Char('3') => spec.digits = !spec.digits,
            KeyCode::Char('4') => spec.symbols = !spec.symbols,
            KeyCode::Char('r') | KeyCode::Char(' ') => {}
            _ => return,
        }
        if !(spec.lower || spec.upper || spec.digits || spec.symbols) {
            *spec = before;
        }
        Self::ask(cx, VaultRequest::Generate(*spec));
    }
}

impl Pane for VaultPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Vault
    }

    fn title(&self) -> Cow<'_, str> {
        match &self.entries {
            None => Cow::Borrowed("vault (locked)"),
            Some(e) if self.query.is_empty() => Cow::Owned(format!("vault: {} entries", e.len())),
            Some(e) => Cow::Owned(format!(
                "vault: {} of {} entries",
                self.shown.len(),
                e.len()
            )),
        }
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let Some((verb, _)) = VaultVerb::of(a) else {
            return Outcome::Ignored;
        };
        if self.entries.is_none() {
            return Outcome::Ignored;
        }
        if verb == VaultVerb::New {
            self.open_form(None, 0);
            cx.dirty = true;
            return Outcome::Consumed;
        }
        if verb == VaultVerb::Generator {
            self.close_mode();
            self.mode = Mode::Generator {
                spec: GenSpec::default(),
                value: None,
            };
            Self::ask(cx, VaultRequest::Generate(GenSpec::default()));
            cx.dirty = true;
            return Outcome::Consumed;
        }
        let Some(e) = self.selected().cloned() else {
            self.note = Some("no entry selected".into());
            cx.dirty = true;
            return Outcome::Consumed;
        };
        let field = |f: &str, clip: bool| VaultRequest::Field {
            title: e.title.clone(),
            field: f.into(),
            to_clipboard: clip,
        };
        let main = if e.kind == "note" && !e.has_password {
            "note"
        } else {
            "password"
        };
        match verb {
            VaultVerb::Reveal => Self::ask(cx, field(main, false)),
            VaultVerb::CopyPassword => Self::ask(cx, field(main, true)),
            VaultVerb::CopyUser => Self::ask(cx, field("user", true)),
            VaultVerb::CopyTotp if e.has_totp => Self::ask(cx, field("totp", true)),
            VaultVerb::ShowTotp if e.has_totp => Self::ask(
                cx,
                VaultRequest::Totp {
                    title: e.title.clone(),
                },
            ),
            VaultVerb::CopyTotp | VaultVerb::ShowTotp => {
                self.note = Some(format!(
                    "{} has no TOTP secret (edit it to add one)",
                    e.title
                ))
            }
            VaultVerb::Edit => self.open_form(Some(&e), 0),
            VaultVerb::Move => self.open_form(Some(&e), 1),
            VaultVerb::Delete => {
                self.close_mode();
                self.mode = Mode::ConfirmDelete(e.title.clone());
            }
            VaultVerb::New | VaultVerb::Generator => {}
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        cx.dirty = true;
        if self.entries.is_none() {
            // The passphrase prompt.
            match k.code {
                KeyCode::Enter if !self.passphrase.is_empty() && !self.unlocking => {
                    let passphrase = std::mem::take(&mut self.passphrase);
                    Self::ask(cx, VaultRequest::Unlock { passphrase });
                    self.unlocking = true;
                    self.note = None;
                }
                KeyCode::Enter => {}
                KeyCode::Backspace => {
                    self.passphrase.pop();
                }
                KeyCode::Esc => zero(&mut self.passphrase),
                KeyCode::Char('u') if ctrl => zero(&mut self.passphrase),
                KeyCode::Char(c) if !ctrl && !self.unlocking => {
                    if self.passphrase.len() < 4096 {
                        self.passphrase.push(c);
                    }
                }
                _ => return Outcome::Ignored,
            }
            return Outcome::Consumed;
        }
        match &self.mode {
            Mode::Form { .. } => {
                self.form_key(k, cx);
                return Outcome::Consumed;
            }
            Mode::Generator { .. } => {
                self.generator_key(k, cx);
                return Outcome::Consumed;
            }
            Mode::ConfirmDelete(title) => {
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    Self::ask(
                        cx,
                        VaultRequest::Delete {
                            title: title.clone(),
                        },
                    );
                }
                self.mode = Mode::List;
                return Outcome::Consumed;
            }
            Mode::List => {}
        }
        let n = self.shown.len();
        match k.code {
            KeyCode::Down => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            KeyCode::Up => self.sel = self.sel.saturating_sub(1),
            KeyCode::PageDown => self.sel = (self.sel + 10).min(n.saturating_sub(1)),
            KeyCode::PageUp => self.sel = self.sel.saturating_sub(10),
            KeyCode::Backspace => {
                self.query.pop();
                self.sel = 0;
                self.rank();
            }
            KeyCode::Esc if !self.query.is_empty() => {
                self.query.clear();
                self.sel = 0;
                self.rank();
            }
            KeyCode::Char('u') if ctrl => {
                self.query.clear();
                self.sel = 0;
                self.rank();
            }
            KeyCode::Char(c) if !ctrl => {
                self.query.push(c);
                self.sel = 0;
                self.rank();
            }
            _ => {
                cx.dirty = false;
                return Outcome::Ignored;
            }
        }
        self.hide();
        self.note = None;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        let EngineEvent::Vault(ev) = ev else {
            if ev == EngineEvent::Opened {
                Self::ask(cx, VaultRequest::Watch);
                return Outcome::Consumed;
            }
            return Outcome::Ignored;
        };
        match ev {
            VaultEvent::Locked => self.lock(),
            VaultEvent::Entries(e) => {
                let keep = self.selected().map(|s| s.title.clone());
                self.hide();
                self.unlocking = false;
                zero(&mut self.passphrase);
                self.haystacks = e.iter().map(haystack).collect();
                if let Some(s) = self.search.as_mut() {
                    s.reset();
                }
                self.entries = Some(e);
                self.rank();
                // The cursor stays on the entry it was on (an edit, a save elsewhere).
                if let (Some(t), Some(list)) = (keep, &self.entries) {
                    if let Some(p) = self.shown.iter().position(|i| list[*i].title == t) {
                        self.sel = p;
                    }
                }
            }
            VaultEvent::Revealed {
                title,
                field,
                value,
            } => {
                self.hide();
                self.revealed = Some((title, field, value));
            }
            VaultEvent::Hide => self.hide(),
            VaultEvent::Note(n) => self.note = Some(n),
            VaultEvent::Unlocking => self.unlocking = true,
            VaultEvent::UnlockFailed(e) => {
                self.unlocking = false;
                self.note = Some(e);
            }
            VaultEvent::Generated { value, bits } => match &mut self.mode {
                Mode::Generator { value: v, .. } => {
                    if let Some((mut old, _)) = v.replace((value, bits)) {
                        zero(&mut old);
                    }
                }
                Mode::Form { form, .. } => {
                    if let Some(mut old) = form.password.replace(value) {
                        zero(&mut old);
                    }
                }
                Mode::List | Mode::ConfirmDelete(_) => {
                    let mut v = value;
                    zero(&mut v);
                }
            },
            VaultEvent::Totp {
                title,
                code,
                left,
                period,
            } => {
                if let Some((_, mut old, _, _)) = self.totp.replace((title, code, left, period)) {
                    zero(&mut old);
                }
            }
            VaultEvent::Saved(what) => {
                if matches!(self.mode, Mode::Form { .. }) {
                    self.close_mode();
                }
                self.note = Some(what);
            }
            VaultEvent::Refused(why) => match &mut self.mode {
                Mode::Form { error, .. } => *error = Some(why),
                _ => self.note = Some(why),
            },
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        if area.height < 3 || area.width < 10 {
            return;
        }
        let w = area.width as usize;
        let line = |buf: &mut Buffer, y: u16, s: &str, style: Style| {
            if y < area.y + area.height {
                buf.set_stringn(area.x + 1, y, s, w.saturating_sub(2), style);
            }
        };
        let Some(entries) = &self.entries else {
            let dots = if self.passphrase.is_empty() {
                ""
            } else {
                "••••••••"
            };
            line(buf, area.y, "The vault is locked.", t.heading());
            line(
                buf,
                area.y + 2,
                &format!("Passphrase: {dots}"),
                Style::new(),
            );
            let (msg, style) = match (&self.note, self.unlocking) {
                (_, true) => (
                    "deriving the key (Argon2id)… about a second".to_string(),
                    Style::new().fg(t.warn),
                ),
                (Some(n), false) => (n.clone(), Style::new().fg(t.error)),
                (None, false) => (
                    "Type it and press Enter (it is never shown or kept).".into(),
                    t.muted(),
                ),
            };
            line(buf, area.y + 4, &msg, style);
            line(
                buf,
                area.y + 6,
                "From any shell instead: fieldkit vault unlock",
                t.muted(),
            );
            return;
        };
        match &self.mode {
            Mode::Form {
                original,
                form,
                at,
                show_password,
                error,
            } => {
                let head = match original {
                    Some(o) => format!("Edit {o}"),
                    None => "New entry".into(),
                };
                line(buf, area.y, &head, t.heading());
                for (i, name) in FORM_FIELDS.iter().enumerate() {
                    let value: String = match *name {
                        "title" => form.title.clone(),
                        "folder" => form.folder.clone(),
                        "tags" => form.tags.clone(),
                        "user" => form.user.clone(),
                        "password" => match &form.password {
                            None if original.is_some() => "(unchanged)".into(),
                            None => String::new(),
                            Some(p) if *show_password => p.clone(),
                            Some(p) if p.is_empty() => String::new(),
                            Some(_) => "••••••••".into(),
                        },
                        "url" => form.url.clone(),
                        "totp" => match &form.totp {
                            None if original.is_some() => "(unchanged)".into(),
                            None => String::new(),
                            Some(s) if s.is_empty() => String::new(),
                            Some(_) => "••••••••".into(),
                        },
                        _ => form.note.clone(),
                    };
                    let style = if i == *at {
                        Style::new().bg(t.selection_bg).fg(t.selection_fg)
                    } else {
                        Style::new()
                    };
                    let marker = if i == *at { "›" } else { " " };
                    line(
                        buf,
                        area.y + 2 + i as u16,
                        &format!("{marker} {name:<9} {value}"),
                        style,
                    );
                }
                let y = area.y + 3 + FORM_FIELDS.len() as u16;
                if let Some(e) = error {
                    line(buf, y, e, Style::new().fg(t.error));
                }
                line(
                    buf,
                    y + 1,
                    "Tab next · Enter save · Esc cancel · C-g generate · C-r show password",
                    t.muted(),
                );
                return;
            }
            Mode::Generator { spec, value } => {
                line(buf, area.y, "Generator", t.heading());
                let what = match spec.words {
                    Some(n) => format!("{n} words from the EFF list"),
                    None => {
                        let on = |b: bool, s: &'static str| if b { s } else { "" };
                        let classes: Vec<&str> = [
                            on(spec.lower, "1 lower"),
                            on(spec.upper, "2 upper"),
                            on(spec.digits, "3 digits"),
                            on(spec.symbols, "4 symbols"),
                        ]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect();
                        format!("{} characters: {}", spec.length, classes.join(", "))
                    }
                };
                line(buf, area.y + 2, &what, Style::new());
                if let Some((v, bits)) = value {
                    line(buf, area.y + 4, v, Style::new().fg(t.accent));
                    line(buf, area.y + 5, &format!("about {bits:.0} bits"), t.muted());
                }
                line(
                    buf,
                    area.y + 7,
                    "Left Right length · w words/characters · 1-4 classes",
                    t.muted(),
                );
                line(
                    buf,
                    area.y + 8,
                    "r another · Enter copies (cleared after a while) · Esc closes",
                    t.muted(),
                );
                line(
                    buf,
                    area.y + 10,
                    "Word list: EFF's Long Wordlist, CC BY 3.0 US (eff.org/dice)",
                    t.muted(),
                );
                return;
            }
            Mode::ConfirmDelete(title) => {
                line(
                    buf,
                    area.y,
                    &format!(
                        "Delete {title}? y deletes it (and its file), any other key keeps it."
                    ),
                    Style::new().fg(t.warn),
                );
                return;
            }
            Mode::List => {}
        }
        let count = format!("{}/{}", self.shown.len(), entries.len());
        buf.set_stringn(area.x, area.y, format!("/ {}", self.query), w, t.heading());
        if count.len() + self.query.len() + 4 < w {
            buf.set_string(
                area.x + area.width - count.len() as u16,
                area.y,
                &count,
                t.muted(),
            );
        }
        let detail_h = 9u16.min(area.height.saturating_sub(3));
        let list_h = area.height.saturating_sub(1 + detail_h) as usize;
        let first = self.sel.saturating_sub(list_h.saturating_sub(1));
        for (row, i) in self.shown.iter().enumerate().skip(first).take(list_h) {
            let e = &entries[*i];
            let y = area.y + 1 + (row - first) as u16;
            let style = if row == self.sel {
                Style::new().bg(t.selection_bg).fg(t.selection_fg)
            } else {
                Style::new()
            };
            let mark = match e.kind.as_str() {
                "note" => "≡",
                "file" => "▤",
                _ => "•",
            };
            let tags = if e.tags.is_empty() {
                String::new()
            } else {
                format!("  #{}", e.tags.join(" #"))
            };
            buf.set_stringn(
                area.x,
                y,
                format!(" {mark} {:<30} {}{tags}", e.path(), e.user),
                w,
                style,
            );
        }
        if self.shown.is_empty() {
            let msg = if entries.is_empty() {
                " no entries yet: C-n adds one (or fieldkit vault add TITLE --generate)"
            } else {
                " nothing matches"
            };
            buf.set_stringn(area.x, area.y + 1, msg, w, t.muted());
        }
        let y0 = area.y + area.height - detail_h;
        if let Some(e) = self.selected() {
            let revealed = |field: &str| match &self.revealed {
                Some((title, f, v)) if *title == e.title && f == field => Some(v.clone()),
                _ => None,
            };
            let mut rows: Vec<(String, String)> = Vec::new();
            if !e.user.is_empty() {
                rows.push(("user".into(), e.user.clone()));
            }
            if e.has_password {
                rows.push((
                    "password".into(),
                    revealed("password")
                        .unwrap_or_else(|| "••••••••  (C-r reveals, Enter copies)".into()),
                ));
            }
            if !e.url.is_empty() {
                rows.push(("url".into(), e.url.clone()));
            }
            if e.has_totp {
                let code = match &self.totp {
                    Some((title, code, left, period)) if *title == e.title => {
                        let bar = "█".repeat((*left * 10 / (*period).max(1)) as usize);
                        format!("{code}  {left:>2}s {bar}")
                    }
                    _ => "••••••  (C-t shows, C-k copies)".into(),
                };
                rows.push(("totp".into(), code));
            }
            for (name, v) in &e.fields {
                rows.push((
                    name.clone(),
                    v.clone()
                        .or_else(|| revealed(name))
                        .unwrap_or_else(|| "••••••••".into()),
                ));
            }
            if let Some((name, size)) = &e.file {
                rows.push((
                    "file".into(),
                    format!(
                        "{name} ({} bytes; fieldkit vault extract)",
                        fieldkit_messages::text::group(*size)
                    ),
                ));
            }
            if !e.note.is_empty() {
                let note = if e.kind == "note" {
                    revealed("note").unwrap_or_else(|| "••••••••  (C-r reveals)".into())
                } else {
                    e.note.clone()
                };
                rows.push(("note".into(), note.lines().next().unwrap_or("").to_string()));
            }
            let mut meta = format!("changed {}", e.updated);
            if e.history > 0 {
                meta.push_str(&format!(" · {} old passwords kept", e.history));
            }
            rows.push((e.kind.clone(), meta));
            buf.set_stringn(area.x, y0, "─".repeat(w), w, Style::new().fg(t.border));
            for (i, (k, v)) in rows.iter().enumerate().take(detail_h as usize - 1) {
                line(buf, y0 + 1 + i as u16, &format!("{k:<9} {v}"), Style::new());
            }
        }
        if let Some(n) = &self.note {
            buf.set_stringn(area.x, area.y + area.height - 1, n, w, t.muted());
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        match &self.mode {
            _ if self.entries.is_none() => {
                out.push(Hint::new("Enter", "unlock"));
                out.push(Hint::new("C-u", "clear"));
                crate::Hints::Typing
            }
            Mode::Form { .. } => {
                out.push(Hint::new("Tab", "next field"));
                out.push(Hint::new("Enter", "save"));
                out.push(Hint::new("Esc", "cancel"));
                out.push(Hint::new("C-g", "generate"));
                crate::Hints::Typing
            }
            Mode::Generator { .. } => {
                out.push(Hint::new("Left Right", "length"));
                out.push(Hint::new("w", "words"));
                out.push(Hint::new("Enter", "copy"));
                out.push(Hint::new("Esc", "close"));
                crate::Hints::Typing
            }
            Mode::ConfirmDelete(_) => {
                out.push(Hint::new("y", "delete"));
                out.push(Hint::new("any key", "keep"));
                crate::Hints::Typing
            }
            Mode::List => {
                out.push(Hint::new("type", "filter"));
                out.push(Hint::new("Up Down", "choose"));
                crate::Hints::WithKeymap
            }
        }
    }

    fn save(&self) -> PaneState {
        PaneState::Vault
    }
}

impl Drop for VaultPane {
    fn drop(&mut self) {
        self.lock();
    }
}

#[cfg(test)]
mod tests;
