//! Bare Axum: the same routes with no session layer, the ceiling every contender is held to.
//!
//! `/login` sets a plain cookie holding the user id and `/me` echoes it back: the least work
//! that still answers the same JSON from a cookie.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::serve::{LoginForm, me_body};

/// The cookie `/login` sets.
const COOKIE_NAME: &str = "bare-user";

/// The length of the `pad` cookie of `bare-jwt-sized`: with it, a request's `Cookie` header is
/// as long as sessionward-jwt's (about 478 bytes: its HS256 token, with the bench's issuer,
/// audience and data, under `session-id`).
pub const JWT_SIZED_PAD: usize = 454;

/// The bare application; `/login` also sets a `pad` cookie of `pad` bytes when given one.
pub fn app(pad: Option<usize>) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/login", post(move |form| login(form, pad)))
        .route("/logout", post(logout))
        .route("/update", post(update))
}

/// The user id from the `bare-user` cookie.
fn user(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

async fn me(headers: HeaderMap) -> Response {
    match user(&headers) {
        Some(id) => me_body(id).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn login(Form(form): Form<LoginForm>, pad: Option<usize>) -> Response {
    let cookie = format!("{COOKIE_NAME}={}; Path=/; HttpOnly", form.user_id);
    let pad = pad.map(|len| format!("pad={}; Path=/", "p".repeat(len)));
    (
        AppendHeaders(
            [(SET_COOKIE, cookie)]
                .into_iter()
                .chain(pad.map(|pad| (SET_COOKIE, pad))),
        ),
        "ok",
    )
        .into_response()
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE_NAME}=; Path=/; Max-Age=0");
    ([(SET_COOKIE, cookie)], "ok").into_response()
}

async fn update(headers: HeaderMap) -> StatusCode {
    match user(&headers) {
        Some(_) => StatusCode::OK,
        None => StatusCode::UNAUTHORIZED,
    }
}
