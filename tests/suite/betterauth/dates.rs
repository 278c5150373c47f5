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
