//! The read-mostly strategy behind [`SessionLayer::betterauth`](crate::SessionLayer::betterauth):
//! Better Auth sessions, their signed cookie verified here, looked up in Better Auth's own
//! tables (or read from its cookie cache), extended by its rule, ended by deleting the row.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::cache::{CacheReader, Cached, MAX_CACHE_LEN};
use super::queries::{LIST_KINDS, Queries};
use super::schema::FieldType;
use super::signed::{Signer, percent_decoded};
use super::sql::{Bind, Cell, Dialect, Runner};
use super::{BetterAuthConfig, BetterAuthPool};
use crate::clock::{from_unix_micros, javascript_iso};
use crate::config::{DefaultLifetimes, Lifetimes, SessionConfig};
use crate::credential::{self, AppCookieNames, CookieValue, Credential, Presented, Source};
use crate::error::{Error, StoreError, within};
use crate::foreign_rows::{ReadsOfAChangingRow, already_lasting, token_of, well_formed};
use crate::session::SessionInfo;
use crate::strategy::{Lookup, NewToken, Strategy, TokenRoom, ValidSession};

/// The most the session cookies may hold together: one signed token each.
const MAX_COOKIES_LEN: usize = 4096;

/// Better Auth's `session.expiresIn` default: 7 days. No absolute limit: Better Auth has none,
/// so the sentinel `Duration::MAX` marks "not configured" (see `new`).
const BETTER_AUTH_DEFAULTS: DefaultLifetimes = DefaultLifetimes {
    max_age: Duration::days(7),
    absolute_timeout: Duration::MAX,
};

const UNSUPPORTED: &str =
    "Better Auth sessions are read-mostly: sign in and change sessions through Better Auth";

/// The companion cookies read with a session cookie, by their index in `Presented::companions`.
const CACHE: usize = 0;
const DONT_REMEMBER: usize = 1;

pub(crate) struct BetterAuthStrategy {
    runner: Arc<dyn Runner>,
    dialect: Dialect,
    queries: Queries,
    signer: Signer,
    cache: Option<CacheReader>,
    /// `__Secure-<prefix>.session_token` for an app on https, else `<prefix>.session_token`.
    token_names: AppCookieNames<String>,
    /// The session cookie's `session_data` and `dont_remember` cookies, of the same scheme.
    companion_names: [String; 2],
    bearer_requires_signature: bool,
    session_refresh: bool,
    lifetimes: Lifetimes,
    timeout: std::time::Duration,
}

/// A session row joined with its user.
struct Row {
    token: String,
    session_id: String,
    user_id: String,
    /// Microseconds since the epoch, exactly as the database computes them from the column:
    /// the compare-and-swap key of an extension.
    expires: i64,
    created: i64,
    updated: i64,
    user: Map<String, Value>,
}

fn text(cell: &Cell) -> Option<&str> {
    match cell {
        Cell::Text(text) => text.as_deref(),
        Cell::Int(_) => None,
    }
}

fn int(cell: &Cell) -> Option<i64> {
    match cell {
        Cell::Int(n) => *n,
        Cell::Text(_) => None,
    }
}

/// Column `i` of a row as text; a NULL is a corrupt row.
fn text_at(cells: &[Cell], i: usize) -> Result<String, StoreError> {
    text(&cells[i])
        .map(str::to_owned)
        .ok_or(StoreError::Corrupt("a session column is NULL"))
}

/// Column `i` of a row as an integer; a NULL is a corrupt row.
fn int_at(cells: &[Cell], i: usize) -> Result<i64, StoreError> {
    int(&cells[i]).ok_or(StoreError::Corrupt("a session column is NULL"))
}

fn at_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(micros).ok_or(StoreError::Corrupt(
        "a session or user time is out of range",
    ))
}

/// One user column as Better Auth's JSON has it, by the field's declared type.
fn user_value(cell: &Cell, kind: FieldType) -> Result<Value, StoreError> {
    let corrupt = StoreError::Corrupt("a user field does not hold its declared type");
    if kind == FieldType::Date {
        return Ok(match int(cell) {
            Some(micros) => Value::String(javascript_iso(at_micros(micros)?)),
            None => Value::Null,
        });
    }
    let Some(text) = text(cell) else {
        return Ok(Value::Null);
    };
    Ok(match kind {
        FieldType::Boolean => match text {
            "true" | "t" | "1" => Value::Bool(true),
            "false" | "f" | "0" => Value::Bool(false),
            _ => return Err(corrupt),
        },
        FieldType::Number => Value::Number(text.parse().map_err(|_| corrupt)?),
        FieldType::Json => serde_json::from_str(text).map_err(|_| corrupt)?,
        _ => Value::String(text.to_owned()),
    })
}

/// The public id of a session: its row id when that is a UUID (`generateId: "uuid"`), else a
/// UUID derived from it.
fn session_uuid(id: &str) -> Uuid {
    Uuid::parse_str(id)
        .unwrap_or_else(|_| crate::token::labelled_uuid("sessionward betterauth session id", id))
}

impl BetterAuthStrategy {
    /// # Panics
    ///
    /// On an empty secret, a table or column name that is not a plain identifier, an invalid
    /// cookie prefix, an `absolute_timeout` or `idle_timeout` in `config` (Better Auth has
    /// neither), or when `config` contradicts itself.
    pub(crate) fn new(
        pool: BetterAuthPool,
        better_auth: BetterAuthConfig,
        config: &SessionConfig,
    ) -> Self {
        let lifetimes = config.validate(BETTER_AUTH_DEFAULTS);
        assert!(
            lifetimes.absolute_timeout == Duration::MAX && lifetimes.idle_timeout.is_none(),
            "sessionward: absolute_timeout and idle_timeout do not apply to Better Auth sessions \
             (Better Auth has neither): leave them unset"
        );
        assert!(
            !better_auth.secret.is_empty(),
            "sessionward: BetterAuthConfig needs the app's secret (BETTER_AUTH_SECRET)"
        );
        let name = |secure: bool, cookie: &str| {
            let secure = if secure { "__Secure-" } else { "" };
            let name = format!("{secure}{}.{cookie}", better_auth.cookie_prefix);
            assert!(
                crate::cookie::is_valid_name(&name),
                "sessionward: {name:?} is not a valid cookie name"
            );
            name
        };
        let secure = better_auth.use_secure_cookies;
        // The app's own session cookie, and its twin under the other scheme to be ignored.
        let token_names = AppCookieNames::new(
            vec![
                name(secure, "session_token"),
                name(!secure, "session_token"),
            ],
            secure,
        );
        let cache = better_auth.cookie_cache.map(|strategy| CacheReader {
            strategy,
            version: better_auth.cookie_cache_version.to_string(),
            keys: crate::jwe::DerivedKeys::better_auth(&better_auth.secret),
        });
        Self {
            runner: pool.runner,
            dialect: pool.dialect,
            queries: Queries::new(pool.dialect, &better_auth.schema),
            signer: Signer::new(&better_auth.secret),
            cache,
            token_names,
            companion_names: [name(secure, "session_data"), name(secure, "dont_remember")],
            bearer_requires_signature: better_auth.bearer_requires_signature,
            session_refresh: better_auth.session_refresh,
            lifetimes,
            timeout: config.store_timeout,
        }
    }

    /// The session token a presented credential carries, its signature checked: a cookie is
    /// always signed; a bearer token is signed, or (as Better Auth's bearer plugin allows
    /// unless `requireSignature`) the bare token.
    fn token_of(&self, presented: &Presented) -> Result<String, &'static str> {
        let value = presented.token.as_str();
        let signed = match presented.source {
            Source::Cookie { .. } => true,
            Source::Bearer => value.contains('.') || value.contains("%2E"),
            Source::PreviousCookie => return Err("malformed token"),
        };
        if signed {
            return self.signer.unsign(value).ok_or("signature invalid");
        }
        if self.bearer_requires_signature {
            return Err("unsigned bearer token");
        }
        Ok(percent_decoded(value).into_owned())
    }

    async fn load(&self, token: &str) -> Result<Option<Row>, Error> {
        let binds = [Bind::Text(token.to_owned())];
        let q = &self.queries;
        let rows = within(
            self.timeout,
            self.runner.rows(&q.lookup, &binds, &q.lookup_kinds),
        )
        .await?;
        let Some(cells) = rows.into_iter().next() else {
            return Ok(None);
        };
        let mut user = Map::new();
        for ((field, kind), cell) in q.user_fields.iter().zip(&cells[6..]) {
            user.insert(field.clone(), user_value(cell, *kind)?);
        }
        Ok(Some(Row {
            token: text_at(&cells, 0)?,
            session_id: text_at(&cells, 1)?,
            user_id: text_at(&cells, 2)?,
            expires: int_at(&cells, 3)?,
            created: int_at(&cells, 4)?,
            updated: int_at(&cells, 5)?,
            user,
        }))
    }

    fn session(
        token: &str,
        session_id: &str,
        user_id: String,
        times: [OffsetDateTime; 3],
        user: Map<String, Value>,
    ) -> ValidSession {
        let [created_at, updated_at, expires_at] = times;
        ValidSession {
            info: SessionInfo::of_token(
                session_uuid(session_id),
                user_id,
                created_at,
                updated_at,
                expires_at,
                expires_at,
            ),
            data: Value::Object(user).to_string(),
            version: 0,
            data_at: 0,
            token: token.to_owned(),
        }
    }

    fn from_row(row: Row) -> Result<ValidSession, Error> {
        let times = [
            at_micros(row.created)?,
            at_micros(row.updated)?,
            at_micros(row.expires)?,
        ];
        Ok(Self::session(
            &row.token,
            &row.session_id,
            row.user_id,
            times,
            row.user,
        ))
    }

    fn from_cache(token: &str, cached: Cached) -> ValidSession {
        let times = [cached.created_at, cached.updated_at, cached.expires_at];
        Self::session(
            token,
            &cached.session_id,
            cached.user_id,
            times,
            cached.user,
        )
    }

    /// The session in the request's cookie cache, when the app has one and it holds this
    /// session (`None`: ask the database). Its user keeps only the fields the schema names, so
    /// that the session's data is the same whether it came from the cache or the database.
    fn cached(
        &self,
        presented: &Presented,
        token: &str,
        now: OffsetDateTime,
    ) -> Option<ValidSession> {
        let reader = self.cache.as_ref()?;
        let value = presented.companions.get(CACHE)?.as_deref()?;
        match reader.read(&self.signer, value, token, now) {
            Ok(mut cached) => {
                let fields = &self.queries.user_fields;
                cached
                    .user
                    .retain(|key, _| fields.iter().any(|(field, _)| field == key));
                Some(Self::from_cache(token, cached))
            }
            Err(reason) => {
                tracing::debug!(reason, "cookie cache not used");
                None
            }
        }
    }

    /// Whether the request asked Better Auth not to be remembered (a `dont_remember` cookie
    /// signed with the secret, whatever its value, as Better Auth tests it), which stops Better
    /// Auth from extending the session.
    fn dont_remember(&self, presented: &Presented) -> bool {
        presented
            .companions
            .get(DONT_REMEMBER)
            .and_then(Option::as_deref)
            .and_then(|v| self.signer.unsign(v))
            .is_some()
    }

    /// Extends the session to `now + expiresIn` (updatedAt `now`) if its row still holds the
    /// expiry `read` (µs): a row deleted or extended by someone else meanwhile is left alone
    /// (`None`).
    async fn extend(
        &self,
        session: &ValidSession,
        read: i64,
        now: OffsetDateTime,
    ) -> Result<Option<(ValidSession, NewToken)>, Error> {
        let Some(expires_at) = self.extended_expiry(now) else {
            return Ok(None);
        };
        let binds = [
            self.dialect.time(expires_at),
            self.dialect.time(now),
            Bind::Text(session.token.clone()),
            Bind::Int(read),
        ];
        let changed = within(
            self.timeout,
            self.runner.execute(&self.queries.extend, &binds),
        )
        .await?;
        if changed == 0 {
            return Ok(None);
        }
        let mut extended = session.clone();
        extended.info.refreshed_at = crate::clock::truncate_to_millis(now);
        extended.info.expires_at = expires_at;
        extended.info.absolute_expires_at = expires_at;
        let issued = token_of(&extended);
        Ok(Some((extended, issued)))
    }

    /// The expiry an extension made `now` gives: `now + expiresIn`, in whole milliseconds as
    /// Better Auth keeps it.
    fn extended_expiry(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        now.checked_add(self.lifetimes.max_age)
            .map(crate::clock::truncate_to_millis)
    }

    /// Better Auth's rule: extend once `expiresAt - expiresIn + updateAge <= now`.
    fn due(&self, expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        expires_at - self.lifetimes.max_age + self.lifetimes.update_age <= now
    }

    /// The sessions of `user_id`: token, session id, expiry, creation and update (µs);
    /// those live at `live_at` when given (else expired ones too), the latest first, at most
    /// [`MAX_LISTED`](super::queries::MAX_LISTED).
    async fn sessions_of(
        &self,
        user_id: &str,
        live_at: Option<OffsetDateTime>,
    ) -> Result<Vec<(String, String, [i64; 3])>, Error> {
        let binds = [
            Bind::Text(user_id.to_owned()),
            Bind::Int(live_at.map_or(i64::MIN, crate::clock::unix_micros)),
        ];
        let rows = within(
            self.timeout,
            self.runner.rows(&self.queries.list, &binds, &LIST_KINDS),
        )
        .await?;
        rows.iter()
            .map(|cells| {
                let times = [int_at(cells, 2)?, int_at(cells, 3)?, int_at(cells, 4)?];
                Ok((text_at(cells, 0)?, text_at(cells, 1)?, times))
            })
            .collect::<Result<_, StoreError>>()
            .map_err(Error::from)
    }

    async fn delete(&self, token: &str) -> Result<bool, Error> {
        let binds = [Bind::Text(token.to_owned())];
        let n = within(
            self.timeout,
            self.runner.execute(&self.queries.delete, &binds),
        )
        .await?;
        Ok(n > 0)
    }
}

#[async_trait]
impl Strategy for BetterAuthStrategy {
    /// The session cookie the app sets (`__Secure-` on https), with its cookie cache and
    /// `dont_remember` cookies of the same prefix; else `Authorization: Bearer` when accepted.
    fn credential(&self, headers: &HeaderMap, config: &SessionConfig) -> Credential {
        let mut credential =
            self.token_names
                .credential(headers, MAX_COOKIES_LEN, config.accept_bearer);
        for presented in credential.tokens_mut() {
            let Source::Cookie { .. } = presented.source else {
                continue;
            };
            let [cache, dont_remember] = &self.companion_names;
            let cache = self
                .cache
                .as_ref()
                .and_then(|_| credential::joined_cookie(headers, cache, MAX_CACHE_LEN));
            let dont_remember = match credential::cookie(headers, dont_remember) {
                CookieValue::One(value) => Some(value.to_owned()),
                _ => None,
            };
            presented.companions = vec![cache, dont_remember];
        }
        credential
    }

    /// The cookies belong to the Better Auth app: the layer neither re-sends them after an
    /// extension nor clears them.
    fn owns_cookie(&self) -> bool {
        false
    }

    fn read_only(&self) -> &'static str {
        UNSUPPORTED
    }

    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error> {
        let token = match self.token_of(presented) {
            Ok(token) if well_formed(&token) => token,
            Ok(_) => return Ok(Lookup::Invalid("malformed token")),
            Err(reason) => return Ok(Lookup::Invalid(reason)),
        };
        // A sign-in with `rememberMe: false`: a browser-session cookie, never extended.
        let remembered = !self.dont_remember(presented);
        if let Some(mut session) = self.cached(presented, &token, now) {
            session.info.persistent = remembered;
            return Ok(Lookup::Valid {
                session: Arc::new(session),
                reissue: None,
            });
        }
        let mut reads = ReadsOfAChangingRow::default();
        loop {
            let Some(row) = self.load(&token).await? else {
                return Ok(Lookup::Invalid("unknown token"));
            };
            let read = row.expires;
            let mut session = Self::from_row(row)?;
            session.info.persistent = remembered;
            let expires_at = session.info.expires_at;
            if expires_at < now {
                return Ok(Lookup::Invalid("expired"));
            }
            let due = self.session_refresh && remembered && self.due(expires_at, now);
            let extended = if due {
                self.extend(&session, read, now).await?
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
        let fresh = Self::from_row(row)?;
        Ok((fresh.info.expires_at >= now).then_some(fresh))
    }

    async fn refresh(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        _room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        // Better Auth never extends these: neither does the layer, asked or not.
        if !self.session_refresh {
            return Err(Error::Unsupported(
                "this Better Auth app never extends sessions (disableSessionRefresh)",
            ));
        }
        if !session.info.persistent {
            return Err(Error::Unsupported(
                "Better Auth never extends a rememberMe: false session",
            ));
        }
        // The expiry as the database holds it now (the session may come from the cookie cache).
        let fresh = self
            .reload(session, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if let Some(kept) = already_lasting(&fresh, self.extended_expiry(now)) {
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
        for (token, id, [expires, created, updated]) in
            self.sessions_of(&current.info.user_id, Some(now)).await?
        {
            let expires_at = at_micros(expires)?;
            if expires_at < now {
                continue;
            }
            sessions.push(SessionInfo {
                current: token == current.token,
                ..SessionInfo::of_token(
                    session_uuid(&id),
                    current.info.user_id.clone(),
                    at_micros(created)?,
                    at_micros(updated)?,
                    expires_at,
                    expires_at,
                )
            });
        }
        Ok(sessions)
    }

    async fn revoke(&self, current: &ValidSession, id: Uuid) -> Result<bool, Error> {
        let sessions = self.sessions_of(&current.info.user_id, None).await?;
        let Some((token, _, _)) = sessions.iter().find(|(_, s, _)| session_uuid(s) == id) else {
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
        let binds = [
            Bind::Text(current.info.user_id.clone()),
            Bind::Text(current.token.clone()),
        ];
        let n = within(
            self.timeout,
            self.runner.execute(&self.queries.delete_others, &binds),
        )
        .await?;
        tracing::info!(count = n, kept = %current.info.id, "other sessions of the user revoked");
        Ok((n, None))
    }

    async fn revoke_all(&self, user_id: &str, _now: OffsetDateTime) -> Result<u64, Error> {
        let binds = [Bind::Text(user_id.to_owned())];
        let n = within(
            self.timeout,
            self.runner.execute(&self.queries.delete_user, &binds),
        )
        .await?;
        tracing::info!(count = n, "all sessions of a user revoked");
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_columns_become_better_auths_json() {
        let t = |s: &str| Cell::Text(Some(s.to_owned()));
        assert_eq!(user_value(&t("Ann"), FieldType::String).unwrap(), "Ann");
        for yes in ["true", "t", "1"] {
            assert_eq!(user_value(&t(yes), FieldType::Boolean).unwrap(), true);
        }
        for no in ["false", "f", "0"] {
            assert_eq!(user_value(&t(no), FieldType::Boolean).unwrap(), false);
        }
        assert!(user_value(&t("yes"), FieldType::Boolean).is_err());
        assert_eq!(user_value(&t("42"), FieldType::Number).unwrap(), 42);
        assert_eq!(user_value(&t("4.5"), FieldType::Number).unwrap(), 4.5);
        assert_eq!(
            user_value(&t(r#"["a","b"]"#), FieldType::Json).unwrap(),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            user_value(&Cell::Int(Some(1_714_557_600_123_000)), FieldType::Date).unwrap(),
            "2024-05-01T10:00:00.123Z"
        );
        assert_eq!(
            user_value(&Cell::Text(None), FieldType::String).unwrap(),
            Value::Null
        );
        assert_eq!(
            user_value(&Cell::Int(None), FieldType::Date).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn session_ids_are_the_row_id_or_a_uuid_made_from_it() {
        let uuid = "0b7c5a3e-1d2f-4c6b-9a8e-7f6d5c4b3a21";
        assert_eq!(session_uuid(uuid).to_string(), uuid);
        let derived = session_uuid("Xk3aQ9pLm2ZrT7vB1nC8dE4fG6hJ0sW5");
        assert_eq!(derived, session_uuid("Xk3aQ9pLm2ZrT7vB1nC8dE4fG6hJ0sW5"));
        assert_ne!(derived, session_uuid("Yk3aQ9pLm2ZrT7vB1nC8dE4fG6hJ0sW5"));
    }
}
