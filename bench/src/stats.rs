//! Aggregation: slices of the same contender and cell add up into one tally, and a tally gives
//! the numbers the report shows.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::contenders::Contender;
use crate::counting::StoreCalls;
use crate::dbstats::ServerCounts;
use crate::load::{Outcome, histogram};
use crate::workload::Workload;

/// One cell of the matrix: population × workload × concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    /// Session rows in the PostgreSQL contenders' tables.
    pub population: u64,
    /// What the clients send.
    pub workload: Workload,
    /// How many connections.
    pub concurrency: usize,
}

/// Everything one contender did in one cell, over all rounds.
pub struct Tally {
    latencies: Histogram<u64>,
    measured_requests: u64,
    measured: Duration,
    total_requests: u64,
    errors: u64,
    /// The first failure seen, if any.
    pub first_error: Option<String>,
    store_calls: StoreCalls,
    rounds_rps: Vec<f64>,
    rounds_p50_ms: Vec<f64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            latencies: histogram(),
            measured_requests: 0,
            measured: Duration::ZERO,
            total_requests: 0,
            errors: 0,
            first_error: None,
            store_calls: StoreCalls::default(),
            rounds_rps: Vec::new(),
            rounds_p50_ms: Vec::new(),
        }
    }
}

impl Tally {
    /// Adds one slice and the store calls the contender made during it.
    pub fn add(&mut self, outcome: Outcome, calls: StoreCalls) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latencies.add(&outcome.latencies);
        self.measured_requests += outcome.measured_requests;
        self.measured += outcome.measured;
        self.total_requests += outcome.total_requests;
        self.errors += outcome.errors;
        if self.first_error.is_none() {
            self.first_error = outcome.first_error;
        }
        self.store_calls.add(calls);
        self.rounds_rps
            .push(outcome.measured_requests as f64 / outcome.measured.as_secs_f64());
        self.rounds_p50_ms
            .push(outcome.latencies.value_at_quantile(0.5) as f64 / 1_000.0);
    }

    /// Records a slice that could not run.
    pub fn fail(&mut self, message: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message);
        }
    }

    /// The numbers of this tally, with the server-side counts attributed to it.
    pub fn summary(&self, server: Option<ServerCounts>) -> Summary {
        let per_request = |n: u64| {
            if self.total_requests == 0 {
                0.0
            } else {
                n as f64 / self.total_requests as f64
            }
        };
        let ms = |quantile: f64| self.latencies.value_at_quantile(quantile) as f64 / 1_000.0;
        Summary {
            rps: if self.measured.is_zero() {
                0.0
            } else {
                self.measured_requests as f64 / self.measured.as_secs_f64()
            },
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            reads_per_request: per_request(self.store_calls.reads),
            writes_per_request: per_request(self.store_calls.writes),
            db_statements_per_request: server.map(|s| per_request(s.statements)),
            db_writes_per_request: server.map(|s| per_request(s.writes)),
            requests: self.total_requests,
            errors: self.errors,
            rounds_rps: self.rounds_rps.clone(),
            rounds_p50_ms: self.rounds_p50_ms.clone(),
        }
    }
}

/// The reported numbers of one contender in one cell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Requests per second over the measured periods.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Store read calls per request (in-process count).
    pub reads_per_request: f64,
    /// Store write calls per request (in-process count).
    pub writes_per_request: f64,
    /// Database statements per request (server-side count), for database contenders.
    pub db_statements_per_request: Option<f64>,
    /// Database writes per request (server-side count), for database contenders.
    pub db_writes_per_request: Option<f64>,
    /// Requests sent, warm-up included.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Requests per second of each round, for the spread.
    pub rounds_rps: Vec<f64>,
    /// Median latency of each round, milliseconds.
    pub rounds_p50_ms: Vec<f64>,
}

/// Everything a run measured.
#[derive(Default)]
pub struct Results {
    /// Per cell and contender.
    pub tallies: BTreeMap<(Cell, Contender), Tally>,
    /// Server-side counts per contender and cell.
    pub server: BTreeMap<(Cell, Contender), ServerCounts>,
    /// Contenders that could not run at all, and why.
    pub failed: BTreeMap<Contender, String>,
    /// Things worth knowing about the run (retried logins, ...).
    pub notes: Vec<String>,
}

impl Results {
    /// The summary of `contender` in `cell`, if it ran there.
    pub fn summary(&self, cell: Cell, contender: Contender) -> Option<Summary> {
        let tally = self.tallies.get(&(cell, contender))?;
        Some(tally.summary(self.server.get(&(cell, contender)).copied()))
    }

    /// Every cell that has results, in order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells: Vec<Cell> = self.tallies.keys().map(|(cell, _)| *cell).collect();
        cells.dedup();
        cells
    }
}

/// Store queries per request of one contender in one workload and population, all
/// concurrency levels together.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Queries {
    /// Store read calls per request (in-process count).
    pub reads: f64,
    /// Store write calls per request (in-process count).
    pub writes: f64,
    /// Database statements per request (server-side count).
    pub db_statements: Option<f64>,
    /// Database writes per request (server-side count).
    pub db_writes: Option<f64>,
}

impl Results {
    /// Store queries per request of `contender` over every concurrency level of `workload` at
    /// `population`.
    pub fn queries(
        &self,
        contender: Contender,
        workload: Workload,
        population: u64,
    ) -> Option<Queries> {
        let mut requests = 0u64;
        let mut calls = StoreCalls::default();
        let mut server: Option<ServerCounts> = None;
        for ((cell, c), tally) in &self.tallies {
            if *c != contender || cell.workload != workload || cell.population != population {
                continue;
            }
            requests += tally.total_requests;
            calls.add(tally.store_calls);
            if let Some(s) = self.server.get(&(*cell, *c)) {
                let sum = server.get_or_insert_with(ServerCounts::default);
                sum.statements += s.statements;
                sum.writes += s.writes;
            }
        }
        if requests == 0 {
            return None;
        }
        let per = |n: u64| n as f64 / requests as f64;
        Some(Queries {
            reads: per(calls.reads),
            writes: per(calls.writes),
            db_statements: server.map(|s| per(s.statements)),
            db_writes: server.map(|s| per(s.writes)),
        })
    }
}
