//! The "your sessions" page and its revoke forms.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use sessionward::{Error, Session, Sessions};
use uuid::Uuid;

use crate::AppState;
use crate::html::{escape, page, when};
use crate::pages::not_found_page;
use crate::strategy::Strategy;
use crate::users::UserData;

pub async fn sessions(
    State(state): State<AppState>,
    session: Session<UserData>,
    sessions: Sessions,
) -> Result<Response, Error> {
    let rows: String = sessions
        .list()
        .await?
        .iter()
        .map(|s| {
            let (mark, button) = if s.current {
                (" <span class=\"tag\">this browser</span>", "Log out")
            } else {
                ("", "Revoke")
            };
            format!(
                "<tr><td>{agent}{mark}<div class=\"muted\">{ip}</div></td>\
                 <td>{created}</td><td>{expires}</td>\
                 <td><form class=\"inline\" method=\"post\" action=\"/sessions/{id}/revoke\">\
                 <button class=\"quiet\" type=\"submit\">{button}</button></form></td></tr>",
                agent = escape(s.user_agent.as_deref().unwrap_or("unknown device")),
                ip = escape(s.ip.as_deref().unwrap_or("")),
                created = when(s.created_at),
                expires = when(s.expires_at),
                id = s.id,
            )
        })
        .collect();
    let intro = match state.strategy {
        Strategy::Database => "Every browser and client signed in as {name}, newest first.",
        Strategy::Jwt => {
            "This demo runs on JWT sessions, which live in signed tokens, not in the database: \
             other devices cannot be listed, so only this browser's session shows. \
             \u{201c}Sign out everywhere else\u{201d} still works: it revokes every other token \
             of {name}."
        }
    };
    let body = format!(
        "<div class=\"card\"><h1>Your sessions</h1><p>{intro}</p><table>\
         <tr><th>Device</th><th>Signed in</th><th>Expires</th><th></th></tr>{rows}</table>\
         <form method=\"post\" action=\"/sessions/revoke-others\"><p>\
         <button class=\"quiet\" type=\"submit\">Sign out everywhere else</button></p></form>\
         </div>",
        intro = intro.replace("{name}", &escape(&session.name)),
    );
    Ok(page("Sessions", Some(session.data()), &body))
}

/// Where a logged-out visitor who submitted a sessions form is sent.
const LOGIN_FOR_SESSIONS: &str = "/login?next=/sessions";

pub async fn revoke(sessions: Sessions, Path(id): Path<String>) -> Result<Response, Error> {
    let revoked = match Uuid::parse_str(&id) {
        Ok(id) => sessions.revoke(id).await,
        Err(_) => Ok(false),
    };
    match revoked {
        Ok(true) => Ok(Redirect::to("/sessions").into_response()),
        Ok(false) => Ok(not_found_page(None)),
        Err(Error::Unauthenticated) => Ok(Redirect::to(LOGIN_FOR_SESSIONS).into_response()),
        Err(e) => Err(e),
    }
}

pub async fn revoke_others(sessions: Sessions) -> Result<Redirect, Error> {
    match sessions.revoke_others().await {
        Ok(_) => Ok(Redirect::to("/sessions")),
        Err(Error::Unauthenticated) => Ok(Redirect::to(LOGIN_FOR_SESSIONS)),
        Err(e) => Err(e),
    }
}
