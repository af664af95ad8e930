//! JSON-RPC 2.0 as MCP's stdio transport carries it: one message per line, UTF-8, no embedded
//! newlines. A plugin is someone else's program, so every line it writes is read as hostile:
//! a byte-order mark is dropped, a line over `MAX_LINE` is refused before it is parsed, and
//! anything that is not one JSON-RPC object (a batch, a number, a log line printed to the
//! wrong stream) is an error the host names, never a panic.

use serde_json::{json, Map, Value};

/// The longest line read from a plugin (a tool's result included).
pub const MAX_LINE: usize = 1 << 20;

/// The standard error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// An error object, as a response carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (JSON-RPC error {})", self.message, self.code)
    }
}

/// One message read.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request: it wants an answer with its `id`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// An answer to a request of ours.
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
}

/// Reads one line. `Err` says what is wrong with it in a sentence, and, for a line that was
/// a request with a readable id, that id (so the error can be answered).
pub fn parse_line(line: &[u8]) -> Result<Message, (Option<Value>, RpcError)> {
    if line.len() > MAX_LINE {
        return Err((
            None,
            RpcError::new(
                INVALID_REQUEST,
                format!("a line of {} bytes (at most {MAX_LINE})", line.len()),
            ),
        ));
    }
    let mut line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    while let Some(l) = line
        .strip_suffix(b"\n")
        .or_else(|| line.strip_suffix(b"\r"))
    {
        line = l;
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(60)])
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        (
            None,
            RpcError::new(PARSE_ERROR, format!("not JSON ({e}): {shown:?}")),
        )
    })?;
    let Value::Object(mut o) = v else {
        return Err((
            None,
            RpcError::new(
                INVALID_REQUEST,
                "not a JSON-RPC object (a batch, or a bare value)",
            ),
        ));
    };
    let id = o.remove("id");
    if o.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((
            id,
            RpcError::new(INVALID_REQUEST, "\"jsonrpc\" is not \"2.0\""),
        ));
    }
    let method = o.remove("method");
    // A request's id is a string or a number; a response to a request that could not be read
    // has a null one.
    if let Some(i) = &id {
        if !(i.is_string() || i.is_number() || (i.is_null() && method.is_none())) {
            return Err((
                None,
                RpcError::new(INVALID_REQUEST, "an id that is not a string or a number"),
            ));
        }
    }
    match method {
        Some(Value::String(method)) => {
            let params = o.remove("params").unwrap_or(Value::Null);
            if !(params.is_null() || params.is_object() || params.is_array()) {
                return Err((
                    id,
                    RpcError::new(INVALID_REQUEST, "params that are not an object or array"),
                ));
            }
            Ok(match id {
                Some(id) => Message::Request { id, method, params },
                None => Message::Notification { method, params },
            })
        }
        Some(_) => Err((
            id,
            RpcError::new(INVALID_REQUEST, "a method that is not a string"),
        )),
        None => {
            let Some(id) = id else {
                return Err((
                    None,
                    RpcError::new(INVALID_REQUEST, "neither a method nor an id"),
                ));
            };
            let result = match (o.remove("result"), o.remove("error")) {
                (Some(r), None) => Ok(r),
                (None, Some(Value::Object(e))) => Err(RpcError {
                    code: e
                        .get("code")
                        .and_then(Value::as_i64)
                        .unwrap_or(INTERNAL_ERROR),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("an error without a message")
                        .chars()
                        .take(2000)
                        .collect(),
                    data: e.get("data").cloned(),
                }),
                _ => {
                    return Err((
                        Some(id),
                        RpcError::new(
                            INVALID_REQUEST,
                            "a response with neither a result nor an error (or both)",
                        ),
                    ))
                }
            };
            Ok(Message::Response { id, result })
        }
    }
}

fn line(v: Value) -> String {
    // A serde_json string never holds a raw newline: one message, one line.
    let mut s = v.to_string();
    s.push('\n');
    s
}

pub fn request(id: u64, method: &str, params: Value) -> String {
    line(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
}

pub fn notification(method: &str, params: Value) -> String {
    let mut o = Map::new();
    o.insert("jsonrpc".into(), "2.0".into());
    o.insert("method".into(), method.into());
    if !params.is_null() {
        o.insert("params".into(), params);
    }
    line(Value::Object(o))
}

pub fn response(id: Value, result: Value) -> String {
    line(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

pub fn error_response(id: Option<Value>, e: &RpcError) -> String {
    let mut err = json!({"code": e.code, "message": e.message});
    if let Some(d) = &e.data {
        err["data"] = d.clone();
    }
    line(json!({"jsonrpc": "2.0", "id": id.unwrap_or(Value::Null), "error": err}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_each_kind_read_and_bad_lines_are_named() {
        let m = parse_line(b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\r\n");
        assert_eq!(
            m,
            Ok(Message::Request {
                id: json!(3),
                method: "ping".into(),
                params: Value::Null
            })
        );
        let m = parse_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(matches!(m, Ok(Message::Notification { .. })));
        let m = parse_line(br#"{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}"#);
        assert_eq!(
            m,
            Ok(Message::Response {
                id: json!("a"),
                result: Ok(json!({"tools": []}))
            })
        );
        let m = parse_line(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#);
        assert!(matches!(
            m,
            Ok(Message::Response {
                result: Err(RpcError { code: -32601, .. }),
                ..
            })
        ));
        for (bad, code) in [
            (&b"hello world"[..], PARSE_ERROR),
            (b"[1,2]", INVALID_REQUEST),
            (b"42", INVALID_REQUEST),
            (br#"{"id":1,"method":"x"}"#, INVALID_REQUEST),
            (
                br#"{"jsonrpc":"2.0","id":{"x":1},"method":"x"}"#,
                INVALID_REQUEST,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"x","params":7}"#,
                INVALID_REQUEST,
            ),
            (br#"{"jsonrpc":"2.0","id":1}"#, INVALID_REQUEST),
            (br#"{"jsonrpc":"2.0"}"#, INVALID_REQUEST),
            (b"\xff\xfe", PARSE_ERROR),
        ] {
            let e = parse_line(bad).expect_err("refused");
            assert_eq!(
                e.1.code,
                code,
                "{:?}: {}",
                String::from_utf8_lossy(bad),
                e.1
            );
        }
        // A request with a bad field keeps its id, so the error can be answered.
        let e = parse_line(br#"{"jsonrpc":"1.0","id":9,"method":"x"}"#).expect_err("old");
        assert_eq!(e.0, Some(json!(9)));
        let huge = vec![b' '; MAX_LINE + 1];
        assert!(parse_line(&huge).unwrap_err().1.message.contains("bytes"));
    }

    #[test]
    fn what_is_written_is_one_line_that_reads_back() {
        let r = request(7, "tools/call", json!({"name": "a\nb", "arguments": {}}));
        assert_eq!(r.matches('\n').count(), 1);
        assert!(matches!(
            parse_line(r.as_bytes()),
            Ok(Message::Request { method, .. }) if method == "tools/call"
        ));
        let e = error_response(Some(json!(1)), &RpcError::new(METHOD_NOT_FOUND, "nope"));
        assert!(matches!(
            parse_line(e.as_bytes()),
            Ok(Message::Response {
                result: Err(RpcError {
                    code: METHOD_NOT_FOUND,
                    ..
                }),
                ..
            })
        ));
        let n = notification("notifications/initialized", Value::Null);
        assert_eq!(
            n,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
        );
    }
}
