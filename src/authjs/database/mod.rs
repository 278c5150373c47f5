//! Database sessions made by an Auth.js adapter on PostgreSQL (features `authjs` and
//! `postgres`): the configuration. The strategy is in `strategy.rs`, its SQL in `queries.rs`.

use std::borrow::Cow;

mod queries;
mod strategy;

pub(crate) use strategy::AuthJsDatabaseStrategy;

use super::{V4_COOKIE_NAMES, V5_COOKIE_NAMES};

/// Which Auth.js adapter tables to read, and under which cookie names the session token
/// arrives: for [`SessionLayer::authjs_database`](crate::SessionLayer::authjs_database).
///
/// Two presets name the tables of the usual adapters; the setters name others (a renamed
/// table, another schema). Names are used exactly as they are in the database (they are
/// quoted: `Session` is not `session`), may be schema-qualified (`auth.sessions`), and must be
/// plain identifiers, `[A-Za-z_][A-Za-z0-9_]*` of at most 63 bytes: they are written into the
/// SQL, so anything else is refused when the layer is built.
///
/// ```
/// use sessionward::authjs::AuthJsDatabaseConfig;
///
/// // `@auth/pg-adapter`: tables `sessions` and `users`.
/// let pg = AuthJsDatabaseConfig::pg_adapter();
/// // `@auth/prisma-adapter` (and `next-auth@4`'s Prisma adapter): `"Session"` and `"User"`.
/// let prisma = AuthJsDatabaseConfig::prisma();
/// // The same tables in another schema, and a customized `cookies.sessionToken.name`.
/// let custom = AuthJsDatabaseConfig::pg_adapter()
///     .sessions_table("auth.sessions")
///     .users_table("auth.users")
///     .cookie_names(["__Secure-my-app.session"]);
/// # let _ = (pg, prisma, custom);
/// ```
#[derive(Clone, Debug)]
pub struct AuthJsDatabaseConfig {
    pub(crate) sessions_table: Cow<'static, str>,
    pub(crate) users_table: Cow<'static, str>,
    pub(crate) cookie_names: Vec<Cow<'static, str>>,
    pub(crate) use_secure_cookies: bool,
}

impl AuthJsDatabaseConfig {
    fn with_tables(sessions: &'static str, users: &'static str) -> Self {
        Self {
            sessions_table: Cow::Borrowed(sessions),
            users_table: Cow::Borrowed(users),
            cookie_names: V5_COOKIE_NAMES
                .iter()
                .chain(&V4_COOKIE_NAMES)
                .map(|n| Cow::Borrowed(*n))
                .collect(),
            use_secure_cookies: true,
        }
    }

    /// The tables of `@auth/pg-adapter`: `sessions` (`id SERIAL`, `"userId" INTEGER`,
    /// `expires TIMESTAMPTZ`, `"sessionToken" VARCHAR(255)`) and `users` (`id SERIAL`, `name`,
    /// `email`, `"emailVerified"`, `image`).
    pub fn pg_adapter() -> Self {
        Self::with_tables("sessions", "users")
    }

    /// The tables of the Prisma adapter (`@auth/prisma-adapter`, `@next-auth/prisma-adapter`)
    /// with Auth.js's Prisma schema: `"Session"` (`"sessionToken"` unique, `"userId"`,
    /// `expires`) and `"User"` (`id`, `name`, `email`, `"emailVerified"`, `image`), string ids.
    pub fn prisma() -> Self {
        Self::with_tables("Session", "User")
    }

    /// The sessions table (columns `"sessionToken"`, `"userId"`, `expires`), optionally
    /// schema-qualified: `"auth.sessions"`.
    pub fn sessions_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.sessions_table = name.into();
        self
    }

    /// The users table (columns `id`, `name`, `email`, `"emailVerified"`, `image`), optionally
    /// schema-qualified.
    pub fn users_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.users_table = name.into();
        self
    }

    /// The session cookie names, in order of preference; the first one a request carries is
    /// used, among those the app sets ([`use_secure_cookies`](Self::use_secure_cookies)). Default: Auth.js v5's and NextAuth.js v4's, `__Secure-` first
    /// ([`V5_COOKIE_NAMES`](super::V5_COOKIE_NAMES), then
    /// [`V4_COOKIE_NAMES`](super::V4_COOKIE_NAMES)). Set them when Auth.js's
    /// `cookies.sessionToken.name` is customized.
    pub fn cookie_names<N: Into<Cow<'static, str>>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        self.cookie_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the Next.js app is served over https, Auth.js's `useSecureCookies` (default
    /// `true`): of two cookie names that differ only by `__Secure-`, the layer reads the one
    /// the app sets, as Auth.js does, and a cookie under the other is no cookie (on an https
    /// site, a planted one). Turn it off for an app on plain http (`next dev`). See
    /// [`AuthJsConfig::use_secure_cookies`](super::AuthJsConfig::use_secure_cookies).
    ///
    /// ```
    /// use sessionward::authjs::AuthJsDatabaseConfig;
    ///
    /// let dev = AuthJsDatabaseConfig::prisma().use_secure_cookies(false);
    /// ```
    pub fn use_secure_cookies(mut self, use_secure_cookies: bool) -> Self {
        self.use_secure_cookies = use_secure_cookies;
        self
    }
}

/// A table name checked to be safe in SQL, quoted: `"sessions"`, `"auth"."sessions"`.
///
/// # Panics
///
/// Unless `name` is one identifier, or two joined by a dot, each `[A-Za-z_][A-Za-z0-9_]*` of
/// at most 63 bytes (PostgreSQL would silently truncate a longer one).
pub(crate) fn quoted_table(name: &str, what: &str) -> String {
    let identifier = |part: &str| {
        let mut bytes = part.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = name.split('.').collect();
    assert!(
        parts.len() <= 2 && parts.iter().all(|p| identifier(p)),
        "sessionward: {what} table name {name:?} is not an identifier \
         ([A-Za-z_][A-Za-z0-9_]*, optionally schema-qualified)"
    );
    parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::quoted_table;

    #[test]
    fn plain_and_qualified_identifiers_are_quoted() {
        assert_eq!(quoted_table("sessions", "x"), "\"sessions\"");
        assert_eq!(quoted_table("Session", "x"), "\"Session\"");
        assert_eq!(quoted_table("auth.users_2", "x"), "\"auth\".\"users_2\"");
        assert_eq!(quoted_table("_t", "x"), "\"_t\"");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a.b.c",
            "1sessions",
            "sessions; DROP TABLE users",
            "ses sions",
            "s\"x",
            "s'x",
            "s-x",
            "séance",
            "sessions--",
            &"a".repeat(64),
        ] {
            let result = std::panic::catch_unwind(|| quoted_table(bad, "sessions"));
            assert!(result.is_err(), "{bad:?} accepted");
        }
        assert_eq!(quoted_table(&"a".repeat(63), "x").len(), 65);
    }
}
