// The module's documentation, a guide to reading Better Auth sessions, is docs/betterauth.md.
#![doc = include_str!("../../docs/betterauth.md")]

use std::borrow::Cow;
use std::sync::Arc;

mod cache;
mod queries;
mod schema;
mod signed;
mod sql;
mod strategy;

pub use schema::{BetterAuthSchema, FieldType};
pub(crate) use strategy::BetterAuthStrategy;

/// How Better Auth encodes its cookie cache (`session.cookieCache.strategy`).
///
/// ```
/// use sessionward::betterauth::{BetterAuthConfig, CookieCacheStrategy};
///
/// // betterAuth({ session: { cookieCache: { enabled: true, maxAge: 300, strategy: "jwt" } } })
/// let config = BetterAuthConfig::new("the app's BETTER_AUTH_SECRET")
///     .cookie_cache(CookieCacheStrategy::Jwt);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieCacheStrategy {
    /// `"compact"` (Better Auth's default): base64url JSON with an HMAC-SHA256 signature.
    Compact,
    /// `"jwt"`: an HS256 JWT signed with the secret.
    Jwt,
    /// `"jwe"`: a JWE (`dir`, `A256CBC-HS512`) under a key derived from the secret.
    Jwe,
}

/// How to read a Better Auth app's sessions: its secret, cookie prefix, cookie cache, bearer
/// plugin and schema.
///
/// ```
/// use sessionward::betterauth::{BetterAuthConfig, BetterAuthSchema, CookieCacheStrategy};
///
/// // betterAuth({ advanced: { cookiePrefix: "my-app" },
/// //   session: { cookieCache: { enabled: true, strategy: "jwe" } }, plugins: [admin()] })
/// let config = BetterAuthConfig::new("the app's BETTER_AUTH_SECRET")
///     .cookie_prefix("my-app")
///     .cookie_cache(CookieCacheStrategy::Jwe)
///     .schema(BetterAuthSchema::default().admin_plugin());
/// ```
#[derive(Clone)]
pub struct BetterAuthConfig {
    pub(crate) secret: String,
    pub(crate) cookie_prefix: Cow<'static, str>,
    pub(crate) cookie_cache: Option<CookieCacheStrategy>,
    pub(crate) cookie_cache_version: Cow<'static, str>,
    pub(crate) bearer_requires_signature: bool,
    pub(crate) session_refresh: bool,
    pub(crate) use_secure_cookies: bool,
    pub(crate) schema: BetterAuthSchema,
}

impl BetterAuthConfig {
    /// The app's secret (`BETTER_AUTH_SECRET`, or Better Auth's `secret` option). Anyone
    /// holding it can sign session cookies: keep it out of logs and of the browser.
    ///
    /// [`SessionLayer::betterauth`](crate::SessionLayer::betterauth) panics if it is empty.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            cookie_prefix: Cow::Borrowed("better-auth"),
            cookie_cache: None,
            cookie_cache_version: Cow::Borrowed("1"),
            bearer_requires_signature: false,
            session_refresh: true,
            use_secure_cookies: true,
            schema: BetterAuthSchema::default(),
        }
    }

    /// The secret from the environment the way Better Auth reads it: the current secret of
    /// `BETTER_AUTH_SECRETS` (`"<version>:<secret>,..."`, the first entry), else
    /// `BETTER_AUTH_SECRET`, else `AUTH_SECRET`. `None` without any. A `BETTER_AUTH_URL` on
    /// plain `http://` turns [`use_secure_cookies`](Self::use_secure_cookies) off, as it does
    /// in Better Auth; otherwise, and when it is unset, it stays on (an app on https). Better
    /// Auth's own default without a URL follows `NODE_ENV`, and its `advanced.useSecureCookies`
    /// overrides the URL: set `use_secure_cookies` to match when the app does either.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let versioned = var("BETTER_AUTH_SECRETS").and_then(|all| {
            let first = all.split(',').next()?.trim();
            let (_, secret) = first.split_once(':')?;
            Some(secret.trim().to_owned()).filter(|s| !s.is_empty())
        });
        versioned
            .or_else(|| var("BETTER_AUTH_SECRET"))
            .or_else(|| var("AUTH_SECRET"))
            .map(Self::new)
            .map(|config| {
                let url = var("BETTER_AUTH_URL");
                config.use_secure_cookies(crate::credential::uses_secure_cookies(url.as_deref()))
            })
    }

    /// The app's `advanced.cookiePrefix` (default `better-auth`): cookies
    /// `<prefix>.session_token`, `<prefix>.session_data`, `<prefix>.dont_remember`, each also
    /// under `__Secure-`.
    pub fn cookie_prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.cookie_prefix = prefix.into();
        self
    }

    /// Answers from the cookie cache the app writes with `session.cookieCache: { enabled:
    /// true, strategy }` (off by default: every session is read from the database). Read the
    /// staleness warning in [the module docs](self#the-cookie-cache) first.
    pub fn cookie_cache(mut self, strategy: CookieCacheStrategy) -> Self {
        self.cookie_cache = Some(strategy);
        self
    }

    /// The app's `session.cookieCache.version` when it is a string (default `"1"`): a cache of
    /// another version is ignored.
    pub fn cookie_cache_version(mut self, version: impl Into<Cow<'static, str>>) -> Self {
        self.cookie_cache_version = version.into();
        self
    }

    /// The bearer plugin's `requireSignature`: refuse bare session tokens in
    /// `Authorization: Bearer`, accept only signed ones (default `false`, as in the plugin).
    pub fn bearer_requires_signature(mut self, required: bool) -> Self {
        self.bearer_requires_signature = required;
        self
    }

    /// `false` for an app with `session.disableSessionRefresh: true`: sessions are never
    /// extended (default `true`): lookups leave them, and
    /// [`Sessions::refresh`](crate::Sessions::refresh) answers
    /// [`Error::Unsupported`](crate::Error::Unsupported) (501), as it does for a session signed
    /// in with `rememberMe: false`.
    pub fn session_refresh(mut self, enabled: bool) -> Self {
        self.session_refresh = enabled;
        self
    }

    /// Whether the app is served over https, Better Auth's `advanced.useSecureCookies`
    /// (default `true`; Better Auth's own default follows its `baseURL`). Better Auth then
    /// names its cookies `__Secure-<prefix>.session_token` (and `session_data`,
    /// `dont_remember`) and reads no others; over plain http, `<prefix>.session_token`. The
    /// layer reads the ones the app sets and treats a session cookie under the other name as
    /// no cookie: on an https site, a plain-named cookie was planted (cookie tossing: over
    /// plain http, or by a sibling subdomain), and would sign the browser in to the planter's
    /// account. A sibling subdomain served over https can still plant a `__Secure-` one (the
    /// prefix allows `Domain`; Better Auth has no `__Host-` option). When the app sets
    /// `advanced.useSecureCookies` itself, set this to the same value.
    ///
    /// Turn it off for an app on plain http (`baseURL: "http://localhost:3000"`).
    ///
    /// ```
    /// use sessionward::betterauth::BetterAuthConfig;
    ///
    /// let dev = BetterAuthConfig::new("the app's BETTER_AUTH_SECRET").use_secure_cookies(false);
    /// ```
    pub fn use_secure_cookies(mut self, use_secure_cookies: bool) -> Self {
        self.use_secure_cookies = use_secure_cookies;
        self
    }

    /// Where the app's users and sessions are (default: Better Auth's own schema).
    pub fn schema(mut self, schema: BetterAuthSchema) -> Self {
        self.schema = schema;
        self
    }
}

impl std::fmt::Debug for BetterAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthConfig")
            .field("secret", &"[hidden]")
            .field("cookie_prefix", &self.cookie_prefix)
            .field("cookie_cache", &self.cookie_cache)
            .field("cookie_cache_version", &self.cookie_cache_version)
            .field("bearer_requires_signature", &self.bearer_requires_signature)
            .field("session_refresh", &self.session_refresh)
            .field("use_secure_cookies", &self.use_secure_cookies)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The database Better Auth's tables are in: made from a `sqlx::PgPool`, `sqlx::MySqlPool` or
/// `sqlx::SqlitePool` (features `postgres`, `mysql`, `sqlite`) with `.into()`, which
/// [`SessionLayer::betterauth`](crate::SessionLayer::betterauth) does for you.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::betterauth::BetterAuthPool;
///
/// let sqlite = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let pool: BetterAuthPool = sqlite.into(); // or a PgPool, a MySqlPool
/// # Ok::<(), sqlx::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct BetterAuthPool {
    dialect: sql::Dialect,
    runner: Arc<dyn sql::Runner>,
}

impl std::fmt::Debug for BetterAuthPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthPool")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}
