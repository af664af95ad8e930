//! `fieldkit-gpx`: GPX tracks (what GPS units and phone apps record) as rows, an MCP server on
//! stdio, and the compiled example plugin (`plugins/units` is the Python one).
//!
//! Tools: `read` gives a track's points as CSV (time, lat, lon, ele), ready for the data grid
//! (`fieldkit sql`, or a workflow's sql step reading the file it writes); `summary` gives
//! points, distance, climb and duration. The file is read with the plugin's own permissions,
//! so a path outside its grant is refused by the kernel.
//!
//! The GPX is scanned, not parsed by a schema: points are `<trkpt>`, `<rtept>` or `<wpt>`
//! elements with `lat` and `lon` attributes and optional `<ele>` and `<time>` children. Anything
//! else in the file is passed over, and a point that does not read is counted and said.

use serde_json::{json, Value};
use std::io::{BufRead, Write};

const PROTOCOL: &str = "2025-11-25";
/// The largest GPX file read (a day of 1 Hz points is a few MB).
const MAX_FILE: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq)]
struct Point {
    lat: f64,
    lon: f64,
    ele: Option<f64>,
    time: String,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().last();
        let after = &rest[i + name.len()..];
        let after = after.trim_start();
        if before.is_some_and(|c| c.is_whitespace()) {
            if let Some(a) = after.strip_prefix('=') {
                let a = a.trim_start();
                let q = a.chars().next()?;
                if q == '"' || q == '\'' {
                    let end = a[1..].find(q)?;
                    return Some(a[1..1 + end].to_string());
                }
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

fn child(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let s = body.find(&open)? + open.len();
    let e = body[s..].find(&close)? + s;
    Some(body[s..e].trim().to_string())
}

/// The points of a GPX text, and how many point elements did not read.
fn points(xml: &str) -> (Vec<Point>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    let mut rest = xml;
    loop {
        let next = ["<trkpt", "<rtept", "<wpt"]
            .iter()
            .filter_map(|t| rest.find(t).map(|i| (i, *t)))
            .min();
        let Some((i, t)) = next else { break };
        let from = &rest[i..];
        let Some(tag_end) = from.find('>') else { break };
        let tag = &from[..tag_end];
        let name = &t[1..];
        let self_closing = tag.ends_with('/');
        let (body, advance) = if self_closing {
            ("", tag_end + 1)
        } else {
            let close = format!("</{name}>");
            // Looked for after the tag only: a close written inside the tag is not its end.
            match from[tag_end + 1..].find(&close).map(|c| c + tag_end + 1) {
                Some(c) => (&from[tag_end + 1..c], c + close.len()),
                None => ("", tag_end + 1),
            }
        };
        let lat = attr(tag, "lat").and_then(|v| v.trim().parse::<f64>().ok());
        let lon = attr(tag, "lon").and_then(|v| v.trim().parse::<f64>().ok());
        match (lat, lon) {
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                out.push(Point {
                    lat,
                    lon,
                    ele: child(body, "ele").and_then(|e| e.parse().ok()),
                    time: child(body, "time").unwrap_or_default(),
                })
            }
            _ => bad += 1,
        }
        rest = &from[advance..];
    }
    (out, bad)
}

fn haversine_m(a: &Point, b: &Point) -> f64 {
    let r = 6_371_008.8;
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

fn read_file(path: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{path}: {} bytes, over the {MAX_FILE} read",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn call(name: &str, args: &Value) -> Result<Option<String>, String> {
    let path = || {
        args.get("path")
            .and_then(Value::as_str)
            .ok_or("give the GPX file's path".to_string())
    };
    match name {
        "read" => {
            let (pts, bad) = points(&read_file(path()?)?);
            let mut csv = String::from("time,lat,lon,ele\n");
            for p in &pts {
                csv.push_str(&format!(
                    "{},{:.7},{:.7},{}\n",
                    p.time,
                    p.lat,
                    p.lon,
                    p.ele.map(|e| format!("{e:.1}")).unwrap_or_default()
                ));
            }
            if bad > 0 {
                csv.push_str(&format!(
                    "# {bad} points without a readable lat/lon left out\n"
                ));
            }
            Ok(Some(csv))
        }
        "summary" => {
            let (pts, bad) = points(&read_file(path()?)?);
            if pts.is_empty() {
                return Err("no points in it (trkpt, rtept or wpt)".into());
            }
            let dist: f64 = pts.windows(2).map(|w| haversine_m(&w[0], &w[1])).sum();
            let climb: f64 = pts
                .windows(2)
                .filter_map(|w| Some((w[1].ele? - w[0].ele?).max(0.0)))
                .sum();
            let mut s = format!(
                "{} points, {:.2} km, {:.0} m climbed",
                pts.len(),
                dist / 1000.0,
                climb
            );
            if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
                if !a.time.is_empty() {
                    s.push_str(&format!(", from {} to {}", a.time, b.time));
                }
            }
            if bad > 0 {
                s.push_str(&format!(" ({bad} points did not read)"));
            }
            Ok(Some(s))
        }
        _ => Ok(None),
    }
}

fn tools() -> Value {
    let schema = json!({
        "type": "object",
        "properties": {"path": {"type": "string", "description": "the .gpx file"}},
        "required": ["path"],
    });
    json!([
        {"name": "read", "description": "A GPX track's points as CSV: time, lat, lon, ele.",
         "inputSchema": schema, "annotations": {"readOnlyHint": true}},
        {"name": "summary", "description": "Points, distance, climb and duration of a GPX track.",
         "inputSchema": schema, "annotations": {"readOnlyHint": true}},
    ])
}

fn answer(msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => Ok(json!({
            "protocolVersion": PROTOCOL,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "gpx", "version": env!("CARGO_PKG_VERSION")},
        })),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools()})),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            match call(name, &args) {
                Ok(Some(text)) => {
                    Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
                }
                Ok(None) => Err((-32602, format!("Unknown tool: {name}"))),
                Err(e) => Ok(json!({"content": [{"type": "text", "text": e}], "isError": true})),
            }
        }
        other => Err((-32601, format!("method not found: {other}"))),
    };
    Some(match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err((code, m)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": m}})
        }
    })
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(line) {
            Ok(msg) => answer(&msg),
            Err(_) => Some(json!({"jsonrpc": "2.0", "id": null,
                                  "error": {"code": -32700, "message": "parse error"}})),
        };
        if let Some(r) = reply {
            if writeln!(out, "{r}").and_then(|()| out.flush()).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_from_a_track_and_bad_ones_are_counted() {
        let gpx = r#"<?xml version="1.0"?><gpx><trk><trkseg>
<trkpt lat="46.5" lon="7.8"><ele>2000</ele><time>2026-11-29T08:00:00Z</time></trkpt>
<trkpt lon='7.81' lat='46.51'><ele>2100.5</ele><time>2026-11-29T08:30:00Z</time></trkpt>
<trkpt lat="north" lon="7.9"></trkpt>
<wpt lat="46.6" lon="7.7"/>
</trkseg></trk></gpx>"#;
        let (p, bad) = points(gpx);
        assert_eq!(p.len(), 3);
        assert_eq!(bad, 1);
        assert_eq!(p[1].lat, 46.51);
        assert_eq!(p[1].ele, Some(2100.5));
        assert_eq!(p[2].time, "");
        let d = haversine_m(&p[0], &p[1]);
        assert!((1300.0..1400.0).contains(&d), "{d}");
        assert_eq!(points("<gpx><trkpt lat=\"1\"").0.len(), 0);
        // Hostile shapes read as nothing, never a panic.
        for bad in [
            "<trkpt </trkpt> lat=\"1\" lon=\"2\">",
            "<trkpt lat=\"1\" lon=\"2\"><ele></trkpt>",
            "<wpt lat='\u{e9}' lon=\"",
            "<rtept lat=",
        ] {
            let _ = points(bad);
        }
    }
}
