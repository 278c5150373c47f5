//! [`Sessions`]: the handle a handler uses to log in, log out, rotate, update, refresh, list and
//! revoke.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::Error;
use crate::request::RequestSession;
use crate::session::{Session, SessionInfo, decode_data};
use crate::strategy::{Issued, Resolved};

/// A session token handed to an API client by [`Sessions::login_token`]. `Debug` never shows
/// the token.
#[derive(Clone)]
pub struct IssuedToken {
    token: String,
    info: SessionInfo,
}

impl IssuedToken {
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

/// How many times [`Sessions::modify`] re-reads and retries after a concurrent change.
const MODIFY_ATTEMPTS: usize = 64;

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
    resolved: &Arc<Resolved>,
) -> Result<Session<D>, Error> {
    Ok(Session {
        data: decode_data(&resolved.data)?,
        resolved: resolved.clone(),
    })
}

impl Sessions {
    /// Starts a session through the strategy, ending `replacing` first.
    async fn start<D: Serialize>(
        &self,
        user_id: String,
        data: &D,
        replacing: Option<&Resolved>,
    ) -> Result<(Resolved, Issued), Error> {
        let data = serde_json::to_string(data)?;
        let meta = self.request.client.meta();
        let now = self.request.now();
        let strategy = self.request.strategy();
        strategy.login(user_id, data, meta, replacing, now).await
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
    /// fixation).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer; [`Error::Data`] when `data` does not
    /// serialize.
    pub async fn login<D: Serialize>(
        &self,
        user_id: impl Into<String>,
        data: &D,
    ) -> Result<SessionInfo, Error> {
        let mut state = self.request.resolved_state().await;
        let previous = state.session().ok().flatten();
        let (session, issued) = self
            .start(user_id.into(), data, previous.as_deref())
            .await?;
        let info = session.info.clone();
        state.replace(Some(session), Some(issued));
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
        let (session, issued) = self.start(user_id.into(), data, None).await?;
        Ok(IssuedToken {
            token: issued.token,
            info: SessionInfo {
                current: false,
                ..session.info
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
            return Ok(false);
        };
        self.request.strategy().logout(&current).await?;
        state.replace(None, None);
        Ok(true)
    }

    /// Gives the current session a new token (after a privilege change, for example); the old
    /// token stops working at once.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn rotate(&self) -> Result<(), Error> {
        let mut state = self.request.resolved_state().await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let (session, issued) = self
            .request
            .strategy()
            .rotate(&current, self.request.now())
            .await?;
        state.replace(Some(session), Some(issued));
        Ok(())
    }

    /// Replaces the session's data, if no other request changed it since this request read it.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when another request changed the data first (nothing is written:
    /// use [`modify`](Self::modify) to merge instead); [`Error::Unauthenticated`] without a
    /// session; [`Error::Store`] when the store cannot answer.
    pub async fn update<D: Serialize>(&self, data: &D) -> Result<(), Error> {
        let data = serde_json::to_string(data)?;
        let mut state = self.request.resolved_state().await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let (session, issued) = self
            .request
            .strategy()
            .update(&current, data, self.request.now())
            .await?;
        state.replace(Some(session), issued);
        Ok(())
    }

    /// Changes the session's data with `change`, re-reading and re-applying it when another
    /// request changed the data in between, so concurrent changes all survive. Returns what
    /// `change` returned on the attempt that was written.
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
    /// # Errors
    ///
    /// [`Error::Conflict`] after 64 lost races in a row; [`Error::Unauthenticated`] without a
    /// session; [`Error::Store`] and [`Error::Data`] as for [`update`](Self::update).
    pub async fn modify<D, R, F>(&self, mut change: F) -> Result<R, Error>
    where
        D: Serialize + DeserializeOwned,
        F: FnMut(&mut D) -> R,
    {
        let mut state = self.request.resolved_state().await;
        let mut current = state.session()?.ok_or(Error::Unauthenticated)?;
        let strategy = self.request.strategy();
        for _ in 0..MODIFY_ATTEMPTS {
            let mut data: D = decode_data(&current.data)?;
            let result = change(&mut data);
            let json = serde_json::to_string(&data)?;
            match strategy.update(&current, json, self.request.now()).await {
                Ok((session, issued)) => {
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

    /// Extends the current session now (the seed's refresh endpoint), never past its absolute
    /// limit, and re-sends the cookie.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn refresh(&self) -> Result<SessionInfo, Error> {
        let mut state = self.request.resolved_state().await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        match self
            .request
            .strategy()
            .refresh(&current, self.request.now())
            .await
        {
            Ok((session, issued)) => {
                let info = session.info.clone();
                state.replace(Some(session), Some(issued));
                Ok(info)
            }
            Err(Error::Unauthenticated) => {
                state.replace(None, None);
                Err(Error::Unauthenticated)
            }
            Err(e) => Err(e),
        }
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
        if revoked && id == current.info.id {
            state.replace(None, None);
        }
        Ok(revoked)
    }

    /// Ends every session of the current user except this one ("sign out everywhere else").
    /// Returns how many were ended (always 0 on JWT sessions, which cannot be counted; the
    /// current token is re-issued there so that it survives).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] without a session; [`Error::Store`] when the store cannot
    /// answer.
    pub async fn revoke_others(&self) -> Result<u64, Error> {
        let mut state = self.request.resolved_state().await;
        let current = state.session()?.ok_or(Error::Unauthenticated)?;
        let (count, reissued) = self
            .request
            .strategy()
            .revoke_others(&current, self.request.now())
            .await?;
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
        let count = self
            .request
            .strategy()
            .revoke_all(user_id, self.request.now())
            .await?;
        let mut state = self.request.resolved_state().await;
        if let Ok(Some(current)) = state.session()
            && current.info.user_id == user_id
        {
            state.replace(None, None);
        }
        Ok(count)
    }
}
