//! The data bench's peer: the duckdb Python module that `./setup` installs, in a process of
//! its own, fed one statement per line. It times each statement inside Python, so Python's
//! start-up and the pipe are not counted against DuckDB, and returns the rows as DuckDB's text
//! so answers compare exactly with fieldkit's.

use super::tools;
use std::process::Command;

/// The duckdb Python module in a process of its own, fed one statement per line (JSON), each
/// answered with its time measured inside Python and its rows as DuckDB's text.
const PEER: &str = r#"
import duckdb, json, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("SET threads = %d" % int(sys.argv[2]))
con.execute("SET memory_limit = '%s'" % sys.argv[3])
# Its progress bar would print into the answers on stdout (and cost the peer time).
con.execute("SET enable_progress_bar = false")
print(json.dumps({"version": duckdb.__version__,
                  "threads": str(con.execute("SELECT current_setting('threads')").fetchone()[0])}), flush=True)
for line in sys.stdin:
    q = json.loads(line)
    t = time.perf_counter()
    rows = con.execute(q).fetchall()
    ms = (time.perf_counter() - t) * 1000.0
    print(json.dumps({"ms": ms, "rows": [[None if v is None else str(v) for v in r] for r in rows]}), flush=True)
"#;

pub struct Peer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    pub version: String,
}

impl Peer {
    /// The duckdb module on database `db` (a file, or `:memory:`).
    pub fn start(db: &str, threads: usize, memory_limit: &str) -> Peer {
        let mut child = Command::new(tools::python())
            .args(["-c", PEER, db, &threads.to_string(), memory_limit])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the tools' Python (run ./setup)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut p = Peer {
            child,
            stdin,
            stdout,
            version: String::new(),
        };
        let hello = p.line();
        p.version = hello["version"].as_str().unwrap_or("").to_string();
        assert_eq!(
            hello["threads"].as_str(),
            Some(threads.to_string().as_str()),
            "the peer's threads"
        );
        p
    }

    fn line(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut l = String::new();
        self.stdout
            .read_line(&mut l)
            .expect("from the duckdb module");
        assert!(
            !l.is_empty(),
            "the duckdb module stopped (its error is above)"
        );
        serde_json::from_str(&l).expect("the peer's JSON")
    }

    /// Runs `q`: (ms inside Python, rows as text).
    pub fn query(&mut self, q: &str) -> (f64, Vec<Vec<Option<String>>>) {
        use std::io::Write;
        let msg = serde_json::to_string(q).expect("json");
        writeln!(self.stdin, "{msg}").expect("to the duckdb module");
        self.stdin.flush().expect("flush");
        let v = self.line();
        let rows = v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .collect();
        (v["ms"].as_f64().expect("ms"), rows)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
