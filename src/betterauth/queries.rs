//! The SQL the strategy runs on Better Auth's tables, built once when the layer is built from
//! names the [`Dialect`] has checked. "Now" is never the database's: every instant compared or
//! written comes from the layer's clock.

use super::schema::{BetterAuthSchema, FieldType};
use super::sql::{Dialect, Kind};

pub(super) struct Queries {
    /// `1` token -> token, session id, user id, expiresAt (µs), createdAt (µs), updatedAt (µs),
    /// then the user's fields in [`Queries::user_fields`] order.
    pub(super) lookup: String,
    /// How each column of `lookup` is read.
    pub(super) lookup_kinds: Vec<Kind>,
    /// The user fields of `lookup`, from its seventh column on.
    pub(super) user_fields: Vec<(String, FieldType)>,
    /// `1` new expiresAt, `2` new updatedAt, `3` token, `4` the expiresAt read (µs): only while
    /// the row still holds that expiry.
    pub(super) extend: String,
    /// `1` token.
    pub(super) delete: String,
    /// `1` user id (as text), `2` a time (µs) -> token, session id, expiresAt (µs), createdAt
    /// (µs), updatedAt (µs) of the user's sessions live at that time, newest expiry first, at
    /// most [`MAX_LISTED`].
    pub(super) list: String,
    /// `1` user id (as text), `2` the token to keep.
    pub(super) delete_others: String,
    /// `1` user id (as text).
    pub(super) delete_user: String,
}

/// The most sessions of one user read at once (by `list` and `revoke`), the latest first.
pub(super) const MAX_LISTED: usize = 1_000;

/// The columns of `list`.
pub(super) const LIST_KINDS: [Kind; 5] = [Kind::Text, Kind::Text, Kind::Int, Kind::Int, Kind::Int];

impl Queries {
    /// # Panics
    ///
    /// When a table or column name is not a plain identifier.
    pub(super) fn new(d: Dialect, schema: &BetterAuthSchema) -> Self {
        let sessions = d.table(&schema.session_table_name());
        let users = d.table(&schema.user_table_name());
        let s = |field: &str| d.column(schema.session_column_of(field));
        let (token, id, user_id) = (s("token"), s("id"), s("userId"));
        let (expires, created, updated) = (s("expiresAt"), s("createdAt"), s("updatedAt"));
        let session_times = format!(
            "{}, {}, {}",
            d.micros(&format!("s.{expires}")),
            d.micros(&format!("s.{created}")),
            d.micros(&format!("s.{updated}"))
        );
        let mut lookup_kinds = vec![
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
        ];
        let mut user_columns = Vec::new();
        let mut user_fields = Vec::new();
        for (field, kind) in schema.user_fields() {
            let column = format!("u.{}", d.column(schema.user_column_of(field)));
            let (expr, read) = match kind {
                FieldType::Date => (d.micros(&column), Kind::Int),
                _ => (d.text(&column), Kind::Text),
            };
            user_columns.push(expr);
            lookup_kinds.push(read);
            user_fields.push((field.to_owned(), kind));
        }
        let user_columns = user_columns.join(", ");
        let uid = d.column("id");
        // The user whose id (as text) is placeholder 1, found by the users table's key and
        // compared in the column's own type, so that the sessions table is searched by Better
        // Auth's index on `userId`: comparing `userId` as text would read every session.
        let owner = format!(
            "(SELECT {uid} FROM {users} WHERE {} = {})",
            d.key(&uid),
            d.param(1)
        );
        let list_times = format!(
            "{}, {}, {}",
            d.micros(&expires),
            d.micros(&created),
            d.micros(&updated)
        );
        Self {
            lookup: format!(
                "SELECT {}, {}, {}, {session_times}, {user_columns} \
                 FROM {sessions} AS s JOIN {users} AS u ON u.{uid} = s.{user_id} \
                 WHERE s.{token} = {}",
                d.text(&format!("s.{token}")),
                d.text(&format!("s.{id}")),
                d.text(&format!("s.{user_id}")),
                d.param(1),
            ),
            lookup_kinds,
            user_fields,
            extend: format!(
                "UPDATE {sessions} SET {expires} = {}, {updated} = {} \
                 WHERE {token} = {} AND {} = {}",
                d.stored_time(&expires, 1),
                d.stored_time(&updated, 2),
                d.param(3),
                d.micros(&expires),
                d.param(4)
            ),
            delete: format!("DELETE FROM {sessions} WHERE {token} = {}", d.param(1)),
            // Better Auth never deletes an expired row, and makes one at every sign-in: only
            // the live ones are read, the latest first, at most `MAX_LISTED`.
            list: format!(
                "SELECT {}, {}, {list_times} FROM {sessions} \
                 WHERE {user_id} = {owner} AND {} >= {} \
                 ORDER BY {expires} DESC LIMIT {MAX_LISTED}",
                d.text(&token),
                d.text(&id),
                d.micros(&expires),
                d.param(2),
            ),
            delete_others: format!(
                "DELETE FROM {sessions} WHERE {user_id} = {owner} AND {token} <> {}",
                d.param(2),
            ),
            delete_user: format!("DELETE FROM {sessions} WHERE {user_id} = {owner}"),
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    /// Better Auth's tables on SQLite as its migration makes them: an index on the session's
    /// `userId`, ids as text.
    const TABLES: [&str; 3] = [
        r#"CREATE TABLE "user" ("id" text PRIMARY KEY, "name" text, "email" text,
           "emailVerified" integer, "image" text, "createdAt" date, "updatedAt" date)"#,
        r#"CREATE TABLE "session" ("id" text PRIMARY KEY, "expiresAt" date, "token" text UNIQUE,
           "createdAt" date, "updatedAt" date, "ipAddress" text, "userAgent" text,
           "userId" text REFERENCES "user" ("id"))"#,
        r#"CREATE INDEX "session_userId_idx" ON "session" ("userId")"#,
    ];

    /// The plan SQLite makes for `sql`, one step a line.
    async fn plan(pool: &sqlx::SqlitePool, sql: &str) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(explain.as_str()))
                .fetch_all(pool)
                .await
                .unwrap();
        rows.into_iter()
            .map(|(.., step)| step)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A user's sessions are found through the index on `userId` and the user by its key,
    /// never by reading a whole table (the sessions table, which Better Auth never purges):
    /// `userId` used to be compared as text, which no index serves.
    #[test]
    fn a_users_sessions_are_searched_by_the_user_index() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
                for table in TABLES {
                    sqlx::query(table).execute(&pool).await.unwrap();
                }
                let queries = Queries::new(Dialect::Sqlite, &BetterAuthSchema::default());
                for (what, sql) in [
                    ("list", &queries.list),
                    ("delete_others", &queries.delete_others),
                    ("delete_user", &queries.delete_user),
                ] {
                    let plan = plan(&pool, sql).await;
                    assert!(!plan.contains("SCAN"), "{what}: {plan}");
                    assert!(plan.contains("session_userId_idx"), "{what}: {plan}");
                }
            });
    }
}
