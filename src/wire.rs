/*!
Length-prefixed serde frames: a little-endian u32 length, then bincode.

Used on the client socket and on the pipes to engine workers. Decoding is bounded: a length
over `MAX_FRAME` is refused before anything is allocated, and bincode is told the same limit,
so hostile bytes cost at most one frame's worth of memory and never a panic.
*/

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Read;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const MAX_FRAME: u32 = 16 * 1024 * 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_FRAME as u64)
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(u32),
    #[error("frame does not decode: {0}")]
    Decode(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The frame for `msg`, length prefix included.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = options()
        .serialize(msg)
        .map_err(|e| FrameError::Decode(e.to_string()))?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(u32::MAX))?;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    options()
        .deserialize(body)
        .map_err(|e| FrameError::Decode(e.to_string()))
}

/// What reading a frame's length prefix gave: the body's length, a clean end of stream, or an
/// error. Shared by the blocking and async readers so both refuse the same frames.
fn body_len(read: std::io::Result<()>, len: [u8; 4]) -> Result<Option<usize>, FrameError> {
    match read {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(Some(len as usize))
}

/// Reads one frame. `Ok(None)` at a clean end of stream.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> Result<Option<T>, FrameError> {
    let mut len = [0u8; 4];
    let read = r.read_exact(&mut len);
    let Some(n) = body_len(read, len)? else {
        return Ok(None);
    };
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    decode(&body).map(Some)
}

/// Reads one frame's body without decoding it. `Ok(None)` at a clean end of stream.
pub async fn read_raw_async(
    r: &mut (impl AsyncRead + Unpin),
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    let read = r.read_exact(&mut len).await.map(|_| ());
    let Some(n) = body_len(read, len)? else {
        return Ok(None);
    };
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Async twin of `read_frame`.
pub async fn read_frame_async<T: DeserializeOwned>(
    r: &mut (impl AsyncRead + Unpin),
) -> Result<Option<T>, FrameError> {
    match read_raw_async(r).await? {
        Some(body) => decode(&body).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMsg, Command};

    #[test]
    fn round_trip() {
        let msg = ClientMsg::Command {
            session: Some("main".into()),
            command: Command::Action {
                action: "split-right".into(),
            },
        };
        let bytes = encode(&msg).expect("encode");
        let back: Option<ClientMsg> = read_frame(&mut &bytes[..]).expect("decode");
        assert_eq!(back, Some(msg));
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let huge = (MAX_FRAME + 1).to_le_bytes();
        assert!(matches!(
            read_frame::<ClientMsg>(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        // Every prefix length with random-ish bodies: nothing may panic.
        let mut seed = 0x2545_f491_u32;
        for len in 0..300u32 {
            let mut frame = len.to_le_bytes().to_vec();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                frame.push(seed as u8);
            }
            let _ = read_frame::<ClientMsg>(&mut &frame[..]);
        }
        // A length that claims more than the stream holds.
        let short = [10u8, 0, 0, 0, 1, 2];
        assert!(read_frame::<ClientMsg>(&mut &short[..]).is_err());
        assert!(matches!(read_frame::<ClientMsg>(&mut &[][..]), Ok(None)));
    }
}
