//! [`LoginOptions`]: the choices a login makes for the session it starts.

use crate::config::Persistence;

/// How [`Sessions::login_with`](crate::Sessions::login_with) (and
/// [`login_token_with`](crate::Sessions::login_token_with)) starts a session. The default is
/// what [`Sessions::login`](crate::Sessions::login) does: "remember me", a persistent cookie.
///
/// ```
/// use axum::{Form, http::StatusCode};
/// use sessionward::{LoginOptions, Sessions};
///
/// #[derive(serde::Deserialize)]
/// struct LoginForm {
///     username: String,
///     // An unchecked checkbox is absent from the form.
///     #[serde(default)]
///     remember: bool,
/// }
///
/// async fn login(sessions: Sessions, Form(form): Form<LoginForm>)
///     -> Result<StatusCode, sessionward::Error> {
///     // ... check the password first ...
///     let options = LoginOptions::new().remember(form.remember);
///     let data = serde_json::json!({ "role": "user" });
///     sessions.login_with(form.username, &data, options).await?;
///     Ok(StatusCode::NO_CONTENT)
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginOptions {
    pub(crate) persistence: Persistence,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            persistence: Persistence::Remembered,
        }
    }
}

impl LoginOptions {
    /// The defaults: remember the user (a persistent cookie).
    ///
    /// ```
    /// assert!(sessionward::LoginOptions::new().remembers());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// "Remember me" (default `true`). With `true` the session cookie carries `Max-Age` and
    /// survives a browser restart, and the session lives
    /// [`max_age`](crate::SessionConfig::max_age) after its last extension. With `false` it is a
    /// browser-session cookie (no `Max-Age` or `Expires`: the browser drops it when it closes)
    /// and the session lives only
    /// [`browser_session_lifetime`](crate::SessionConfig::browser_session_lifetime) (default
    /// 1 day) after its last extension on the server, which bounds it even in a browser that
    /// restores its cookies. The choice stays with the session through sliding and explicit
    /// refreshes, rotations and data changes; on JWT sessions it is a signed claim
    /// (`ephemeral`), so a client cannot change it.
    ///
    /// ```
    /// let options = sessionward::LoginOptions::new().remember(false);
    /// assert!(!options.remembers());
    /// ```
    pub fn remember(mut self, remember: bool) -> Self {
        self.persistence = Persistence::from_persistent(remember);
        self
    }

    /// Whether these options remember the user (a persistent cookie).
    ///
    /// ```
    /// assert!(sessionward::LoginOptions::default().remembers());
    /// ```
    pub fn remembers(&self) -> bool {
        self.persistence.is_persistent()
    }
}
