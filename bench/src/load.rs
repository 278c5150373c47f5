//! The load generator: `concurrency` keep-alive connections, each looping over the workload's
//! requests for a warm-up and then a measured period; latencies into an HDR histogram.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};

use crate::http::Connection;
use crate::workload::Workload;

/// Largest latency recorded, in microseconds (larger ones are clamped).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One slice: one contender, one workload, one concurrency level, for a fixed time.
#[derive(Clone, Debug)]
pub struct Slice {
    /// What each connection sends.
    pub workload: Workload,
    /// How many connections.
    pub concurrency: usize,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time.
    pub measured: Duration,
}

/// What one slice produced.
pub struct Outcome {
    /// Latencies of the requests completed in the measured period, in microseconds.
    pub latencies: Histogram<u64>,
    /// Requests completed in the measured period.
    pub measured_requests: u64,
    /// Length of the measured period.
    pub measured: Duration,
    /// Every request sent, warm-up included (the divisor of store calls per request).
    pub total_requests: u64,
    /// Requests that failed or got an unexpected status.
    pub errors: u64,
    /// The first failure, to say what went wrong.
    pub first_error: Option<String>,
}

/// A fresh latency histogram (1 µs to 60 s, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Runs `slice` against the server at `addr`, with the session cookies of `pool`.
pub async fn run(
    addr: SocketAddr,
    slice: &Slice,
    pool: Arc<Vec<HeaderValue>>,
) -> Result<Outcome, String> {
    // Every connection is open before the clock starts.
    let mut connections = Vec::with_capacity(slice.concurrency);
    for _ in 0..slice.concurrency {
        connections.push(Connection::open(addr).await?);
    }
    let start = Instant::now();
    let window = Window {
        measure_from: start + slice.warmup,
        end: start + slice.warmup + slice.measured,
    };
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let client = Client {
                addr,
                connection,
                workload: slice.workload,
                pool: pool.clone(),
                rng: Rng::new(index as u64 + 1),
                name: format!("c{index}"),
                tally: Tally::new(),
            };
            tokio::spawn(client.run(window))
        })
        .collect();
    let mut outcome = Outcome {
        latencies: histogram(),
        measured_requests: 0,
        measured: slice.measured,
        total_requests: 0,
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        let tally = task.await.map_err(|e| format!("client task: {e}"))?;
        outcome
            .latencies
            .add(&tally.latencies)
            .map_err(|e| format!("histogram: {e}"))?;
        outcome.measured_requests += tally.measured;
        outcome.total_requests += tally.total;
        outcome.errors += tally.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = tally.first_error;
        }
    }
    Ok(outcome)
}

/// When measuring starts and when the slice ends.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// One connection's counts.
struct Tally {
    latencies: Histogram<u64>,
    measured: u64,
    total: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            latencies: histogram(),
            measured: 0,
            total: 0,
            errors: 0,
            first_error: None,
        }
    }

    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message);
        }
    }
}

/// One client connection's loop.
struct Client {
    addr: SocketAddr,
    connection: Connection,
    workload: Workload,
    pool: Arc<Vec<HeaderValue>>,
    rng: Rng,
    name: String,
    tally: Tally,
}

impl Client {
    async fn run(mut self, window: Window) -> Tally {
        let mut logins = 0u64;
        while Instant::now() < window.end {
            match self.workload {
                Workload::ReadOnly | Workload::ReadMostly => {
                    let cookie = self.pool[self.rng.below(self.pool.len() as u64) as usize].clone();
                    let update = self.rng.below(100) < self.workload.update_percent();
                    let (method, path) = if update {
                        (Method::POST, "/update")
                    } else {
                        (Method::GET, "/me")
                    };
                    self.request(window, method, path, Some(&cookie), None)
                        .await;
                }
                Workload::LoginChurn => {
                    logins += 1;
                    let form = format!("user_id=churn-{}-{logins}", self.name);
                    let cookie = self
                        .request(window, Method::POST, "/login", None, Some(form))
                        .await;
                    match cookie {
                        Some(Some(cookie)) => {
                            self.request(window, Method::POST, "/logout", Some(&cookie), None)
                                .await;
                        }
                        Some(None) => self.tally.error("/login set no cookie".to_owned()),
                        None => {}
                    }
                }
            }
        }
        self.tally
    }

    /// Sends one request and records it. Returns `None` when it failed, else the cookies the
    /// response set, if any. A broken connection is replaced.
    async fn request(
        &mut self,
        window: Window,
        method: Method,
        path: &str,
        cookie: Option<&HeaderValue>,
        form: Option<String>,
    ) -> Option<Option<HeaderValue>> {
        let sent = Instant::now();
        let result = self.connection.send(method, path, cookie, form).await;
        let done = Instant::now();
        self.tally.total += 1;
        if sent >= window.measure_from && done <= window.end {
            self.tally.measured += 1;
            let micros = (done - sent).as_micros().min(u128::from(MAX_LATENCY_US)) as u64;
            self.tally.latencies.saturating_record(micros.max(1));
        }
        match result {
            Ok(reply) if reply.status == StatusCode::OK => Some(reply.cookies),
            Ok(reply) => {
                let body = String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(200)
                    .collect::<String>();
                self.tally.error(format!("{path}: {} {body}", reply.status));
                None
            }
            Err(e) => {
                self.tally.error(format!("{path}: {e}"));
                match Connection::open(self.addr).await {
                    Ok(fresh) => self.connection = fresh,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
                None
            }
        }
    }
}

/// xorshift64*: a small, fast, seeded generator; picking sessions needs no more.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}
