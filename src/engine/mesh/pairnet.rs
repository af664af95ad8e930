/*!
Pairing over a TCP connection: the `pair` protocol's messages in frames (a little-endian u32
length, at most `MAX_PAIR_FRAME`, then `wire`'s bincode). Pairing cannot ride the mesh's own
connections: those are wrapped in the team key, which the joiner gets only by pairing. So the
inviting device listens on a port of its own while it has open invites, and a joiner connects
there (`fieldkit mesh join CODE --addr HOST:PORT`). A joiner without the address asks the LAN:
a datagram on the same port number (UDP, broadcast), which the inviting device answers with its
pairing port while an invite is open (`discover`), and which nothing else answers.

Each step waits at most `STEP_TIMEOUT`; a peer that stalls, sends garbage, or goes away
mid-exchange ends that attempt with a sentence, and the invite it named stays spent.
*/

use super::pair::{self, Answer, Hello, Invite, JoinerInfo, Joining, PairError, Welcome};
use super::replica::Role;
use super::wire;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest pairing frame: the messages are a few hundred bytes.
pub const MAX_PAIR_FRAME: u32 = 16 * 1024;
/// How long one step of the exchange may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a joiner without an address broadcasts on the pairing port (UDP) to find the device
/// with an open invite; padded to `PROBE_LEN`, so an answer is never larger than the question
/// (the port cannot be used to amplify a flood).
const PROBE_MAGIC: &[u8] = b"fieldkit-pair-1?";
pub const PROBE_LEN: usize = 64;
const ANSWER_MAGIC: &str = "fieldkit-pair-1 ";

pub fn probe() -> [u8; PROBE_LEN] {
    let mut p = [0u8; PROBE_LEN];
    p[..PROBE_MAGIC.len()].copy_from_slice(PROBE_MAGIC);
    p
}

pub fn is_probe(b: &[u8]) -> bool {
    b.len() == PROBE_LEN && b.starts_with(PROBE_MAGIC)
}

/// The answer of a device whose pairing port (TCP) is `port`.
pub fn probe_answer(port: u16) -> Vec<u8> {
    format!("{ANSWER_MAGIC}{port}").into_bytes()
}

fn parse_answer(b: &[u8]) -> Option<u16> {
    std::str::from_utf8(b)
        .ok()?
        .strip_prefix(ANSWER_MAGIC)?
        .parse()
        .ok()
}

/// Asks the LAN (by broadcast, and this machine) on UDP `port` which devices have an invite
/// open: their pairing addresses, in the order they answered. Waits up to `wait` for a first
/// answer, then a moment for others.
pub fn discover(port: u16, wait: Duration) -> std::io::Result<Vec<std::net::SocketAddr>> {
    use std::net::{SocketAddr, UdpSocket};
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.set_broadcast(true)?;
    let p = probe();
    let mut sent = None;
    // Twice: a datagram may be lost, and an answer twice is one address.
    for _ in 0..2 {
        for dest in [
            SocketAddr::from(([255, 255, 255, 255], port)),
            SocketAddr::from(([127, 0, 0, 1], port)),
        ] {
            match sock.send_to(&p, dest) {
                Ok(_) => sent = Some(Ok(())),
                Err(e) => {
                    sent.get_or_insert(Err(e));
                }
            }
        }
    }
    if let Some(Err(e)) = sent {
        return Err(e);
    }
    let start = std::time::Instant::now();
    let mut end = start + wait;
    let mut found: Vec<SocketAddr> = Vec::new();
    let mut buf = [0u8; PROBE_LEN];
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(found);
        }
        sock.set_read_timeout(Some(left))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(port) = parse_answer(&buf[..n]) {
                    let a = SocketAddr::new(from.ip(), port);
                    if found.is_empty() {
                        end = end.min(std::time::Instant::now() + Duration::from_millis(300));
                    }
                    if !found.contains(&a) {
                        found.push(a);
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(found)
            }
            Err(e) => return Err(e),
        }
    }
}

/// One message of the pairing exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairMsg {
    Hello(Hello),
    Answer(Answer),
    Joining(Joining),
    /// The team's keys, sealed for the joiner.
    Welcome(Vec<u8>),
    /// The exchange ends here: why, in a sentence.
    Refused(String),
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, m: &PairMsg) -> Result<(), PairError> {
    let body = wire::encode(m).map_err(PairError::Garbled)?;
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend(body);
    tokio::time::timeout(STEP_TIMEOUT, async {
        s.write_all(&frame).await?;
        s.flush().await
    })
    .await
    .map_err(|_| PairError::Garbled("the other device stopped reading".into()))?
    .map_err(|e| PairError::Garbled(format!("the connection broke: {e}")))
}

async fn recv<S: AsyncRead + Unpin>(s: &mut S) -> Result<PairMsg, PairError> {
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await?;
        let len = u32::from_le_bytes(len);
        if len > MAX_PAIR_FRAME {
            return Ok(Err(format!(
                "a message of {len} bytes (at most {MAX_PAIR_FRAME})"
            )));
        }
        let mut body = vec![0u8; len as usize];
        s.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(wire::decode::<PairMsg>(&body))
    };
    match tokio::time::timeout(STEP_TIMEOUT, read).await {
        Err(_) => Err(PairError::Garbled("the other device went quiet".into())),
        Ok(Err(e)) => Err(PairError::Garbled(format!("the connection ended: {e}"))),
        Ok(Ok(Err(why))) => Err(PairError::Garbled(why)),
        Ok(Ok(Ok(PairMsg::Refused(why)))) => Err(refusal(&why)),
        Ok(Ok(Ok(m))) => Ok(m),
    }
}

/// A refusal from the other side, as the error it names.
fn refusal(why: &str) -> PairError {
    for e in [
        PairError::NoInvite,
        PairError::Expired,
        PairError::Used,
        PairError::WrongCode,
    ] {
        if e.to_string() == why {
            return e;
        }
    }
    PairError::Garbled(why.to_string())
}

fn unexpected(m: &PairMsg) -> PairError {
    let what = match m {
        PairMsg::Hello(_) => "hello",
        PairMsg::Answer(_) => "answer",
        PairMsg::Joining(_) => "joining",
        PairMsg::Welcome(_) => "welcome",
        PairMsg::Refused(_) => "refusal",
    };
    PairError::Garbled(format!("a {what} message out of turn"))
}

/// The inviting side of one connection: answers for the invite the joiner names among
/// `invites` (spending it, whatever comes of it: `spent` is told its code before the answer
/// goes, so the keeper can burn it for good), checks the joiner's proof, and sends `welcome`
/// with the invite's role. The joiner and its role, when it paired.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    invites: &mut [Invite],
    now_ms: u64,
    welcome: &Welcome,
    spent: &mut (dyn FnMut(&str) + Send),
) -> Result<(JoinerInfo, Role), PairError> {
    let hello = match recv(s).await? {
        PairMsg::Hello(h) => h,
        m => return Err(unexpected(&m)),
    };
    let (inviting, answer) = match pair::answer(invites, &hello, now_ms) {
        Ok(x) => x,
        Err(e) => {
            let _ = send(s, &PairMsg::Refused(e.to_string())).await;
            return Err(e);
        }
    };
    spent(&inviting.code);
    send(s, &PairMsg::Answer(answer)).await?;
    let joining = match recv(s).await? {
        PairMsg::Joining(j) => j,
        m => return Err(unexpected(&m)),
    };
    let joiner = match inviting.joiner(&joining) {
        Ok(j) => j,
        Err(e) => {
            let _ = send(s, &PairMsg::Refused(e.to_string())).await;
            return Err(e);
        }
    };
    let mut w = welcome.clone();
    w.role = inviting.role.name().to_string();
    let sealed = inviting.welcome(&w).map_err(PairError::Garbled)?;
    send(s, &PairMsg::Welcome(sealed)).await?;
    Ok((joiner, inviting.role))
}

/// The joining side: runs the exchange for `code`, telling who this device is, and answers
/// the team's keys and who invited.
pub async fn join<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    code: &str,
    me: &JoinerInfo,
) -> Result<Welcome, PairError> {
    let (joiner, hello) = pair::Joiner::start(code).map_err(PairError::Garbled)?;
    send(s, &PairMsg::Hello(hello)).await?;
    let answer = match recv(s).await? {
        PairMsg::Answer(a) => a,
        m => return Err(unexpected(&m)),
    };
    let (joined, joining) = match joiner.finish(&answer, me) {
        Ok(x) => x,
        Err(e) => {
            // Said, so the inviting side logs a wrong code rather than a dropped connection.
            let _ = send(s, &PairMsg::Refused(e.to_string())).await;
            return Err(e);
        }
    };
    send(s, &PairMsg::Joining(joining)).await?;
    match recv(s).await? {
        PairMsg::Welcome(sealed) => joined.welcome(&sealed),
        m => Err(unexpected(&m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    const T0: u64 = 1_790_000_000_000;

    fn welcome() -> Welcome {
        Welcome {
            team_key: [7; 32],
            vault_key: [9; 32],
            role: String::new(),
            founder: [1; 32],
            inviter: [1; 32],
            inviter_name: "base-camp".into(),
            addrs: vec![],
        }
    }

    fn me() -> JoinerInfo {
        JoinerInfo {
            key: [5; 32],
            name: "tent-2".into(),
        }
    }

    /// Serves one connection on loopback with `invites`; the inviting side's result and the
    /// invites after it.
    async fn inviter(
        invites: Vec<Invite>,
    ) -> (
        std::net::SocketAddr,
        tokio::task::JoinHandle<(Result<(JoinerInfo, Role), PairError>, Vec<Invite>)>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut invites = invites;
            let (mut s, _) = l.accept().await.unwrap();
            let r = serve(&mut s, &mut invites, T0, &welcome(), &mut |_| {}).await;
            (r, invites)
        });
        (addr, task)
    }

    fn invite(code: &str) -> Invite {
        Invite {
            code: code.into(),
            role: Role::Member,
            expires_ms: T0 + 600_000,
            used: false,
        }
    }

    #[tokio::test]
    async fn two_devices_pair_over_tcp_and_a_wrong_code_burns_the_invite() {
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let w = join(&mut s, "k7m2q-9xrta", &me()).await.unwrap();
        assert_eq!(w.team_key, [7; 32]);
        assert_eq!(w.role, "member");
        let (r, invites) = task.await.unwrap();
        assert_eq!(r.unwrap(), (me(), Role::Member));
        assert!(invites[0].used);

        // A wrong code: both sides say so, and the invite is spent.
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            join(&mut s, "K7M2Q9XRTB", &me()).await.err(),
            Some(PairError::WrongCode)
        );
        let (r, invites) = task.await.unwrap();
        assert_eq!(r.err(), Some(PairError::WrongCode));
        assert!(invites[0].used);

        // A spent code, and one that names no invite: refused, said to the joiner.
        let mut spent = invite("K7M2Q9XRTA");
        spent.used = true;
        let (addr, task) = inviter(vec![spent]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            join(&mut s, "K7M2Q9XRTA", &me()).await.err(),
            Some(PairError::Used)
        );
        assert_eq!(task.await.unwrap().0.err(), Some(PairError::Used));
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            join(&mut s, "ZZM2Q9XRTA", &me()).await.err(),
            Some(PairError::NoInvite)
        );
        let (_, invites) = task.await.unwrap();
        assert!(!invites[0].used, "an invite not named is not spent");
    }

    #[tokio::test]
    async fn garbage_oversized_frames_and_a_dropped_joiner_end_only_that_attempt() {
        // Garbage where a hello should be.
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&[4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef])
            .await
            .unwrap();
        assert!(matches!(task.await.unwrap().0, Err(PairError::Garbled(_))));
        // A frame claiming 4 GB: refused before anything is read into memory.
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        let (r, _) = task.await.unwrap();
        assert!(
            matches!(&r, Err(PairError::Garbled(w)) if w.contains("at most")),
            "{r:?}"
        );
        // The joiner goes away after its hello: the invite stays spent.
        let (addr, task) = inviter(vec![invite("K7M2Q9XRTA")]).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (_, hello) = pair::Joiner::start("K7M2Q9XRTA").unwrap();
        send(&mut s, &PairMsg::Hello(hello)).await.unwrap();
        let _ = recv(&mut s).await.unwrap();
        drop(s);
        let (r, invites) = task.await.unwrap();
        assert!(matches!(r, Err(PairError::Garbled(_))), "{r:?}");
        assert!(invites[0].used);
    }
}
