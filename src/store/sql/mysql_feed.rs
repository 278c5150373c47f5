//! [`ChangeFeed`] on MySQL / MariaDB, which have no `LISTEN`/`NOTIFY`: notices are rows of
//! `sessionward_changes`, and every follower polls the rows of the last seconds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::MySqlPool;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::notify::ChangeFeed;

/// How often a follower reads the table: the notification delay on MySQL.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);
// Every poll reads the rows of the last 2 seconds (by the server's clock in UTC, in
// [`window`]'s query; `publish` dates its rows by the same clock, whatever the connection's
// time zone), so that a row whose insert committed after a later row's, or after the previous
// poll, is still seen. A row dated more than a second ahead is not read until its date comes:
// only a row inserted with a date of its own (anyone who may insert can) is dated ahead, and
// it would otherwise sit in every window until its date. Rows older than 60 s, or dated over
// 60 s ahead, are deleted by any follower now and then.
/// A follower deletes old rows every this many polls.
const CLEANUP_EVERY: u32 = 100;

/// The longest time from one poll's start to the end of the next one that cannot miss a row
/// (the window's 2 seconds, less half a second for an insert that commits after its row was
/// dated): each poll's window is dated somewhere between its query's start and end. A longer
/// time (a database that answered slowly, a pool with no connection free, a runtime that did
/// not run the follower) ends the subscription, since rows may have left the window unseen:
/// the follower subscribes again and drops every copy.
const MAX_POLL_GAP: Duration = Duration::from_millis(1_500);

/// Notices between the instances sharing one MySQL / MariaDB database.
pub(crate) struct MySqlChangeFeed {
    pool: MySqlPool,
}

impl MySqlChangeFeed {
    pub(crate) fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

/// The most rows one poll reads. A window holding more (a flood: anyone who may insert into
/// the table can make one) ends the subscription, since notices may then be missed: the
/// follower subscribes again and drops every copy.
const MAX_WINDOW_ROWS: usize = 1_000;

/// The notices of the window, by sequence number, each cut to one character more than a notice
/// can have (the follower ignores those as oversized), at most [`MAX_WINDOW_ROWS`] + 1 rows.
async fn window(pool: &MySqlPool) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, SUBSTRING(notice, 1, 7901) FROM sessionward_changes \
         WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL 2 SECOND \
         AND created_at <= UTC_TIMESTAMP(6) + INTERVAL 1 SECOND ORDER BY seq LIMIT 1001",
    )
    .fetch_all(pool)
    .await
}

#[async_trait]
impl ChangeFeed for MySqlChangeFeed {
    async fn publish(&self, notice: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessionward_changes (notice, created_at) VALUES (?, UTC_TIMESTAMP(6))",
        )
        .bind(notice)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
        // What is in the window now happened before the subscription (the follower drops every
        // copy when it subscribes): remember it as seen.
        let mut polled_at = Instant::now();
        let mut seen: HashSet<i64> = window(&self.pool)
            .await?
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        let pool = self.pool.clone();
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut polls = 0u32;
            loop {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                let started = Instant::now();
                // A poll that does not answer within the gap a poll may take (a connection
                // whose network path died without a word would wait for TCP to give up, many
                // minutes) ends the subscription as a failed one does.
                let Ok(Ok(rows)) = tokio::time::timeout(MAX_POLL_GAP, window(&pool)).await else {
                    // Rows written while the database was unreachable may be missed: end the
                    // subscription so the follower starts afresh.
                    return;
                };
                let gap = polled_at.elapsed();
                if gap > MAX_POLL_GAP {
                    tracing::warn!(
                        gap_ms = gap.as_millis(),
                        "change notices were polled too far apart to be sure none was missed; \
                         following afresh"
                    );
                    return;
                }
                polled_at = started;
                if rows.len() > MAX_WINDOW_ROWS {
                    tracing::warn!(
                        rows = rows.len(),
                        "more change notices than one poll reads; following afresh"
                    );
                    return;
                }
                // A row leaves the window for good once it is older than it, so the rows of
                // the previous poll are all a poll needs to know as seen.
                let mut in_window = HashSet::with_capacity(rows.len());
                for (seq, notice) in rows {
                    in_window.insert(seq);
                    if !seen.contains(&seq) && sender.send(notice).await.is_err() {
                        return;
                    }
                }
                seen = in_window;
                polls += 1;
                if polls.is_multiple_of(CLEANUP_EVERY) {
                    let cleanup = sqlx::query(
                        "DELETE FROM sessionward_changes \
                         WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL 60 SECOND \
                         OR created_at > UTC_TIMESTAMP(6) + INTERVAL 60 SECOND LIMIT 1000",
                    )
                    .execute(&pool);
                    match tokio::time::timeout(MAX_POLL_GAP, cleanup).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "cleanup of old change notices failed");
                        }
                        // The next poll finds out whether the database still answers.
                        Err(_) => tracing::warn!("cleanup of old change notices timed out"),
                    }
                }
            }
        });
        Ok(receiver)
    }
}
