//! Command-line flags of the harness, with the defaults of a full run and of `--quick`.

use std::time::Duration;

use crate::contenders::Contender;
use crate::workload::Workload;

/// What the harness was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// Contenders to run, in the order given.
    pub contenders: Vec<Contender>,
    /// Workloads to run.
    pub workloads: Vec<Workload>,
    /// Client connections, one level per cell.
    pub concurrency: Vec<usize>,
    /// Session populations (rows in each PostgreSQL contender's table).
    pub populations: Vec<u64>,
    /// Sessions each contender logs in through its own `/login` before measuring.
    pub pool: usize,
    /// Measured time of one slice (one contender, one cell, one round).
    pub slice: Duration,
    /// Unmeasured warm-up before each slice.
    pub warmup: Duration,
    /// Rounds per cell: each contender runs one slice per round.
    pub rounds: usize,
    /// PostgreSQL server, without a database name.
    pub pg_url: String,
    /// MySQL / MariaDB server, without a database name.
    pub mysql_url: String,
    /// Redis server.
    pub redis_url: String,
    /// Where the report goes.
    pub out_dir: String,
    /// Keep the benchmark databases after the run.
    pub keep_databases: bool,
    /// `LoadBatching::max_in_flight` of the batched SQL contenders; `None`: the crate's default.
    pub max_in_flight: Option<usize>,
    /// The command line, for the report.
    pub command_line: String,
}

impl Options {
    /// The database servers of the run.
    pub fn servers(&self) -> crate::db::Servers<'_> {
        crate::db::Servers {
            pg_url: &self.pg_url,
            mysql_url: &self.mysql_url,
            redis_url: &self.redis_url,
        }
    }
}

/// The full run's defaults (about 22 minutes on 2 cores).
impl Default for Options {
    fn default() -> Self {
        Options {
            contenders: Contender::ALL.to_vec(),
            workloads: Workload::ALL.to_vec(),
            concurrency: vec![1, 16, 64, 256],
            populations: vec![1_000, 1_000_000],
            pool: 1_000,
            slice: Duration::from_millis(1_000),
            warmup: Duration::from_millis(300),
            rounds: 5,
            pg_url: "postgres://postgres@127.0.0.1:5432".to_owned(),
            mysql_url: "mysql://root@127.0.0.1:3306".to_owned(),
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            out_dir: default_out_dir(),
            keep_databases: false,
            max_in_flight: None,
            command_line: String::new(),
        }
    }
}

/// `docs/bench/` of the repository, wherever the harness is started from.
fn default_out_dir() -> String {
    format!("{}/../docs/bench", env!("CARGO_MANIFEST_DIR"))
}

/// The help text.
pub const USAGE: &str = "\
sessionward-bench: load benchmark of sessionward against bare Axum, tower-sessions and axum_session

USAGE:
    cargo run --release --manifest-path bench/Cargo.toml -- [FLAGS]

FLAGS:
    --quick                 CI smoke run: population 1,000, concurrency 16, 1 round of 0.5 s
    --contenders a,b,...    contenders (default: all): see --list
    --workloads a,b,...     read-only, read-mostly, login-churn (default: all)
    --concurrency 1,16,...  client connections per cell (default: 1,16,64,256)
    --populations 1000,...  session rows in the PostgreSQL tables (default: 1000,1000000)
    --pool N                sessions logged in per contender through /login (default 1000)
    --slice-ms N            measured time per slice (default 1000)
    --warmup-ms N           unmeasured warm-up per slice (default 300)
    --rounds N              interleaved rounds per cell (default 5)
    --pg-url URL            PostgreSQL server without database (default postgres://postgres@127.0.0.1:5432)
    --mysql-url URL         MySQL/MariaDB server without database (default mysql://root@127.0.0.1:3306)
    --redis-url URL         Redis server (default redis://127.0.0.1:6379; keys under sessionward_bench_*)
    --out DIR               report directory (default docs/bench)
    --keep-databases        do not drop the sessionward_bench_* databases at the end
    --max-in-flight N       load statements in flight of sessionward-pg and sessionward-mysql
                            (LoadBatching::new(N, 64); default: the crate's default)
    --list                  list the contenders and exit
    --help                  this text
";

/// What `main` should do.
#[derive(Debug)]
pub enum Command {
    /// Run the benchmark.
    Run(Box<Options>),
    /// Print the contenders.
    List,
    /// Print [`USAGE`].
    Help,
}

/// Parses the harness's flags (everything after the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut options = Options {
        command_line: std::iter::once("sessionward-bench".to_owned())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        ..Options::default()
    };
    // --quick first, so explicit flags can still override it.
    if args.iter().any(|a| a == "--quick") {
        options.populations = vec![1_000];
        options.concurrency = vec![16];
        options.rounds = 1;
        options.slice = Duration::from_millis(500);
        options.warmup = Duration::from_millis(200);
        options.pool = 200;
    }
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--quick" => {}
            "--help" | "-h" => return Ok(Command::Help),
            "--list" => return Ok(Command::List),
            "--keep-databases" => options.keep_databases = true,
            "--contenders" => options.contenders = list(&value()?, Contender::parse)?,
            "--workloads" => options.workloads = list(&value()?, Workload::parse)?,
            "--concurrency" => options.concurrency = list(&value()?, number)?,
            "--populations" => options.populations = list(&value()?, number)?,
            "--pool" => options.pool = number(&value()?)?,
            "--slice-ms" => options.slice = Duration::from_millis(number(&value()?)?),
            "--warmup-ms" => options.warmup = Duration::from_millis(number(&value()?)?),
            "--rounds" => options.rounds = number(&value()?)?,
            "--pg-url" => options.pg_url = value()?.trim_end_matches('/').to_owned(),
            "--mysql-url" => options.mysql_url = value()?.trim_end_matches('/').to_owned(),
            "--redis-url" => options.redis_url = value()?,
            "--out" => options.out_dir = value()?,
            "--max-in-flight" => options.max_in_flight = Some(number(&value()?)?),
            other => return Err(format!("unknown flag {other} (see --help)")),
        }
    }
    if options.rounds == 0 || options.pool == 0 || options.slice.is_zero() {
        return Err("--rounds, --pool and --slice-ms must be above zero".to_owned());
    }
    if options.concurrency.contains(&0) {
        return Err("--concurrency levels must be above zero".to_owned());
    }
    if options.populations.iter().any(|&p| p < options.pool as u64) {
        return Err(format!(
            "every population must hold at least the {} pool sessions",
            options.pool
        ));
    }
    Ok(Command::Run(Box::new(options)))
}

/// A comma-separated list, each item parsed by `item`.
fn list<T>(text: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let items = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(item)
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(format!("empty list: {text:?}"));
    }
    Ok(items)
}

/// A non-negative integer; `_` separators allowed (`1_000_000`).
fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("not a number: {text:?}"))
}
