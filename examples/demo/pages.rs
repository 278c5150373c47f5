//! The public and signed-in HTML pages: home, dashboard, and "not found".

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sessionward::Session;

use crate::html::{escape, page, when};
use crate::users::UserData;

pub async fn home(session: Option<Session<UserData>>) -> Response {
    let body = match &session {
        Some(session) => format!(
            "<div class=\"card\"><h1>Welcome back, {name}</h1>\
             <p>You are logged in with the role <strong>{role}</strong>.</p>\
             <p><a href=\"/dashboard\">Dashboard</a> · <a href=\"/sessions\">Your sessions</a></p>\
             </div>",
            name = escape(&session.name),
            role = escape(&session.role),
        ),
        None => "<div class=\"card\"><h1>sessionward demo</h1>\
                 <p>You are not logged in.</p><p><a href=\"/login\">Log in</a> as \
                 <code>alice</code> / <code>wonderland</code> (a user) or \
                 <code>admin</code> / <code>admin-password</code> (an administrator).</p></div>"
            .to_owned(),
    };
    page("Home", session.as_ref().map(|s| s.data()), &body)
}

pub async fn dashboard(session: Session<UserData>) -> Response {
    let admin_link = if session.role == "admin" {
        " · <a href=\"/admin\">Admin</a>"
    } else {
        ""
    };
    let body = format!(
        "<div class=\"card\"><h1>Dashboard</h1><table class=\"facts\">\
         <tr><th>User</th><td>{name}</td></tr>\
         <tr><th>Role</th><td>{role}</td></tr>\
         <tr><th>Permissions</th><td>{permissions}</td></tr>\
         <tr><th>Logged in</th><td>{created}</td></tr>\
         <tr><th>Session expires</th><td>{expires} <span class=\"muted\">(extended while you \
         use the site, until {absolute} at the latest)</span></td></tr></table>\
         <p><a href=\"/sessions\">Your sessions</a> · <a href=\"/account\">Account</a>{admin_link}</p>\
         <form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>\
         </div>",
        name = escape(&session.name),
        role = escape(&session.role),
        permissions = escape(&session.permissions.join(", ")),
        created = when(session.created_at()),
        expires = when(session.expires_at()),
        absolute = when(session.absolute_expires_at()),
    );
    page("Dashboard", Some(session.data()), &body)
}

pub async fn not_found(session: Option<Session<UserData>>) -> Response {
    not_found_page(session.as_ref().map(|s| s.data()))
}

pub fn not_found_page(user: Option<&UserData>) -> Response {
    let body = "<div class=\"card\"><h1>Not found</h1>\
                <p>There is nothing here. <a href=\"/\">Home</a></p></div>";
    (StatusCode::NOT_FOUND, page("Not found", user, body)).into_response()
}
