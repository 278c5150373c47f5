//! Times far from now, as the tables may hold them: a session that ends after 2038 (a long
//! `expiresIn`, or a row written by another tool) and a user date before 1970 read exactly,
//! on every database.

use super::*;

/// What the test writes: a session ending in 2040, a user created in 1965.
const ENDS: OffsetDateTime = time::macros::datetime!(2040-06-01 0:00 UTC);
const CREATED: &str = "1965-05-15T00:00:00.123Z";

/// Moves every session's `expiresAt` to [`ENDS`] and every user's `createdAt` to [`CREATED`],
/// in the form Better Auth writes on `backend`.
async fn write_far_dates(backend: Backend, url: &str) {
    let statements: &[&'static str] = match backend {
        Backend::Postgres => &[
            r#"UPDATE "session" SET "expiresAt" = '2040-06-01T00:00:00Z'"#,
            r#"UPDATE "user" SET "createdAt" = '1965-05-15T00:00:00.123Z'"#,
        ],
        // Better Auth's own migration makes `timestamp` columns, which end in 2038; Prisma's
        // and Drizzle's schemas make `datetime(3)`.
        Backend::MySql => &[
            "ALTER TABLE `session` MODIFY `expiresAt` DATETIME(3) NOT NULL",
            "ALTER TABLE `user` MODIFY `createdAt` DATETIME(3) NOT NULL",
            "UPDATE `session` SET `expiresAt` = '2040-06-01 00:00:00'",
            "UPDATE `user` SET `createdAt` = '1965-05-15 00:00:00.123'",
        ],
        Backend::Sqlite => &[
            r#"UPDATE "session" SET "expiresAt" = '2040-06-01T00:00:00.000Z'"#,
            r#"UPDATE "user" SET "createdAt" = '1965-05-15T00:00:00.123Z'"#,
        ],
        other => unreachable!("{other:?}"),
    };
    match backend {
        Backend::Postgres => run::<sqlx::Postgres>(url, statements).await,
        Backend::MySql => run::<sqlx::MySql>(url, statements).await,
        _ => run::<sqlx::Sqlite>(url, statements).await,
    }
}

/// Runs `statements` in turn on the database at `url`.
async fn run<DB: sqlx::Database>(url: &str, statements: &[&'static str])
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    let pool = sqlx::Pool::<DB>::connect(url).await.unwrap();
    for &statement in statements {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
}

/// On MariaDB `UNIX_TIMESTAMP` reads both as `NULL` (MySQL as 0): every request of the session
/// was a 503 ("a session column is NULL"), and a user date before 1970 was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ending_after_2038_and_a_user_from_before_1970_read_exactly() {
    for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
        let Some((url, pool, gus)) = one_user_signed_up(backend, "Gus", "gus@example.com").await
        else {
            continue;
        };
        write_far_dates(backend, &url).await;
        let (clock, _control, _) = now_clock();
        let app = app(pool, on_http(), clock);
        let r = with_cookies(&app, "GET", "/me", &gus.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{backend:?}: {}", r.body);
        assert_eq!(r.body["expires_at"], millis(ENDS), "{backend:?}");
        let r = with_cookies(&app, "GET", "/data", &gus.cookies).await;
        assert_eq!(r.body["createdAt"], CREATED, "{backend:?}: {}", r.body);
    }
}

/// An integer form of time an ORM may keep in a SQLite date column instead of Better Auth's
/// ISO text.
struct IntegerForm {
    name: &'static str,
    /// SQL turning the ISO text of column `{c}` into this form.
    from_iso: &'static str,
    /// How many of its units make a second.
    per_second: i64,
}

const INTEGER_FORMS: [IntegerForm; 2] = [
    // Drizzle's `integer({ mode: "timestamp" })`.
    IntegerForm {
        name: "seconds",
        from_iso: "CAST(unixepoch({c}) AS INTEGER)",
        per_second: 1,
    },
    // Prisma's own SQLite connector, Drizzle's `integer({ mode: "timestamp_ms" })`.
    IntegerForm {
        name: "milliseconds",
        from_iso: "CAST(ROUND(unixepoch({c}, 'subsec') * 1000) AS INTEGER)",
        per_second: 1000,
    },
];

/// `sql` (made from a constant and column names) run on `pool`.
async fn exec(pool: &sqlx::SqlitePool, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap();
}

/// `typeof` and value of the session row's `column`.
async fn stored(pool: &sqlx::SqlitePool, column: &str) -> (String, i64) {
    let sql = format!(r#"SELECT typeof("{column}"), "{column}" FROM "session""#);
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// SQLite dates kept as integers, in seconds or in milliseconds, read exactly, and an
/// extension writes them back in the same form, so the application's ORM still reads them.
/// Each such session used to be a 503: SQLite read the integer as a Julian day number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dates_stored_as_integers_are_read_and_extended_in_their_own_form() {
    for form in INTEGER_FORMS {
        let Some((url, pool, ann)) =
            one_user_signed_up(Backend::Sqlite, "Ann", "ann@example.com").await
        else {
            return;
        };
        let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
        let iso_millis_of = |column: &str, table: &str| {
            format!(
                r#"SELECT CAST(ROUND(unixepoch("{column}", 'subsec') * 1000) AS INTEGER) FROM "{table}""#
            )
        };
        let expires_ms: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(iso_millis_of("expiresAt", "session")))
                .fetch_one(&raw)
                .await
                .unwrap();
        let created_ms: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(iso_millis_of("createdAt", "user")))
                .fetch_one(&raw)
                .await
                .unwrap();
        for (table, columns) in [
            ("session", &["expiresAt", "createdAt", "updatedAt"][..]),
            ("user", &["createdAt", "updatedAt"][..]),
        ] {
            let sets: Vec<String> = columns
                .iter()
                .map(|c| {
                    format!(
                        r#""{c}" = {}"#,
                        form.from_iso.replace("{c}", &format!("\"{c}\""))
                    )
                })
                .collect();
            exec(&raw, format!(r#"UPDATE "{table}" SET {}"#, sets.join(", "))).await;
        }
        assert_eq!(
            stored(&raw, "expiresAt").await.0,
            "integer",
            "{}",
            form.name
        );
        // What the integer keeps of a time in milliseconds.
        let kept = |ms: i64| ms.div_euclid(1000 / form.per_second) * (1000 / form.per_second);

        let (clock, control, now) = now_clock();
        let app = app(pool, on_http(), clock);
        let r = with_cookies(&app, "GET", "/me", &ann.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", form.name, r.body);
        assert_eq!(r.body["expires_at"], kept(expires_ms), "{}", form.name);
        let r = with_cookies(&app, "GET", "/data", &ann.cookies).await;
        assert_eq!(
            iso_millis(&r.body["createdAt"]),
            kept(created_ms),
            "{}",
            form.name
        );

        // Past Better Auth's update point: the request extends the session.
        control.advance(UPDATE_AGE + Duration::minutes(1));
        let later = now + UPDATE_AGE + Duration::minutes(1);
        let r = with_cookies(&app, "GET", "/me", &ann.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", form.name, r.body);
        let (kind, expires) = stored(&raw, "expiresAt").await;
        assert_eq!(
            kind, "integer",
            "{}: written in the column's form",
            form.name
        );
        let per_unit = 1000 / form.per_second;
        assert_eq!(
            expires * per_unit,
            kept(millis(later + EXPIRES_IN)),
            "{}",
            form.name
        );
        let (kind, updated) = stored(&raw, "updatedAt").await;
        assert_eq!(kind, "integer", "{}", form.name);
        assert_eq!(updated * per_unit, kept(millis(later)), "{}", form.name);
        let r = with_cookies(&app, "GET", "/me", &ann.cookies).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", form.name, r.body);
        assert_eq!(r.body["expires_at"], expires * per_unit, "{}", form.name);
    }
}

/// An extension keeps Better Auth's own ISO text on SQLite (milliseconds, `Z`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_on_sqlite_writes_better_auths_iso_text() {
    let Some((url, pool, bo)) = one_user_signed_up(Backend::Sqlite, "Bo", "bo@example.com").await
    else {
        return;
    };
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (clock, control, now) = now_clock();
    let app = app(pool, on_http(), clock);
    control.advance(UPDATE_AGE + Duration::minutes(1));
    let r = with_cookies(&app, "GET", "/me", &bo.cookies).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (kind, text): (String, String) =
        sqlx::query_as(r#"SELECT typeof("expiresAt"), "expiresAt" FROM "session""#)
            .fetch_one(&raw)
            .await
            .unwrap();
    assert_eq!(kind, "text");
    let expected = now + UPDATE_AGE + Duration::minutes(1) + EXPIRES_IN;
    assert_eq!(iso_millis(&Value::String(text.clone())), millis(expected));
    // `2031-03-08T12:00:00.123Z`, as JavaScript's `toISOString`.
    assert_eq!(
        (text.len(), &text[19..20], &text[23..]),
        (24, ".", "Z"),
        "{text}"
    );
}
