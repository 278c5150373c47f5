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
            let agent = s.user_agent.as_deref().unwrap_or("unknown device");
            format!(
                "<tr><td><span title=\"{agent}\">{device}</span>{mark}\
                 <div class=\"muted\">{ip}</div></td>\
                 <td class=\"nowrap\">{created}</td><td class=\"nowrap\">{expires}</td>\
                 <td class=\"actions\"><form class=\"inline\" method=\"post\" \
                 action=\"/sessions/{id}/revoke\">\
                 <button class=\"quiet\" type=\"submit\">{button}</button></form></td></tr>",
                agent = escape(agent),
                device = escape(&device(agent)),
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

/// A short name for a `User-Agent`, such as `Chrome on Linux`; other clients (`curl/8.5`,
/// an app's own name) show as they are.
fn device(user_agent: &str) -> String {
    let has = |part: &str| user_agent.contains(part);
    // Order matters: Edge and Opera say Chrome, Chrome says Safari, Android says Linux.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(part, _)| has(part));
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(part, _)| has(part));
    match (browser, system) {
        (Some((_, browser)), Some((_, system))) => format!("{browser} on {system}"),
        (Some((_, browser)), None) => browser.to_owned(),
        (None, _) => user_agent.to_owned(),
    }
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
