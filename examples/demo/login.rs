//! Logging in and out with the HTML form.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionward::{Error, LoginOptions, Session, Sessions, safe_redirect_target};

use crate::AppState;
use crate::html::{escape, next_field, page};
use crate::users::UserData;

/// The `?next=` of a form page: where to go once the form is done.
#[derive(Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// The login form's fields. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    /// The "Remember me" checkbox: sent (as `on`) only when checked.
    remember: Option<String>,
    /// Sent by the form itself, so that an unchecked box (no `remember`) means "no"; a
    /// client that posts neither is remembered, as `/api/login` does by default.
    remember_shown: Option<String>,
}

impl LoginForm {
    fn remember(&self) -> bool {
        self.remember.is_some() || self.remember_shown.is_none()
    }
}

pub async fn login_form(
    session: Option<Session<UserData>>,
    Query(query): Query<NextQuery>,
) -> Response {
    login_page(
        session.as_ref().map(|s| s.data()),
        query.next.as_deref(),
        "",
        None,
    )
}

pub async fn login(
    State(state): State<AppState>,
    sessions: Sessions,
    Form(form): Form<LoginForm>,
) -> Result<Response, Error> {
    let next = form.next.as_deref().and_then(safe_redirect_target);
    let options = LoginOptions::new().remember(form.remember());
    let Some(user) = state
        .users
        .authenticate(&form.username, form.password)
        .await
    else {
        let page = login_page(
            None,
            next,
            &form.username,
            Some("Wrong username or password."),
        );
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    };
    sessions.login_with(&user.name, &user, options).await?;
    Ok(Redirect::to(next.unwrap_or("/dashboard")).into_response())
}

fn login_page(
    user: Option<&UserData>,
    next: Option<&str>,
    username: &str,
    error: Option<&str>,
) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    let next = next_field(next);
    let body = format!(
        "<div class=\"card narrow\"><h1>Log in</h1>{error}\
         <form method=\"post\" action=\"/login\">{next}\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" \
         autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>\
         <input type=\"hidden\" name=\"remember_shown\" value=\"1\">\
         <label class=\"check\"><input type=\"checkbox\" id=\"remember\" name=\"remember\" \
         checked> Remember me</label>\
         <button class=\"wide\" type=\"submit\">Log in</button></form>\
         <p class=\"muted\">Try <code>alice</code> / <code>wonderland</code> or \
         <code>admin</code> / <code>admin-password</code>.</p></div>",
        username = escape(username),
    );
    page("Log in", user, &body)
}

pub async fn logout(sessions: Sessions) -> Result<Redirect, Error> {
    sessions.logout().await?;
    Ok(Redirect::to("/"))
}
