//! Better Auth's `user` and `session` tables as an application configured them: model names,
//! `usePlural`, field-to-column mapping, additional user fields.

use std::borrow::Cow;

/// The type of a user field, as Better Auth declares it (`type` in `additionalFields` and in
/// plugins' schemas): how its column is read into the session's JSON data.
///
/// ```
/// use sessionward::betterauth::{BetterAuthSchema, FieldType};
///
/// // betterAuth({ user: { additionalFields: { plan: { type: "string" },
/// //   credits: { type: "number" }, trialEndsAt: { type: "date" }, tags: { type: "string[]" } } } })
/// let schema = BetterAuthSchema::default()
///     .user_field("plan", FieldType::String)
///     .user_field("credits", FieldType::Number)
///     .user_field("trialEndsAt", FieldType::Date)
///     .user_field("tags", FieldType::Json);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// `"string"`: a JSON string.
    String,
    /// `"number"`: a JSON number.
    Number,
    /// `"boolean"`: `true` or `false` (SQLite and MySQL store 1 or 0).
    Boolean,
    /// `"date"`: an ISO string, as JavaScript writes a `Date` in JSON
    /// (`2031-03-01T12:00:00.000Z`).
    Date,
    /// `"json"`, `"string[]"`, `"number[]"`: the JSON value the column holds (as `jsonb` or
    /// `json` on PostgreSQL and MySQL, as text on SQLite).
    Json,
}

/// The user fields Better Auth itself defines, in the order of its schema.
const CORE_USER_FIELDS: [(&str, FieldType); 7] = [
    ("id", FieldType::String),
    ("name", FieldType::String),
    ("email", FieldType::String),
    ("emailVerified", FieldType::Boolean),
    ("image", FieldType::String),
    ("createdAt", FieldType::Date),
    ("updatedAt", FieldType::Date),
];

/// Where Better Auth keeps users and sessions, mirroring its schema options: `user.modelName`,
/// `session.modelName`, the adapter's `usePlural`, `user.fields` / `session.fields` (field
/// names mapped to column names), and the user fields that `user.additionalFields` and plugins
/// add. The default is Better Auth's own schema: tables `user` and `session`, camelCase
/// columns.
///
/// Names are written into SQL, so they must be plain identifiers,
/// `[A-Za-z_][A-Za-z0-9_]*` of at most 63 bytes (a table may be schema-qualified:
/// `auth.user`); anything else is refused when the layer is built.
///
/// ```
/// use sessionward::betterauth::{BetterAuthSchema, FieldType};
///
/// // betterAuth({ user: { modelName: "users", fields: { emailVerified: "email_verified" },
/// //   additionalFields: { plan: { type: "string" } } }, plugins: [admin()] })
/// let schema = BetterAuthSchema::default()
///     .user_table("users")
///     .user_column("emailVerified", "email_verified")
///     .user_field("plan", FieldType::String)
///     .admin_plugin();
/// ```
#[derive(Clone, Debug)]
pub struct BetterAuthSchema {
    user_table: Cow<'static, str>,
    session_table: Cow<'static, str>,
    plural: bool,
    user_columns: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    session_columns: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    user_fields: Vec<(Cow<'static, str>, FieldType)>,
}

impl Default for BetterAuthSchema {
    fn default() -> Self {
        Self {
            user_table: Cow::Borrowed("user"),
            session_table: Cow::Borrowed("session"),
            plural: false,
            user_columns: Vec::new(),
            session_columns: Vec::new(),
            user_fields: CORE_USER_FIELDS
                .iter()
                .map(|(name, kind)| (Cow::Borrowed(*name), *kind))
                .collect(),
        }
    }
}

impl BetterAuthSchema {
    /// The users table: Better Auth's `user.modelName` (default `user`).
    pub fn user_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.user_table = name.into();
        self
    }

    /// The sessions table: Better Auth's `session.modelName` (default `session`).
    pub fn session_table(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.session_table = name.into();
        self
    }

    /// The adapter's `usePlural: true`: an `s` after each table name (`users`, `sessions`).
    pub fn use_plural(mut self, plural: bool) -> Self {
        self.plural = plural;
        self
    }

    /// A user field stored under another column name (`user.fields`). The session data keeps
    /// the field's name, as Better Auth's own output does.
    pub fn user_column(
        mut self,
        field: impl Into<Cow<'static, str>>,
        column: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.user_columns.push((field.into(), column.into()));
        self
    }

    /// A session field (`id`, `token`, `userId`, `expiresAt`, `createdAt`, `updatedAt`) stored
    /// under another column name (`session.fields`).
    pub fn session_column(
        mut self,
        field: impl Into<Cow<'static, str>>,
        column: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.session_columns.push((field.into(), column.into()));
        self
    }

    /// A user field beyond Better Auth's own (`id`, `name`, `email`, `emailVerified`, `image`,
    /// `createdAt`, `updatedAt`): one of `user.additionalFields`, or a plugin's. It becomes part
    /// of the session data under its name. Leave out fields with `returned: false`, which Better
    /// Auth keeps out of its own output.
    pub fn user_field(mut self, name: impl Into<Cow<'static, str>>, kind: FieldType) -> Self {
        self.user_fields.push((name.into(), kind));
        self
    }

    /// The user fields of Better Auth's admin plugin: `role`, `banned`, `banReason`,
    /// `banExpires`.
    pub fn admin_plugin(self) -> Self {
        self.user_field("role", FieldType::String)
            .user_field("banned", FieldType::Boolean)
            .user_field("banReason", FieldType::String)
            .user_field("banExpires", FieldType::Date)
    }

    fn table(&self, name: &str) -> String {
        if self.plural {
            format!("{name}s")
        } else {
            name.to_owned()
        }
    }

    /// The users table as named in the database.
    pub(crate) fn user_table_name(&self) -> String {
        self.table(&self.user_table)
    }

    /// The sessions table as named in the database.
    pub(crate) fn session_table_name(&self) -> String {
        self.table(&self.session_table)
    }

    /// The column of user field `field` (`id` is never mapped, as in Better Auth).
    pub(crate) fn user_column_of<'a>(&'a self, field: &'a str) -> &'a str {
        column_of(&self.user_columns, field)
    }

    /// The column of session field `field`.
    pub(crate) fn session_column_of<'a>(&'a self, field: &'a str) -> &'a str {
        column_of(&self.session_columns, field)
    }

    /// Every user field read into the session data, with its type.
    pub(crate) fn user_fields(&self) -> impl Iterator<Item = (&str, FieldType)> {
        self.user_fields.iter().map(|(n, k)| (n.as_ref(), *k))
    }
}

fn column_of<'a>(mapping: &'a [(Cow<'static, str>, Cow<'static, str>)], field: &'a str) -> &'a str {
    if field == "id" {
        return field;
    }
    mapping
        .iter()
        .rev()
        .find(|(f, _)| f == field)
        .map_or(field, |(_, c)| c.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_plural_and_field_mapping_follow_better_auth() {
        let schema = BetterAuthSchema::default();
        assert_eq!(schema.user_table_name(), "user");
        assert_eq!(schema.session_table_name(), "session");
        assert_eq!(schema.user_column_of("emailVerified"), "emailVerified");
        let schema = schema
            .use_plural(true)
            .user_table("member")
            .user_column("emailVerified", "email_verified")
            .user_column("id", "user_id")
            .session_column("expiresAt", "expires_at");
        assert_eq!(schema.user_table_name(), "members");
        assert_eq!(schema.session_table_name(), "sessions");
        assert_eq!(schema.user_column_of("emailVerified"), "email_verified");
        assert_eq!(schema.user_column_of("id"), "id", "id is never renamed");
        assert_eq!(schema.session_column_of("expiresAt"), "expires_at");
        assert_eq!(schema.session_column_of("token"), "token");
        let schema = schema.admin_plugin();
        let fields = schema.user_fields().map(|(n, _)| n).collect::<Vec<_>>();
        let fields = fields.join(",");
        assert_eq!(
            fields,
            "id,name,email,emailVerified,image,createdAt,updatedAt,role,banned,banReason,banExpires"
        );
    }
}
