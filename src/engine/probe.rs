/*!
The probe worker: the smallest real engine. It answers pings, so the server can show a round
trip time, and it exists to prove the worker machinery (spawn, frames, crash, restart) before
DuckDB and llama.cpp ride on it.
*/

use crate::wire;
use std::io::Write;

pub use fieldkit_messages::probe::{ProbeEvent, ProbeRequest};

pub fn run() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(&wire::encode(&ProbeEvent::Hello {
        pid: std::process::id(),
        version: fieldkit_messages::VERSION,
    })?)?;
    out.flush()?;
    while let Some(req) = wire::read_frame::<ProbeRequest>(&mut input)? {
        match req {
            ProbeRequest::Ping { id } => {
                out.write_all(&wire::encode(&ProbeEvent::Pong { id })?)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}
