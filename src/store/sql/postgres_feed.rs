//! [`ChangeFeed`] on PostgreSQL: `NOTIFY` to publish, `LISTEN` on a connection of its own to
//! follow.

use std::sync::OnceLock;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::notify::ChangeFeed;

/// The channel every instance of one database listens on.
pub(crate) const CHANNEL: &str = "sessionward_changes";

/// Notices between the instances sharing one PostgreSQL database.
pub(crate) struct PgChangeFeed {
    /// The application's pool: publishing is one statement.
    pool: PgPool,
    /// One connection of its own (the application pool's options) for `LISTEN`, made by the
    /// first subscription: following takes no connection from the application's pool, which
    /// `PgListener` would hold for as long as the subscription lasts.
    listening: OnceLock<PgPool>,
}

impl PgChangeFeed {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            listening: OnceLock::new(),
        }
    }

    /// The pool `LISTEN` runs on. It opens nothing until asked, and keeps no maintenance task
    /// (no idle timeout, no lifetime: the one connection is held by the subscription anyway).
    fn listening(&self) -> &PgPool {
        self.listening.get_or_init(|| {
            PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(self.pool.options().get_acquire_timeout())
                .connect_lazy_with((*self.pool.connect_options()).clone())
        })
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
        // The connection of its own, held for as long as the subscription. A lost connection
        // ends the subscription (below) rather than being opened again behind its back.
        let mut listener = PgListener::connect_with(self.listening()).await?;
        listener.eager_reconnect(false);
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
