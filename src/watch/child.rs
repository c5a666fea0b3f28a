//! `watch -- COMMAND…`: runs the deployment command beside the watch. Its standard input is ours;
//! its output goes through to our standard output and error byte for byte as it comes, and its
//! last [`KEPT`] bytes are kept to be explained when it fails. Ctrl-C reaches the command first:
//! from a terminal the whole foreground group gets it; otherwise we pass our SIGINT on. It never
//! changes what the command prints, and never kills it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The end of the command's output kept for `explain`: helm and helmfile print their errors last.
const KEPT: usize = 4 << 20;

pub struct Running {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    copies: Vec<tokio::task::JoinHandle<()>>,
}

/// How the command ended: its exit code (128 + signal when a signal ended it, as a shell says).
pub struct Ended {
    pub code: u8,
    pub output: Vec<u8>,
}

pub fn start(argv: &[String]) -> Result<Running, String> {
    let (program, args) = argv.split_first().ok_or("no command given after --")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut copies = Vec::new();
    // Straight to the file descriptors: the process's own stdout may be locked by its writer for
    // the whole run, and the command's bytes must not wait for it.
    use std::os::fd::AsFd;
    let fd = |f: std::os::fd::BorrowedFd<'_>| {
        rustix::io::dup(f)
            .map(|fd| tokio::fs::File::from_std(std::fs::File::from(fd)))
            .map_err(|e| format!("cannot pass the command's output on: {e}"))
    };
    if let Some(out) = child.stdout.take() {
        let to = fd(std::io::stdout().as_fd())?;
        copies.push(tokio::spawn(copy(out, to, output.clone())));
    }
    if let Some(err) = child.stderr.take() {
        let to = fd(std::io::stderr().as_fd())?;
        copies.push(tokio::spawn(copy(err, to, output.clone())));
    }
    Ok(Running {
        child,
        output,
        copies,
    })
}

async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    kept: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A reader that went away (`| head`) must not stop the command: keep reading, drop it.
        let _ = to.write_all(&buf[..n]).await;
        let _ = to.flush().await;
        let mut k = kept.lock().unwrap_or_else(|e| e.into_inner());
        k.extend_from_slice(&buf[..n]);
        if k.len() > KEPT {
            let extra = k.len() - KEPT;
            k.drain(..extra);
        }
    }
}

impl Running {
    /// Passes Ctrl-C on when it did not come from the terminal (a terminal sends it to the
    /// command itself, as part of the foreground group).
    pub fn interrupt(&self) {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            return;
        }
        if let Some(pid) = self
            .child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
    }

    /// Resolves when the command has exited; safe to drop and call again.
    pub async fn exited(&mut self) {
        let _ = self.child.wait().await;
    }

    /// Its exit code and the end of its output, once its output has all gone through.
    pub async fn finish(mut self) -> Ended {
        let status = self.child.wait().await;
        // What the command wrote before it exited is in the pipes; a process it left running in
        // the background may hold them open for long, and is not waited for.
        for c in self.copies.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), c).await;
        }
        let code = match status {
            Ok(s) => match s.code() {
                Some(c) => c.clamp(0, 255) as u8,
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    128u8.saturating_add(s.signal().unwrap_or(0) as u8)
                }
            },
            Err(_) => 1,
        };
        let output = std::mem::take(&mut *self.output.lock().unwrap_or_else(|e| e.into_inner()));
        Ended { code, output }
    }
}
