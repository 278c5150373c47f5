//! The admin's JSON routes: role changes and the recent session events. Behind
//! `require_role("admin")`: 401 without a session, 403 for other roles.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sessionward::Sessions;

use crate::AppState;
use crate::api::ApiError;
use crate::events::{self, Recorded};
use crate::roles::change_role;
use crate::users::Role;

/// The body of `POST /api/admin/users/{user_id}/role`: `{"role": "admin"}` or `{"role": "user"}`
/// (any other role is a 422).
#[derive(Deserialize)]
pub struct RoleBody {
    role: Role,
}

/// The answer of a role change.
#[derive(Serialize)]
pub struct RoleChanged {
    /// How many live sessions now hold the new role (0 on JWT sessions, which cannot be
    /// counted).
    sessions_updated: u64,
}

/// `POST /api/admin/users/{user_id}/role`.
pub async fn set_role(
    State(state): State<AppState>,
    sessions: Sessions,
    Path(user_id): Path<String>,
    body: Result<Json<RoleBody>, JsonRejection>,
) -> Result<Json<RoleChanged>, ApiError> {
    let Json(body) = body?;
    match change_role(&state, &sessions, &user_id, body.role).await? {
        Some(sessions_updated) => Ok(Json(RoleChanged { sessions_updated })),
        None => Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            "no such user".to_owned(),
        )),
    }
}

/// How many events `GET /api/admin/events` answers with unless `?limit=` says otherwise.
const DEFAULT_LIMIT: usize = 50;

/// The query of `GET /api/admin/events`.
#[derive(Deserialize)]
pub struct EventsQuery {
    /// At most this many (capped at what the log keeps); not a number is a 400.
    limit: Option<usize>,
}

/// `GET /api/admin/events?limit=N`: the newest events, newest first.
pub async fn recent_events(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Vec<Recorded>>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(events::KEPT);
    Ok(Json(state.events.newest(limit)))
}
