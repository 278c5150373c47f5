//! `sessionward-bench`: the load benchmark of sessionward against bare Axum, tower-sessions and
//! axum_session. See `bench/README.md`.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml            # full run, ~14 minutes
//! cargo run --release --manifest-path bench/Cargo.toml -- --quick # smoke run, ~1 minute
//! ```
//!
//! The same binary is each contender's server: the harness starts
//! `sessionward-bench serve <contender> --port N [--db-url URL]` once per contender.

mod cli;
mod contenders;
mod counting;
mod db;
mod dbstats;
mod http;
mod load;
mod machine;
mod pool;
mod redis;
mod report;
mod run;
mod server;
mod stats;
mod svg;
mod targets;
mod workload;

use std::process::ExitCode;
use std::time::Instant;

use crate::contenders::{Contender, ServeArgs};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("serve") {
        match ServeArgs::parse(&args[1..]) {
            Ok(serve) => contenders::serve(serve).await,
            Err(e) => Err(e),
        }
    } else {
        harness(&args).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The harness: parse flags, run, write the report.
async fn harness(args: &[String]) -> Result<(), String> {
    let options = match cli::parse(args)? {
        cli::Command::Help => {
            print!("{}", cli::USAGE);
            return Ok(());
        }
        cli::Command::List => {
            for contender in Contender::ALL {
                println!("{:<24} {}", contender.name(), contender.description());
            }
            return Ok(());
        }
        cli::Command::Run(options) => options,
    };
    let started = Instant::now();
    let date = time::OffsetDateTime::now_utc();
    let results = run::run(&options).await?;
    let machine = {
        let dbs = db::Databases::connect(&options.servers(), &std::env::temp_dir()).await;
        machine::describe(&dbs).await
    };
    let run = report::Run {
        options: &options,
        machine,
        date,
        duration: started.elapsed(),
        results: &results,
    };
    let written = report::write(&run)?;
    for path in written {
        println!("wrote {path}");
    }
    if !results.failed.is_empty() {
        for (contender, why) in &results.failed {
            eprintln!("failed: {}: {why}", contender.name());
        }
        // The report is written either way; the exit status tells CI that a contender failed.
        std::process::exit(1);
    }
    Ok(())
}
