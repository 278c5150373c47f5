//! Step-up freshness: the account routes need a sign-in, or a re-authentication, within
//! `FRESH_AGE_SECS` (`require_fresh`); the re-authentication routes ask for the password again
//! and make the same session fresh (`Sessions::reauthenticated`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use sessionward::{Error, Session, SessionInfo, Sessions, safe_redirect_target};
use time::OffsetDateTime;

use crate::AppState;
use crate::api::{ApiError, new_token};
use crate::html::{escape, next_field, page, when};
use crate::login::NextQuery;
use crate::users::UserData;

/// How long a sign-in counts as fresh unless `FRESH_AGE_SECS` says otherwise: 5 minutes.
const DEFAULT_FRESH_AGE_SECS: u64 = 300;

/// `FRESH_AGE_SECS` (seconds from 1 up; default 300), or why it is unusable.
pub fn fresh_age(setting: Option<String>) -> Result<time::Duration, String> {
    let secs = match setting {
        Some(secs) => secs.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("FRESH_AGE_SECS must be a number of seconds from 1 up, not {secs:?}")
        })?,
        None => DEFAULT_FRESH_AGE_SECS,
    };
    let secs = i64::try_from(secs).map_err(|_| format!("FRESH_AGE_SECS {secs} is too large"))?;
    Ok(time::Duration::seconds(secs))
}

/// The answer of `GET /api/account` and `POST /api/reauth`.
#[derive(Serialize)]
pub struct Account {
    user_id: String,
    /// The last sign-in or re-authentication.
    #[serde(with = "time::serde::rfc3339")]
    authenticated_at: OffsetDateTime,
    /// A bearer client's new token (JWT sessions re-issue it on re-authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// `GET /api/account`, behind `require_fresh`: 403 `{"error": "reauthentication required"}`
/// when the sign-in is too old.
pub async fn account(session: Session<UserData>) -> Json<Account> {
    Json(Account {
        user_id: session.user_id().to_owned(),
        authenticated_at: session.authenticated_at(),
        token: None,
    })
}

/// The body of `POST /api/reauth`. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct Password {
    password: String,
}

/// `POST /api/reauth`: the right password makes the session fresh (200), a wrong one is 401.
pub async fn reauth(
    State(state): State<AppState>,
    session: Session<UserData>,
    sessions: Sessions,
    body: Result<Json<Password>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    let Json(body) = body?;
    let Some(info) = reauthenticate(&state, &session, &sessions, body.password).await? else {
        let message = "wrong password".to_owned();
        return Err(ApiError::Status(StatusCode::UNAUTHORIZED, message));
    };
    Ok(Json(Account {
        user_id: info.user_id,
        authenticated_at: info.authenticated_at,
        token: new_token(&sessions).await,
    }))
}

/// Checks `password` against the session's user and, when it matches, marks the session
/// fresh. `Ok(None)` for a wrong password.
async fn reauthenticate(
    state: &AppState,
    session: &Session<UserData>,
    sessions: &Sessions,
    password: String,
) -> Result<Option<SessionInfo>, Error> {
    if state
        .users
        .authenticate(session.user_id(), password)
        .await
        .is_none()
    {
        return Ok(None);
    }
    sessions.reauthenticated().await.map(Some)
}

/// `GET /account`, behind `require_fresh`: a stale session is sent to `/reauth?next=/account`.
pub async fn account_page(State(state): State<AppState>, session: Session<UserData>) -> Response {
    let body = format!(
        "<div class=\"card\"><h1>Account</h1><p>This page asks for your password again when you \
         last signed in more than {secs} seconds ago, as pages that change a password or an \
         e-mail address should.</p><table class=\"facts\">\
         <tr><th>User</th><td>{name}</td></tr>\
         <tr><th>Signed in or confirmed</th><td>{at}</td></tr></table></div>",
        secs = state.fresh_age.whole_seconds(),
        name = escape(&session.name),
        at = when(session.authenticated_at()),
    );
    page("Account", Some(session.data()), &body)
}

/// `GET /reauth?next=...`: the password form.
pub async fn reauth_form(session: Session<UserData>, Query(query): Query<NextQuery>) -> Response {
    reauth_page(&session, query.next.as_deref(), None)
}

/// The re-authentication form's fields. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /reauth`: the right password goes on to `next` (or `/account`); a wrong one is 401 with
/// the form again.
pub async fn reauth_submit(
    State(state): State<AppState>,
    session: Session<UserData>,
    sessions: Sessions,
    Form(form): Form<ReauthForm>,
) -> Result<Response, Error> {
    let next = form.next.as_deref().and_then(safe_redirect_target);
    match reauthenticate(&state, &session, &sessions, form.password).await? {
        Some(_) => Ok(Redirect::to(next.unwrap_or("/account")).into_response()),
        None => {
            let page = reauth_page(&session, next, Some("Wrong password."));
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
    }
}

fn reauth_page(session: &Session<UserData>, next: Option<&str>, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    let next = next_field(next);
    let body = format!(
        "<div class=\"card narrow\"><h1>Confirm it is you</h1>{error}\
         <p>Type the password of <strong>{name}</strong> again to go on.</p>\
         <form method=\"post\" action=\"/reauth\">{next}\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required autofocus>\
         <button class=\"wide\" type=\"submit\">Confirm</button></form></div>",
        name = escape(&session.name),
    );
    page("Confirm it is you", Some(session.data()), &body)
}
