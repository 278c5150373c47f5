//! The benchmark's databases: one PostgreSQL or MySQL database per contender
//! (`sessionward_bench_*`, dropped and created afresh each run, never `test`), the SQLite file,
//! and the filler rows that grow a contender's sessions table to a large population.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row as _};

use crate::contenders::{Backend, Contender, TableShape};
use crate::redis::Client as RedisClient;

/// The database servers, as the command line names them.
pub struct Servers<'a> {
    /// PostgreSQL, without a database name.
    pub pg_url: &'a str,
    /// MySQL / MariaDB, without a database name.
    pub mysql_url: &'a str,
    /// Redis.
    pub redis_url: &'a str,
}

/// Filler rows per INSERT statement.
const FILL_BATCH: u64 = 250_000;

/// Administrative connections to the database servers, and where the SQLite file goes.
pub struct Databases {
    /// `Err` says why PostgreSQL cannot be used (its contenders are then skipped).
    pub pg: Result<PgPool, String>,
    /// `Err` says why MySQL cannot be used.
    pub mysql: Result<MySqlPool, String>,
    /// `Err` says why Redis cannot be used.
    pub redis: Result<RedisClient, String>,
    pg_url: String,
    mysql_url: String,
    redis_url: String,
    run_dir: PathBuf,
}

/// Where one contender instance keeps its sessions: what its `serve` process is told.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    /// PostgreSQL, MySQL or Redis URL, or SQLite file path.
    pub db_url: Option<String>,
    /// Prefix of its keys (Redis).
    pub key_prefix: Option<String>,
}

impl Storage {
    fn url(db_url: String) -> Storage {
        Storage {
            db_url: Some(db_url),
            key_prefix: None,
        }
    }
}

impl Databases {
    /// Connects to every server (each may fail on its own) for administration.
    pub async fn connect(servers: &Servers<'_>, run_dir: &Path) -> Databases {
        let (pg_url, mysql_url, redis_url) = (servers.pg_url, servers.mysql_url, servers.redis_url);
        let pg = PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{pg_url}/postgres"))
            .await
            .map_err(|e| format!("PostgreSQL at {pg_url}: {e}"));
        let mysql = MySqlPoolOptions::new()
            .max_connections(2)
            .connect(mysql_url)
            .await
            .map_err(|e| format!("MySQL at {mysql_url}: {e}"));
        Databases {
            pg,
            mysql,
            redis: crate::redis::connect(redis_url).await,
            pg_url: pg_url.to_owned(),
            mysql_url: mysql_url.to_owned(),
            redis_url: redis_url.to_owned(),
            run_dir: run_dir.to_owned(),
        }
    }

    /// Creates the database of `contender` at `population` afresh (named by
    /// [`instance_database`]; for Redis, its key prefix, emptied) and returns what its `serve`
    /// process is told.
    pub async fn create(&self, contender: Contender, population: u64) -> Result<Storage, String> {
        match contender.backend() {
            Backend::None => Ok(Storage::default()),
            Backend::Sqlite => {
                let path = self
                    .run_dir
                    .join(format!("{}-{population}.db", contender.name()));
                Ok(Storage::url(path.display().to_string()))
            }
            Backend::Redis => {
                let redis = self.redis.as_ref().map_err(Clone::clone)?;
                let prefix = instance_database(contender, population)?;
                crate::redis::clear(redis, &prefix).await?;
                Ok(Storage {
                    db_url: Some(self.redis_url.clone()),
                    key_prefix: Some(prefix),
                })
            }
            Backend::Postgres => {
                let pg = self.pg.as_ref().map_err(Clone::clone)?;
                let name = instance_database(contender, population)?;
                execute_pg(pg, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
                execute_pg(pg, &format!("CREATE DATABASE {name}")).await?;
                Ok(Storage::url(format!("{}/{name}", self.pg_url)))
            }
            Backend::MySql => {
                let mysql = self.mysql.as_ref().map_err(Clone::clone)?;
                let name = instance_database(contender, population)?;
                for sql in [
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ] {
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(mysql)
                        .await
                        .map_err(|e| format!("MySQL: {e}"))?;
                }
                Ok(Storage::url(format!("{}/{name}", self.mysql_url)))
            }
        }
    }

    /// Adds filler rows in the shape of `contender`'s table until it holds `population` rows,
    /// then `VACUUM ANALYZE`s it (so autovacuum does not start in the middle of a slice).
    /// Returns the rows added.
    pub async fn fill(&self, contender: Contender, population: u64) -> Result<u64, String> {
        let Some(shape) = contender.table_shape() else {
            return Ok(0);
        };
        let url = format!(
            "{}/{}",
            self.pg_url,
            instance_database(contender, population)?
        );
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .map_err(|e| format!("PostgreSQL: {e}"))?;
        let table = table(shape);
        let count: i64 = sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| format!("count {table}: {e}"))?;
        let existing = u64::try_from(count).unwrap_or(0);
        let wanted = population.saturating_sub(existing);
        let started = Instant::now();
        let mut from = 1;
        while from <= wanted {
            let to = (from + FILL_BATCH - 1).min(wanted);
            let sql = filler(shape, contender, population, from, to);
            execute_pg(&pool, &sql).await?;
            from = to + 1;
        }
        execute_pg(&pool, &format!("VACUUM ANALYZE {table}")).await?;
        pool.close().await;
        eprintln!(
            "  {}: {wanted} filler rows in {:.1} s",
            contender.name(),
            started.elapsed().as_secs_f64()
        );
        Ok(wanted)
    }

    /// Drops the databases of these contender instances (errors are printed, not fatal).
    pub async fn drop_all(&self, instances: &[(Contender, u64)]) {
        for &(contender, population) in instances {
            let Ok(name) = instance_database(contender, population) else {
                continue;
            };
            let result = match contender.backend() {
                Backend::Postgres => match &self.pg {
                    Ok(pg) => {
                        execute_pg(pg, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await
                    }
                    Err(_) => Ok(()),
                },
                Backend::MySql => match &self.mysql {
                    Ok(mysql) => {
                        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                            .execute(mysql)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                    Err(_) => Ok(()),
                },
                Backend::Redis => match &self.redis {
                    Ok(redis) => crate::redis::clear(redis, &name).await.map(drop),
                    Err(_) => Ok(()),
                },
                _ => Ok(()),
            };
            if let Err(e) = result {
                eprintln!("warning: cannot drop {name}: {e}");
            }
        }
    }
}

/// The database of `contender` at `population` (`sessionward_bench_sw_pg_1000`), or an error
/// for contenders without one.
pub fn instance_database(contender: Contender, population: u64) -> Result<String, String> {
    contender
        .database()
        .map(|base| format!("{base}_{population}"))
        .ok_or_else(|| format!("{} has no database", contender.name()))
}

/// Runs one statement on PostgreSQL.
async fn execute_pg(pool: &PgPool, sql: &str) -> Result<(), String> {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| format!("PostgreSQL: {e}"))
}

/// The sessions table of a shape.
fn table(shape: TableShape) -> &'static str {
    match shape {
        TableShape::Sessionward => "sessionward_sessions",
        TableShape::TowerSessions => "tower_sessions.session",
        TableShape::AxumSession => "sessions",
    }
}

/// An INSERT of filler rows `from..=to`: unique keys, live for 7 days, payloads of the size the
/// contender itself writes for a pool session (never read: no client holds their keys). Keys include the population being filled to, so that growing a table twice never repeats one.
fn filler(shape: TableShape, contender: Contender, population: u64, from: u64, to: u64) -> String {
    let series = format!("generate_series({from}::bigint, {to}::bigint) AS i");
    let key = format!(
        "convert_to('{}-filler-{population}-' || i, 'UTF8')",
        contender.name()
    );
    match shape {
        TableShape::Sessionward => format!(
            "INSERT INTO sessionward_sessions (id, token_hash, user_id, data, version, \
             created_at, refreshed_at, expires_at, absolute_expires_at, user_agent, ip) \
             SELECT gen_random_uuid(), sha256({key}), 'filler-{population}-' || i, '{{\"counter\":0}}'::jsonb, \
             0, now(), now(), now() + interval '7 days', now() + interval '30 days', NULL, NULL \
             FROM {series}"
        ),
        TableShape::TowerSessions => format!(
            "INSERT INTO tower_sessions.session (id, data, expiry_date) \
             SELECT substr(translate(encode(sha256({key}), 'base64'), '+/', '-_'), 1, 22), \
             convert_to(repeat('x', 80), 'UTF8'), now() + interval '7 days' FROM {series}"
        ),
        TableShape::AxumSession => format!(
            "INSERT INTO sessions (id, expires, session) \
             SELECT gen_random_uuid()::text, \
             extract(epoch FROM now() + interval '7 days')::bigint, repeat('x', 200) \
             FROM {series}"
        ),
    }
}
