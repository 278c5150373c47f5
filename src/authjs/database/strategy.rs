//! The read-mostly strategy behind
//! [`SessionLayer::authjs_database`](crate::SessionLayer::authjs_database): Auth.js database
//! sessions, looked up by the raw token in the adapter's own tables.

use std::borrow::Cow;

use async_trait::async_trait;
use axum::http::HeaderMap;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row as _};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::AuthJsDatabaseConfig;
use super::queries::Queries;
use crate::authjs::cookie_names;
use crate::clock::{javascript_iso, truncate_to_millis};
use crate::config::{DefaultLifetimes, Lifetimes, Persistence, SessionConfig};
use crate::credential::{AppCookieNames, Credential, Presented};
use crate::error::{Error, StoreError, within};
use crate::jwe;
use crate::session::SessionInfo;
use crate::strategy::{Lookup, NewToken, Strategy, TokenRoom, ValidSession};

/// Auth.js's `session.maxAge` default: 30 days. There is no absolute limit: Auth.js keeps no
/// creation time, so the sentinel `Duration::MAX` marks "not configured" (see `new`).
const AUTHJS_DATABASE_DEFAULTS: DefaultLifetimes = DefaultLifetimes {
    max_age: Duration::days(30),
    absolute_timeout: Duration::MAX,
};

const UNSUPPORTED: &str =
    "Auth.js database sessions are read-mostly: sign in and change sessions through Auth.js";

pub(crate) struct AuthJsDatabaseStrategy {
    pool: PgPool,
    queries: Queries,
    cookie_names: AppCookieNames<Cow<'static, str>>,
    lifetimes: Lifetimes,
    timeout: std::time::Duration,
}

/// A session row joined with its user.
struct Row {
    user_id: String,
    name: Option<String>,
    email: Option<String>,
    email_verified: Option<i64>,
    image: Option<String>,
    /// Microseconds since the epoch, exactly as the database computes them from the column:
    /// the compare-and-swap key of an extension.
    expires: i64,
}

impl Row {
    /// The columns of the lookup query, in its order.
    fn decode(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            user_id: row.try_get(0)?,
            name: row.try_get(1)?,
            email: row.try_get(2)?,
            email_verified: row.try_get(3)?,
            image: row.try_get(4)?,
            expires: row.try_get(5)?,
        })
    }
}

fn at_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|_| StoreError::Corrupt("a session or user time is out of range"))
}

impl AuthJsDatabaseStrategy {
    /// # Panics
    ///
    /// On a table name that is not a plain identifier, a missing or invalid cookie name, an
    /// `absolute_timeout` or `idle_timeout` in `config` (Auth.js rows keep neither a creation
    /// nor an activity time, so neither could be enforced), or when `config` contradicts
    /// itself.
    pub(crate) fn new(pool: PgPool, authjs: AuthJsDatabaseConfig, config: &SessionConfig) -> Self {
        let lifetimes = config.validate(AUTHJS_DATABASE_DEFAULTS);
        assert!(
            lifetimes.absolute_timeout == Duration::MAX && lifetimes.idle_timeout.is_none(),
            "sessionward: absolute_timeout and idle_timeout do not apply to Auth.js database \
             sessions (Auth.js keeps no creation or activity time): leave them unset"
        );
        cookie_names::assert_valid(&authjs.cookie_names, "AuthJsDatabaseConfig");
        Self {
            pool,
            queries: Queries::new(&authjs),
            cookie_names: AppCookieNames::new(authjs.cookie_names, authjs.use_secure_cookies),
            lifetimes,
            timeout: config.store_timeout,
        }
    }

    async fn load(&self, token: &str) -> Result<Option<Row>, Error> {
        let query = sqlx::query(AssertSqlSafe(self.queries.lookup.as_str())).bind(token);
        let found = within(self.timeout, query.fetch_optional(&self.pool)).await?;
        found
            .map(|row| Row::decode(&row))
            .transpose()
            .map_err(|e| StoreError::from(e).into())
    }

    /// The session of `row`, presented with `token`.
    fn to_resolved(&self, row: &Row, token: &str) -> Result<ValidSession, Error> {
        let expires_at = at_micros(row.expires)?;
        let email_verified = row
            .email_verified
            .map(at_micros)
            .transpose()?
            .map(javascript_iso);
        let data = serde_json::json!({
            "id": row.user_id,
            "name": row.name,
            "email": row.email,
            "emailVerified": email_verified,
            "image": row.image,
        });
        Ok(ValidSession {
            info: self.info(token, row.user_id.clone(), expires_at, true),
            data: data.to_string(),
            version: 0,
            data_at: 0,
            token: token.to_owned(),
        })
    }

    /// Public facts of a session: Auth.js keeps only the expiry, so the last extension (the
    /// creation time too, for want of one) is `expires - maxAge`.
    fn info(
        &self,
        token: &str,
        user_id: String,
        expires_at: OffsetDateTime,
        current: bool,
    ) -> SessionInfo {
        let extended_at = expires_at
            .checked_sub(self.lifetimes.max_age)
            .unwrap_or(expires_at);
        SessionInfo {
            current,
            ..SessionInfo::of_token(
                jwe::token_uuid(token),
                user_id,
                extended_at,
                extended_at,
                expires_at,
                expires_at,
            )
        }
    }

    /// `now + maxAge`, in whole milliseconds; `None` past the end of time.
    fn extended_expiry(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        now.checked_add(self.lifetimes.max_age)
            .map(truncate_to_millis)
    }

    /// Extends the session to `now + maxAge` if its row still holds the expiry `read` (µs):
    /// a row deleted or extended by someone else meanwhile is left alone (`None`).
    async fn extend(
        &self,
        session: &ValidSession,
        read: i64,
        now: OffsetDateTime,
    ) -> Result<Option<(ValidSession, NewToken)>, Error> {
        let Some(expires_at) = self.extended_expiry(now) else {
            return Ok(None);
        };
        let query = sqlx::query(AssertSqlSafe(self.queries.extend.as_str()))
            .bind(&session.token)
            .bind(read)
            .bind(crate::clock::unix_micros(expires_at).saturating_sub(read));
        let done = within(self.timeout, query.execute(&self.pool)).await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let mut extended = session.clone();
        extended.info = self.info(
            &session.token,
            session.info.user_id.clone(),
            expires_at,
            true,
        );
        let issued = crate::foreign_rows::token_of(&extended);
        Ok(Some((extended, issued)))
    }

    async fn tokens_of_user(&self, current: &ValidSession) -> Result<Vec<(String, i64)>, Error> {
        let query = sqlx::query(AssertSqlSafe(self.queries.list.as_str())).bind(&current.token);
        let rows = within(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| StoreError::from(e).into())
    }

    async fn delete(&self, token: &str) -> Result<bool, Error> {
        let query = sqlx::query(AssertSqlSafe(self.queries.delete.as_str())).bind(token);
        let done = within(self.timeout, query.execute(&self.pool)).await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl Strategy for AuthJsDatabaseStrategy {
    /// The cookies are read with the JWE strategy's bound (16 KiB across the names), not this
    /// strategy's 255 bytes: a stale cookie of another name (a chunked JWE from before the app
    /// switched to database sessions) must not spoil a good one. The token used is checked
    /// against 255 bytes in `resolve`, before any query.
    fn credential(&self, headers: &HeaderMap, config: &SessionConfig) -> Credential {
        self.cookie_names
            .credential(headers, jwe::MAX_TOKEN_LEN, config.accept_bearer)
    }

    /// The cookie belongs to Next.js: the layer neither re-sends it after an extension nor
    /// clears it (see the module docs of [`authjs`](crate::authjs)).
    fn owns_cookie(&self) -> bool {
        false
    }

    fn read_only(&self) -> &'static str {
        UNSUPPORTED
    }

    /// Each cookie name present is tried in turn by the layer (one query each, at most one
    /// per configured name): a stale token under a preferred name does not hide a live one.
    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error> {
        let token = presented.token.as_str();
        if !crate::foreign_rows::well_formed(token) {
            return Ok(Lookup::Invalid("malformed token"));
        }
        let mut reads = crate::foreign_rows::ReadsOfAChangingRow::default();
        loop {
            let Some(row) = self.load(token).await? else {
                return Ok(Lookup::Invalid("unknown token"));
            };
            let session = self.to_resolved(&row, token)?;
            let expires_at = session.info.expires_at;
            if expires_at <= now {
                return Ok(Lookup::Invalid("expired"));
            }
            // Auth.js's rule: extend once `expires - maxAge + updateAge <= now`.
            let due = self.lifetimes.due_for_refresh(
                session.info.refreshed_at,
                now,
                Persistence::Remembered,
            ) && self
                .extended_expiry(now)
                .is_some_and(|new| new > expires_at);
            let extended = if due {
                self.extend(&session, row.expires, now).await?
            } else {
                None
            };
            if let Some(lookup) = reads.after(session, due, extended) {
                return Ok(lookup);
            }
        }
    }

    async fn logout(&self, session: &ValidSession) -> Result<(), Error> {
        self.delete(&session.token).await?;
        tracing::info!(session = %session.info.id, "session revoked (logout)");
        Ok(())
    }

    async fn reload(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<Option<ValidSession>, Error> {
        let Some(row) = self.load(&session.token).await? else {
            return Ok(None);
        };
        let fresh = self.to_resolved(&row, &session.token)?;
        Ok((fresh.info.expires_at > now).then_some(fresh))
    }

    async fn refresh(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        // The row as it is now: a session deleted since this request read it is no session.
        let fresh = self
            .reload(session, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if let Some(kept) = crate::foreign_rows::already_lasting(&fresh, self.extended_expiry(now))
        {
            return Ok(kept);
        }
        let read = crate::clock::unix_micros(fresh.info.expires_at);
        let extended = self
            .extend(&fresh, read, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        tracing::debug!(session = %session.info.id, "session refreshed on request");
        Ok(extended)
    }

    async fn list(
        &self,
        current: &ValidSession,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, Error> {
        let mut sessions = Vec::new();
        for (token, expires) in self.tokens_of_user(current).await? {
            let expires_at = at_micros(expires)?;
            if expires_at > now {
                let user_id = current.info.user_id.clone();
                let is_current = token == current.token;
                sessions.push(self.info(&token, user_id, expires_at, is_current));
            }
        }
        Ok(sessions)
    }

    async fn revoke(&self, current: &ValidSession, id: Uuid) -> Result<bool, Error> {
        let tokens = self.tokens_of_user(current).await?;
        let Some((token, _)) = tokens.iter().find(|(t, _)| jwe::token_uuid(t) == id) else {
            return Ok(false);
        };
        let deleted = self.delete(token).await?;
        if deleted {
            tracing::info!(session = %id, "session revoked");
        }
        Ok(deleted)
    }

    async fn revoke_others(
        &self,
        current: &ValidSession,
        _now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(u64, Option<(ValidSession, NewToken)>), Error> {
        let query =
            sqlx::query(AssertSqlSafe(self.queries.delete_others.as_str())).bind(&current.token);
        let n = within(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected();
        tracing::info!(count = n, kept = %current.info.id, "other sessions of the user revoked");
        Ok((n, None))
    }

    async fn revoke_all(&self, user_id: &str, _now: OffsetDateTime) -> Result<u64, Error> {
        let query = sqlx::query(AssertSqlSafe(self.queries.delete_user.as_str())).bind(user_id);
        let n = within(self.timeout, query.execute(&self.pool))
            .await?
            .rows_affected();
        tracing::info!(count = n, "all sessions of a user revoked");
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_match_javascript() {
        let t = datetime!(2024-05-01 10:00:00.123456789 UTC);
        assert_eq!(javascript_iso(t), "2024-05-01T10:00:00.123Z");
        assert_eq!(
            truncate_to_millis(t),
            datetime!(2024-05-01 10:00:00.123 UTC)
        );
        assert_eq!(crate::clock::unix_micros(t), 1_714_557_600_123_456);
        assert_eq!(
            at_micros(1_714_557_600_123_456).unwrap(),
            datetime!(2024-05-01 10:00:00.123456 UTC)
        );
        assert!(at_micros(i64::MAX).is_err());
    }
}
