//! What crosses between the editor pane and the server's editor service: files come in as a
//! rope (cloning one is O(1), so a 100 MB file is never copied to cross), saves go out the
//! same way, and the server answers with the file's stamp, by which a later save knows whether
//! someone else changed the file meanwhile.

use super::buffer::History;
use ropey::Rope;

/// A file as it was on disk: its modification time (ns since the epoch) and size. A save is
/// refused when the file's stamp is no longer the one the buffer was read or saved at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub mtime_ns: i128,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EditorRequest {
    /// Read `path` (absolute); answered by `Opened` or `Refused`.
    Open { path: String },
    /// Write `text` to `path`, line endings as `crlf` says. `stamp`: the file as the buffer
    /// last saw it (`None`: a new file); `force` writes over a file changed since.
    Save {
        path: String,
        text: Rope,
        crlf: bool,
        stamp: Option<FileStamp>,
        force: bool,
    },
    /// The paste buffer's text, for C-v; answered by `Paste`.
    Paste,
    /// A fuzzy picker over the files of the folder the user works in (`near`: the folder of
    /// the file shown, used when no terminal says where that is); the choice opens here.
    Pick { near: Option<String> },
    /// The text changed: the server asks for it (`KeepNow`) once typing pauses.
    Changed,
    /// Unsaved text to keep in state.db (and saved buffers whose kept copy goes).
    Keep(Vec<KeptBuf>),
    /// What this pane had unsaved when the last server stopped; answered by `Recovered`s.
    Recover,
    /// The undo steps of `path` as saved at `stamp`, kept so that they outlive the server.
    KeepUndo {
        path: String,
        stamp: FileStamp,
        history: History,
    },
}

/// A buffer as the server keeps it for a crash: `text` only when `modified`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptBuf {
    pub path: Option<String>,
    pub text: Rope,
    pub crlf: bool,
    pub stamp: Option<FileStamp>,
    pub modified: bool,
    /// The undo steps that lead to `text` (with it, when `modified`).
    pub history: Option<History>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EditorEvent {
    /// `text` holds `\n` line endings; `crlf` says the file had `\r\n` ones (written back so).
    /// `stamp` is `None` for a file that does not exist yet. `read_only` says why the buffer
    /// may not be saved (the file is not writable), when it may not.
    Opened {
        path: String,
        text: Rope,
        crlf: bool,
        stamp: Option<FileStamp>,
        read_only: Option<String>,
        /// The undo steps kept when the file was last saved here, if it has not changed since.
        history: Option<History>,
    },
    /// The file cannot be opened as text: why, in a sentence.
    Refused {
        path: String,
        why: String,
    },
    Saved {
        path: String,
        stamp: FileStamp,
    },
    /// Nothing was written over the file. `changed` says it changed on disk since it was read
    /// (overwrite with a forced save, or reload).
    SaveFailed {
        path: String,
        why: String,
        changed: bool,
    },
    Paste(String),
    /// The model's whole answer to `ChatRequest::EditText`, and the code in it (a rewrite or
    /// a fix; `None` for an explanation).
    AiAnswer {
        answer: String,
        code: Option<String>,
    },
    /// Typing paused: hand over what to keep (`EditorRequest::Keep`).
    KeepNow,
    /// Unsaved text kept from before the server stopped (`None`: a scratch buffer).
    Recovered {
        path: Option<String>,
        text: Rope,
        crlf: bool,
        stamp: Option<FileStamp>,
        history: Option<History>,
    },
}
