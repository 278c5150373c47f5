//! A description of the machine and the database servers, for the report.

use crate::db::Databases;

/// What the report says about where it ran.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical processors.
    pub cores: usize,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `SELECT version()` of PostgreSQL.
    pub postgres: Option<String>,
    /// `SELECT version()` of MySQL / MariaDB.
    pub mysql: Option<String>,
    /// `redis_version` from Redis's `INFO server`.
    pub redis: Option<String>,
}

/// Reads `/proc` and asks the database servers their version.
pub async fn describe(dbs: &Databases) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let postgres = match &dbs.pg {
        Ok(pg) => sqlx::query_scalar::<_, String>("SELECT version()")
            .fetch_one(pg)
            .await
            .ok(),
        Err(_) => None,
    };
    let mysql = match &dbs.mysql {
        Ok(mysql) => sqlx::query_scalar::<_, String>("SELECT version()")
            .fetch_one(mysql)
            .await
            .ok(),
        Err(_) => None,
    };
    let redis = match &dbs.redis {
        Ok(redis) => crate::redis::version(redis).await,
        Err(_) => None,
    };
    Machine {
        cpu,
        cores,
        memory_gib: memory_kib / 1024.0 / 1024.0,
        kernel,
        postgres,
        mysql,
        redis,
    }
}
