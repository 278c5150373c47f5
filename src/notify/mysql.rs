//! [`ChangeFeed`] on MySQL / MariaDB, which have no `LISTEN`/`NOTIFY`: notices are rows of
//! `sessionward_changes`, and every follower polls the rows of the last seconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::MySqlPool;
use tokio::sync::mpsc;

use super::ChangeFeed;
use crate::error::StoreError;

/// How often a follower reads the table: the notification delay on MySQL.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Every poll reads the rows of this window (by the server's clock; spelled out in [`window`]'s
/// query), so that a row whose insert committed after a later row's, or after the previous
/// poll, is still seen. Rows older than 60 s are deleted by any follower now and then.
const WINDOW: Duration = Duration::from_secs(2);
/// A follower deletes old rows every this many polls.
const CLEANUP_EVERY: u32 = 100;

/// Notices between the instances sharing one MySQL / MariaDB database.
pub(crate) struct MySqlChangeFeed {
    pool: MySqlPool,
}

impl MySqlChangeFeed {
    pub(crate) fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

/// The notices of the window, by sequence number.
async fn window(pool: &MySqlPool) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, notice FROM sessionward_changes \
         WHERE created_at >= NOW(6) - INTERVAL 2 SECOND ORDER BY seq",
    )
    .fetch_all(pool)
    .await
}

#[async_trait]
impl ChangeFeed for MySqlChangeFeed {
    async fn publish(&self, notice: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessionward_changes (notice) VALUES (?)")
            .bind(notice)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
        // What is in the window now happened before the subscription (the follower drops every
        // copy when it subscribes): remember it as seen.
        let mut seen: HashMap<i64, Instant> = window(&self.pool)
            .await?
            .into_iter()
            .map(|(seq, _)| (seq, Instant::now()))
            .collect();
        let pool = self.pool.clone();
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            let forget_after = WINDOW * 2;
            let mut polls = 0u32;
            loop {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                let Ok(rows) = window(&pool).await else {
                    // Rows written while the database was unreachable may be missed: end the
                    // subscription so the follower starts afresh.
                    return;
                };
                for (seq, notice) in rows {
                    if seen.insert(seq, Instant::now()).is_none()
                        && sender.send(notice).await.is_err()
                    {
                        return;
                    }
                }
                seen.retain(|_, at| at.elapsed() < forget_after);
                polls += 1;
                if polls.is_multiple_of(CLEANUP_EVERY) {
                    let cleanup = sqlx::query(
                        "DELETE FROM sessionward_changes \
                         WHERE created_at < NOW(6) - INTERVAL 60 SECOND LIMIT 1000",
                    )
                    .execute(&pool)
                    .await;
                    if let Err(e) = cleanup {
                        tracing::warn!(error = %e, "cleanup of old change notices failed");
                    }
                }
            }
        });
        Ok(receiver)
    }
}
