//! JWT sessions: a signed token carries the session; the store only holds revocations.

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::Header;
use time::OffsetDateTime;

use crate::clock::from_unix_seconds;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{DefaultLifetimes, Lifetimes, Persistence};
use crate::credential::{Presented, Source};
use crate::error::{Error, StoreError};
use crate::jwt::{
    Audience, Claims, IssueReason, JwtConfig, MAX_TOKEN_LEN, PendingChanges, Revocation,
    RevocationList, RevocationStore, Revoked, SignInTime, Standing, TokenFacts, Verified, Verifier,
    custom_claims,
};
use crate::strategy::{
    LoginFailed, Lookup, NewToken, SessionStart, Started, Strategy, TokenChange, TokenRoom,
    ValidSession,
};

/// JWT sessions live 30 days after their last re-issue (Auth.js's default), 90 days at most.
pub(crate) const JWT_DEFAULTS: DefaultLifetimes = DefaultLifetimes {
    max_age: time::Duration::days(30),
    absolute_timeout: time::Duration::days(90),
};

pub(crate) struct JwtStrategy {
    verifier: Verifier,
    lifetimes: Lifetimes,
    revocations: Arc<RevocationList>,
    clock: Clock,
}

impl JwtStrategy {
    pub(crate) fn new(
        config: JwtConfig,
        store: impl RevocationStore,
        lifetimes: Lifetimes,
        timeout: std::time::Duration,
        clock: Clock,
        change_notices: bool,
    ) -> Self {
        config.validate();
        let revocations = RevocationList::new(
            store,
            config.revocation_refresh,
            config.max_staleness(),
            timeout,
            (
                config.max_revoked_sessions,
                config.revoked_sessions_per_user(),
            ),
            clock.clone(),
            change_notices,
        );
        Self {
            verifier: Verifier::new(config, &lifetimes, revocations.key_hashing()),
            lifetimes,
            revocations,
            clock,
        }
    }

    /// Signs a token for the session `sid` of `user_id`, remembered or not as `persistence`
    /// says, and returns it with its view. Changes nothing anywhere: a caller that revokes
    /// something does so after this succeeded.
    ///
    /// `iat` is `now`, never earlier than the sign-in second (which is `now` or, just after a
    /// revocation made in the same microsecond, one microsecond later). `data_at` is when
    /// `data` was last brought up to date with the user's data changes. The token must fit the
    /// `room`: [`Error::TooLarge`] otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        user_id: String,
        sid: Uuid,
        (auth_time, data_at): (SignInTime, SignInTime),
        abs_exp: i64,
        persistence: Persistence,
        data: String,
        reason: IssueReason,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        let data = match &self.verifier.config().hook {
            Some(hook) => hook(user_id.clone(), sid, reason, data).await?,
            None => data,
        };
        let custom = custom_claims(&data)?;
        let iat = now.unix_timestamp().max(auth_time.whole_seconds());
        let exp = (now + self.lifetimes.window_for(persistence))
            .unix_timestamp()
            .min(abs_exp);
        let claims = Claims {
            sub: user_id,
            sid,
            jti: Uuid::new_v4().simple().to_string(),
            iat,
            exp,
            nbf: None,
            iss: self.verifier.config().issuer.clone(),
            aud: Audience::One(self.verifier.config().audience.clone()),
            auth_time,
            abs_exp,
            ephemeral: !persistence.is_persistent(),
            data_at: Some(data_at),
            custom,
        };
        let key = &self.verifier.config().keys.signing;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.to_string());
        let encoding = key.encoding.as_deref().ok_or(Error::Signing)?;
        let token = jsonwebtoken::encode(&header, &claims, encoding).map_err(|e| {
            tracing::error!(error = %e, "JWT signing failed");
            Error::Signing
        })?;
        room.check(token.len(), MAX_TOKEN_LEN)?;
        tracing::debug!(session = %sid, ?reason, "JWT issued");
        let session = claims.session(data, token.clone());
        Ok((
            session,
            NewToken {
                token,
                expires_at: from_unix_seconds(exp),
                persistence,
            },
        ))
    }

    /// Re-issues the current session's token with `data`, signed in at `auth_time`, remembered
    /// or not as it was, its data dated as it was.
    async fn reissue(
        &self,
        session: &ValidSession,
        auth_time: SignInTime,
        data: String,
        reason: IssueReason,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        self.may_reissue(session, now).await?;
        let data_at = SignInTime::from_micros(session.data_at);
        self.issue(
            session.info.user_id.clone(),
            session.info.id,
            (auth_time, data_at),
            session.info.absolute_expires_at.unix_timestamp(),
            Persistence::from_persistent(session.info.persistent),
            data,
            reason,
            now,
            room,
        )
        .await
    }

    /// The session under a new `sid` with `data`, its sign-in kept; then every token of the old
    /// `sid` ends. Signs first, so a refusal (a failing issue callback, a token too large)
    /// changes nothing. `lost` when a concurrent request ended the old `sid` first: one
    /// successor only.
    async fn succeed(
        &self,
        session: &ValidSession,
        data: String,
        reason: IssueReason,
        now: OffsetDateTime,
        room: TokenRoom,
        lost: Error,
    ) -> Result<(ValidSession, NewToken), Error> {
        // The session it replaces is asked about too (the successor's own `sid` is new).
        if let Err(refused) = self.may_reissue(session, now).await {
            return Err(match refused {
                // Ended by a concurrent rotation, update or logout: the lost race. (Its user's
                // sessions all ended, or its token expired, is no session.)
                Error::Unauthenticated if self.revocations.holds_session(session.info.id) => lost,
                refused => refused,
            });
        }
        let mut successor = session.clone();
        successor.info.id = Uuid::new_v4();
        let signed_in = SignInTime::at(session.info.created_at);
        let issued = self
            .reissue(&successor, signed_in, data, reason, now, room)
            .await?;
        if !self.revoke_session(session).await? {
            return Err(lost);
        }
        Ok(issued)
    }

    /// What the verified token `presented` stands for at `now`, given where it stands against
    /// the revocation list: [`resolve`](Strategy::resolve) and
    /// [`resolve_at_once`](Strategy::resolve_at_once) differ only in how they learn that.
    fn lookup(
        &self,
        presented: &Presented,
        verified: Verified,
        standing: Standing,
        now: OffsetDateTime,
    ) -> Lookup {
        let session = verified.session;
        match standing {
            Standing::Current => {}
            Standing::Revoked => return Lookup::Invalid("revoked"),
            Standing::Changed(pending) => return brought_up_to_date(&session, pending, presented),
            Standing::UnreadableChange => return Lookup::Invalid("unreadable data change"),
        }
        // From the copies the verified token keeps beside the session, which this request has
        // just read: the session's own times lie further into memory.
        let due =
            self.lifetimes
                .due_to_extend(verified.times.lifetime(), now, verified.persistence);
        if !due {
            return Lookup::Valid {
                session,
                reissue: None,
            };
        }
        // Signed only for a client that receives it (a cookie), by the layer through
        // `refresh`: a bearer client keeps its token, and its request never waits for, or fails
        // with, a token nobody would receive.
        Lookup::Due {
            session,
            data_changed: false,
        }
    }

    /// [`Error::Unauthenticated`] unless a token of `session` may be re-issued at `now`: its
    /// token has not expired, and the copy of the revocation list, asked now (and read again
    /// first when it is stale), does not find it revoked.
    ///
    /// This is what lets a revocation's entry go a token lifetime and the list's issue horizon
    /// after its date (see [`entry_expiry`](Self::entry_expiry)): every token re-issued from
    /// a session was asked about at most that horizon after any entry covering the session
    /// was made, however long its request ran since it read the session; and a session whose
    /// token has expired, which an entry may no longer cover, is never re-issued. A login's
    /// new session is under no entry but a user's, which its sign-in time comes after.
    async fn may_reissue(&self, session: &ValidSession, now: OffsetDateTime) -> Result<(), Error> {
        if now >= session.info.expires_at + self.verifier.config().leeway {
            return Err(Error::Unauthenticated);
        }
        match self.revocations.standing(facts_of(session)).await? {
            Standing::Revoked | Standing::UnreadableChange => Err(Error::Unauthenticated),
            Standing::Current | Standing::Changed(_) => Ok(()),
        }
    }

    /// Revokes every token of the session. `false` when another request revoked it first.
    async fn revoke_session(&self, session: &ValidSession) -> Result<bool, Error> {
        let now = self.clock.now();
        let expires_at = self
            .entry_expiry(now)
            .min(session.info.absolute_expires_at + self.verifier.config().leeway);
        self.revocations
            .add(
                Revocation {
                    // The sid itself: a second revocation of the same session is a duplicate, which
                    // makes "revoke, then issue the successor" happen at most once per session.
                    id: session.info.id,
                    target: Revoked::Session(session.info.id),
                    revoked_at: now,
                    expires_at,
                },
                Some(&session.info.user_id),
            )
            .await
    }

    /// Ends every token of the session; `false` when another request ended it first. When the
    /// revocation list, or its user's share of it, is full (`max_revoked_sessions`,
    /// `max_revoked_sessions_per_user`), every session of its user signed in
    /// before `spared` (a login's new session), or until now, ends instead, with one entry per
    /// user that replaces the previous one: more is ended than was asked, never less.
    async fn end_session(
        &self,
        session: &ValidSession,
        spared: Option<SignInTime>,
    ) -> Result<bool, Error> {
        match self.revoke_session(session).await {
            Err(Error::Store(e)) if matches!(*e, StoreError::RevocationListFull(_)) => {}
            ended => return ended,
        }
        let user = &session.info.user_id;
        let revoked_at = match spared {
            Some(spared) => spared.previous().to_datetime(),
            // Never before its own sign-in, which an instance whose clock runs ahead may
            // have dated after this one's now.
            None => self
                .user_revocation_instant(user, self.clock.now())
                .max(session.info.created_at),
        };
        if revoked_at < session.info.created_at {
            // Signed in no earlier than the session it would spare (in the same microsecond,
            // or on an instance whose clock runs ahead): nothing is ended, the login fails.
            return Err(StoreError::RevocationListFull(self.max_revoked_sessions()).into());
        }
        tracing::warn!(
            "the JWT revocation list is full: every session of the user ends, not only this one"
        );
        self.revoke_user(user, revoked_at).await?;
        Ok(true)
    }

    fn max_revoked_sessions(&self) -> usize {
        self.verifier.config().max_revoked_sessions
    }

    /// When a revocation of every session of `user_id` made `now` takes effect: `now`, or just
    /// after the latest sign-in time already handed out under an earlier revocation in the
    /// same microsecond (a clock that did not move), so that it covers every token issued
    /// before it.
    fn user_revocation_instant(&self, user_id: &str, now: OffsetDateTime) -> OffsetDateTime {
        self.revocations
            .earliest_auth_time(user_id, now)
            .to_datetime()
    }

    /// When a revocation (of a session, or of a user's sessions) made `at` can go: every token
    /// it covers has expired by then. Each was signed in before `at`, so expires within the
    /// absolute timeout of it; and each was issued at most the list's issue horizon after `at`
    /// (see [`may_reissue`](Self::may_reissue)), so expires within a
    /// token's lifetime of that. Saturating: `at` follows the list's latest entry of the user,
    /// which the store may date at the end of time.
    fn entry_expiry(&self, at: OffsetDateTime) -> OffsetDateTime {
        let lifetime = self
            .lifetimes
            .absolute_timeout
            .min(self.lifetimes.window() + self.revocations.issue_horizon());
        self.expiry_after(at, lifetime)
    }

    /// When a data change made `at` can go: every token it covers had its data from before
    /// `at`, so was signed in before it and expires within the absolute timeout of it. (A
    /// token behind a change is re-issued with its data's time as it was by a
    /// re-authentication, however long after the change: the token lifetime is no bound here.)
    fn data_change_expiry(&self, at: OffsetDateTime) -> OffsetDateTime {
        self.expiry_after(at, self.lifetimes.absolute_timeout)
    }

    /// `at` plus `lifetime` plus the leeway, saturating at the last date-time.
    fn expiry_after(&self, at: OffsetDateTime, lifetime: time::Duration) -> OffsetDateTime {
        at.checked_add(lifetime)
            .and_then(|t| t.checked_add(self.verifier.config().leeway))
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
    }

    /// Revokes every token of `user_id` signed in at or before `revoked_at`.
    async fn revoke_user(&self, user_id: &str, revoked_at: OffsetDateTime) -> Result<(), Error> {
        let expires_at = self.entry_expiry(revoked_at);
        self.revocations
            .add(
                Revocation {
                    id: Uuid::new_v4(),
                    target: Revoked::User(user_id.to_owned()),
                    revoked_at,
                    expires_at,
                },
                None,
            )
            .await
            .map(|_| ())
    }

    /// [`Error::Unauthenticated`] unless `session`'s token is still its own session against
    /// the store's revocation list as it is now (not the copy, which may be up to the refresh
    /// interval behind): for the steps that re-issue it signed in later.
    async fn still_standing(&self, session: &ValidSession) -> Result<(), Error> {
        match self.revocations.standing_now(facts_of(session)).await? {
            Standing::Revoked | Standing::UnreadableChange => Err(Error::Unauthenticated),
            // Behind a data change: the token re-issued keeps its data's time, so its next
            // request takes the change.
            Standing::Current | Standing::Changed(_) => Ok(()),
        }
    }
}

#[async_trait]
impl Strategy for JwtStrategy {
    async fn resolve(&self, presented: &Presented, now: OffsetDateTime) -> Result<Lookup, Error> {
        let verified = match self.verifier.verify(&presented.token, now.unix_timestamp()) {
            Ok(verified) => verified,
            Err(reason) => return Ok(Lookup::Invalid(reason)),
        };
        let standing = self.revocations.standing(verified.facts()).await?;
        Ok(self.lookup(presented, verified, standing, now))
    }

    fn resolve_at_once(
        &self,
        presented: &Presented,
        now: OffsetDateTime,
    ) -> Option<Result<Lookup, Error>> {
        let verified = match self.verifier.verify(&presented.token, now.unix_timestamp()) {
            Ok(verified) => verified,
            Err(reason) => return Some(Ok(Lookup::Invalid(reason))),
        };
        let standing = self.revocations.standing_at_once(&verified.facts())?;
        Some(Ok(self.lookup(presented, verified, standing, now)))
    }

    async fn login(
        &self,
        start: SessionStart,
        replacing: Option<&ValidSession>,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<Started, LoginFailed> {
        self.revocations.ready().await?;
        // On a full list the replaced session ends with every session of its user, which must
        // come before the new session's sign-in: that one ending comes first.
        let ended_first = match replacing {
            Some(old) if !self.revocations.has_room_for_a_session(&old.info.user_id) => {
                self.end_session(old, None).await?;
                true
            }
            _ => false,
        };
        let auth_time = self.revocations.earliest_auth_time(&start.user_id, now);
        // The application hands in fresh data: it dates from now.
        let data_at = self.revocations.earliest_data_time(&start.user_id, now);
        let abs_exp = self.lifetimes.absolute_expiry(now).unix_timestamp();
        let sid = Uuid::new_v4();
        tracing::info!(session = %sid, "JWT session created");
        let (session, issued) = self
            .issue(
                start.user_id,
                sid,
                (auth_time, data_at),
                abs_exp,
                start.persistence,
                start.data,
                IssueReason::SignIn,
                now,
                room,
            )
            .await
            .map_err(|error| LoginFailed {
                error,
                replaced_ended: ended_first,
            })?;
        // Otherwise signed first: a login that cannot issue its token (a refusing issue
        // callback, a token too large) leaves the request's session as it was.
        if let (Some(old), false) = (replacing, ended_first) {
            self.end_session(old, Some(auth_time)).await?;
        }
        Ok(Started {
            session,
            issued,
            ended: Vec::new(),
        })
    }

    async fn logout(&self, session: &ValidSession) -> Result<(), Error> {
        // Already revoked by a concurrent request is logged out all the same.
        self.end_session(session, None).await.map(|_| ())
    }

    async fn rotate(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        let data = session.data.clone();
        let rotated = self
            .succeed(
                session,
                data,
                IssueReason::Refresh,
                now,
                room,
                Error::Unauthenticated,
            )
            .await?;
        tracing::info!(session = %rotated.0.info.id, "JWT session rotated");
        Ok(rotated)
    }

    /// The new data under a new `sid`, and every older token of the session ends: replaying
    /// one (say, from before a permission was taken away) is no session. Two concurrent
    /// updates of one token: the first wins, the other is [`Error::Conflict`].
    async fn update(
        &self,
        session: &ValidSession,
        data: String,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        let (session, issued) = self
            .succeed(
                session,
                data,
                IssueReason::Update,
                now,
                room,
                Error::Conflict,
            )
            .await?;
        Ok((session, Some(issued)))
    }

    /// A token cannot be read again: after a lost race its newer token went to the request
    /// that won, so the conflict stands.
    async fn reload(
        &self,
        _session: &ValidSession,
        _now: OffsetDateTime,
    ) -> Result<Option<ValidSession>, Error> {
        Err(Error::Conflict)
    }

    /// A JWT session goes on under a new id after an update, and revoke-others covers the
    /// token it came with (re-issued signed in later): both end it, as rotations and logins
    /// do. A refresh or a re-authentication signs a token beside it.
    fn ends_the_token(&self, change: TokenChange) -> bool {
        !matches!(change, TokenChange::Refresh | TokenChange::Reauthenticate)
    }

    /// Against the store's revocation list as it is now (a read shared by the requests that
    /// ask at once, only on a request that re-issued its session or moves a browser off the
    /// previous cookie): this instance's copy would know a rotation made on another instance
    /// only within the list's refresh interval, and send the re-issued token after the rotated
    /// one.
    async fn still_stands(
        &self,
        session: &ValidSession,
        _now: OffsetDateTime,
    ) -> Result<bool, Error> {
        Ok(
            match self.revocations.standing_now(facts_of(session)).await? {
                Standing::Revoked | Standing::UnreadableChange => false,
                Standing::Current | Standing::Changed(_) => true,
            },
        )
    }

    async fn refresh(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, NewToken), Error> {
        let data = session.data.clone();
        let signed_in = SignInTime::at(session.info.created_at);
        self.reissue(session, signed_in, data, IssueReason::Refresh, now, room)
            .await
    }

    /// The same `sid` re-issued, signed in now (`auth_time`: after any revocation of the
    /// user's sessions made in the same microsecond). Older tokens of the session keep working
    /// until they expire, with their older, less fresh, `auth_time`.
    async fn reauthenticate(
        &self,
        session: &ValidSession,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(ValidSession, Option<NewToken>), Error> {
        self.still_standing(session).await?;
        let signed_in = self
            .revocations
            .earliest_auth_time(&session.info.user_id, now);
        let data = session.data.clone();
        let (fresh, issued) = self
            .reissue(session, signed_in, data, IssueReason::Refresh, now, room)
            .await?;
        tracing::info!(session = %fresh.info.id, "JWT session re-authenticated");
        Ok((fresh, Some(issued)))
    }

    async fn revoke(&self, current: &ValidSession, id: Uuid) -> Result<bool, Error> {
        if id != current.info.id {
            return Ok(false);
        }
        self.end_session(current, None).await
    }

    async fn revoke_others(
        &self,
        current: &ValidSession,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<(u64, Option<(ValidSession, NewToken)>), Error> {
        // The current token is covered too: it is re-issued signed in after the revocation
        // (made at `now`), at the clock read again, which has moved on unless it is a manual
        // one. Signed first, so a refusal revokes nothing.
        let user = &current.info.user_id;
        self.still_standing(current).await?;
        let revoked_at = self.user_revocation_instant(user, now);
        let after = SignInTime::at(revoked_at)
            .next()
            .to_datetime()
            .max(self.clock.now());
        let signed_in = SignInTime::at(after);
        let data = current.data.clone();
        let kept = self
            .reissue(current, signed_in, data, IssueReason::Refresh, now, room)
            .await?;
        self.revoke_user(user, revoked_at).await?;
        Ok((0, Some(kept)))
    }

    async fn revoke_all(&self, user_id: &str, now: OffsetDateTime) -> Result<u64, Error> {
        self.revocations.ready().await?;
        let revoked_at = self.user_revocation_instant(user_id, now);
        self.revoke_user(user_id, revoked_at).await?;
        Ok(0)
    }

    /// A data change on the revocation list: every token of the user whose data dates from
    /// before it takes the patch on its next request (a cookie client's token is re-issued; a
    /// bearer token is no session any more). No session is counted: none is listed.
    async fn update_user_sessions(
        &self,
        user_id: &str,
        patch: &serde_json::Value,
        now: OffsetDateTime,
        room: TokenRoom,
    ) -> Result<Vec<Uuid>, Error> {
        // A patch naming a claim of the token's own could never be signed: refused before it
        // is stored, instead of failing every request of the user's browsers.
        if let serde_json::Value::Object(fields) = patch {
            super::claims::refuse_reserved(fields)?;
        }
        let patch = patch.to_string();
        // Only browsers' tokens take the patch (a bearer token from before it ends), each in
        // its cookie, in base64: a patch that could never fit there is refused before it is
        // stored, instead of ending every browser session of the user at its re-issue.
        room.check(base64_len(patch.len()), MAX_TOKEN_LEN)?;
        self.revocations.ready().await?;
        let at = self
            .revocations
            .earliest_data_time(user_id, now)
            .to_datetime();
        self.revocations
            .add(
                Revocation {
                    id: Uuid::new_v4(),
                    target: Revoked::UserData {
                        user_id: user_id.to_owned(),
                        patch,
                    },
                    revoked_at: at,
                    expires_at: self.data_change_expiry(at),
                },
                None,
            )
            .await?;
        tracing::info!("data of every session of a user changed (JWT)");
        Ok(Vec::new())
    }
}

/// What the revocation list is asked about `session`'s token.
fn facts_of(session: &ValidSession) -> TokenFacts<'_> {
    TokenFacts {
        sid: session.info.id,
        user: &session.info.user_id,
        signed_in: SignInTime::at(session.info.created_at),
        data_at: SignInTime::from_micros(session.data_at),
        hashes: None,
    }
}

/// The length of `len` bytes in unpadded base64url, as a token's payload carries them.
fn base64_len(len: usize) -> usize {
    (len * 4).div_ceil(3)
}

/// A session whose token predates data changes of its user. A cookie client's token is due
/// for a new one with the patches applied (the layer re-issues it, through the issue
/// callback), dated after the latest change; a bearer client, which would never receive it,
/// keeps no session: its token from before the change stops working.
fn brought_up_to_date(
    session: &ValidSession,
    pending: PendingChanges,
    presented: &Presented,
) -> Lookup {
    if presented.source == Source::Bearer {
        return Lookup::Invalid("data changed since the token was issued");
    }
    let Ok(mut data) = serde_json::from_str::<serde_json::Value>(&session.data) else {
        return Lookup::Invalid("malformed token");
    };
    for patch in &pending.patches {
        crate::merge_patch::apply(&mut data, patch);
    }
    let mut session = session.clone();
    session.data = data.to_string();
    session.data_at = pending.data_at.micros();
    Lookup::Due {
        session: Arc::new(session),
        data_changed: true,
    }
}
