//! [`ChangeFeed`] on PostgreSQL: `NOTIFY` to publish, `LISTEN` on a connection of its own to
//! follow.

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::notify::ChangeFeed;

/// The channel every instance of one database listens on.
pub(crate) const CHANNEL: &str = "sessionward_changes";

/// Notices between the instances sharing one PostgreSQL database.
pub(crate) struct PgChangeFeed {
    pool: PgPool,
}

impl PgChangeFeed {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn publish(&self, notice: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(notice)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
        // A connection outside the pool (same options), held for as long as the subscription.
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // The follower went away.
                    () = sender.closed() => return,
                    received = listener.try_recv() => match received {
                        Ok(Some(notification)) => {
                            if sender.send(notification.payload().to_owned()).await.is_err() {
                                return;
                            }
                        }
                        // The connection was lost: notices sent meanwhile are lost too, so end
                        // the subscription and let the follower start afresh.
                        Ok(None) | Err(_) => return,
                    },
                }
            }
        });
        Ok(receiver)
    }
}
