//! [`ChangeFeed`] on Redis and Redis Cluster: `PUBLISH`, and `SUBSCRIBE` on a connection of its
//! own (on a cluster, a message published on any node reaches subscribers on every node).

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike as _, EventInterface as _, Options, PubsubInterface as _};
use tokio::sync::{broadcast, mpsc};

use crate::error::StoreError;
use crate::notify::{ChangeFeed, capped};

/// The longest a subscription may take to be in place.
const SUBSCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Notices between the instances sharing one Redis (or cluster) and one key prefix.
pub(crate) struct RedisChangeFeed {
    client: Client,
    /// The store's per-command options (`fail_fast`, the timeout), for `PUBLISH`.
    options: Options,
    /// `<key prefix>:changes`: instances of different applications (prefixes) do not hear
    /// each other.
    channel: String,
}

impl RedisChangeFeed {
    pub(crate) fn new(client: Client, options: Options, prefix: &str) -> Self {
        Self {
            client,
            options,
            channel: format!("{prefix}:changes"),
        }
    }
}

#[async_trait]
impl ChangeFeed for RedisChangeFeed {
    async fn publish(&self, notice: &str) -> Result<(), StoreError> {
        // With the store's options, as every other command: a publish that cannot be sent
        // fails at once instead of waiting in the client's queue for a reconnection.
        let client = self.client.with_options(&self.options);
        let _receivers: i64 = client.publish(&self.channel, notice).await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
        // A client of its own (same configuration): a subscribed connection serves nothing else.
        let subscriber = self.client.clone_new();
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        let mut errors = subscriber.error_rx();
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
            subscriber.init().await?;
            subscriber.subscribe(self.channel.as_str()).await
        })
        .await;
        match subscribed {
            // Connecting raised events of its own (the first connection counts as a
            // reconnection): only those from now on mean that messages may have been lost.
            Ok(Ok(())) => {
                reconnects = reconnects.resubscribe();
                errors = errors.resubscribe();
            }
            Ok(Err(e)) => {
                let _ = subscriber.quit().await;
                return Err(e.into());
            }
            Err(_) => {
                let _ = subscriber.quit().await;
                return Err(StoreError::Timeout(SUBSCRIBE_TIMEOUT));
            }
        }
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = sender.closed() => break,
                    message = messages.recv() => match message {
                        Ok(message) => {
                            // Any client may publish anything, of any size, on the channel.
                            let Some(bytes) = message.value.as_bytes() else { continue };
                            let notice = capped(bytes);
                            if sender.send(notice).await.is_err() {
                                break;
                            }
                        }
                        // Messages were dropped (this follower fell behind) or the client is
                        // gone: end, so that the follower starts afresh.
                        Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => break,
                    },
                    // A reconnection or a connection error may have lost messages.
                    _ = reconnects.recv() => break,
                    _ = errors.recv() => break,
                }
            }
            let _ = subscriber.quit().await;
        });
        Ok(receiver)
    }
}
