//! JWT sessions: a signed token carries the session; the store only holds revocations.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ClientMeta, Issued, Resolution, Resolved, Strategy};
use crate::clock::Clock;
use crate::config::{Lifetimes, StrategyDefaults};
use crate::error::Error;
use crate::jwt::{
    Audience, Claims, IssueReason, JwtConfig, Revocation, RevocationList, RevocationStore, Revoked,
    custom_claims,
};
use crate::session::SessionInfo;

/// JWT sessions live 30 days after their last re-issue (Auth.js's default), 90 days at most.
pub(crate) const JWT_DEFAULTS: StrategyDefaults = StrategyDefaults {
    max_age: time::Duration::days(30),
    absolute_timeout: time::Duration::days(90),
};

/// Tokens longer than this are rejected unread.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Browsers drop cookies over about 4 KiB.
const COOKIE_WARN_LEN: usize = 4000;

pub(crate) struct JwtStrategy {
    config: JwtConfig,
    lifetimes: Lifetimes,
    revocations: Arc<RevocationList>,
    clock: Clock,
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl JwtStrategy {
    pub(crate) fn new(
        config: JwtConfig,
        store: impl RevocationStore,
        lifetimes: Lifetimes,
        timeout: std::time::Duration,
        clock: Clock,
    ) -> Self {
        let revocations = RevocationList::new(
            store,
            config.revocation_refresh,
            config.max_staleness(),
            timeout,
            clock.clone(),
        );
        Self {
            config,
            lifetimes,
            revocations,
            clock,
        }
    }

    /// Verifies signature, algorithm, `iss` and `aud`, and the claims' types; then checks the
    /// times with the crate's clock. `Err` carries the reason for the log.
    fn verify(&self, token: &str, now: i64) -> Result<Claims, &'static str> {
        if token.len() > MAX_TOKEN_LEN {
            return Err("oversized token");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed token")?;
        let kid = header.kid.as_deref().ok_or("token names no key")?;
        let key = self.config.keys.get(kid).ok_or("unknown key id")?;
        if header.alg != key.algorithm {
            return Err("algorithm does not match the key");
        }
        // One pass over the token: the signature with the key's own algorithm (pinned above),
        // then the payload parsed once into `Claims`, whose required fields (`sub`, `sid`,
        // `jti`, `iat`, `exp`, `iss`, `aud`, `auth_time`, `abs_exp`) and their types
        // deserialization enforces.
        let (message, signature) = token.rsplit_once('.').ok_or("malformed token")?;
        let (_, payload) = message.split_once('.').ok_or("malformed token")?;
        let signed = jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            &key.decoding,
            key.algorithm,
        )
        .map_err(|_| "malformed signature")?;
        if !signed {
            return Err("bad signature");
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "malformed claims")?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| "malformed claims")?;
        if claims.iss != self.config.issuer {
            return Err("wrong issuer");
        }
        if !claims.aud.names(&self.config.audience) {
            return Err("wrong audience");
        }
        let times = [claims.iat, claims.exp, claims.auth_time, claims.abs_exp];
        if !times.into_iter().chain(claims.nbf).all(plausible_time) {
            return Err("time claim out of range");
        }
        let leeway = self.config.leeway.whole_seconds();
        if now >= claims.exp + leeway || now >= claims.abs_exp + leeway {
            return Err("expired");
        }
        if claims.iat > now + leeway || claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err("not yet valid");
        }
        let longest = self.lifetimes.absolute_timeout.whole_seconds();
        if claims.exp > claims.abs_exp
            || claims.auth_time > claims.iat
            || claims.abs_exp - claims.auth_time > longest
        {
            return Err("lifetime beyond the absolute limit");
        }
        Ok(claims)
    }

    /// Signs a token for the session `sid` of `user_id` and returns it with its view.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        user_id: String,
        sid: Uuid,
        auth_time: i64,
        abs_exp: i64,
        data: String,
        reason: IssueReason,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        let data = match &self.config.hook {
            Some(hook) => hook(user_id.clone(), sid, reason, data).await?,
            None => data,
        };
        let custom = custom_claims(&data)?;
        let now_s = now.unix_timestamp();
        let iat = now_s.max(auth_time);
        let exp = (now + self.lifetimes.window())
            .unix_timestamp()
            .min(abs_exp);
        let claims = Claims {
            sub: user_id,
            sid,
            jti: Uuid::new_v4().simple().to_string(),
            iat,
            exp,
            nbf: None,
            iss: self.config.issuer.clone(),
            aud: Audience::One(self.config.audience.clone()),
            auth_time,
            abs_exp,
            custom,
        };
        let key = &self.config.keys.signing;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.to_string());
        let encoding = key.encoding.as_deref().ok_or(Error::Signing)?;
        let token = jsonwebtoken::encode(&header, &claims, encoding).map_err(|e| {
            tracing::error!(error = %e, "JWT signing failed");
            Error::Signing
        })?;
        if token.len() > COOKIE_WARN_LEN {
            tracing::warn!(
                bytes = token.len(),
                "JWT session token exceeds 4000 bytes; browsers may drop the cookie"
            );
        }
        tracing::debug!(session = %sid, ?reason, "JWT issued");
        let session = self.resolved(&claims, token.clone())?;
        Ok((
            session,
            Issued {
                token,
                expires_at: at(exp),
            },
        ))
    }

    fn resolved(&self, claims: &Claims, token: String) -> Result<Resolved, Error> {
        Ok(Resolved {
            info: SessionInfo {
                id: claims.sid,
                user_id: claims.sub.clone(),
                created_at: at(claims.auth_time),
                refreshed_at: at(claims.iat),
                expires_at: at(claims.exp),
                absolute_expires_at: at(claims.abs_exp),
                user_agent: None,
                ip: None,
                current: true,
            },
            data: serde_json::to_string(&claims.custom)?,
            version: 0,
            token,
        })
    }

    /// Re-issues the current session's token with `data`.
    async fn reissue(
        &self,
        session: &Resolved,
        data: String,
        reason: IssueReason,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        // The sign-in time stays, unless a revocation of all the user's sessions covers it:
        // then the token kept alive across `revoke_others` counts as signed in after it.
        let signed_in = session.info.created_at.unix_timestamp();
        let auth_time = self
            .revocations
            .earliest_auth_time(&session.info.user_id, signed_in);
        self.issue(
            session.info.user_id.clone(),
            session.info.id,
            auth_time,
            session.info.absolute_expires_at.unix_timestamp(),
            data,
            reason,
            now,
        )
        .await
    }

    /// Revokes every token of the session. `false` when another request revoked it first.
    async fn revoke_session(&self, session: &Resolved) -> Result<bool, Error> {
        let expires_at = session.info.absolute_expires_at + self.config.leeway;
        self.revocations
            .add(Revocation {
                // The sid itself: a second revocation of the same session is a duplicate, which
                // makes "revoke, then issue the successor" happen at most once per session.
                id: session.info.id,
                target: Revoked::Session(session.info.id),
                revoked_at: self.clock.now(),
                expires_at,
            })
            .await
    }

    async fn revoke_user(&self, user_id: &str, now: OffsetDateTime) -> Result<(), Error> {
        self.revocations.ready().await?;
        let revoked_at = at(now.unix_timestamp());
        let expires_at = revoked_at + self.lifetimes.absolute_timeout + self.config.leeway;
        self.revocations
            .add(Revocation {
                id: Uuid::new_v4(),
                target: Revoked::User(user_id.to_owned()),
                revoked_at,
                expires_at,
            })
            .await
            .map(|_| ())
    }
}

/// A NumericDate between 1970 and 9999: anything else is not a time a token of ours carries,
/// and keeping to this range keeps every later sum and difference far from overflow.
fn plausible_time(seconds: i64) -> bool {
    (0..=253_402_300_799).contains(&seconds)
}

#[async_trait]
impl Strategy for JwtStrategy {
    async fn resolve(&self, token: &str, now: OffsetDateTime) -> Result<Resolution, Error> {
        let claims = match self.verify(token, now.unix_timestamp()) {
            Ok(claims) => claims,
            Err(reason) => return Ok(Resolution::Invalid(reason)),
        };
        self.revocations.ready().await?;
        if self
            .revocations
            .is_revoked(claims.sid, &claims.sub, claims.auth_time)
        {
            return Ok(Resolution::Invalid("revoked"));
        }
        let session = self.resolved(&claims, token.to_owned())?;
        let extends = self.lifetimes.expiry(now, at(claims.abs_exp)) > at(claims.exp);
        if !(extends && self.lifetimes.due_for_refresh(at(claims.iat), now)) {
            return Ok(Resolution::Valid {
                session: Box::new(session),
                reissue: None,
            });
        }
        let data = session.data.clone();
        let (session, issued) = self
            .reissue(&session, data, IssueReason::Refresh, now)
            .await?;
        Ok(Resolution::Valid {
            session: Box::new(session),
            reissue: Some(issued),
        })
    }

    async fn login(
        &self,
        user_id: String,
        data: String,
        _meta: ClientMeta,
        replacing: Option<&Resolved>,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        self.revocations.ready().await?;
        if let Some(old) = replacing {
            self.logout(old).await?;
        }
        let auth_time = self
            .revocations
            .earliest_auth_time(&user_id, now.unix_timestamp());
        let abs_exp = self.lifetimes.absolute_expiry(now).unix_timestamp();
        let sid = Uuid::new_v4();
        tracing::info!(session = %sid, "JWT session created");
        self.issue(
            user_id,
            sid,
            auth_time,
            abs_exp,
            data,
            IssueReason::SignIn,
            now,
        )
        .await
    }

    async fn logout(&self, session: &Resolved) -> Result<(), Error> {
        // Already revoked by a concurrent request is logged out all the same.
        self.revoke_session(session).await.map(|_| ())
    }

    async fn rotate(
        &self,
        session: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        if !self.revoke_session(session).await? {
            // A concurrent rotation (or logout) of this session won: one successor only.
            return Err(Error::Unauthenticated);
        }
        let mut successor = session.clone();
        successor.info.id = Uuid::new_v4();
        let data = session.data.clone();
        tracing::info!(session = %successor.info.id, "JWT session rotated");
        self.reissue(&successor, data, IssueReason::Refresh, now)
            .await
    }

    async fn update(
        &self,
        session: &Resolved,
        data: String,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Option<Issued>), Error> {
        let (session, issued) = self
            .reissue(session, data, IssueReason::Update, now)
            .await?;
        Ok((session, Some(issued)))
    }

    async fn refresh(
        &self,
        session: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(Resolved, Issued), Error> {
        let data = session.data.clone();
        self.reissue(session, data, IssueReason::Refresh, now).await
    }

    async fn revoke(&self, current: &Resolved, id: Uuid) -> Result<bool, Error> {
        if id != current.info.id {
            return Ok(false);
        }
        Ok(self.revoke_session(current).await?)
    }

    async fn revoke_others(
        &self,
        current: &Resolved,
        now: OffsetDateTime,
    ) -> Result<(u64, Option<(Resolved, Issued)>), Error> {
        self.revoke_user(&current.info.user_id, now).await?;
        // The current token is covered too: re-issue it signed in after the revocation.
        let data = current.data.clone();
        let kept = self
            .reissue(current, data, IssueReason::Refresh, now)
            .await?;
        Ok((0, Some(kept)))
    }

    async fn revoke_all(&self, user_id: &str, now: OffsetDateTime) -> Result<u64, Error> {
        self.revoke_user(user_id, now).await?;
        Ok(0)
    }
}
