//! Soak run: many distinct sessions, mixed reads, refreshes, logins and logouts against the demo
//! on PostgreSQL, for a bounded time, on loopback only.
//!
//! ```text
//! cargo build --release --features postgres --examples && target/release/examples/soak --seconds 180
//! ```
//!
//! It starts the demo binary that sits next to it (`target/<profile>/examples/demo`) on a free
//! port with `DATABASE_URL` (default `$SESSIONWARD_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`), logs in a pool of sessions, then runs
//! `--concurrency` clients until `--seconds` have passed: 80% `GET /api/me`, 8%
//! `POST /api/refresh`, 6% logins, 6% logouts (each checked to be dead afterwards). It counts
//! 5xx answers and lost sessions (a 401 for a session that should be live), samples the demo's
//! resident memory, checks every live session once more at the end, prints a summary, and exits
//! non-zero on any 5xx, any lost session, or memory that grew more than 20% after warm-up (a
//! third of the run, at least 10 s).

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::sync::Mutex;

/// The demo's `MAX_SESSIONS_PER_USER` for the soak: more than it ever holds, so the limit is
/// enforced on every login (its transaction is part of what is soaked) but never ends a session.
const SOAK_DEVICE_LIMIT: u32 = 1_000_000;

struct Settings {
    seconds: u64,
    concurrency: usize,
    pool: usize,
    database_url: String,
}

fn settings() -> Result<Settings, String> {
    let mut s = Settings {
        seconds: 180,
        concurrency: 32,
        pool: 200,
        database_url: std::env::var("SESSIONWARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--seconds" => s.seconds = number()?,
            "--concurrency" => s.concurrency = number()? as usize,
            "--sessions" => s.pool = number()? as usize,
            "--database-url" => s.database_url = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(s)
}

/// The demo process, killed on drop.
struct Demo {
    child: Child,
    base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    async fn start(database_url: &str) -> Result<Demo, String> {
        let binary = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("demo");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(&binary)
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            // Each login's argon2 check allocates and frees 19 MiB. glibc then raises its mmap
            // threshold and keeps such buffers in its heaps, which reads as hundreds of MiB of
            // "growth"; a fixed threshold returns them to the system, so what is measured is the
            // session code (about 40 MiB).
            .env("MALLOC_MMAP_THRESHOLD_", "131072")
            .env_remove("SESSION_STRATEGY")
            // Every session is alice's: the demo's device limit (10 by default) would end the
            // least recently used ones, by design, and they would count as lost.
            .env("MAX_SESSIONS_PER_USER", SOAK_DEVICE_LIMIT.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it: --examples)",
                    binary.display()
                )
            })?;
        let mut demo = Demo {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = demo.child.try_wait() {
                return Err(format!("the demo exited: {status}"));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(demo);
            }
            if Instant::now() > deadline {
                return Err("the demo did not listen within 60 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory of the demo process, in KiB.
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    server_errors: AtomicU64,
    lost: AtomicU64,
    logins: AtomicU64,
    logouts: AtomicU64,
    refreshes: AtomicU64,
}

struct Client {
    http: reqwest::Client,
    base: String,
    counts: Counts,
    latencies: Mutex<Vec<Duration>>,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, Option<String>) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header(COOKIE, format!("session-id={token}"));
        }
        if path == "/api/login" {
            req = req.json(&serde_json::json!({ "username": "alice", "password": "wonderland" }));
        }
        let started = Instant::now();
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                eprintln!("request failed: {e}");
                self.counts.server_errors.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::SERVICE_UNAVAILABLE, None);
            }
        };
        self.latencies.lock().await.push(started.elapsed());
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let status = res.status();
        if status.is_server_error() {
            self.counts.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let token = res
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("session-id="))
            .and_then(|v| v.split(';').next())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        (status, token)
    }

    async fn login(&self) -> Option<String> {
        let (status, token) = self.send(reqwest::Method::POST, "/api/login", None).await;
        self.counts.logins.fetch_add(1, Ordering::Relaxed);
        (status == StatusCode::OK).then_some(token).flatten()
    }

    /// Counts a 401 for `token` as a lost session, unless another worker logged it out
    /// meanwhile (it is then no longer in the pool).
    async fn judge(&self, status: StatusCode, token: &str, live: &Mutex<Vec<String>>) {
        if status == StatusCode::UNAUTHORIZED && live.lock().await.iter().any(|t| t == token) {
            eprintln!("lost a live session");
            self.counts.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `GET /api/me` for a session that must be live.
    async fn check_live(&self, token: &str, live: &Mutex<Vec<String>>) {
        let (status, _) = self
            .send(reqwest::Method::GET, "/api/me", Some(token))
            .await;
        self.judge(status, token, live).await;
    }
}

async fn worker(client: Arc<Client>, live: Arc<Mutex<Vec<String>>>, until: Instant) {
    while Instant::now() < until {
        let roll = rand::rng().random_range(0..100);
        let pick = {
            let live = live.lock().await;
            (!live.is_empty()).then(|| live[rand::rng().random_range(0..live.len())].clone())
        };
        match (roll, pick) {
            (0..80, Some(token)) => client.check_live(&token, &live).await,
            (80..88, Some(token)) => {
                let (status, _) = client
                    .send(reqwest::Method::POST, "/api/refresh", Some(&token))
                    .await;
                client.counts.refreshes.fetch_add(1, Ordering::Relaxed);
                client.judge(status, &token, &live).await;
            }
            (88..94, Some(token)) => {
                // Take it out of the pool first, so no other worker expects it to live.
                let owned = {
                    let mut live = live.lock().await;
                    live.iter()
                        .position(|t| *t == token)
                        .map(|i| live.swap_remove(i))
                };
                if let Some(token) = owned {
                    let (status, _) = client
                        .send(reqwest::Method::POST, "/api/logout", Some(&token))
                        .await;
                    client.counts.logouts.fetch_add(1, Ordering::Relaxed);
                    let (after, _) = client
                        .send(reqwest::Method::GET, "/api/me", Some(&token))
                        .await;
                    if status != StatusCode::NO_CONTENT || after != StatusCode::UNAUTHORIZED {
                        eprintln!("logout answered {status}, then /api/me {after}");
                        client.counts.server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {
                if let Some(token) = client.login().await {
                    live.lock().await.push(token);
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, String> {
    let s = settings()?;
    let demo = Demo::start(&s.database_url).await?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(s.concurrency)
            .build()
            .map_err(|e| e.to_string())?,
        base: demo.base.clone(),
        counts: Counts::default(),
        latencies: Mutex::new(Vec::new()),
    });
    // The session pool, logged in by as many clients as will run, so the demo's thread pools
    // and allocator reach their working size before memory is measured.
    let live = Arc::new(Mutex::new(Vec::new()));
    let logins: Vec<_> = (0..s.concurrency)
        .map(|i| {
            let (client, live) = (client.clone(), live.clone());
            let share = s.pool / s.concurrency + usize::from(i < s.pool % s.concurrency);
            tokio::spawn(async move {
                for _ in 0..share {
                    if let Some(token) = client.login().await {
                        live.lock().await.push(token);
                    }
                }
            })
        })
        .collect();
    for login in logins {
        login.await.map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(s.seconds);
    let workers: Vec<_> = (0..s.concurrency)
        .map(|_| tokio::spawn(worker(client.clone(), live.clone(), until)))
        .collect();

    // Memory: after the warm-up (a third of the run, at least 10 s), then at the end.
    let warm_at = started + Duration::from_secs((s.seconds / 3).max(10).min(s.seconds));
    tokio::time::sleep_until(warm_at.into()).await;
    let warm_rss = demo.rss_kib();
    let mut peak_rss = warm_rss;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(demo.rss_kib());
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())?;
    }
    let end_rss = demo.rss_kib();
    let elapsed = started.elapsed();

    // Every session that should be live still authenticates.
    let final_pool = live.lock().await.clone();
    let lost_before = client.counts.lost.load(Ordering::Relaxed);
    for token in &final_pool {
        client.check_live(token, &live).await;
    }
    let live = final_pool;
    let lost_at_end = client.counts.lost.load(Ordering::Relaxed) - lost_before;

    let c = &client.counts;
    let requests = c.requests.load(Ordering::Relaxed);
    let errors = c.server_errors.load(Ordering::Relaxed);
    let lost = c.lost.load(Ordering::Relaxed);
    let mut latencies = client.latencies.lock().await.clone();
    latencies.sort();
    let at = |q: usize| {
        latencies
            .get(latencies.len().saturating_sub(1) * q / 100)
            .copied()
            .unwrap_or_default()
    };
    let grew = end_rss as f64 > warm_rss as f64 * 1.2;
    println!("| metric | value |\n| --- | --- |");
    println!(
        "| duration | {:.0} s, {} clients |",
        elapsed.as_secs_f64(),
        s.concurrency
    );
    println!(
        "| requests | {requests} ({:.0}/s) |",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| logins / logouts / refreshes | {} / {} / {} |",
        c.logins.load(Ordering::Relaxed),
        c.logouts.load(Ordering::Relaxed),
        c.refreshes.load(Ordering::Relaxed)
    );
    println!(
        "| latency p50 / p99 / max | {:?} / {:?} / {:?} |",
        at(50),
        at(99),
        at(100)
    );
    println!("| 5xx | {errors} |");
    println!(
        "| lost sessions | {lost} (of {} live at the end: {lost_at_end} failed the final check) |",
        live.len()
    );
    println!("| demo RSS after warm-up / peak / end | {warm_rss} / {peak_rss} / {end_rss} KiB |");
    Ok(errors == 0 && lost == 0 && !grew)
}
