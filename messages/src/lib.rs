/*!
Every message that leaves a fieldkit process, in one place: what the server and its workers say
over their pipes (`data`, `llm`, `probe`), and what state.db keeps of sessions (`saved`). Plain
serde data with no UI types, so that engines, stores, the panes and the server all speak the
same values and none of them has to import another to do it: the mesh's changes and sync
messages (`mesh`) too. Plugin calls belong here when they come.

`VERSION` changes whenever one of these changes shape in a way an older reader would misread
(2: a line plot says how its points were made; 4: the mesh worker; 5: a chat job carries
the tools the model may call; 6: embeddings, and a chat job's summary model).
Workers say it in their `Hello` (the server refuses a worker of another version: a binary
replaced on disk while the server ran), and saved sessions carry it (a state written by a newer
fieldkit is set aside, not misread). The client protocol has its own version in its handshake.
*/

pub mod data;
pub mod llm;
pub mod mesh;
pub mod probe;
pub mod saved;
pub mod text;

/// The version of these messages.
pub const VERSION: u32 = 6;
