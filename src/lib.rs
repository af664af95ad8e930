/*!
fieldkit: one binary that is a client, a detached server, and engine workers.

`cli` decides which; `client` is a thin pipe; `server` owns sessions and renders; `engine`
holds the engines and their workers; `store` what is kept in SQLite, `format` the file and SQL
formats read without an engine, `remote` the opt-in client of an OpenAI-compatible server. The
messages that leave a process are in the `fieldkit-messages` crate. See ../DESIGN.md in the shared folder for the map.
*/

pub mod alloc;
pub mod chatcli;
pub mod cli;
pub mod client;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod format;
pub mod keymap;
pub mod layout;
pub mod logging;
pub mod mcpcli;
pub mod meshcli;
pub mod paths;
pub mod plugincli;
pub mod protocol;
pub mod queuecli;
pub mod remote;
pub mod server;
pub mod sqlcli;
pub mod store;
pub mod vaultcli;
pub mod wire;
pub mod workflowcli;
