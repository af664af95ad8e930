/*!
What fieldkit keeps on disk in SQLite, apart from the engines that use it: `state` (sessions,
scrollback, SQL history, models, the audit log: state.db), `chats` (chat sessions and messages,
in state.db too), `index` (the retrieval index: index.db) and `queue` (work items, their history
and comments: queue.db). Stores import no server or UI
type: what they write is plain data (`fieldkit-messages` for saved sessions).
*/

pub mod chats;
pub mod index;
pub mod kept;
pub mod queue;
pub mod runs;
pub mod state;

pub use state::Store;
