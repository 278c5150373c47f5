//! The targets, as ratios computed from one run, one value per concurrency level.

use crate::contenders::Contender;
use crate::stats::{Cell, Results, Summary};
use crate::workload::Workload;

/// One target and its value at each concurrency level.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Target {
    /// What is compared.
    pub name: String,
    /// The goal, as text (`>= 0.9`).
    pub goal: String,
    /// One value per concurrency level of the run (`None` where a side did not run).
    pub values: Vec<Option<f64>>,
    /// Whether every value meets the goal (`None` without a goal or without values).
    pub met: Option<bool>,
}

/// Which number of a [`Summary`] a target looks at.
#[derive(Clone, Copy)]
enum Metric {
    Rps,
    P50,
    P99,
    WritesPerRequest,
    DbWritesPerRequest,
    DbStatementsPerRequest,
}

impl Metric {
    /// The metric's value in each round, where the harness keeps one.
    fn rounds(self, s: &Summary) -> &[f64] {
        match self {
            Metric::Rps => &s.rounds_rps,
            Metric::P50 => &s.rounds_p50_ms,
            Metric::P99
            | Metric::WritesPerRequest
            | Metric::DbWritesPerRequest
            | Metric::DbStatementsPerRequest => &[],
        }
    }

    fn of(self, s: &Summary) -> Option<f64> {
        match self {
            Metric::Rps => Some(s.rps),
            Metric::P50 => Some(s.p50_ms),
            Metric::WritesPerRequest => Some(s.writes_per_request),
            Metric::P99 => Some(s.p99_ms),
            Metric::DbWritesPerRequest => s.db_writes_per_request,
            Metric::DbStatementsPerRequest => s.db_statements_per_request,
        }
    }
}

/// A goal: at least, at most, or none.
#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
    None,
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::AtLeast(v) => format!(">= {v}"),
            Goal::AtMost(v) => format!("<= {v}"),
            Goal::None => "(reported)".to_owned(),
        }
    }

    fn met(self, value: f64) -> Option<bool> {
        match self {
            Goal::AtLeast(v) => Some(value >= v),
            Goal::AtMost(v) => Some(value <= v + 1e-9),
            Goal::None => None,
        }
    }
}

/// Every target the run has numbers for.
pub fn compute(results: &Results, concurrency: &[usize], populations: &[u64]) -> Vec<Target> {
    let small = populations.iter().copied().min().unwrap_or(1_000);
    let large = populations.iter().copied().max().unwrap_or(small);
    let mut targets = Vec::new();
    // The ratio at every concurrency level of the run (`levels` None) or at some of them
    // (the others `None`).
    let mut ratio_at = |levels: Option<&[usize]>,
                        name: String,
                        a: (Contender, u64),
                        b: (Contender, u64),
                        w: Workload,
                        m: Metric,
                        goal: Goal| {
        let values: Vec<Option<f64>> = concurrency
            .iter()
            .map(|&c| match m {
                _ if levels.is_some_and(|l| !l.contains(&c)) => None,
                Metric::Rps | Metric::P50 => paired_ratio(results, a, b, w, c, m),
                _ => {
                    let x = value(results, a.0, a.1, w, c, m)?;
                    let y = value(results, b.0, b.1, w, c, m)?;
                    (y > 0.0).then(|| x / y)
                }
            })
            .collect();
        targets.push(finish(name, goal, values));
    };
    use Contender::*;
    use Workload::*;
    let batched: Vec<usize> = concurrency.iter().copied().filter(|&c| c > 1).collect();
    let single: &[usize] = &[1];
    ratio_at(
        None,
        "sessionward-jwt / bare, rps, read-only".into(),
        (SessionwardJwt, small),
        (Bare, small),
        ReadOnly,
        Metric::Rps,
        Goal::AtLeast(0.95),
    );
    // What the JWT's bytes alone cost, and what the layer costs beyond them.
    ratio_at(
        None,
        "bare-jwt-sized / bare, rps, read-only".into(),
        (BareJwtSized, small),
        (Bare, small),
        ReadOnly,
        Metric::Rps,
        Goal::None,
    );
    ratio_at(
        None,
        "sessionward-jwt / bare-jwt-sized, rps, read-only".into(),
        (SessionwardJwt, small),
        (BareJwtSized, small),
        ReadOnly,
        Metric::Rps,
        Goal::None,
    );
    for population in [small, large] {
        ratio_at(
            Some(&batched),
            format!(
                "sessionward-pg / tower-sessions-pg, rps, read-only, {population} sessions, 16+ connections"
            ),
            (SessionwardPg, population),
            (TowerSessionsPg, population),
            ReadOnly,
            Metric::Rps,
            Goal::AtLeast(2.0),
        );
        ratio_at(
            Some(single),
            format!(
                "sessionward-pg / tower-sessions-pg, rps, read-only, {population} sessions, 1 connection"
            ),
            (SessionwardPg, population),
            (TowerSessionsPg, population),
            ReadOnly,
            Metric::Rps,
            Goal::AtLeast(0.95),
        );
        ratio_at(
            None,
            format!("sessionward-pg / tower-sessions-pg, rps, read-mostly, {population} sessions"),
            (SessionwardPg, population),
            (TowerSessionsPg, population),
            ReadMostly,
            Metric::Rps,
            Goal::None,
        );
        for workload in [ReadOnly, ReadMostly] {
            ratio_at(
                None,
                format!(
                    "sessionward-pg / axum-session-pg, rps, {}, {population} sessions",
                    workload.name()
                ),
                (SessionwardPg, population),
                (AxumSessionPg, population),
                workload,
                Metric::Rps,
                Goal::None,
            );
        }
        if large == small {
            break;
        }
    }
    ratio_at(
        None,
        "sessionward-pg / sessionward-pg-unbatched, p99 latency, read-only".into(),
        (SessionwardPg, small),
        (SessionwardPgUnbatched, small),
        ReadOnly,
        Metric::P99,
        Goal::AtMost(1.0),
    );
    ratio_at(
        None,
        "sessionward-pg / sessionward-pg-unbatched, rps, read-only".into(),
        (SessionwardPg, small),
        (SessionwardPgUnbatched, small),
        ReadOnly,
        Metric::Rps,
        Goal::None,
    );
    ratio_at(
        Some(&[64]),
        "sessionward-mysql / sessionward-mysql-unbatched, rps, read-only, 64 connections".into(),
        (SessionwardMysql, small),
        (SessionwardMysqlUnbatched, small),
        ReadOnly,
        Metric::Rps,
        Goal::AtLeast(2.0),
    );
    if large != small {
        ratio_at(
            None,
            format!("sessionward-pg p50 latency, {large} / {small} sessions, read-only"),
            (SessionwardPg, large),
            (SessionwardPg, small),
            ReadOnly,
            Metric::P50,
            Goal::AtMost(1.2),
        );
    }
    ratio_at(
        None,
        "sessionward-pg-cached / bare, rps, read-only".into(),
        (SessionwardPgCached, small),
        (Bare, small),
        ReadOnly,
        Metric::Rps,
        Goal::AtLeast(0.8),
    );
    for population in [small, large] {
        let statements = concurrency
            .iter()
            .map(|&c| {
                value(
                    results,
                    SessionwardPg,
                    population,
                    ReadOnly,
                    c,
                    Metric::DbStatementsPerRequest,
                )
            })
            .collect();
        targets.push(finish(
            format!(
                "sessionward-pg PostgreSQL statements per request, read-only, {population} sessions"
            ),
            Goal::None,
            statements,
        ));
        for (metric, what) in [
            (Metric::WritesPerRequest, "store write calls"),
            (Metric::DbWritesPerRequest, "PostgreSQL rows written"),
        ] {
            let values = concurrency
                .iter()
                .map(|&c| value(results, SessionwardPg, population, ReadOnly, c, metric))
                .collect();
            targets.push(finish(
                format!("sessionward-pg {what} per request, read-only, {population} sessions"),
                Goal::AtMost(0.0),
                values,
            ));
        }
        if large == small {
            break;
        }
    }
    targets
}

/// The ratio of `a` to `b` in `metric`: the median of the ratios of each round, whose two
/// slices ran in the same pass over the contenders (so drift of the machine between rounds
/// cancels out, and one disturbed slice cannot move the result the way it moves a mean).
/// Without per-round numbers of equal count, the ratio of the overall values.
fn paired_ratio(
    results: &Results,
    a: (Contender, u64),
    b: (Contender, u64),
    workload: Workload,
    concurrency: usize,
    metric: Metric,
) -> Option<f64> {
    let summary = |(contender, population): (Contender, u64)| {
        let cell = Cell {
            population,
            workload,
            concurrency,
        };
        results.summary(cell, contender)
    };
    let (x, y) = (summary(a)?, summary(b)?);
    let (xs, ys) = (metric.rounds(&x), metric.rounds(&y));
    if xs.is_empty() || xs.len() != ys.len() {
        let (x, y) = (metric.of(&x)?, metric.of(&y)?);
        return (y > 0.0).then(|| x / y);
    }
    let mut ratios: Vec<f64> = xs
        .iter()
        .zip(ys)
        .filter(|(_, y)| **y > 0.0)
        .map(|(x, y)| x / y)
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    Some(if ratios.len() % 2 == 1 {
        ratios[middle]
    } else {
        (ratios[middle - 1] + ratios[middle]) / 2.0
    })
}

fn value(
    results: &Results,
    contender: Contender,
    population: u64,
    workload: Workload,
    concurrency: usize,
    metric: Metric,
) -> Option<f64> {
    let cell = Cell {
        population,
        workload,
        concurrency,
    };
    metric.of(&results.summary(cell, contender)?)
}

fn finish(name: String, goal: Goal, values: Vec<Option<f64>>) -> Target {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let met = if present.is_empty() {
        None
    } else {
        present
            .iter()
            .map(|&v| goal.met(v))
            .try_fold(true, |all, m| m.map(|m| all && m))
    };
    Target {
        name,
        goal: goal.text(),
        values,
        met,
    }
}
