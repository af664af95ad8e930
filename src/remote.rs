/*!
The opt-in remote backend: an OpenAI-compatible `/chat/completions` endpoint (llama-server,
vLLM, Ollama) for users who outgrow one machine.

Plain HTTP/1.1 over a TCP socket with server-sent events, written here rather than pulling an
HTTP and TLS stack into the binary for one request type: the servers people run beside them on
a field network speak plain HTTP. `https://` is refused in words. Nothing here runs unless the
user set `allow_remote = true` and registered a model with `--url`; the caller writes each call
to the audit log.
*/

use anyhow::{anyhow, bail, Context, Result};
use fieldkit_panes::llm::{GenParams, GenStats, Turn};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Host, port and path prefix of an `http://host:port/prefix` URL.
pub fn parse_url(url: &str) -> Result<(String, u16, String)> {
    if url.starts_with("https://") {
        bail!(
            "{url}: https is not supported (this build has no TLS); use the server's plain \
             http address on your network"
        );
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: the URL must start with http://"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/').to_string()),
        None => (rest, String::new()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| anyhow!("{url}: bad port {p:?}"))?,
        ),
        None => (hostport.to_string(), 80),
    };
    if host.is_empty() {
        bail!("{url}: no host");
    }
    Ok((host, port, path))
}

fn json_escape(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The request body.
pub fn body(model: &str, turns: &[Turn], params: &GenParams) -> String {
    let msgs: Vec<String> = turns
        .iter()
        .map(|t| {
            format!(
                "{{\"role\":{},\"content\":{}}}",
                json_escape(t.role.name()),
                json_escape(&t.content)
            )
        })
        .collect();
    format!(
        "{{\"model\":{},\"messages\":[{}],\"stream\":true,\"max_tokens\":{},\"temperature\":{},\"seed\":{}}}",
        json_escape(model),
        msgs.join(","),
        params.max_tokens,
        params.temperature,
        params.seed
    )
}

/// Streams an answer from `url` (`http://host:port/v1`). `on` gets each piece of text.
pub fn chat(
    url: &str,
    model: &str,
    turns: &[Turn],
    params: &GenParams,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(&str),
) -> Result<GenStats> {
    let (host, port, prefix) = parse_url(url)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("{url}: cannot resolve {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{url}: {host} has no address"))?;
    let t0 = Instant::now();
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("{url}: cannot connect"))?;
    let payload = body(model, turns, params);
    let req = format!(
        "POST {prefix}/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: \
         application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\nConnection: \
         close\r\n\r\n{payload}",
        payload.len()
    );
    sock.write_all(req.as_bytes())?;
    // Short reads so Esc is noticed while the server thinks.
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut rd = BufReader::new(sock);
    let mut stats = GenStats::default();
    let mut line = String::new();
    let read_line = |rd: &mut BufReader<TcpStream>, line: &mut String| -> Result<usize> {
        line.clear();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(usize::MAX);
            }
            match rd.read_line(line) {
                Ok(n) => return Ok(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if t0.elapsed() > Duration::from_secs(600) {
                        bail!("{url}: no answer in 10 minutes");
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    // Status line and headers.
    if read_line(&mut rd, &mut line)? == usize::MAX {
        stats.cancelled = true;
        return Ok(stats);
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{url}: not an HTTP answer: {:?}", line.trim()))?;
    let mut chunked = false;
    loop {
        let n = read_line(&mut rd, &mut line)?;
        if n == usize::MAX {
            stats.cancelled = true;
            return Ok(stats);
        }
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        let l = line.to_ascii_lowercase();
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
    }
    if status != 200 {
        let mut rest = String::new();
        let _ = rd.take(4096).read_to_string(&mut rest);
        bail!(
            "{url}: the server answered {status}: {}",
            rest.trim().chars().take(300).collect::<String>()
        );
    }
    let mut first = true;
    let t_gen = Instant::now();
    loop {
        let n = read_line(&mut rd, &mut line)?;
        if n == usize::MAX {
            stats.cancelled = true;
            break;
        }
        if n == 0 {
            break;
        }
        let l = line.trim_end();
        // In a chunked body the size lines are hex numbers; the events are the other lines.
        if chunked && !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let Some(data) = l.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => bail!(
                "{url}: an event that is not JSON: {:?}",
                data.chars().take(120).collect::<String>()
            ),
        };
        if let Some(e) = v.get("error") {
            bail!("{url}: {e}");
        }
        if let Some(t) = v
            .pointer("/choices/0/delta/content")
            .and_then(|c| c.as_str())
        {
            if first {
                stats.prompt_ms = t0.elapsed().as_secs_f64() * 1000.0;
                first = false;
            }
            if !t.is_empty() {
                stats.tokens += 1;
                on(t);
            }
        }
        if let Some(u) = v.get("usage") {
            if let Some(p) = u.get("prompt_tokens").and_then(|x| x.as_u64()) {
                stats.prompt_tokens = p as u32;
            }
        }
    }
    stats.gen_ms = t_gen.elapsed().as_secs_f64() * 1000.0;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_panes::llm::Role;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://10.0.0.2:8080/v1").unwrap(),
            ("10.0.0.2".into(), 8080, "/v1".into())
        );
        assert_eq!(
            parse_url("http://box/").unwrap(),
            ("box".into(), 80, "".into())
        );
        assert!(parse_url("https://api.example.com/v1")
            .unwrap_err()
            .to_string()
            .contains("no TLS"));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://h:99999").is_err());
    }

    #[test]
    fn body_is_json() {
        let b = body(
            "m",
            &[Turn::new(Role::User, "say \"hi\"\n")],
            &GenParams::default(),
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["messages"][0]["content"], "say \"hi\"\n");
        assert_eq!(v["stream"], true);
    }
}
