//! Contender processes: `sessionward-bench serve <contender>` started on a free port of
//! 127.0.0.1, killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use tokio::process::{Child, ChildStdin, Command};

use crate::contenders::{Contender, ServeArgs};
use crate::counting::StoreCalls;
use crate::db::Storage;
use crate::http::Connection;

/// How long a contender may take to listen (sqlx connects and migrates first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running contender.
pub struct Server {
    /// Which one.
    pub contender: Contender,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    /// Held open: the contender exits when it closes, so no contender outlives the harness.
    _lifeline: Option<ChildStdin>,
}

impl Server {
    /// Starts `contender` on its storage, waits until it listens, and fails with the end of
    /// its log when it exits or does not listen in time.
    pub async fn start(
        contender: Contender,
        storage: Storage,
        log_dir: &Path,
        max_in_flight: Option<usize>,
    ) -> Result<Server, String> {
        let port = free_port()?;
        let args = ServeArgs {
            contender,
            port,
            db_url: storage.db_url,
            key_prefix: storage.key_prefix,
            max_in_flight,
        };
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let log = log_dir.join(format!("{}.log", contender.name()));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(exe)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", contender.name()))?;
        let lifeline = child.stdin.take();
        let mut server = Server {
            contender,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            log,
            _lifeline: lifeline,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited ({status}): {}", server.log_tail()));
            }
            if tokio::net::TcpStream::connect(server.addr).await.is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "did not listen within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    server.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Store calls so far, from its `/__stats`.
    pub async fn store_calls(&self) -> Result<StoreCalls, String> {
        let mut connection = Connection::open(self.addr).await?;
        let reply = connection.send(Method::GET, "/__stats", None, None).await?;
        serde_json::from_slice(&reply.body).map_err(|e| format!("/__stats: {e}"))
    }

    /// Whether the process is still running; if not, why it stopped.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("exited ({status}): {}", self.log_tail())),
            Err(e) => Err(format!("cannot check the process: {e}")),
        }
    }

    /// The last lines of its stderr.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        if tail.is_empty() {
            "no output".to_owned()
        } else {
            tail.join(" | ")
        }
    }

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port: {e}"))
}
