//! The per-request session state the layer puts in the request's extensions: resolved lazily,
//! at most once, and turned into at most one `Set-Cookie` on the way out.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderValue, header};
use tokio::sync::{Mutex, MutexGuard};

use crate::config::SessionConfig;
use crate::cookie::CookieConfig;
use crate::credential::{Credential, Source};
use crate::error::Error;
use crate::event::{RejectReason, SessionEvent, SessionEventKind};
use crate::instrument::Outcome;
use crate::replaced_tokens::ReplacedTokens;
use crate::strategy::{
    Lookup, NewToken, RequestClient, Strategy, TokenChange, TokenRoom, ValidSession,
};

/// What the layer shares with every request: configuration and strategy.
///
/// Aligned to 128 bytes so that, inside its `Arc`, it starts on a cache line of its own:
/// every request on every worker thread changes the `Arc`'s counts, and a read of the
/// configuration must not wait for the line those counts live on to come back from another
/// core.
#[repr(align(128))]
pub(crate) struct Shared {
    pub(crate) config: SessionConfig,
    pub(crate) strategy: Box<dyn Strategy>,
    /// Whether this layer already warned about a `Secure` cookie sent over plain http.
    pub(crate) warned_insecure: AtomicBool,
    /// The session cookies a request just replaced with a new token, which a request still
    /// carrying one does not clear.
    pub(crate) replaced_tokens: ReplacedTokens,
}

/// What the response must do with the session cookie.
#[derive(Debug)]
pub(crate) enum CookieAction {
    Keep,
    Set(NewToken),
    /// The session the request read, extended while resolving it: its cookie is sent only if
    /// the session still stands when the request ends (see [`Strategy::still_stands`]).
    Extended(NewToken),
    Clear,
}

/// What the request knows of its session. It starts `Unresolved`; the first extractor, guard
/// or handle call that needs the session resolves it, once, into `Known` (a valid session, or
/// none: no credential, or one that is malformed, unknown, expired or revoked) or `Failed` (the
/// store could not answer: every later ask gets the same error, 503, and the cookie is left
/// alone). Login, rotation, refresh and update replace a `Known` session; logout makes it
/// `Known(None)`. It never goes back to `Unresolved`.
pub(crate) enum Current {
    /// Nobody has asked yet: no store call was made.
    Unresolved,
    /// The session, or `None`.
    Known(Option<Arc<ValidSession>>),
    /// Resolving failed; the error every ask gets.
    Failed(Error),
}

/// One request's session state, behind the request's lock: what it knows of its session, and
/// what the response must do with the cookie (decided along the way, written by
/// [`RequestSession::finish`] as at most one `Set-Cookie`).
pub(crate) struct State {
    /// What the request knows of its session.
    pub(crate) current: Current,
    /// What the response does with the session cookie.
    pub(crate) cookie: CookieAction,
    /// The last token this request handed out, for
    /// [`Sessions::issued_token`](crate::Sessions::issued_token).
    pub(crate) issued: Option<NewToken>,
}

impl State {
    /// The resolved session; the resolution error if resolving failed.
    pub(crate) fn session(&self) -> Result<Option<Arc<ValidSession>>, Error> {
        match &self.current {
            Current::Known(s) => Ok(s.clone()),
            Current::Failed(e) => Err(e.clone()),
            Current::Unresolved => unreachable!("State::session is only called after resolving"),
        }
    }

    /// Makes `session` the request's session and sends `issued` to the client, if any.
    pub(crate) fn replace(&mut self, session: Option<ValidSession>, issued: Option<NewToken>) {
        self.current = Current::Known(session.map(Arc::new));
        match issued {
            Some(issued) => {
                self.issued = Some(issued.clone());
                self.cookie = CookieAction::Set(issued);
            }
            None if matches!(self.current, Current::Known(None)) => {
                self.issued = None;
                self.cookie = CookieAction::Clear
            }
            None => {}
        }
    }
}

/// One request's view of its session.
pub(crate) struct RequestSession {
    pub(crate) shared: Arc<Shared>,
    credential: Credential,
    pub(crate) client: RequestClient,
    state: Mutex<State>,
    /// Whether the state's cookie may be other than `Keep`: set before anyone who may change
    /// it gets the state, so that [`finish`](Self::finish) skips the lock on the common path
    /// (a request that only read its session).
    cookie_may_change: AtomicBool,
    /// The layer's span for this request, whose `user_id` and `session_id` fields are
    /// recorded once the session is known.
    span: tracing::Span,
}

impl RequestSession {
    pub(crate) fn new(
        shared: Arc<Shared>,
        credential: Credential,
        client: RequestClient,
        span: tracing::Span,
    ) -> Self {
        Self {
            shared,
            credential,
            client,
            span,
            cookie_may_change: AtomicBool::new(false),
            state: Mutex::new(State {
                current: Current::Unresolved,
                cookie: CookieAction::Keep,
                issued: None,
            }),
        }
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.shared.config.clock.now()
    }

    /// Hands an event about `session_id` of `user_id` to the configured hook, if any (nothing
    /// is built without one). Called after the change it reports was made.
    pub(crate) fn emit(
        &self,
        kind: SessionEventKind,
        user_id: Option<&str>,
        session_id: Option<uuid::Uuid>,
    ) {
        let Some(events) = &self.shared.config.events else {
            return;
        };
        let client = self.client.record();
        events.emit(SessionEvent {
            kind,
            user_id: user_id.map(str::to_owned),
            session_id,
            at: self.now(),
            user_agent: client.user_agent,
            ip: client.ip,
        });
    }

    /// [`emit`](Self::emit) for one session.
    pub(crate) fn emit_for(&self, kind: SessionEventKind, session: &ValidSession) {
        self.emit(kind, Some(&session.info.user_id), Some(session.info.id));
    }

    /// A rejected credential: logged with its exact reason, reported to the hook by category.
    fn reject(&self, reason: &'static str) {
        tracing::info!(reason, "session rejected");
        crate::instrument::rejection(RejectReason::of(reason).name());
        self.emit(
            SessionEventKind::Rejected(RejectReason::of(reason)),
            None,
            None,
        );
    }

    pub(crate) fn strategy(&self) -> &dyn Strategy {
        &*self.shared.strategy
    }

    /// Where a token issued for this request's client goes: back as a bearer token when the
    /// request came with one, otherwise as the session cookie.
    pub(crate) fn token_room(&self) -> TokenRoom {
        if self.came_with_bearer() {
            TokenRoom::Bearer
        } else {
            self.cookie_room()
        }
    }

    /// Whether the request's credential is an `Authorization: Bearer` token.
    pub(crate) fn came_with_bearer(&self) -> bool {
        self.credential.source() == Some(Source::Bearer)
    }

    /// The room of a token sent as the session cookie: what the cookie's name and attributes
    /// (with the longest `Max-Age`) leave of the browsers' limit.
    pub(crate) fn cookie_room(&self) -> TokenRoom {
        let bare = self
            .shared
            .config
            .cookie
            .set("", Some(time::Duration::days(400)));
        TokenRoom::Cookie {
            overhead: bare.len(),
        }
    }

    /// The request's session, resolving it on first use (at most one lookup per request).
    ///
    /// Nearly every request takes the first path: the state is free, and the session was
    /// resolved before or is answered at once by the strategy (a verified JWT, a cached
    /// database session), with no `await`. What waits (the store, a token to sign for a
    /// session due to be extended, another holder of the state) is boxed, so the future of
    /// every extractor and guard that asks stays small: axum moves it whole when it boxes the
    /// handler's.
    pub(crate) async fn session(&self) -> Result<Option<Arc<ValidSession>>, Error> {
        let Ok(mut state) = self.state.try_lock() else {
            return Box::pin(self.resolved_for_reading()).await.session();
        };
        if matches!(state.current, Current::Unresolved) {
            match self.resolve_state_at_once(&mut state) {
                AtOnce::Resolved => self.resolved(&state),
                // Goes on from where resolving at once stopped: nothing is looked up twice.
                waits => return Box::pin(self.session_after_waiting(state, waits)).await,
            }
        }
        state.session()
    }

    /// [`session`](Self::session) once what resolving at once left waiting is done; the
    /// state's guard moves into this future, so the caller's holds only its box.
    async fn session_after_waiting(
        &self,
        mut state: MutexGuard<'_, State>,
        at_once: AtOnce,
    ) -> Result<Option<Arc<ValidSession>>, Error> {
        self.resolve_waiting(&mut state, at_once).await;
        self.resolved(&state);
        state.session()
    }

    /// The locked state, resolved. Hold it for the whole of an operation that changes the
    /// session, so two extractors of one request never interleave.
    pub(crate) async fn resolved_state(&self) -> MutexGuard<'_, State> {
        let state = self.resolved_for_reading().await;
        // Whoever holds it may change the cookie: `finish` must look.
        self.cookie_may_change.store(true, Ordering::Release);
        state
    }

    /// [`resolved_state`](Self::resolved_state), for `change`, which may give the client a new
    /// token in place of the one its cookie carries. When the strategy says the change ends
    /// that token (a login over the session, a rotation, a JWT data update), it is
    /// remembered as replaced first, before the store is asked to change anything, so that
    /// another request of the same browser, on its way with it meanwhile, finds it gone
    /// without clearing the cookie the new token goes into (see [`ReplacedTokens`]).
    pub(crate) async fn state_for(&self, change: TokenChange) -> MutexGuard<'_, State> {
        let state = self.resolved_state().await;
        if self.carried_cookie()
            && matches!(state.current, Current::Known(Some(_)))
            && self.strategy().ends_the_token(change)
        {
            let tokens = self.credential.tokens().map(|p| p.token.as_str());
            self.shared.replaced_tokens.remember(tokens, self.now());
        }
        state
    }

    /// A logout that found no session clears the session cookie the request came with, even
    /// one whose token was just replaced (which resolving left alone): the user asked to be
    /// signed out, and the new token may already be in the browser. (Two cookies of the name
    /// are still cleared neither: see [`Credential::Ambiguous`].)
    pub(crate) fn clear_cookie_on_logout(&self, state: &mut State) {
        if matches!(self.credential, Credential::Tokens { .. }) && self.carried_cookie() {
            state.cookie = CookieAction::Clear;
        }
    }

    /// Whether the request's cookie carries a token that a request of this process replaced
    /// moments ago: no session, but its cookie is not cleared.
    fn carries_a_token_just_replaced(&self) -> bool {
        let tokens = self.credential.tokens().map(|p| p.token.as_str());
        self.shared.replaced_tokens.any_replaced(tokens, self.now())
    }

    /// The locked state, resolved, for reading.
    async fn resolved_for_reading(&self) -> MutexGuard<'_, State> {
        let mut state = self.locked_state().await;
        if matches!(state.current, Current::Unresolved) {
            self.resolve_state(&mut state).await;
            self.resolved(&state);
        }
        state
    }

    /// The state, locked. Nearly always nobody else holds it (one request's extractors run one
    /// after another), so the lock is tried first: cheaper than queueing for it.
    async fn locked_state(&self) -> MutexGuard<'_, State> {
        match self.state.try_lock() {
            Ok(state) => state,
            Err(_) => self.state.lock().await,
        }
    }

    /// What follows the resolution of `state`, once: `finish` looks at the cookie when
    /// resolving decided it, and the outcome goes to the metrics and the span.
    fn resolved(&self, state: &State) {
        if !matches!(state.cookie, CookieAction::Keep) {
            self.cookie_may_change.store(true, Ordering::Release);
        }
        let outcome = match &state.current {
            Current::Known(Some(session)) => {
                self.record_on_span(session);
                Outcome::Valid
            }
            Current::Known(None) if matches!(self.credential, Credential::Nothing) => Outcome::None,
            Current::Known(None) => Outcome::Rejected,
            Current::Failed(_) | Current::Unresolved => Outcome::Error,
        };
        crate::instrument::resolution(outcome);
    }

    /// Records whose session this request holds on the layer's `session` span (its
    /// `user_id` and `session_id` fields), so that every log line inside the request says so.
    pub(crate) fn record_on_span(&self, session: &ValidSession) {
        if self.span.is_disabled() {
            return;
        }
        self.span
            .record("user_id", session.info.user_id.as_str())
            .record("session_id", tracing::field::display(session.info.id));
    }

    /// Resolves `state`, waiting on the store or on a refresh when it must.
    async fn resolve_state(&self, state: &mut State) {
        let at_once = self.resolve_state_at_once(state);
        self.resolve_waiting(state, at_once).await;
    }

    /// Resolves `state` as far as it can without waiting: from the credential alone, or from
    /// the strategy's answers at once.
    fn resolve_state_at_once(&self, state: &mut State) -> AtOnce {
        if self.resolve_by_credential(state) {
            return AtOnce::Resolved;
        }
        match self.first_valid_at_once() {
            Ok(found) => match self.settle(state, found) {
                Some(due) => AtOnce::Due(due),
                None => AtOnce::Resolved,
            },
            Err(search) => AtOnce::Wait(search),
        }
    }

    /// Finishes what [`resolve_state_at_once`](Self::resolve_state_at_once) left waiting.
    async fn resolve_waiting(&self, state: &mut State, at_once: AtOnce) {
        let due = match at_once {
            AtOnce::Resolved => return,
            AtOnce::Due(due) => due,
            AtOnce::Wait(search) => {
                let found = self.first_valid_from(search).await;
                match self.settle(state, found) {
                    Some(due) => due,
                    None => return,
                }
            }
        };
        self.refresh_due(state, due).await;
    }

    /// Resolves `state` when the credential alone decides it (none, or an unusable one):
    /// `false` when there are tokens to look up.
    fn resolve_by_credential(&self, state: &mut State) -> bool {
        match &self.credential {
            Credential::Nothing => state.current = Current::Known(None),
            Credential::Unusable | Credential::UnusablePrevious => {
                self.reject("unusable session cookie");
                state.current = Current::Known(None);
                state.cookie = CookieAction::Clear;
            }
            Credential::Ambiguous => {
                self.reject("two session cookies");
                state.current = Current::Known(None);
            }
            Credential::Tokens { .. } => return false,
        }
        true
    }

    /// Makes what the lookup found the request's session, and decides the cookie; a session
    /// due to be extended for a cookie client is returned for
    /// [`refresh_due`](Self::refresh_due), with `state` unchanged.
    fn settle(&self, state: &mut State, found: Result<Lookup, Error>) -> Option<DueRefresh> {
        let from_cookie = self.credential.carries_cookie();
        state.current = match found {
            Ok(Lookup::Valid { session, reissue }) => {
                if let Some(issued) = reissue {
                    // The strategy extended the session in the store (database sessions).
                    self.emit_for(SessionEventKind::Refreshed, &session);
                    if from_cookie {
                        state.cookie = CookieAction::Extended(issued);
                    }
                }
                Current::Known(Some(session))
            }
            Ok(Lookup::Due {
                session,
                data_changed,
            }) if from_cookie => {
                return Some(DueRefresh {
                    session,
                    data_changed,
                });
            }
            // A bearer client keeps its token: nothing is signed for it here.
            Ok(Lookup::Due { session, .. }) => Current::Known(Some(session)),
            Ok(Lookup::Invalid(reason)) => {
                self.reject(reason);
                if from_cookie && self.carries_a_token_just_replaced() {
                    tracing::debug!(
                        "the session cookie's token was replaced moments ago: not cleared, \
                         the response that replaced it sets the new one"
                    );
                } else if from_cookie {
                    state.cookie = CookieAction::Clear;
                }
                Current::Known(None)
            }
            Err(e) => Current::Failed(e),
        };
        None
    }

    /// Extends a session due for it with a new token in the cookie.
    async fn refresh_due(&self, state: &mut State, due: DueRefresh) {
        let DueRefresh {
            session,
            data_changed,
        } = due;
        let refresh = self
            .strategy()
            .refresh(&session, self.now(), self.cookie_room());
        state.current = match refresh.await {
            Ok((session, issued)) => {
                tracing::debug!(session = %session.info.id, "session refreshed");
                if data_changed {
                    self.emit_for(SessionEventKind::DataUpdated, &session);
                }
                self.emit_for(SessionEventKind::Refreshed, &session);
                state.issued = Some(issued.clone());
                state.cookie = CookieAction::Extended(issued);
                Current::Known(Some(Arc::new(session)))
            }
            Err(e) => match refusal_that_ends_the_session(&e) {
                // Failing instead would answer every later request of this browser, logout
                // included, with the same error until its token expired.
                Some(reason) => {
                    let id = session.info.id;
                    tracing::warn!(session = %id, reason, "session ended at its re-issue");
                    self.reject(reason);
                    state.cookie = CookieAction::Clear;
                    Current::Known(None)
                }
                None => Current::Failed(e),
            },
        };
    }

    /// The first valid session among the presented tokens, in order of preference, so a stale
    /// or foreign cookie under a preferred name (an Auth.js v5 cookie that does not decrypt
    /// next to a valid v4 one) never hides a good one. Without any, the first token's reason.
    /// A store error ends the search (503, not a guess).
    ///
    /// This asks only the strategy's answers at once; at the first token that has none, the
    /// search stops there, for [`first_valid_from`](Self::first_valid_from) to go on with.
    fn first_valid_at_once(&self) -> Result<Result<Lookup, Error>, Search> {
        let mut found = FirstValid::default();
        for (at, presented) in self.credential.tokens().enumerate() {
            let Some(lookup) = self.strategy().resolve_at_once(presented, self.now()) else {
                return Err(Search {
                    found,
                    waiting_at: at,
                });
            };
            if let ControlFlow::Break(lookup) = found.take(lookup) {
                return Ok(lookup);
            }
        }
        Ok(found.none_valid())
    }

    /// Goes on with a search [`first_valid_at_once`](Self::first_valid_at_once) stopped: the
    /// token it stopped at is resolved by the strategy, waiting (its answer at once was
    /// asked), and each token after it is asked at once first.
    async fn first_valid_from(&self, search: Search) -> Result<Lookup, Error> {
        let Search {
            mut found,
            waiting_at,
        } = search;
        for (at, presented) in self.credential.tokens().enumerate().skip(waiting_at) {
            let now = self.now();
            let at_once = if at == waiting_at {
                None
            } else {
                self.strategy().resolve_at_once(presented, now)
            };
            let lookup = match at_once {
                Some(lookup) => lookup,
                None => self.strategy().resolve(presented, now).await,
            };
            if let ControlFlow::Break(lookup) = found.take(lookup) {
                return lookup;
            }
        }
        found.none_valid()
    }

    fn carried_cookie(&self) -> bool {
        self.credential.carries_cookie()
    }

    /// Writes the response's one `Set-Cookie` (and `Cache-Control: no-store` with it); for a
    /// request that came with the previous cookie, the two that move the browser to the
    /// current one.
    pub(crate) async fn finish(&self, headers: &mut HeaderMap) {
        if !self.strategy().owns_cookie() {
            return;
        }
        if let Some(previous) = self.moving_off_previous_cookie() {
            return self.move_to_current_cookie(previous, headers).await;
        }
        if !self.cookie_may_change.load(Ordering::Acquire) {
            return;
        }
        let state = self.locked_state().await;
        let cookie = &self.shared.config.cookie;
        let value = match &state.cookie {
            CookieAction::Keep => return,
            CookieAction::Set(issued) => cookie.set(&issued.token, self.cookie_age(issued)),
            CookieAction::Extended(issued) if self.session_still_stands(&state).await => {
                cookie.set(&issued.token, self.cookie_age(issued))
            }
            CookieAction::Extended(_) => return,
            CookieAction::Clear if self.carried_cookie() => cookie.clear(),
            CookieAction::Clear => return,
        };
        headers.append(header::SET_COOKIE, value);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    /// Whether the session this request extended while resolving it (or, moving a browser off
    /// the previous cookie, copies into the current one) still stands now, at the end of the
    /// request. A store that cannot answer leaves the cookie to be sent, as it was before this
    /// check: it is the token the request was served with.
    async fn session_still_stands(&self, state: &State) -> bool {
        let Current::Known(Some(session)) = &state.current else {
            return true;
        };
        match self.strategy().still_stands(session, self.now()).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::info!(
                    session = %session.info.id,
                    "session rotated or ended while its extension's request ran: its cookie is \
                     not sent"
                );
                false
            }
            Err(error) => {
                tracing::debug!(%error, "could not check an extended session at the end of its request");
                true
            }
        }
    }

    /// Whether [`finish`](Self::finish) may write anything: `false` on the common path (a
    /// request that only read its session, with the current cookie), which the layer then
    /// answers without waiting on it.
    pub(crate) fn may_write_cookie(&self) -> bool {
        self.strategy().owns_cookie()
            && (self.moving_off_previous_cookie().is_some()
                || self.cookie_may_change.load(Ordering::Acquire))
    }

    /// The previous cookie's configuration, when the request came with that cookie (the
    /// response then moves the browser to the current one).
    fn moving_off_previous_cookie(&self) -> Option<&CookieConfig> {
        let previous = self.shared.config.previous_cookie.as_deref()?;
        self.credential
            .carries_previous_cookie()
            .then_some(previous)
    }

    /// The `Max-Age` of the cookie that carries `issued`: until it expires, or none for a
    /// browser-session cookie.
    fn cookie_age(&self, issued: &NewToken) -> Option<time::Duration> {
        issued
            .persistence
            .is_persistent()
            .then(|| issued.expires_at - self.now())
    }

    /// The response to a request that came with the previous cookie: the session (resolved
    /// now if the handler did not ask) goes into the current cookie, and the previous cookie
    /// is removed with its own `Path` and `Domain`. A store that could not answer changes
    /// nothing: the client keeps its cookie and retries.
    async fn move_to_current_cookie(&self, previous: &CookieConfig, headers: &mut HeaderMap) {
        let state = self.resolved_state().await;
        let current = match (&state.cookie, &state.current) {
            (CookieAction::Set(issued), _) => Some((&issued.token, self.cookie_age(issued))),
            (CookieAction::Extended(issued), _) if self.session_still_stands(&state).await => {
                Some((&issued.token, self.cookie_age(issued)))
            }
            (CookieAction::Extended(_), _) => None,
            // The token the request came with, copied into the current cookie, on the same
            // condition as an extension's: another request of the browser may have replaced it
            // meanwhile, and its response set the current cookie.
            (CookieAction::Keep, Current::Known(Some(session)))
                if self.session_still_stands(&state).await =>
            {
                let age = (session.info.persistent).then(|| session.info.expires_at - self.now());
                Some((&session.token, age))
            }
            (CookieAction::Keep, Current::Failed(_)) => return,
            _ => None,
        };
        if let Some((token, age)) = current {
            let cookie = &self.shared.config.cookie;
            headers.append(header::SET_COOKIE, cookie.set(token, age));
        }
        headers.append(header::SET_COOKIE, previous.clear());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// How far resolving got without waiting.
enum AtOnce {
    /// The state is resolved.
    Resolved,
    /// The session is due to be extended, and the cookie client is sent a new token: signing
    /// it waits (on the strategy's issue callback, on the store).
    Due(DueRefresh),
    /// A token's answer waits on the strategy's store: the search, stopped at that token.
    Wait(Search),
}

/// A search for the first valid session, stopped at a token whose answer waits.
struct Search {
    /// What the tokens before it found.
    found: FirstValid,
    /// The token's place among the request's tokens.
    waiting_at: usize,
}

/// A valid session due to be extended with a new token in the cookie.
struct DueRefresh {
    session: Arc<ValidSession>,
    /// Whether the new token also brings the data up to date ([`Lookup::Due`]).
    data_changed: bool,
}

/// Why re-issuing a session's token failed in a way that ends the session, as the log and
/// the rejection metrics say it: its data no longer fits the cookie (a change to all of the
/// user's sessions made it grow, and the token's older data is no answer either), or the
/// issue callback refused the user ([`Error::Unauthenticated`]). `None`: the failure is the
/// request's answer (a store or a callback that is down: 503 until it is back).
fn refusal_that_ends_the_session(error: &Error) -> Option<&'static str> {
    match error {
        Error::TooLarge { .. } => Some("data no longer fits the cookie"),
        // The issue callback refused the user, or the session ended while the request ran.
        Error::Unauthenticated => Some("refused at its re-issue"),
        _ => None,
    }
}

/// The search for the first valid session among a request's tokens, one lookup at a time.
#[derive(Default)]
struct FirstValid {
    /// Why the first token was not valid.
    first_reason: Option<&'static str>,
}

impl FirstValid {
    /// Takes the next token's lookup: the search ends with a valid session or a store error.
    fn take(&mut self, lookup: Result<Lookup, Error>) -> ControlFlow<Result<Lookup, Error>> {
        match lookup {
            Ok(Lookup::Invalid(reason)) => {
                self.first_reason.get_or_insert(reason);
                ControlFlow::Continue(())
            }
            found => ControlFlow::Break(found),
        }
    }

    /// No token was valid: the first one's reason.
    fn none_valid(self) -> Result<Lookup, Error> {
        Ok(Lookup::Invalid(
            self.first_reason.unwrap_or("malformed token"),
        ))
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt as _;

    use crate::{MemoryStore, Session, SessionCache, SessionConfig, SessionLayer, SessionToken};

    /// The cache lookups counted while one request with `cookie` is served by database
    /// sessions on a `MemoryStore` with the cache: `(hits, misses)`.
    fn cache_lookups_of_one_request(cookie: &str) -> (u64, u64) {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let config =
                    SessionConfig::default().cache(SessionCache::new(Duration::from_secs(5)));
                let app = Router::new()
                    .route(
                        "/me",
                        get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }),
                    )
                    .layer(SessionLayer::database(MemoryStore::new(), config));
                let request = Request::get("/me")
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = app.oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            });
        });
        let (mut hits, mut misses) = (0, 0);
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let (DebugValue::Counter(n), crate::instrument::CACHE_LOOKUPS) = (value, key.name())
            else {
                continue;
            };
            match key
                .labels()
                .find(|l| l.key() == "result")
                .map(|l| l.value())
            {
                Some("hit") => hits += n,
                Some("miss") => misses += n,
                other => panic!("a cache lookup counted as {other:?}"),
            }
        }
        (hits, misses)
    }

    /// A request whose session the cache does not hold asks the cache once, then the store:
    /// the waiting path goes on from the answer at once, it does not ask again.
    #[test]
    fn a_cache_miss_is_one_lookup_of_the_cache() {
        let unknown = SessionToken::generate();
        let cookie = format!("session-id={}", unknown.as_str());
        assert_eq!(cache_lookups_of_one_request(&cookie), (0, 1));
    }
}
