//! One benchmark run. Every contender is started once per population it takes part in (the
//! smallest population: every contender; larger ones: the contenders with a PostgreSQL
//! sessions table, each in a database of its own grown with filler rows), and logs in its
//! session pool. Then for each workload and concurrency level every instance runs a slice,
//! round after round, each round starting with another instance, so that drift of the machine
//! hits all contenders and both populations alike.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::Options;
use crate::db::Databases;
use crate::dbstats::{Instance, Tracker};
use crate::load::{self, Slice};
use crate::pool;
use crate::server::Server;
use crate::stats::{Cell, Results};

/// A contender at one population that started and holds its session pool.
struct Running {
    server: Server,
    population: u64,
    pool: Arc<Vec<hyper::header::HeaderValue>>,
}

impl Running {
    fn instance(&self) -> Instance {
        (self.server.contender, self.population)
    }
}

/// Runs the benchmark described by `options`.
pub async fn run(options: &Options) -> Result<Results, String> {
    let started = Instant::now();
    let run_dir = std::env::temp_dir().join(format!("sessionward-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let dbs = Databases::connect(&options.servers(), &run_dir).await;
    if let Err(e) = &dbs.pg {
        eprintln!("warning: {e}; the PostgreSQL contenders are skipped");
    }
    if let Err(e) = &dbs.mysql {
        eprintln!("warning: {e}; the MySQL contender is skipped");
    }
    if let Err(e) = &dbs.redis {
        eprintln!("warning: {e}; the Redis contender is skipped");
    }
    let mut results = Results::default();
    let instances = instances(options);
    let mut running = start_all(&instances, options, &dbs, &run_dir, &mut results).await;
    fill_all(&running, &dbs, &mut results).await;
    let mut tracker = Tracker::default();
    let all: Vec<Instance> = running.iter().map(Running::instance).collect();
    tracker.baseline(&dbs, &all).await;

    let total_cells = options.workloads.len() * options.concurrency.len();
    let mut cell_number = 0;
    let measuring = Instant::now();
    for &workload in &options.workloads {
        for &concurrency in &options.concurrency {
            cell_number += 1;
            eprintln!(
                "[{cell_number}/{total_cells}, {:.0} s] {}, {concurrency} connections",
                measuring.elapsed().as_secs_f64(),
                workload.name(),
            );
            let slice = Slice {
                workload,
                concurrency,
                warmup: options.warmup,
                measured: options.slice,
            };
            for round in 0..options.rounds {
                // Each round starts with another instance.
                let mut order: Vec<usize> = (0..running.len()).collect();
                let shift = (round + cell_number) % order.len().max(1);
                order.rotate_left(shift);
                for i in order {
                    let r = &mut running[i];
                    if results.failed.contains_key(&r.server.contender) {
                        continue;
                    }
                    let cell = Cell {
                        population: r.population,
                        workload,
                        concurrency,
                    };
                    tracker.mark(&dbs, r.instance(), cell).await;
                    run_slice(r, cell, &slice, &mut results).await;
                }
            }
            for r in &running {
                let cell = Cell {
                    population: r.population,
                    workload,
                    concurrency,
                };
                print_summary(&results, cell, r);
            }
        }
    }
    eprintln!(
        "[{:.0} s] settling the server-side counts",
        started.elapsed().as_secs_f64()
    );
    tracker.settle(&dbs).await;
    results.server = tracker
        .attributed
        .into_iter()
        .map(|((contender, cell), counts)| ((cell, contender), counts))
        .collect();
    for r in running.drain(..) {
        r.server.stop().await;
    }
    if !options.keep_databases {
        eprintln!(
            "[{:.0} s] dropping the benchmark databases",
            started.elapsed().as_secs_f64()
        );
        dbs.drop_all(&instances).await;
    }
    eprintln!("[{:.0} s] done", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&run_dir);
    Ok(results)
}

/// Every contender at the smallest population; the contenders with a PostgreSQL sessions table
/// at the larger ones too.
fn instances(options: &Options) -> Vec<Instance> {
    let mut populations = options.populations.clone();
    populations.sort_unstable();
    populations.dedup();
    let mut instances = Vec::new();
    for (index, &population) in populations.iter().enumerate() {
        for &contender in &options.contenders {
            if index == 0 || contender.table_shape().is_some() {
                instances.push((contender, population));
            }
        }
    }
    instances
}

/// Starts each instance and logs in its pool; one that fails is recorded, not fatal.
async fn start_all(
    instances: &[Instance],
    options: &Options,
    dbs: &Databases,
    run_dir: &Path,
    results: &mut Results,
) -> Vec<Running> {
    let mut running = Vec::new();
    for &(contender, population) in instances {
        if results.failed.contains_key(&contender) {
            continue;
        }
        let started = Instant::now();
        let attempt = async {
            let storage = dbs.create(contender, population).await?;
            let server = Server::start(contender, storage, run_dir, options.max_in_flight).await?;
            let pool = pool::login(server.addr, options.pool).await?;
            Ok::<_, String>((
                Running {
                    server,
                    population,
                    pool: Arc::new(pool.cookies),
                },
                pool.retries,
            ))
        };
        match attempt.await {
            Ok((r, retries)) => {
                eprintln!(
                    "started {} (population {population}) and logged in {} sessions in {:.1} s",
                    contender.name(),
                    r.pool.len(),
                    started.elapsed().as_secs_f64()
                );
                if retries > 0 {
                    let note = format!("{retries} pool logins answered 503 and were retried");
                    eprintln!("  note: {note}");
                    results.notes.push(format!("{}: {note}", contender.name()));
                }
                running.push(r);
            }
            Err(e) => {
                eprintln!("FAILED {}: {e}", contender.name());
                results.failed.insert(contender, e);
            }
        }
    }
    running
}

/// Grows each PostgreSQL sessions table to its instance's population, two tables at a time
/// (one PostgreSQL backend per core).
async fn fill_all(running: &[Running], dbs: &Databases, results: &mut Results) {
    let growing: Vec<Instance> = running
        .iter()
        .map(Running::instance)
        .filter(|(c, _)| c.table_shape().is_some())
        .collect();
    if growing.is_empty() {
        return;
    }
    eprintln!("filling the sessions tables to their populations");
    for pair in growing.chunks(2) {
        let second = async {
            match pair.get(1) {
                Some(&(c, p)) => Some((c, p, dbs.fill(c, p).await)),
                None => None,
            }
        };
        let (first, second) = tokio::join!(dbs.fill(pair[0].0, pair[0].1), second);
        for (contender, population, filled) in
            std::iter::once((pair[0].0, pair[0].1, first)).chain(second)
        {
            if let Err(e) = filled {
                results
                    .failed
                    .insert(contender, format!("filling to {population}: {e}"));
            }
        }
    }
}

/// One slice of one instance; its store calls are read from `/__stats` around it.
async fn run_slice(r: &mut Running, cell: Cell, slice: &Slice, results: &mut Results) {
    let contender = r.server.contender;
    if let Err(e) = r.server.check_alive() {
        eprintln!("FAILED {}: {e}", contender.name());
        results.failed.insert(contender, e);
        return;
    }
    let tally = results.tallies.entry((cell, contender)).or_default();
    let before = match r.server.store_calls().await {
        Ok(calls) => calls,
        Err(e) => return tally.fail(e),
    };
    let outcome = match load::run(r.server.addr, slice, r.pool.clone()).await {
        Ok(outcome) => outcome,
        Err(e) => return tally.fail(e),
    };
    let after = match r.server.store_calls().await {
        Ok(calls) => calls,
        Err(e) => return tally.fail(e),
    };
    tally.add(outcome, after.since(before));
}

/// One line per instance after each cell.
fn print_summary(results: &Results, cell: Cell, r: &Running) {
    let contender = r.server.contender;
    let Some(s) = results.summary(cell, contender) else {
        return;
    };
    let errors = results
        .tallies
        .get(&(cell, contender))
        .and_then(|t| t.first_error.clone())
        .map(|e| format!("  {} errors, first: {e}", s.errors))
        .unwrap_or_default();
    eprintln!(
        "    {:<24} {:>9} {:>9.0} rps  p50 {:>7.3} ms  p99 {:>7.3} ms  reads {:.3}  writes {:.3}{errors}",
        contender.name(),
        r.population,
        s.rps,
        s.p50_ms,
        s.p99_ms,
        s.reads_per_request,
        s.writes_per_request
    );
}
