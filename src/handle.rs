//! [`Sessions`]: the handle a handler uses to log in, log out, rotate, update, refresh, list and
//! revoke.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::Error;
use crate::event::SessionEventKind;
use crate::login::LoginOptions;
use crate::request::{RequestSession, State};
use crate::session::{Session, SessionInfo, decode_data};
use crate::strategy::{
    CHANGE_ATTEMPTS, LoginFailed, NewToken, SessionStart, Started, TokenChange, TokenRoom,
    ValidSession,
};

/// A session token handed to the client: by [`Sessions::login_token`] to an API client, by
/// [`Sessions::rotate`] and [`Sessions::refresh`], and by [`Sessions::issued_token`] after any
/// operation that gave the session a new token. A bearer client must send this token from now
/// on; a cookie client gets it in the response's `Set-Cookie` as well. `Debug` never shows the
/// token.
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::{get, post}};
/// use sessionward::{IssuedToken, MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
/// use tower::ServiceExt;
///
/// async fn token(sessions: Sessions) -> Result<String, sessionward::Error> {
///     // ... check the API client's credentials first ...
///     let issued: IssuedToken = sessions.login_token("alice", &serde_json::json!({})).await?;
///     assert!(!format!("{issued:?}").contains(issued.token()));
///     Ok(issued.token().to_owned())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = Router::new()
///     .route("/token", post(token))
///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }))
///     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default()));
///
/// let response = app.clone().oneshot(Request::post("/token").body(Body::empty())?).await?;
/// let token = axum::body::to_bytes(response.into_body(), 1024).await?;
/// let me = Request::get("/me")
///     .header("authorization", format!("Bearer {}", std::str::from_utf8(&token)?))
///     .body(Body::empty())?;
/// assert_eq!(app.oneshot(me).await?.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct IssuedToken {
    token: String,
    info: SessionInfo,
}

impl IssuedToken {
    fn new(issued: &NewToken, info: &SessionInfo) -> Self {
        Self {
            token: issued.token.clone(),
            info: info.clone(),
        }
    }

    /// The secret to send as `Authorization: Bearer <token>`. Treat it as a password.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// When the token stops working unless the session is extended.
    pub fn expires_at(&self) -> time::OffsetDateTime {
        self.info.expires_at
    }

    /// The session's public facts.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// The session handle. Extract it in any handler behind a [`SessionLayer`](crate::SessionLayer);
/// it never rejects (except when the layer is missing).
///
/// Every change is written to the store before the method returns, and the response carries
/// the matching `Set-Cookie`.
///
/// ```
/// use axum::{Json, Router, http::StatusCode, routing::post};
/// use serde::{Deserialize, Serialize};
/// use sessionward::Sessions;
///
/// #[derive(Serialize, Deserialize)]
/// struct UserData { role: String }
///
/// async fn login(sessions: Sessions) -> Result<StatusCode, sessionward::Error> {
///     // ... check the password first ...
///     sessions.login("alice", &UserData { role: "user".into() }).await?;
///     Ok(StatusCode::NO_CONTENT)
/// }
///
/// async fn logout(sessions: Sessions) -> Result<StatusCode, sessionward::Error> {
///     sessions.logout().await?;
///     Ok(StatusCode::NO_CONTENT)
/// }
///
/// let app: Router = Router::new()
///     .route("/login", post(login))
///     .route("/logout", post(logout));
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(crate) request: Arc<RequestSession>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// The session as `D`; [`Error::Unauthenticated`] when its data does not fit `D`.
pub(crate) fn to_session<D: DeserializeOwned>(
    resolved: &Arc<ValidSession>,
) -> Result<Session<D>, Error> {
    Ok(Session {
        data: decode_data(&resolved.data)?,
        resolved: resolved.clone(),
    })
}

impl Sessions {
    /// Starts a session through the strategy, ending `replacing` first; its token goes to
    /// `room`.
    async fn start<D: Serialize>(
        &self,
        user_id: String,
        data: &D,
        options: LoginOptions,
        replacing: Option<&ValidSession>,
        room: TokenRoom,
    ) -> Result<Started, LoginFailed> {
        let start = SessionStart {
            user_id,
            data: serde_json::to_string(data).map_err(Error::from)?,
            client: self.request.client.record(),
            persistence: options.persistence,
        };
        let now = self.request.now();
        let strategy = self.request.strategy();
        strategy.login(start, replacing, now, room).await
    }

    /// The events of a login that made `started`: `revoked` for each session the device
    /// limit ended to make room, then `created`.
    fn emit_started(&self, started: &Started) {
        let user = Some(started.session.info.user_id.as_str());
        for id in &started.ended {
            self.request
                .emit(SessionEventKind::Revoked, user, Some(*id));
        }
        self.request
            .emit_for(SessionEventKind::Created, &started.session);
    }

    /// Makes `session` the request's session and hands `issued` to the client.
    fn hand_out(state: &mut State, session: ValidSession, issued: NewToken) -> IssuedToken {
        let token = IssuedToken::new(&issued, &session.info);
        state.replace(Some(session), Some(issued));
        token
    }

    /// The new token of a bearer client: the token this request handed out, when the request
    /// came with `Authorization: Bearer`. Set after [`rotate`](Self::rotate),
    /// [`refresh`](Self::refresh), [`revoke_others`](Self::revoke_others) and, on JWT sessions
    /// (whose data lives in the token), [`update`](Self::update) and [`modify`](Self::modify).
    /// `None` when the client's token stays as it is (database sessions keep their token on
    /// `update`; a bearer client's token is never re-issued on its own), and always `None` for
    /// a cookie client: it receives its token in the response's `Set-Cookie`, an `HttpOnly`
    /// cookie that scripts must not be able to read from a response body.
    ///
    /// An API client must be given the token in the response, or it is left with one that no
    /// longer works (after a rotation, an update or `revoke_others`):
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<String, sessionward::Error> {
    /// sessions.update(&serde_json::json!({ "role": "viewer" })).await?;
    /// // JWT sessions: the new token, and the one the client held no longer works.
    /// let token = sessions.issued_token().await.map(|t| t.token().to_owned());
    /// Ok(serde_json::json!({ "token": token }).to_string())
    /// # }
    /// ```
    pub async fn issued_token(&self) -> Option<IssuedToken> {
        if !self.request.came_with_bearer() {
            return None;
        }
        let state = self.request.resolved_state().await;
        let issued = state.issued.as_ref()?;
        let current = state.session().ok().flatten()?;
        Some(IssuedToken::new(issued, &current.info))
    }

    /// The current session, if the request has a valid one.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer. Stored data that does not fit `D` is
    /// `Ok(None)`.
    pub async fn current<D: DeserializeOwned>(&self) -> Result<Option<Session<D>>, Error> {
        match self.request.session().await? {
            Some(resolved) => Ok(to_session(&resolved).ok()),
            None => Ok(None),
        }
    }

    /// Starts a session for `user_id` with `data` and sets the cookie. Any session the request
    /// came with is ended first, so a token planted before login is dead after it (session
    /// fixation). The session is remembered (a persistent cookie); see
    /// [`login_with`](Self::login_with) for a browser-session cookie.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer, also while looking up the session the
    /// request came with: nothing is started then, since that session could not be ended
    /// first (any other error that lookup failed with, such as a failing JWT
    /// [issue callback](crate::jwt::JwtConfig::on_issue), is returned the same way);
    /// [`Error::Data`] when `data` does not serialize, or (database sessions) when `data` or
    /// the user id holds a NUL character (U+0000), which PostgreSQL cannot store: refused on
    /// every store, before the session the request came with is ended;
    /// [`Error::SessionLimitReached`] when the
    /// user holds [`max_sessions_per_user`](crate::SessionConfig::max_sessions_per_user)
    /// sessions and the policy refuses new ones (no session is started and none of the user's
    /// is ended; with the default policy the least recently used sessions end instead, each
    /// with a `revoked` event).
    ///
    /// A database session the request came with is ended before the new one is stored (so
    /// that it never counts against the user's limit): when the login then fails (the limit,
    /// the store), the request has no session any more, and the response clears its cookie.
    /// A JWT login signs its token first and fails with the request's session untouched
    /// ([`Error::TooLarge`], a refusing issue callback).
    pub async fn login<D: Serialize>(
        &self,
        user_id: impl Into<String>,
        data: &D,
    ) -> Result<SessionInfo, Error> {
        self.login_with(user_id, data, LoginOptions::default())
            .await
    }

    /// [`login`](Self::login) with [`LoginOptions`]: "remember me" or not.
    ///
    /// ```
    /// use sessionward::{LoginOptions, Sessions};
    ///
    /// # async fn handler(sessions: Sessions, remember_me: bool) -> Result<(), sessionward::Error> {
    /// // ... check the password first ...
    /// let options = LoginOptions::new().remember(remember_me);
    /// let info = sessions.login_with("alice", &serde_json::json!({ "role": "user" }), options).await?;
    /// assert_eq!(info.persistent, remember_me);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`login`](Self::login).
    pub async fn login_with<D: Serialize>(
        &self,
        user_id: impl Into<String>,
        data: &D,
        options: LoginOptions,
    ) -> Result<SessionInfo, Error> {
        let mut state = self.request.state_for(TokenChange::LoginOver).await;
        // A session that could not be looked up cannot be ended first: the same error.
        let previous = state.session()?;
        let room = self.request.cookie_room();
        let started = self
            .start(user_id.into(), data, options, previous.as_deref(), room)
            .await;
        // The session the request came with ended: with the login, or before it failed.
        let previous_ended = started.as_ref().map_or_else(|f| f.replaced_ended, |_| true);
        if let (Some(previous), true) = (&previous, previous_ended) {
            self.request.emit_for(SessionEventKind::LoggedOut, previous);
        }
        let started = match started {
            Ok(started) => started,
            Err(failed) => {
                if previous_ended {
                    // Its cookie goes with it.
                    state.replace(None, None);
                }
                return Err(failed.error);
            }
        };
        self.emit_started(&started);
        self.request.record_on_span(&started.session);
        let info = started.session.info.clone();
        state.replace(Some(started.session), Some(started.issued));
        Ok(info)
    }

    /// Starts a session for an API client and returns its token, to be sent back as
    /// `Authorization: Bearer <token>`, instead of setting a cookie. The request's own session,
    /// if any, is left alone.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<String, sessionward::Error> {
    /// let issued = sessions.login_token("alice", &serde_json::json!({ "role": "user" })).await?;
    /// Ok(serde_json::json!({
    ///     "token": issued.token(),
    ///     "token_type": "Bearer",
    ///     "expires_at": issued.expires_at().to_string(),
    /// })
    /// .to_string())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`login`](Self::login).
    pub async fn login_token<D: Serialize>(
        &self,
        user_id: impl Into<String>,
        data: &D,
    ) -> Result<IssuedToken, Error> {
        self.login_token_with(user_id, data, LoginOptions::default())
            .await
    }

    /// [`login_token`](Self::login_token) with [`LoginOptions`]. A bearer token has no cookie,
    /// but `remember(false)` still gives its session the shorter
    /// [`browser_session_lifetime`](crate::SessionConfig::browser_session_lifetime) on the
    /// server, and a cookie the session is later moved to stays a browser-session cookie.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<(), sessionward::Error> {
    /// let options = sessionward::LoginOptions::new().remember(false);
    /// let issued = sessions.login_token_with("alice", &serde_json::json!({}), options).await?;
    /// assert!(!issued.info().persistent);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`login`](Self::login).
    pub async fn login_token_with<D: Serialize>(
        &self,
        user_id: impl Into<String>,
        data: &D,
        options: LoginOptions,
    ) -> Result<IssuedToken, Error> {
        let started = self
            .start(user_id.into(), data, options, None, TokenRoom::Bearer)
            .await
            .map_err(|failed| failed.error)?;
        self.emit_started(&started);
        Ok(IssuedToken {
            token: started.issued.token,
            info: SessionInfo {
                current: false,
                ..started.session.info
            },
        })
    }

    /// Ends the current session in the store and clears the cookie. Returns whether there was
    /// a session to end.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer (the cookie is then left alone, so the user
    /// can retry).
    pub async fn logout(&self) -> Result<bool, Error> {
        let mut state = self.request.resolved_state().await;
        let Some(current) = state.session()? else {
            self.request.clear_cookie_on_logout(&mut state);
            return Ok(false);
        };
        self.request.strategy().logout(&current).await?;
        self.request.emit_for(SessionEventKind::LoggedOut, &current);
        state.replace(None, None);
        Ok(true)
    }

    /// Gives the current session a new token (after a privilege change, for example); the old
    /// token stops working at once. Returns the new token: a cookie client gets it in the
    /// response's `Set-Cookie` (never put it in a body for a cookie client: the cookie is
    /// `HttpOnly` so that scripts cannot read it); a bearer client must be sent it (see
    /// [`issued_token`](Self::issued_token), which tells the two apart).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session, or when a concurrent request rotated it
    /// first; [`Error::Store`] when the store cannot answer; [`Error::TooLarge`] when the new
    /// token would not fit (nothing changes then).
    pub async fn rotate(&self) -> Result<IssuedToken, Error> {
        let mut state = self.request.state_for(TokenChange::Rotate).await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let rotate =
            self.request
                .strategy()
                .rotate(&current, self.request.now(), self.request.token_room());
        let (session, issued) = rotate.await?;
        self.request.emit_for(SessionEventKind::Rotated, &session);
        Ok(Self::hand_out(&mut state, session, issued))
    }

    /// Replaces the session's data, if no other request changed it since this request read it.
    /// Database sessions keep their token.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<(), sessionward::Error> {
    /// #[derive(serde::Serialize)]
    /// struct UserData { role: String }
    ///
    /// match sessions.update(&UserData { role: "viewer".into() }).await {
    ///     // Another request changed the data since this one read it: nothing was written.
    ///     Err(sessionward::Error::Conflict) => { /* re-read and decide, or use `modify` */ }
    ///     other => other?,
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # JWT sessions
    ///
    /// The data lives in the token, so an update issues a new token, under a new session id,
    /// and every older token of the session stops working: replaying one (from before a
    /// permission was taken away, say) is no session. That includes the token of a request
    /// still in flight: a request that comes with it later has no session, and an update it
    /// makes is [`Error::Conflict`]. So of two concurrent updates from one token, one wins
    /// and the other is [`Error::Conflict`] (409); a token cannot be re-read, so the loser's
    /// change is not merged. A cookie client gets the new token in the `Set-Cookie`; give a
    /// bearer client [`issued_token`](Self::issued_token), or it is left with a token that no
    /// longer works.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")]
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::{get, post}};
    /// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
    /// use sessionward::testing::SignedIn;
    /// use tower::ServiceExt;
    ///
    /// async fn promote(sessions: Sessions) -> Result<String, sessionward::Error> {
    ///     sessions.update(&serde_json::json!({ "role": "admin" })).await?;
    ///     let issued = sessions.issued_token().await; // the bearer client's new token
    ///     Ok(issued.map(|t| t.token().to_owned()).unwrap_or_default())
    /// }
    ///
    /// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
    /// let jwt = JwtConfig::new(keys, "app", "app");
    /// let layer = SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default());
    /// let app = Router::new()
    ///     .route("/promote", post(promote))
    ///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.data()["role"].to_string() }))
    ///     .layer(layer.clone());
    ///
    /// let alice = SignedIn::bearer(&layer, "alice", &serde_json::json!({ "role": "user" })).await?;
    /// let promote = alice.request(Request::post("/promote")).body(Body::empty())?;
    /// let new_token = axum::body::to_bytes(app.clone().oneshot(promote).await?.into_body(), 4096).await?;
    /// // The token alice held is no session any more: no replay of the old data.
    /// let with_old = alice.request(Request::get("/me")).body(Body::empty())?;
    /// assert_eq!(app.clone().oneshot(with_old).await?.status(), StatusCode::UNAUTHORIZED);
    /// let with_new = Request::get("/me")
    ///     .header("authorization", format!("Bearer {}", std::str::from_utf8(&new_token)?))
    ///     .body(Body::empty())?;
    /// assert_eq!(app.oneshot(with_new).await?.status(), StatusCode::OK);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when another request changed the data first (nothing is written:
    /// use [`modify`](Self::modify) to merge instead; on JWT sessions, another update of the
    /// same token came first); [`Error::Unauthenticated`] without a session; [`Error::Store`]
    /// when the store cannot answer; [`Error::TooLarge`] when the data makes the JWT too large
    /// to hand out (nothing changes then); [`Error::Data`] when `data` does not serialize or
    /// (database sessions) holds a NUL character, as for [`login`](Self::login).
    pub async fn update<D: Serialize>(&self, data: &D) -> Result<(), Error> {
        let data = serde_json::to_string(data)?;
        let mut state = self.request.state_for(TokenChange::Update).await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let update = self.request.strategy().update(
            &current,
            data,
            self.request.now(),
            self.request.token_room(),
        );
        let (session, issued) = update.await?;
        self.request
            .emit_for(SessionEventKind::DataUpdated, &session);
        state.replace(Some(session), issued);
        Ok(())
    }

    /// Changes the session's data with `change`, re-reading and re-applying it when another
    /// request changed the data in between, so concurrent changes of database sessions all
    /// survive. Returns what `change` returned on the attempt that was written.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<(), sessionward::Error> {
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Cart { items: Vec<String> }
    ///
    /// let count = sessions
    ///     .modify(|cart: &mut Cart| {
    ///         cart.items.push("book".into());
    ///         cart.items.len()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # JWT sessions
    ///
    /// This is an [`update`](Self::update): a new token under a new session id, and every older
    /// token of the session stops working, including the token of a request still in flight.
    /// It cannot retry: the data lives in the token, and the newer token went to the request
    /// that won. So of two concurrent changes from one token, one wins and the other is
    /// [`Error::Conflict`] (409), its change not applied. Give a bearer client
    /// [`issued_token`](Self::issued_token).
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] after 64 lost races in a row (on JWT sessions, after one);
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`], [`Error::Data`] and
    /// [`Error::TooLarge`] as for [`update`](Self::update).
    pub async fn modify<D, R, F>(&self, mut change: F) -> Result<R, Error>
    where
        D: Serialize + DeserializeOwned,
        F: FnMut(&mut D) -> R,
    {
        let mut state = self.request.state_for(TokenChange::Update).await;
        let mut current = state.session()?.ok_or(Error::Unauthenticated)?;
        let strategy = self.request.strategy();
        for _ in 0..CHANGE_ATTEMPTS {
            let mut data: D = decode_data(&current.data)?;
            let result = change(&mut data);
            let json = serde_json::to_string(&data)?;
            let room = self.request.token_room();
            match strategy
                .update(&current, json, self.request.now(), room)
                .await
            {
                Ok((session, issued)) => {
                    self.request
                        .emit_for(SessionEventKind::DataUpdated, &session);
                    state.replace(Some(session), issued);
                    return Ok(result);
                }
                Err(Error::Conflict) => {
                    match strategy.reload(&current, self.request.now()).await? {
                        Some(fresh) => current = Arc::new(fresh),
                        None => {
                            state.replace(None, None);
                            return Err(Error::Unauthenticated);
                        }
                    }
                }
                Err(Error::Unauthenticated) => {
                    state.replace(None, None);
                    return Err(Error::Unauthenticated);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict)
    }

    /// Marks the current session fresh: its user just proved who they are again (typed the
    /// password, passed a second factor), so [`require_fresh`](crate::require_fresh) routes
    /// let it through for their `max_age` from now. Call it only after that check succeeded.
    /// The session keeps its id, its data and its lifetime. On JWT sessions the token is
    /// re-issued (same session id, `auth_time` now): a cookie client gets it in the
    /// `Set-Cookie`, a bearer client through [`issued_token`](Self::issued_token); its older
    /// tokens keep working, as stale as they were.
    ///
    /// ```
    /// # async fn verify(_: &str) -> bool { true }
    /// # async fn reauth(sessions: sessionward::Sessions, password: String)
    /// #     -> Result<axum::http::StatusCode, sessionward::Error> {
    /// if !verify(&password).await {
    ///     return Ok(axum::http::StatusCode::UNAUTHORIZED);
    /// }
    /// let info = sessions.reauthenticated().await?;
    /// assert!(info.authenticated_at >= info.created_at);
    /// # Ok(axum::http::StatusCode::OK) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session (or when it ended meanwhile);
    /// [`Error::Store`] when the store cannot answer.
    pub async fn reauthenticated(&self) -> Result<SessionInfo, Error> {
        let mut state = self.request.state_for(TokenChange::Reauthenticate).await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let reauthenticate = self.request.strategy().reauthenticate(
            &current,
            self.request.now(),
            self.request.token_room(),
        );
        let (session, issued) = Self::unless_gone(&mut state, reauthenticate.await)?;
        self.request
            .emit_for(SessionEventKind::Reauthenticated, &session);
        let info = session.info.clone();
        state.replace(Some(session), issued);
        Ok(info)
    }

    /// `result`, after making the request's session none when it says the session is gone.
    fn unless_gone<T>(state: &mut State, result: Result<T, Error>) -> Result<T, Error> {
        if matches!(result, Err(Error::Unauthenticated)) {
            state.replace(None, None);
        }
        result
    }

    /// Extends the current session now, never past its absolute limit, and returns the token
    /// that carries it, re-sent as the cookie. On JWT sessions this is a new token (a bearer
    /// client's requests never re-issue it on their own: this is how an API client extends
    /// its session); database sessions keep theirs. [`IssuedToken::info`] has the new expiry.
    /// As for [`rotate`](Self::rotate), send the token itself only to a bearer client.
    ///
    /// ```
    /// # async fn handler(sessions: sessionward::Sessions) -> Result<String, sessionward::Error> {
    /// let refreshed = sessions.refresh().await?;
    /// // The token only for a bearer client; a cookie client has it in its cookie.
    /// let token = sessions.issued_token().await.map(|t| t.token().to_owned());
    /// Ok(serde_json::json!({
    ///     "token": token,
    ///     "expires_at": refreshed.expires_at().to_string(),
    /// })
    /// .to_string())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn refresh(&self) -> Result<IssuedToken, Error> {
        let mut state = self.request.state_for(TokenChange::Refresh).await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let refresh = self.request.strategy().refresh(
            &current,
            self.request.now(),
            self.request.token_room(),
        );
        let (session, issued) = Self::unless_gone(&mut state, refresh.await)?;
        self.request.emit_for(SessionEventKind::Refreshed, &session);
        Ok(Self::hand_out(&mut state, session, issued))
    }

    /// The current user's live sessions, newest first, with `current` marking this one.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn list(&self) -> Result<Vec<SessionInfo>, Error> {
        let current = self
            .request
            .session()
            .await?
            .ok_or(Error::Unauthenticated)?;
        self.request
            .strategy()
            .list(&current, self.request.now())
            .await
    }

    /// Ends one of the current user's sessions by its public id. Returns `false` when the user
    /// has no session with that id (someone else's id included). Revoking the current session
    /// also clears the cookie.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn revoke(&self, id: Uuid) -> Result<bool, Error> {
        let mut state = self.request.resolved_state().await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let revoked = self.request.strategy().revoke(&current, id).await?;
        if revoked {
            let user = Some(current.info.user_id.as_str());
            self.request.emit(SessionEventKind::Revoked, user, Some(id));
        }
        if revoked && id == current.info.id {
            state.replace(None, None);
        }
        Ok(revoked)
    }

    /// Ends every session of the current user except this one ("sign out everywhere else").
    /// Returns how many were ended (always 0 on JWT sessions, which cannot be counted; the
    /// current token is re-issued there so that it survives: a bearer client must be sent
    /// [`issued_token`](Self::issued_token)).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn revoke_others(&self) -> Result<u64, Error> {
        let mut state = self.request.state_for(TokenChange::RevokeOthers).await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let revoke = self.request.strategy().revoke_others(
            &current,
            self.request.now(),
            self.request.token_room(),
        );
        let (count, reissued) = revoke.await?;
        self.request
            .emit_for(SessionEventKind::RevokedOthers, &current);
        if let Some((session, issued)) = reissued {
            state.replace(Some(session), Some(issued));
        }
        Ok(count)
    }

    /// Ends every session of `user_id` (after a password change, or from an admin tool). Needs
    /// no session of its own; if the current session is among them, its cookie is cleared.
    /// Returns how many were ended (always 0 on JWT sessions, which cannot be counted).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer.
    pub async fn revoke_all(&self, user_id: &str) -> Result<u64, Error> {
        // The request's own session is looked up first, as by every other method: looked up
        // after, it would be a token the store no longer knows (a rejection, logged and
        // reported), not a session this request ended.
        let mut state = self.request.resolved_state().await;
        let count = self
            .request
            .strategy()
            .revoke_all(user_id, self.request.now())
            .await?;
        self.request
            .emit(SessionEventKind::RevokedAll, Some(user_id), None);
        if let Ok(Some(current)) = state.session()
            && current.info.user_id == user_id
        {
            state.replace(None, None);
        }
        Ok(count)
    }

    /// Changes the data of every live session of `user_id` (after an admin changed the user's
    /// role, say), so that each of those sessions sees the change on its next request: a
    /// demoted admin is no admin on any device. Needs no session of its own. Returns how many
    /// sessions changed.
    ///
    /// `patch` is applied as a JSON Merge Patch (RFC 7386): it must serialize to a JSON object;
    /// the fields it names are replaced (objects merged field by field), `null` removes a field,
    /// and the rest of each session's data stays as it is. Each session is changed by
    /// compare-and-swap, so a concurrent [`modify`](Self::modify) of one of them and this change
    /// both survive. With the [cache](crate::SessionCache), the copies are dropped here and, on
    /// instances that follow [change notices](crate::SessionConfig::change_notices), there.
    /// Every session that changed emits a `data_updated` [event](crate::SessionEvents). JWT
    /// sessions take the change too; see below.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::{get, post}};
    /// use axum::extract::Path;
    /// use sessionward::testing::SignedIn;
    /// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, Sessions};
    /// use tower::ServiceExt;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct UserData { role: String, theme: String }
    ///
    /// // An admin tool (guard it with require_role in a real application).
    /// async fn promote(sessions: Sessions, Path(user): Path<String>) -> Result<String, sessionward::Error> {
    ///     let n = sessions
    ///         .update_user_sessions(&user, &serde_json::json!({ "role": "admin" }))
    ///         .await?;
    ///     Ok(n.to_string())
    /// }
    /// async fn role(session: Session<UserData>) -> String {
    ///     format!("{} {}", session.role, session.theme)
    /// }
    ///
    /// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
    /// let app = Router::new()
    ///     .route("/role", get(role))
    ///     .route("/promote/{user}", post(promote))
    ///     .layer(layer.clone());
    /// let data = UserData { role: "user".into(), theme: "dark".into() };
    /// let laptop = SignedIn::cookie(&layer, "alice", &data).await.unwrap();
    /// let phone = SignedIn::cookie(&layer, "alice", &data).await.unwrap();
    ///
    /// let promote = Request::post("/promote/alice").body(Body::empty()).unwrap();
    /// let answer = app.clone().oneshot(promote).await.unwrap();
    /// let body = axum::body::to_bytes(answer.into_body(), 64).await.unwrap();
    /// assert_eq!(&body[..], b"2");
    /// for device in [laptop, phone] {
    ///     let request = device.request(Request::get("/role")).body(Body::empty()).unwrap();
    ///     let answer = app.clone().oneshot(request).await.unwrap();
    ///     let body = axum::body::to_bytes(answer.into_body(), 64).await.unwrap();
    ///     assert_eq!(&body[..], b"admin dark"); // the role changed, the theme stayed
    /// }
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Data`] when `patch` is not a JSON object, holds a NUL character (database
    /// sessions, as for [`login`](Self::login)) or a session's data is not JSON, and on
    /// JWT sessions when `patch` names a claim of the token's own (`sub`, `exp`, ...);
    /// [`Error::Store`] when the store cannot answer (sessions changed before that stay
    /// changed: call it again, a patch applied twice is applied once);
    /// [`Error::Conflict`] when one session changed 64 times in a row under it;
    /// [`Error::TooLarge`] on JWT sessions when the patch alone could never fit in a browser's
    /// session cookie;
    /// [`Error::Unsupported`] on sessions made by another application (Auth.js, Better Auth).
    ///
    /// # JWT sessions
    ///
    /// No list of a user's tokens exists, so the change goes on the revocation list as a
    /// per-user entry holding the patch, and the call returns 0 (nothing can be counted). Every
    /// token of the user whose data dates from before the change is affected within the
    /// revocation bound (at once on this instance; on the others with the next change notice
    /// or [`revocation_refresh`](crate::jwt::JwtConfig::revocation_refresh)): a browser's next
    /// request gets a new token, same session id, with the patch applied and through the
    /// [issue callback](crate::jwt::JwtConfig::on_issue) (reason
    /// [`Refresh`](crate::jwt::IssueReason::Refresh)), so the handler already sees the new
    /// data; a bearer token from before the change is no session any more (401): its client
    /// signs in again. A token from before the change never again yields its old data: a
    /// session whose data with the patch no longer fits its cookie ends at that request (401,
    /// the cookie cleared, a `rejected` event).
    pub async fn update_user_sessions<P: Serialize>(
        &self,
        user_id: &str,
        patch: &P,
    ) -> Result<u64, Error> {
        let patch = crate::merge_patch::from_value(patch)?;
        let now = self.request.now();
        let strategy = self.request.strategy();
        let room = self.request.cookie_room();
        let changed = strategy
            .update_user_sessions(user_id, &patch, now, room)
            .await?;
        for id in &changed {
            self.request
                .emit(SessionEventKind::DataUpdated, Some(user_id), Some(*id));
        }
        // This request's own session, if it is one of them, is read again. (Looked up after
        // the change, not before as by `revoke_all`: a JWT session of the user then takes the
        // change in this very response.)
        let mut state = self.request.resolved_state().await;
        if let Ok(Some(current)) = state.session()
            && changed.contains(&current.info.id)
        {
            let reloaded = strategy.reload(&current, now).await?;
            state.replace(reloaded, None);
        }
        Ok(changed.len() as u64)
    }
}
