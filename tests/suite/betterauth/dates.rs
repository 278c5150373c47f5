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
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(r#"UPDATE "session" SET "expiresAt" = '2040-06-01T00:00:00Z'"#)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(r#"UPDATE "user" SET "createdAt" = '1965-05-15T00:00:00.123Z'"#)
                .execute(&pool)
                .await
                .unwrap();
        }
        Backend::MySql => {
            // Better Auth's own migration makes `timestamp` columns, which end in 2038; Prisma's
            // and Drizzle's schemas make `datetime(3)`.
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            for alter in [
                "ALTER TABLE `session` MODIFY `expiresAt` DATETIME(3) NOT NULL",
                "ALTER TABLE `user` MODIFY `createdAt` DATETIME(3) NOT NULL",
            ] {
                sqlx::query(alter).execute(&pool).await.unwrap();
            }
            sqlx::query("UPDATE `session` SET `expiresAt` = '2040-06-01 00:00:00'")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("UPDATE `user` SET `createdAt` = '1965-05-15 00:00:00.123'")
                .execute(&pool)
                .await
                .unwrap();
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(r#"UPDATE "session" SET "expiresAt" = '2040-06-01T00:00:00.000Z'"#)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(r#"UPDATE "user" SET "createdAt" = '1965-05-15T00:00:00.123Z'"#)
                .execute(&pool)
                .await
                .unwrap();
        }
        other => unreachable!("{other:?}"),
    }
}

/// On MariaDB `UNIX_TIMESTAMP` reads both as `NULL` (MySQL as 0): every request of the session
/// was a 503 ("a session column is NULL"), and a user date before 1970 was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ending_after_2038_and_a_user_from_before_1970_read_exactly() {
    if !better_auth_available() {
        return;
    }
    for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
        let Some((url, pool)) = fresh(backend).await else {
            continue;
        };
        let options = json!({ "database": url, "secret": SECRET });
        let out = node(
            &options,
            json!([{ "op": "migrate" }, sign_up("Gus", "gus@example.com")]),
        )
        .await;
        let gus = SignedIn::read(&out[1], TOKEN_COOKIE);
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
