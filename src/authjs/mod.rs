// The module's documentation, a guide to reading Auth.js sessions, is docs/authjs.md.
#![doc = include_str!("../../docs/authjs.md")]
// Without `postgres`, the links to the database strategy's items have nothing to point at.
#![cfg_attr(not(feature = "postgres"), allow(rustdoc::broken_intra_doc_links))]

use std::borrow::Cow;

mod cookie_names;
#[cfg(feature = "postgres")]
mod database;
mod strategy;

#[cfg(feature = "postgres")]
pub use database::AuthJsDatabaseConfig;
#[cfg(feature = "postgres")]
pub(crate) use database::AuthJsDatabaseStrategy;
pub(crate) use strategy::AuthJsStrategy;

/// Which Auth.js generations a layer accepts (default: both).
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::authjs::{AuthJsConfig, AuthJsVersion};
/// use sessionward::{Clock, Session, SessionConfig, SessionLayer};
/// use tower::ServiceExt;
///
/// # // Tokens that Auth.js v5 and NextAuth.js v4 made with this secret, and a clock at which
/// # // both are live.
/// # const AUTH_SECRET: &str = "test-secret-for-rust-interop-0123456789abcdef";
/// # const V5_TOKEN: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiMU9nQUMyaGR5d3dmUWdGcUE3bHowc0k5RkRzekJFb1E5RW5MaTQwOVV3RF9GM2N5bDFDQm5PZ3MwQWwwdVUwYjZRTVpWa0MwRUVxZ1FGeW9VRGd0cncifQ..is5ikOgBHhLhtH-slC-QaQ.fefjEJk5_9C9OpBDfjTfoxgz9AY7hxdBXs6zZSMSq8Im-iHki9cqoXFc3y8q7SMbyAgIKuBNfy3t-vy83kieRTImTcuPY9oJAKwmr51B9zVscKJsUHlP4_7SARbNN5f6T5f3kEV-MJEMER7CNQk_Uye4mw4dZqLOiFFdqN-0Elawss3Rjng4SMxhRE1ReGhJwPi1wPL3_kXTLwbK5KDnYYPDs3kxehOLD17ILpPO0uEjQeegrTMdWfvXQ2ImeQX2RV2ZopUAbevek4TXAks9KA.1jFL_dPldQQojE95--R1tUtC7nJ5JMZ1MZXPFQ9utTk";
/// # const V4_TOKEN: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..ohCEYXW5wHQscWef.doLhc7pBxTNjlqCbgDDzZomGq9XzfMnhwYwQG75sii4CuwvMrJ5BwJ_bYzCgxfG6WYQBj5tZIEcmuorIV-z1SSP6OxUzYK2rNFbxYzLO2ihc7IoQy62cFKJCaC8C4LJA2zlAbFU4cYcrgQQ4m4gErbRTxIOVHh_JG9DAmGvA70DHMHlDlB418vMXl0-rpSblU8oUtbjXyn7EynQ.whQIsb9NUbz4tylkCJNQjw";
/// # let (clock, _) = Clock::manual(time::OffsetDateTime::from_unix_timestamp(1_795_804_100)?);
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// assert_eq!(AuthJsVersion::default(), AuthJsVersion::Both);
/// // After the upgrade to Auth.js v5, once the last v4 session has expired (`next dev`, plain
/// // http: the cookies have no `__Secure-` prefix):
/// let config = AuthJsConfig::new(vec![AUTH_SECRET.into()])
///     .version(AuthJsVersion::V5)
///     .use_secure_cookies(false);
/// let app = Router::new()
///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }))
///     .layer(SessionLayer::authjs(config, SessionConfig::default().clock(clock)));
///
/// let with = |cookie: String| Request::get("/me").header("cookie", cookie).body(Body::empty());
/// let v5 = app.clone().oneshot(with(format!("authjs.session-token={V5_TOKEN}"))?).await?;
/// assert_eq!(v5.status(), StatusCode::OK);
/// let v4 = app.oneshot(with(format!("next-auth.session-token={V4_TOKEN}"))?).await?;
/// assert_eq!(v4.status(), StatusCode::UNAUTHORIZED); // v4 cookies are no session now
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthJsVersion {
    /// Auth.js v5 (`@auth/core`, `next-auth@5`): `authjs.session-token` cookies.
    V5,
    /// NextAuth.js v4 (`next-auth@4`): `next-auth.session-token` cookies.
    V4,
    /// Both (the default): for an app in the middle of upgrading.
    #[default]
    Both,
}

/// The v5 cookie names, `__Secure-` (https) first.
///
/// ```
/// use sessionward::authjs::{AuthJsConfig, V5_COOKIE_NAMES};
///
/// assert_eq!(V5_COOKIE_NAMES[1], "authjs.session-token"); // the name over plain http
/// // Auth.js given `cookies.sessionToken.name = "app.session"`; the default names still read:
/// let names = ["app.session"].into_iter().chain(V5_COOKIE_NAMES);
/// let config = AuthJsConfig::new(vec!["the app's AUTH_SECRET".into()]).v5_cookie_names(names);
/// ```
pub const V5_COOKIE_NAMES: [&str; 2] = ["__Secure-authjs.session-token", "authjs.session-token"];
/// The v4 cookie names, `__Secure-` (https) first.
///
/// ```
/// use sessionward::authjs::{AuthJsConfig, V4_COOKIE_NAMES};
///
/// assert_eq!(V4_COOKIE_NAMES[1], "next-auth.session-token"); // the name over plain http
/// let names = ["app.session"].into_iter().chain(V4_COOKIE_NAMES);
/// let config = AuthJsConfig::new(vec!["the app's NEXTAUTH_SECRET".into()]).v4_cookie_names(names);
/// ```
pub const V4_COOKIE_NAMES: [&str; 2] = [
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
];

/// Whether the Next.js app sets `__Secure-` cookies, from its URL in the environment:
/// `false` when `AUTH_URL` (else `NEXTAUTH_URL`) is a plain `http://` URL, `true` otherwise,
/// also when neither is set (an app served over https, the safe default). Unset, Auth.js v5
/// follows each request's protocol and NextAuth.js v4 assumes `http://localhost:3000`: for an
/// app on plain http, set the URL, or
/// [`use_secure_cookies(false)`](AuthJsConfig::use_secure_cookies).
///
/// ```
/// use sessionward::authjs::{AuthJsConfig, secure_cookies_from_env};
///
/// // With AUTH_URL=http://localhost:3000 (next dev): the plain cookie names.
/// let config = AuthJsConfig::new(vec!["the app's AUTH_SECRET".into()])
///     .use_secure_cookies(secure_cookies_from_env());
/// ```
pub fn secure_cookies_from_env() -> bool {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let url = var("AUTH_URL").or_else(|| var("NEXTAUTH_URL"));
    crate::credential::uses_secure_cookies(url.as_deref())
}

/// How to read Auth.js sessions: the secrets, the versions, the cookie names.
///
/// ```
/// use sessionward::authjs::{AuthJsConfig, AuthJsVersion};
///
/// let config = AuthJsConfig::new(vec!["new-secret".into(), "previous-secret".into()])
///     .version(AuthJsVersion::V5);
/// ```
#[derive(Clone)]
pub struct AuthJsConfig {
    pub(crate) secrets: Vec<String>,
    pub(crate) version: AuthJsVersion,
    pub(crate) v5_names: Vec<Cow<'static, str>>,
    pub(crate) v4_names: Vec<Cow<'static, str>>,
    pub(crate) use_secure_cookies: bool,
}

impl AuthJsConfig {
    /// The secrets Next.js uses: `AUTH_SECRET` (or v4's `NEXTAUTH_SECRET`) first, then older
    /// ones still accepted during a rotation (`AUTH_SECRET_1`, `AUTH_SECRET_2`, ...). A v5 token
    /// names its key (`kid`), so the list's length costs nothing; v4 tokens try each secret.
    ///
    /// [`SessionLayer::authjs`](crate::SessionLayer::authjs) panics if the list is empty or
    /// holds an empty secret.
    pub fn new(secrets: Vec<String>) -> Self {
        Self {
            secrets,
            version: AuthJsVersion::Both,
            v5_names: V5_COOKIE_NAMES.iter().map(|n| Cow::Borrowed(*n)).collect(),
            v4_names: V4_COOKIE_NAMES.iter().map(|n| Cow::Borrowed(*n)).collect(),
            use_secure_cookies: true,
        }
    }

    /// The secrets from the environment the way Next.js reads them: `AUTH_SECRET` (falling
    /// back to `NEXTAUTH_SECRET`), then `AUTH_SECRET_1` to `AUTH_SECRET_3`. `None` without
    /// any. [`use_secure_cookies`](Self::use_secure_cookies) is what
    /// [`secure_cookies_from_env`] says.
    pub fn from_env() -> Option<Self> {
        let main = std::env::var("AUTH_SECRET")
            .or_else(|_| std::env::var("NEXTAUTH_SECRET"))
            .ok()
            .filter(|s| !s.is_empty());
        let secrets: Vec<String> = main
            .into_iter()
            .chain(
                (1..=3)
                    .filter_map(|i| std::env::var(format!("AUTH_SECRET_{i}")).ok())
                    .filter(|s| !s.is_empty()),
            )
            .collect();
        let secure = secure_cookies_from_env();
        (!secrets.is_empty()).then(|| Self::new(secrets).use_secure_cookies(secure))
    }

    /// Whether the Next.js app is served over https, Auth.js's `useSecureCookies` (default
    /// `true`). Auth.js then names its cookie `__Secure-authjs.session-token` (v4:
    /// `__Secure-next-auth.session-token`) and reads no other; over plain http it names it
    /// `authjs.session-token`. The layer reads the one the app sets, and treats a cookie
    /// under the other name as no cookie: on an https site, a plain-named cookie was planted
    /// (cookie tossing: over plain http, or by a sibling subdomain), and would sign the
    /// browser in to the planter's account. A configured name without a `__Secure-` twin in
    /// the list is read either way.
    ///
    /// A sibling subdomain served over https can still plant a `__Secure-` cookie (the prefix
    /// allows `Domain`). Where subdomains are not all yours, name the cookie
    /// `__Host-authjs.session-token` in Auth.js (`cookies.sessionToken`, with `path: "/"` and
    /// no `domain`) and here ([`v5_cookie_names`](Self::v5_cookie_names)).
    ///
    /// Turn it off for a Next.js app on plain http (`next dev` on `http://localhost`).
    ///
    /// ```
    /// use sessionward::authjs::AuthJsConfig;
    ///
    /// // next dev on http://localhost:3000: the cookie is `authjs.session-token`.
    /// let dev = AuthJsConfig::new(vec!["the app's AUTH_SECRET".into()]).use_secure_cookies(false);
    /// ```
    pub fn use_secure_cookies(mut self, use_secure_cookies: bool) -> Self {
        self.use_secure_cookies = use_secure_cookies;
        self
    }

    /// Which Auth.js generations to accept (default [`AuthJsVersion::Both`]).
    pub fn version(mut self, version: AuthJsVersion) -> Self {
        self.version = version;
        self
    }

    /// The v5 session cookie names, in order of preference (default [`V5_COOKIE_NAMES`]); set
    /// these when Auth.js's `cookies.sessionToken.name` is customized. The name is the key
    /// derivation's salt.
    pub fn v5_cookie_names<N: Into<Cow<'static, str>>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        self.v5_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// The v4 session cookie names, in order of preference (default [`V4_COOKIE_NAMES`]).
    pub fn v4_cookie_names<N: Into<Cow<'static, str>>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        self.v4_names = names.into_iter().map(Into::into).collect();
        self
    }
}

impl std::fmt::Debug for AuthJsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthJsConfig")
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("version", &self.version)
            .field("v5_names", &self.v5_names)
            .field("v4_names", &self.v4_names)
            .field("use_secure_cookies", &self.use_secure_cookies)
            .finish()
    }
}
