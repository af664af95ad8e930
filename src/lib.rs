/*!
fieldkit: one binary that is a client, a detached server, and engine workers.

`cli` decides which; `client` is a thin pipe; `server` owns sessions and renders; `engine`
holds the workers and the state store. See ../DESIGN.md in the shared folder for the map.
*/

pub mod chatcli;
pub mod cli;
pub mod client;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod keymap;
pub mod layout;
pub mod logging;
pub mod paths;
pub mod protocol;
pub mod saved;
pub mod server;
pub mod sqlcli;
pub mod wire;
