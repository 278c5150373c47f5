//! The JSON API: the same sessions as the pages, for scripts and single-page apps.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sessionward::{LoginOptions, Session, SessionInfo, Sessions};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::users::UserData;

/// An API failure, always answered as `{"error": "..."}`.
pub enum ApiError {
    /// Store down, no session, ...: sessionward's own answer (503, 401, ...).
    Session(sessionward::Error),
    /// Any other refusal.
    Status(StatusCode, String),
}

impl From<sessionward::Error> for ApiError {
    fn from(e: sessionward::Error) -> Self {
        ApiError::Session(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::Status(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Status(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Session(e) => e.into_response(),
            ApiError::Status(status, message) => {
                (status, Json(serde_json::json!({ "error": message }))).into_response()
            }
        }
    }
}

fn not_found() -> ApiError {
    ApiError::Status(StatusCode::NOT_FOUND, "no such session".to_owned())
}

/// The body of `POST /api/login`. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
    /// "Remember me": `false` gives a browser-session cookie (default `true`).
    #[serde(default = "remember_by_default")]
    remember: bool,
}

fn remember_by_default() -> bool {
    true
}

/// Who is logged in: the answer of `/api/login` and `/api/me`.
#[derive(Serialize)]
pub struct Me {
    user_id: String,
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// One entry of `/api/sessions`.
#[derive(Serialize)]
pub struct SessionView {
    id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    current: bool,
    user_agent: Option<String>,
}

impl From<SessionInfo> for SessionView {
    fn from(info: SessionInfo) -> Self {
        SessionView {
            id: info.id,
            created_at: info.created_at,
            expires_at: info.expires_at,
            current: info.current,
            user_agent: info.user_agent,
        }
    }
}

#[derive(Serialize)]
pub struct Expiry {
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    /// A bearer client's new token (JWT sessions re-issue it); absent for a cookie client.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// The answer of `POST /api/sessions/revoke-others` to a bearer client whose token was
/// re-issued (JWT sessions): the token to use from now on.
#[derive(Serialize)]
pub struct NewToken {
    token: String,
}

/// The token a bearer client must use from now on, if this request gave it a new one.
pub async fn new_token(sessions: &Sessions) -> Option<String> {
    let issued = sessions.issued_token().await?;
    Some(issued.token().to_owned())
}

pub async fn login(
    State(state): State<AppState>,
    sessions: Sessions,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<Me>, ApiError> {
    let body = body?;
    let options = LoginOptions::new().remember(body.remember);
    let user = authenticate(&state, Ok(body)).await?;
    let info = sessions.login_with(&user.name, &user, options).await?;
    Ok(Json(Me {
        user_id: info.user_id,
        role: user.role,
        expires_at: info.expires_at,
    }))
}

/// The answer of `POST /api/token`: a bearer token for API clients.
#[derive(Serialize)]
pub struct Token {
    token: String,
    token_type: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// `POST /api/token`: like `/api/login`, but the token comes back in the body (for
/// `Authorization: Bearer`) and no cookie is set.
pub async fn token(
    State(state): State<AppState>,
    sessions: Sessions,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Json<Token>, ApiError> {
    let user = authenticate(&state, body).await?;
    let issued = sessions.login_token(&user.name, &user).await?;
    Ok(Json(Token {
        token: issued.token().to_owned(),
        token_type: "Bearer",
        expires_at: issued.expires_at(),
    }))
}

/// Checks the credentials of a JSON login body.
async fn authenticate(
    state: &AppState,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<UserData, ApiError> {
    let Json(credentials) = body?;
    state
        .users
        .authenticate(&credentials.username, credentials.password)
        .await
        .ok_or_else(|| {
            let message = "wrong username or password".to_owned();
            ApiError::Status(StatusCode::UNAUTHORIZED, message)
        })
}

pub async fn me(session: Session<UserData>) -> Json<Me> {
    Json(Me {
        user_id: session.user_id().to_owned(),
        role: session.role.clone(),
        expires_at: session.expires_at(),
    })
}

pub async fn sessions(sessions: Sessions) -> Result<Json<Vec<SessionView>>, ApiError> {
    let list = sessions.list().await?;
    Ok(Json(list.into_iter().map(SessionView::from).collect()))
}

pub async fn revoke(sessions: Sessions, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    if sessions.revoke(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

pub async fn revoke_others(sessions: Sessions) -> Result<Response, ApiError> {
    sessions.revoke_others().await?;
    Ok(match new_token(&sessions).await {
        Some(token) => Json(NewToken { token }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub async fn refresh(sessions: Sessions) -> Result<Json<Expiry>, ApiError> {
    let refreshed = sessions.refresh().await?;
    Ok(Json(Expiry {
        expires_at: refreshed.expires_at(),
        token: new_token(&sessions).await,
    }))
}

pub async fn logout(sessions: Sessions) -> Result<StatusCode, ApiError> {
    sessions.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}
