//! The admin page: every account with a form to change its role, and the recent session
//! events. Behind `require_role("admin")` (others get the 403 page).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionward::{Error, Session, Sessions};

use crate::AppState;
use crate::html::{escape, page, when};
use crate::pages::not_found_page;
use crate::roles::change_role;
use crate::users::{Role, UserData};

/// How many events the page lists.
const EVENTS_SHOWN: usize = 20;

pub async fn admin(State(state): State<AppState>, session: Session<UserData>) -> Response {
    let users: String = state.users.all().iter().map(user_row).collect();
    let events: String = state
        .events
        .newest(EVENTS_SHOWN)
        .iter()
        .map(|event| {
            format!(
                "<tr><td class=\"nowrap\">{at}</td><td>{kind}</td><td>{user}</td>\
                 <td><code>{session}</code></td></tr>",
                at = when(event.at),
                kind = escape(event.kind),
                user = escape(event.user_id.as_deref().unwrap_or("")),
                session = event
                    .session_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let body = format!(
        "<div class=\"card\"><h1>Admin</h1><p>Only sessions with the role \
         <code>admin</code> reach this page. A new role reaches the user's signed-in sessions \
         on their next request.</p><table id=\"users\">\
         <tr><th>User</th><th>Role</th><th>Permissions</th><th></th></tr>{users}</table></div>\
         <div class=\"card\"><h1>Recent session events</h1><table id=\"events\">\
         <tr><th>When</th><th>Event</th><th>User</th><th>Session</th></tr>{events}</table>\
         <p class=\"muted\">All of them as JSON: <code>GET /api/admin/events?limit=N</code></p>\
         </div>"
    );
    page("Admin", Some(session.data()), &body)
}

/// One account's row, with its role form.
fn user_row(user: &UserData) -> String {
    let options: String = Role::ALL
        .iter()
        .map(|role| {
            let selected = if role.name() == user.role {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{0}\"{selected}>{0}</option>", role.name())
        })
        .collect();
    format!(
        "<tr><td>{name}</td><td>{role}</td><td>{permissions}</td><td class=\"actions\">\
         <form class=\"inline\" method=\"post\" action=\"/admin/users/{name}/role\">\
         <select name=\"role\" aria-label=\"Role of {name}\">{options}</select> \
         <button type=\"submit\">Set role</button></form></td></tr>",
        name = escape(&user.name),
        role = escape(&user.role),
        permissions = escape(&user.permissions.join(", ")),
    )
}

/// The role form's field.
#[derive(Deserialize)]
pub struct RoleForm {
    role: Role,
}

/// `POST /admin/users/{user_id}/role`: the form's role change, then back to the admin page.
pub async fn set_role(
    State(state): State<AppState>,
    session: Session<UserData>,
    sessions: Sessions,
    Path(user_id): Path<String>,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Result<Response, Error> {
    let Ok(Form(form)) = form else {
        let body = "<div class=\"card\"><h1>Unknown role</h1><p>A role is <code>user</code> \
                    or <code>admin</code>. <a href=\"/admin\">Back</a></p></div>";
        let page = page("Unknown role", Some(session.data()), body);
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    };
    match change_role(&state, &sessions, &user_id, form.role).await? {
        Some(_) => Ok(Redirect::to("/admin").into_response()),
        None => Ok(not_found_page(Some(session.data()))),
    }
}
