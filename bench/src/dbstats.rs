//! Store queries counted by the database servers themselves, per contender.
//!
//! - PostgreSQL: `pg_stat_database` of the contender's own database. `statements` are
//!   committed plus rolled-back transactions (every statement outside an explicit transaction
//!   is one); `writes` are rows inserted, updated and deleted.
//! - MySQL / MariaDB: `SHOW GLOBAL STATUS`: `statements` are `Com_select` + `Com_insert` +
//!   `Com_update` + `Com_delete`, `writes` the last three. The counters are server-wide, so other
//!   clients of the server add noise; the harness's own `SHOW` is not among them.
//!
//! Every contender instance (a contender at one population) has a database of its own.
//! PostgreSQL publishes a backend's counts when it goes idle (within about a second, or ten
//! when it flushed less than a second before) or disconnects, so deltas are attributed late:
//! the counts between two marks of an instance go to the cell of the earlier mark, and
//! [`Tracker::settle`] waits before the last reading.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::Row as _;

use crate::contenders::{Backend, Contender};
use crate::db::{Databases, instance_database};
use crate::stats::Cell;

/// How long [`Tracker::settle`] waits for PostgreSQL backends to publish their counts (pool
/// connections close after 2 s idle, and publish on exit).
const SETTLE: Duration = Duration::from_millis(6_000);

/// Server-side counts of one contender's database.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ServerCounts {
    /// Statements (PostgreSQL: transactions).
    pub statements: u64,
    /// Write statements (PostgreSQL: rows written).
    pub writes: u64,
}

impl ServerCounts {
    fn since(self, earlier: ServerCounts) -> ServerCounts {
        ServerCounts {
            statements: self.statements.saturating_sub(earlier.statements),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    fn add(&mut self, other: ServerCounts) {
        self.statements += other.statements;
        self.writes += other.writes;
    }
}

/// A contender at one population: one process, one database.
pub type Instance = (Contender, u64);

/// Reads the counts of an instance's database now; `None` for contenders without a database
/// server.
pub async fn read(dbs: &Databases, instance: Instance) -> Result<Option<ServerCounts>, String> {
    let (contender, population) = instance;
    match contender.backend() {
        Backend::Postgres => {
            let pg = dbs.pg.as_ref().map_err(Clone::clone)?;
            let name = instance_database(contender, population)?;
            let row = sqlx::query(
                "SELECT (xact_commit + xact_rollback)::bigint, \
                 (tup_inserted + tup_updated + tup_deleted)::bigint \
                 FROM pg_stat_database WHERE datname = $1",
            )
            .bind(name)
            .fetch_one(pg)
            .await
            .map_err(|e| format!("pg_stat_database: {e}"))?;
            let statements: i64 = row.try_get(0).map_err(|e| e.to_string())?;
            let writes: i64 = row.try_get(1).map_err(|e| e.to_string())?;
            Ok(Some(ServerCounts {
                statements: statements.max(0) as u64,
                writes: writes.max(0) as u64,
            }))
        }
        Backend::MySql => {
            let mysql = dbs.mysql.as_ref().map_err(Clone::clone)?;
            let rows = sqlx::query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN \
                 ('Com_select', 'Com_insert', 'Com_update', 'Com_delete')",
            )
            .fetch_all(mysql)
            .await
            .map_err(|e| format!("SHOW GLOBAL STATUS: {e}"))?;
            let mut counts = ServerCounts::default();
            for row in rows {
                let name: String = row.try_get(0).map_err(|e| e.to_string())?;
                let value: String = row.try_get(1).map_err(|e| e.to_string())?;
                let value: u64 = value.parse().unwrap_or(0);
                counts.statements += value;
                if name != "Com_select" {
                    counts.writes += value;
                }
            }
            Ok(Some(counts))
        }
        Backend::Redis => {
            let redis = dbs.redis.as_ref().map_err(Clone::clone)?;
            crate::redis::counts(redis).await.map(Some)
        }
        Backend::None | Backend::Sqlite => Ok(None),
    }
}

/// Attributes each contender's server-side counts to the cells it ran in.
#[derive(Default)]
pub struct Tracker {
    last: HashMap<Instance, ServerCounts>,
    pending: HashMap<Instance, Cell>,
    /// Counts per contender and cell so far.
    pub attributed: HashMap<(Contender, Cell), ServerCounts>,
}

impl Tracker {
    /// Called before each of an instance's slices in `cell`: what happened since its last mark
    /// in another cell is given to that cell.
    pub async fn mark(&mut self, dbs: &Databases, instance: Instance, cell: Cell) {
        if self.pending.get(&instance) == Some(&cell) {
            return;
        }
        let Ok(Some(now)) = read(dbs, instance).await else {
            return;
        };
        self.attribute(instance, now);
        self.pending.insert(instance, cell);
    }

    /// Waits for PostgreSQL to publish, then gives every contender's last counts to its last
    /// cell. Call before anything else writes to the databases (filling) and at the end.
    pub async fn settle(&mut self, dbs: &Databases) {
        if self.pending.is_empty() {
            return;
        }
        tokio::time::sleep(SETTLE).await;
        let instances: Vec<Instance> = self.pending.keys().copied().collect();
        for instance in instances {
            if let Ok(Some(now)) = read(dbs, instance).await {
                self.attribute(instance, now);
            }
            self.pending.remove(&instance);
        }
    }

    /// Starts counting afresh for `instances` (after set-up, which is not theirs). Waits for
    /// PostgreSQL to publish the set-up's counts first: read at once, the baseline would miss
    /// the logins of the session pool, and the first cell would be charged with their writes.
    pub async fn baseline(&mut self, dbs: &Databases, instances: &[Instance]) {
        if instances
            .iter()
            .any(|(contender, _)| contender.backend() == Backend::Postgres)
        {
            tokio::time::sleep(SETTLE).await;
        }
        for &instance in instances {
            self.pending.remove(&instance);
            match read(dbs, instance).await {
                Ok(Some(now)) => {
                    self.last.insert(instance, now);
                }
                _ => {
                    self.last.remove(&instance);
                }
            }
        }
    }

    fn attribute(&mut self, instance: Instance, now: ServerCounts) {
        if let (Some(cell), Some(last)) = (self.pending.get(&instance), self.last.get(&instance)) {
            let delta = now.since(*last);
            self.attributed
                .entry((instance.0, *cell))
                .or_default()
                .add(delta);
        }
        self.last.insert(instance, now);
    }
}
