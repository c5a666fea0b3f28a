//! A progress line on stderr while collecting, for a person watching a terminal. Nothing at all when
//! stderr is a pipe or a file: scripts and CI logs get only the result and real errors.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::api::Stats;

pub struct Progress {
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts redrawing `label: N requests, X KiB` until [`Progress::finish`].
    pub fn start(label: String, stats: Arc<Stats>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Progress { stop, task: None };
        }
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut frame = 0;
            while !flag.load(Ordering::Relaxed) {
                let n = stats.requests.load(Ordering::Relaxed);
                let kib = stats.bytes.load(Ordering::Relaxed) / 1024;
                {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[2K{} {label}: {n} requests, {kib} KiB",
                        FRAMES[frame % FRAMES.len()]
                    );
                    let _ = err.flush();
                }
                frame += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress {
            stop,
            task: Some(task),
        }
    }

    /// Stops and erases the line, so that what follows on the terminal starts clean.
    pub async fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            let _ = t.await;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// For `--verbose`: what the collection cost.
pub fn summary(stats: &Stats, elapsed: Duration) -> String {
    let bytes = stats.bytes.load(Ordering::Relaxed);
    format!(
        "{} requests in {} waves, {} received, {:.2}s",
        stats.requests.load(Ordering::Relaxed),
        stats.waves.load(Ordering::Relaxed),
        human_bytes(bytes),
        elapsed.as_secs_f64()
    )
}

fn human_bytes(b: u64) -> String {
    if b < 1024 {
        format!("{b} B")
    } else if b < 1024 * 1024 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    }
}
