/*!
The probe worker's messages: a ping and its answer, to show a worker round trip.
*/

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProbeRequest {
    Ping { id: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProbeEvent {
    /// Ready, and the messages version it speaks.
    Hello {
        pid: u32,
        version: u32,
    },
    Pong {
        id: u64,
    },
}
