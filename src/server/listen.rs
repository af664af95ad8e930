/*!
The socket's side of the server: accepting connections (peer uid checked), one task per
connection that reads frames into the loop's events and writes what the loop queues (holding
frames back from a client that stops reading), and giving the socket up as the server stops.
*/

use super::*;

/// Removes the socket and pid file if they are still this server's (`bound`: the socket's
/// inode), so that nobody connects to a server that is stopping and a newer server's files
/// are never removed.
pub(super) fn unlisten(dirs: &Dirs, bound: Option<u64>) {
    use std::os::unix::fs::MetadataExt;
    let socket = dirs.socket();
    if bound.is_some() && std::fs::metadata(&socket).ok().map(|m| m.ino()) == bound {
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(dirs.pid_file());
    }
}

pub(super) async fn accept_loop(listener: UnixListener, tx: mpsc::UnboundedSender<Ev>) {
    let me = unsafe { libc::getuid() };
    let mut next: ClientId = 0;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(c) if c.uid() == me => {}
            Ok(c) => {
                tracing::warn!(uid = c.uid(), "refused a connection from another user");
                continue;
            }
            Err(e) => {
                tracing::warn!("refused a connection without credentials: {e}");
                continue;
            }
        }
        next += 1;
        tokio::spawn(connection(next, stream, tx.clone()));
    }
}

/// One client connection: handshake, then frames in both directions until either side ends.
pub(super) async fn connection(
    id: ClientId,
    stream: UnixStream,
    events: mpsc::UnboundedSender<Ev>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let mut hello = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut hello)).await;
    if !matches!(read, Ok(Ok(_))) {
        return;
    }
    match protocol::judge_hello(&hello) {
        None => {
            tracing::warn!(
                client = id,
                "dropped a connection that does not speak fieldkit"
            );
            return;
        }
        Some(h @ Handshake::Refused(_)) => {
            tracing::warn!(client = id, "refused a client of another protocol version");
            let _ = wr.write_all(&protocol::server_hello(&h)).await;
            return;
        }
        Some(Handshake::Ok) => {
            if wr
                .write_all(&protocol::server_hello(&Handshake::Ok))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<ServerMsg>();
    let backlog = Arc::new(Backlog::default());
    if events
        .send(Ev::Conn {
            id,
            tx,
            backlog: backlog.clone(),
        })
        .is_err()
    {
        return;
    }
    let drained = events.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let last = matches!(msg, ServerMsg::Exit { .. } | ServerMsg::Reply { .. });
            let queued = match &msg {
                ServerMsg::Output { bytes } => bytes.len(),
                _ => 0,
            };
            let Ok(bytes) = wire::encode(&msg) else {
                continue;
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
            let left = backlog.bytes.fetch_sub(queued, Ordering::AcqRel) - queued;
            if left == 0 && backlog.held_back.swap(false, Ordering::AcqRel) {
                let _ = drained.send(Ev::Drained { id });
            }
            if last {
                let _ = wr.shutdown().await;
                break;
            }
        }
    });
    loop {
        match wire::read_frame_async::<ClientMsg>(&mut rd).await {
            Ok(Some(msg)) => {
                if events.send(Ev::Msg { id, msg }).is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(client = id, "dropped a client after a bad frame: {e}");
                break;
            }
        }
    }
    let _ = events.send(Ev::Gone { id });
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}
