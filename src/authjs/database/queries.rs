//! The SQL the database strategy runs on the adapter's tables, built once when the layer is
//! built, from table names that [`quoted_table`] has checked.
//!
//! Times travel as microseconds since the Unix epoch (`int8`), computed by the database from
//! the column, so one text serves `TIMESTAMPTZ` (`@auth/pg-adapter`) and `TIMESTAMP(3)`
//! (Prisma, UTC by convention) alike; an extension adds an interval to the stored value
//! instead of writing a timestamp, for the same reason. "Now" is never the database's: every
//! instant compared or written comes from the layer's clock.

use super::{AuthJsDatabaseConfig, quoted_table};

/// `expires` (of the row in scope) as microseconds since the epoch.
const EXPIRES_MICROS: &str = "(extract(epoch FROM expires) * 1000000)::int8";

pub(super) struct Queries {
    /// `$1` token -> user id, name, email, emailVerified (µs), image, expires (µs).
    pub(super) lookup: String,
    /// `$1` token, `$2` the expiry read (µs), `$3` microseconds to add: only while the row
    /// still holds that expiry.
    pub(super) extend: String,
    /// `$1` token.
    pub(super) delete: String,
    /// `$1` a token of the user -> every token and expiry (µs) of that user.
    pub(super) list: String,
    /// `$1` a token of the user: deletes every other session of that user.
    pub(super) delete_others: String,
    /// `$1` user id as text: deletes every session of that user.
    pub(super) delete_user: String,
}

impl Queries {
    /// # Panics
    ///
    /// When a table name is not a plain (optionally schema-qualified) identifier.
    pub(super) fn new(config: &AuthJsDatabaseConfig) -> Self {
        let sessions = quoted_table(&config.sessions_table, "sessions");
        let users = quoted_table(&config.users_table, "users");
        let same_user = format!(
            "\"userId\" IN (SELECT \"userId\" FROM {sessions} WHERE \"sessionToken\" = $1)"
        );
        Self {
            lookup: format!(
                "SELECT u.id::text, u.name::text, u.email::text, \
                 (extract(epoch FROM u.\"emailVerified\") * 1000000)::int8, u.image::text, \
                 (extract(epoch FROM s.expires) * 1000000)::int8 \
                 FROM {sessions} AS s JOIN {users} AS u ON u.id = s.\"userId\" \
                 WHERE s.\"sessionToken\" = $1"
            ),
            extend: format!(
                "UPDATE {sessions} SET expires = expires + $3::int8 * interval '1 microsecond' \
                 WHERE \"sessionToken\" = $1 AND {EXPIRES_MICROS} = $2"
            ),
            delete: format!("DELETE FROM {sessions} WHERE \"sessionToken\" = $1"),
            list: format!(
                "SELECT \"sessionToken\"::text, {EXPIRES_MICROS} FROM {sessions} \
                 WHERE {same_user} ORDER BY expires DESC"
            ),
            delete_others: format!(
                "DELETE FROM {sessions} WHERE {same_user} AND \"sessionToken\" <> $1"
            ),
            delete_user: format!("DELETE FROM {sessions} WHERE \"userId\"::text = $1"),
        }
    }
}
