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
    /// `1` user id -> token, session id, expiresAt (µs), createdAt (µs), updatedAt (µs), newest
    /// expiry first.
    pub(super) list: String,
    /// `1` user id, `2` the token to keep.
    pub(super) delete_others: String,
    /// `1` user id.
    pub(super) delete_user: String,
}

/// The columns of `list`.
/// The most sessions of one user read at once (by `list` and `revoke`), the latest first.
pub(super) const MAX_LISTED: usize = 1_000;

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
        let user_id_text = d.text(&user_id);
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
                uid = d.column("id"),
            ),
            lookup_kinds,
            user_fields,
            extend: format!(
                "UPDATE {sessions} SET {expires} = {}, {updated} = {} \
                 WHERE {token} = {} AND {} = {}",
                d.param(1),
                d.param(2),
                d.param(3),
                d.micros(&expires),
                d.param(4)
            ),
            delete: format!("DELETE FROM {sessions} WHERE {token} = {}", d.param(1)),
            // Better Auth never deletes an expired row, and makes one at every sign-in: only
            // the live ones are read, the latest first, at most `MAX_LISTED`.
            list: format!(
                "SELECT {}, {}, {list_times} FROM {sessions} \
                 WHERE {user_id_text} = {} AND {} >= {} ORDER BY {expires} DESC LIMIT {MAX_LISTED}",
                d.text(&token),
                d.text(&id),
                d.param(1),
                d.micros(&expires),
                d.param(2)
            ),
            delete_others: format!(
                "DELETE FROM {sessions} WHERE {user_id_text} = {} AND {token} <> {}",
                d.param(1),
                d.param(2)
            ),
            delete_user: format!(
                "DELETE FROM {sessions} WHERE {user_id_text} = {}",
                d.param(1)
            ),
        }
    }
}
