/*!
One try of a shell step, off the server loop: `sh -c` in its own process group (so a timeout or
a cancel reaches everything it started), dying with the server (PR_SET_PDEATHSIG, so a try cut
short by a `kill -9` never runs on beside its retry), stdin closed, stdout and stderr read to
their caps while the rest is read and counted (a step printing a gigabyte neither blocks nor
fills memory). Its end comes back to the loop as `WfEv::Shell`.
*/

use super::*;
use crate::engine::workflow::Capped;

/// Between SIGTERM and SIGKILL.
const KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// One try of a shell step, off the server loop; its end comes back as `WfEv::Shell`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn shell_try(
    tx: tokio::sync::mpsc::UnboundedSender<Ev>,
    run: String,
    step: usize,
    n: u32,
    cmd: String,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    timeout: Option<std::time::Duration>,
    cancel: tokio::sync::oneshot::Receiver<()>,
) {
    use tokio::io::AsyncReadExt;
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c")
        .arg(&cmd)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    if let Some(d) = &cwd {
        c.current_dir(d);
    }
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let send = |exit: Result<i32, String>, out: String, err: String| {
        let _ = tx.send(Ev::Workflow(WfEv::Shell {
            run: run.clone(),
            step,
            n,
            exit,
            stdout: out,
            stderr: err,
        }));
    };
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            return send(
                Err(format!("sh could not start: {e}")),
                String::new(),
                String::new(),
            )
        }
    };
    let pid = child.id().map(|p| p as i32);
    async fn drain(r: Option<impl tokio::io::AsyncRead + Unpin>) -> Capped {
        let mut c = Capped::default();
        let Some(mut r) = r else { return c };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return c,
                Ok(k) => c.push(&buf[..k]),
            }
        }
    }
    let out = tokio::spawn(drain(child.stdout.take()));
    let err = tokio::spawn(drain(child.stderr.take()));
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let stopped: Option<String> = tokio::select! {
        _ = child.wait() => None,
        _ = limit => Some(format!("timed out after {}", crate::engine::workflow::span_text(timeout.map(|t| t.as_millis() as u64).unwrap_or(0)))),
        r = cancel => match r {
            Ok(()) => Some("cancelled".to_string()),
            // The runner forgot this try (the run ended): let it finish on its own.
            Err(_) => { let _ = child.wait().await; None }
        },
    };
    if stopped.is_some() {
        if let Some(p) = pid {
            unsafe {
                libc::kill(-p, libc::SIGTERM);
            }
            if tokio::time::timeout(KILL_AFTER, child.wait())
                .await
                .is_err()
            {
                unsafe {
                    libc::kill(-p, libc::SIGKILL);
                }
            }
        }
    }
    let status = child.wait().await;
    // Readers end when every holder of the pipes is gone; a grandchild that keeps them open
    // is given a moment, then left.
    let grab = |h: tokio::task::JoinHandle<Capped>| async move {
        tokio::time::timeout(std::time::Duration::from_secs(2), h)
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default()
            .text()
    };
    let (o, e) = (grab(out).await, grab(err).await);
    let exit = match (stopped, status) {
        (Some(why), _) => Err(why),
        (None, Ok(s)) => {
            use std::os::unix::process::ExitStatusExt;
            match (s.code(), s.signal()) {
                (Some(c), _) => Ok(c),
                (None, Some(sig)) => Err(format!("killed by signal {sig}")),
                _ => Err("ended without a status".into()),
            }
        }
        (None, Err(e)) => Err(format!("could not be waited for: {e}")),
    };
    send(exit, o, e);
}
