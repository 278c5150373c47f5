//! The benchmark's Redis: each Redis contender keeps its keys under a prefix of its own
//! (`sessionward_bench_sw_redis_1000:`), deleted before and after the run, and the server's
//! command counters for the per-request counts.

pub use sessionward::fred::prelude::Client;
use sessionward::fred::prelude::{Builder, ClientLike as _, Config, LuaInterface as _};
use sessionward::fred::types::InfoKind;

use crate::dbstats::ServerCounts;

/// Deletes every key matching `ARGV[1]` (on one Redis node; the harness never uses a cluster).
const DELETE_MATCHING: &str = "local n = 0 local cursor = '0' repeat \
     local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000) cursor = r[1] \
     for _, k in ipairs(r[2]) do redis.call('UNLINK', k) n = n + 1 end \
     until cursor == '0' return n";

/// Commands that change data, for the write count. Redis counts the commands a script runs
/// as well as the script itself, so a script that writes counts once as a statement (`EVALSHA`)
/// and once more per command inside it.
const WRITE_COMMANDS: [&str; 12] = [
    "set",
    "del",
    "unlink",
    "hset",
    "hdel",
    "zadd",
    "zrem",
    "zremrangebyscore",
    "pexpireat",
    "expireat",
    "expire",
    "pexpire",
];

/// An administrative connection to the benchmark's Redis.
pub async fn connect(url: &str) -> Result<Client, String> {
    let config = Config::from_url(url).map_err(|e| format!("Redis at {url}: {e}"))?;
    let client = Builder::from_config(config)
        .build()
        .map_err(|e| format!("Redis at {url}: {e}"))?;
    tokio::time::timeout(std::time::Duration::from_secs(5), client.init())
        .await
        .map_err(|_| format!("Redis at {url}: no answer within 5 s"))?
        .map_err(|e| format!("Redis at {url}: {e}"))?;
    Ok(client)
}

/// Deletes the keys under `prefix` (the store's separator `:` follows it); returns how many.
pub async fn clear(client: &Client, prefix: &str) -> Result<u64, String> {
    let pattern = format!("{}:*", escape_glob(prefix));
    client
        .eval::<u64, _, _, _>(DELETE_MATCHING, Vec::<String>::new(), vec![pattern])
        .await
        .map_err(|e| format!("Redis: {e}"))
}

/// The server's commands so far (those run inside scripts included), and those that write
/// (server-wide: another client of the same Redis adds to them).
pub async fn counts(client: &Client) -> Result<ServerCounts, String> {
    let info: String = client
        .info(Some(InfoKind::CommandStats))
        .await
        .map_err(|e| format!("Redis INFO: {e}"))?;
    let mut counts = ServerCounts::default();
    for line in info.lines() {
        // cmdstat_get:calls=12,usec=...
        let Some((name, stats)) = line.trim().split_once(':') else {
            continue;
        };
        let Some(command) = name.strip_prefix("cmdstat_") else {
            continue;
        };
        let calls = stats
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        // The harness's own INFO is not the contender's.
        if command == "info" {
            continue;
        }
        counts.statements += calls;
        if WRITE_COMMANDS.contains(&command) {
            counts.writes += calls;
        }
    }
    Ok(counts)
}

/// The server's version (`redis_version` of `INFO server`).
pub async fn version(client: &Client) -> Option<String> {
    let info: String = client.info(Some(InfoKind::Server)).await.ok()?;
    info.lines()
        .find_map(|l| l.trim().strip_prefix("redis_version:"))
        .map(|v| format!("Redis {v}"))
}

/// `prefix` with the glob characters of `SCAN MATCH` escaped.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
