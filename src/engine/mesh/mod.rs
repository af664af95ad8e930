/*!
The mesh: the team's records shared device to device without a server. Pure logic here, no
network: the clock changes are stamped with (`hlc`), device IDs as people read them (`id`),
signed changes (`op`) and their bytes (`wire`), a device's copy of the records and how it
merges and syncs (`replica`), pairing by a short code (`pair`) over TCP (`pairnet`), and work items as records
(`items`), and shared chats, workflows and team vault entries as records (`shared`). The `mesh` worker carries these over libp2p; the server turns the queue's and the
chat's rows into changes and back.
*/

pub mod hlc;
pub mod id;
pub mod items;
pub mod net;
pub mod op;
pub mod pair;
pub mod pairnet;
pub mod rekey;
pub mod replica;
pub mod shared;
#[cfg(test)]
mod tests;
pub mod wire;
pub mod worker;
