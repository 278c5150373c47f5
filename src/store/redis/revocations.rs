//! The JWT revocation list in Redis: [`RevocationStore`] for [`RedisStore`].
//!
//! Three keys that share one hash tag (so one script changes them together, on a cluster too):
//! `P:rv:{P}:ids`, a hash from entry id to the entry; `P:rv:{P}:log`, the ids scored by
//! `revoked_at`; `P:rv:{P}:exp`, the ids scored by `expires_at`. An entry is
//! `<kind>:<revoked_at>:<expires_at>:<subject>`, kind `s` (a session id), `u` (a user id) or
//! `d` (a data change: the subject is the JSON array `[user id, patch]`), times in
//! microseconds. Adding, reading since a time and deleting expired entries are one
//! script each, so one round trip each; the keys expire in Redis after their last entry (plus
//! the store's retention), so a list that is never cleaned up does not outlive its entries.

use async_trait::async_trait;
use fred::types::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::RedisStore;
use super::keys::{from_micros, micros};
use super::scripts::{REVOCATION_ADD, REVOCATIONS_EXPIRE, REVOCATIONS_SINCE};
use crate::error::StoreError;
use crate::store::{Revocation, RevocationStore, Revoked};

fn encode(revocation: &Revocation) -> String {
    let (kind, subject) = match &revocation.target {
        Revoked::Session(sid) => ('s', sid.hyphenated().to_string()),
        Revoked::User(user) => ('u', user.clone()),
        Revoked::UserData { user_id, patch } => {
            ('d', serde_json::json!([user_id, patch]).to_string())
        }
    };
    format!(
        "{kind}:{}:{}:{subject}",
        micros(revocation.revoked_at),
        micros(revocation.expires_at)
    )
}

fn decode(id: &str, entry: &str) -> Result<Revocation, StoreError> {
    let corrupt = |column| move |_| StoreError::Corrupt(column);
    let mut parts = entry.splitn(4, ':');
    let mut next = |column| parts.next().ok_or(StoreError::Corrupt(column));
    let kind = next("kind")?;
    let revoked_at = next("revoked_at")?;
    let expires_at = next("expires_at")?;
    let subject = next("subject")?;
    let time = |text: &str, column| {
        text.parse::<i64>()
            .ok()
            .and_then(from_micros)
            .ok_or(StoreError::Corrupt(column))
    };
    let target = match kind {
        "s" => Revoked::Session(Uuid::parse_str(subject).map_err(corrupt("subject"))?),
        "u" => Revoked::User(subject.to_owned()),
        "d" => {
            let (user_id, patch) =
                serde_json::from_str(subject).map_err(|_| StoreError::Corrupt("subject"))?;
            Revoked::UserData { user_id, patch }
        }
        _ => return Err(StoreError::Corrupt("kind")),
    };
    Ok(Revocation {
        id: Uuid::parse_str(id).map_err(corrupt("id"))?,
        target,
        revoked_at: time(revoked_at, "revoked_at")?,
        expires_at: time(expires_at, "expires_at")?,
    })
}

#[async_trait]
impl RevocationStore for RedisStore {
    /// Redis pub/sub on the channel `<prefix>:changes`.
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::ChangeFeed>> {
        Some(RedisStore::change_feed(self))
    }

    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let expires = micros(revocation.expires_at);
        let args: Vec<Value> = vec![
            revocation.id.hyphenated().to_string().into(),
            encode(revocation).into(),
            micros(revocation.revoked_at).into(),
            expires.into(),
            self.record_deadline(expires).into(),
        ];
        let keys = self.keys.revocations().to_vec();
        match REVOCATION_ADD.run::<i64>(&self.redis(), keys, args).await? {
            1 => Ok(()),
            _ => Err(StoreError::Duplicate),
        }
    }

    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError> {
        let [ids, log, _] = self.keys.revocations();
        let args: Vec<Value> = vec![micros(since).into()];
        let flat: Vec<Value> = REVOCATIONS_SINCE
            .run(&self.redis(), vec![ids, log], args)
            .await?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks(2) {
            let [id, entry] = pair else {
                return Err(StoreError::Corrupt("id"));
            };
            let (Some(id), Some(entry)) = (id.as_string(), entry.as_string()) else {
                return Err(StoreError::Corrupt("id"));
            };
            let revocation = decode(&id, &entry)?;
            if revocation.revoked_at >= since && revocation.expires_at > now {
                out.push(revocation);
            }
        }
        Ok(out)
    }

    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let args: Vec<Value> = vec![micros(now).into(), i64::from(batch).into()];
        let keys = self.keys.revocations().to_vec();
        let deleted = REVOCATIONS_EXPIRE
            .run::<i64>(&self.redis(), keys, args)
            .await?;
        Ok(deleted.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let t = time::macros::datetime!(2030-01-01 0:00:00.000001 UTC);
        for target in [
            Revoked::Session(Uuid::new_v4()),
            Revoked::User("ALICE: \u{1f980} {x}".into()),
            Revoked::User(String::new()),
            Revoked::UserData {
                user_id: "bob:\"x\"".into(),
                patch: r#"{"role":"admin:1","n":null}"#.into(),
            },
        ] {
            let r = Revocation {
                id: Uuid::new_v4(),
                target,
                revoked_at: t,
                expires_at: t + time::Duration::days(30),
            };
            assert_eq!(
                decode(&r.id.hyphenated().to_string(), &encode(&r)).unwrap(),
                r
            );
        }
        assert!(matches!(
            decode(&Uuid::new_v4().to_string(), "x:1:2:y"),
            Err(StoreError::Corrupt("kind"))
        ));
        assert!(decode(&Uuid::new_v4().to_string(), "u:1").is_err());
        assert!(decode(&Uuid::new_v4().to_string(), "d:1:2:[\"bob\"]").is_err());
    }
}
