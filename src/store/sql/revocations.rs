//! The JWT revocation list on the SQL stores: one implementation for every [`Dialect`].

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Row as _, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use super::store::{Dialect, SqlStore};
use crate::error::StoreError;
use crate::store::{Revocation, RevocationStore, Revoked};

const SESSION: &str = "session";
const USER: &str = "user";
const DATA: &str = "data";

fn corrupt<E>(column: &'static str) -> impl FnOnce(E) -> StoreError {
    move |_| StoreError::Corrupt(column)
}

fn decode<DB: Dialect>(row: &DB::Row) -> Result<Revocation, StoreError>
where
    &'static str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
{
    let time = |column| {
        row.try_get::<DB::Time, _>(column)
            .map_err(corrupt(column))
            .and_then(|t| DB::decode_time(t).ok_or(StoreError::Corrupt(column)))
    };
    let kind: String = row.try_get("kind").map_err(corrupt("kind"))?;
    let subject: String = row.try_get("subject").map_err(corrupt("subject"))?;
    let target = match kind.as_str() {
        SESSION => Revoked::Session(Uuid::parse_str(&subject).map_err(corrupt("subject"))?),
        USER => Revoked::User(subject),
        DATA => Revoked::UserData {
            user_id: subject,
            patch: row
                .try_get::<Option<String>, _>("patch")
                .map_err(corrupt("patch"))?
                .ok_or(StoreError::Corrupt("patch"))?,
        },
        _ => return Err(StoreError::Corrupt("kind")),
    };
    Ok(Revocation {
        id: row
            .try_get::<DB::Id, _>("id")
            .map_err(corrupt("id"))?
            .into(),
        target,
        revoked_at: time("revoked_at")?,
        expires_at: time("expires_at")?,
    })
}

#[async_trait]
impl<DB: Dialect> RevocationStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    fn change_feed(&self) -> Option<std::sync::Arc<dyn crate::notify::ChangeFeed>> {
        DB::change_feed(self.pool())
    }

    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let sid;
        let (kind, subject, patch) = match &revocation.target {
            Revoked::Session(id) => {
                sid = id.hyphenated().to_string();
                (SESSION, sid.as_str(), None)
            }
            Revoked::User(user) => (USER, user.as_str(), None),
            Revoked::UserData { user_id, patch } => (DATA, user_id.as_str(), Some(patch.as_str())),
        };
        sqlx::query(DB::INSERT_REVOCATION)
            .bind(DB::Id::from(revocation.id))
            .bind(kind)
            .bind(subject)
            .bind(DB::encode_time(revocation.revoked_at))
            .bind(DB::encode_time(revocation.expires_at))
            .bind(patch)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError> {
        sqlx::query(DB::REVOCATIONS_SINCE)
            .bind(DB::encode_time(since))
            .bind(DB::encode_time(now))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(decode::<DB>)
            .collect()
    }

    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(DB::DELETE_EXPIRED_REVOCATIONS)
            .bind(DB::encode_time(now))
            .bind(i64::from(batch))
            .execute(self.pool())
            .await?;
        Ok(DB::rows_affected(&done))
    }
}
