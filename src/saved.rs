/*!
What state.db keeps of a session: the types live with every other message that leaves the
process, in `fieldkit-messages`; this module names them for the store and the server.
*/

pub use fieldkit_messages::saved::{SessionState, TabState};
