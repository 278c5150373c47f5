//! The client session pool: sessions each contender starts through its own `POST /login`
//! before anything is measured.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};

use crate::http::Connection;

/// Connections used to log the pool in.
const LOGIN_CONNECTIONS: usize = 16;

/// Times a login answered 503 is tried again.
const MAX_RETRIES: u32 = 10;
/// Pause before trying a 503 login again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A logged-in pool.
pub struct Pool {
    /// One `Cookie` header value per session.
    pub cookies: Vec<HeaderValue>,
    /// Logins that answered 503 and were tried again.
    pub retries: u32,
}

/// Logs in `size` users (`user-0` ...) and returns their cookies, after checking that the
/// first one reads back through `GET /me`.
pub async fn login(addr: SocketAddr, size: usize) -> Result<Pool, String> {
    let workers = LOGIN_CONNECTIONS.min(size);
    let mut tasks = Vec::with_capacity(workers);
    for worker in 0..workers {
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut cookies = Vec::new();
            let mut retries = 0;
            for user in (worker..size).step_by(workers) {
                let form = format!("user_id=user-{user}");
                let mut attempt = 0;
                let reply = loop {
                    let reply = connection
                        .send(Method::POST, "/login", None, Some(form.clone()))
                        .await?;
                    // A store that timed out (503) is given a few more chances: the pool is
                    // set-up, not measurement.
                    if reply.status == StatusCode::SERVICE_UNAVAILABLE && attempt < MAX_RETRIES {
                        attempt += 1;
                        retries += 1;
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                    break reply;
                };
                if reply.status != StatusCode::OK {
                    return Err(format!("POST /login answered {}", reply.status));
                }
                let cookie = reply.cookies.ok_or("POST /login set no cookie")?;
                cookies.push(cookie);
            }
            Ok::<_, String>((cookies, retries))
        }));
    }
    let mut pool = Vec::with_capacity(size);
    let mut retries = 0;
    for task in tasks {
        let (cookies, retried) = task.await.map_err(|e| format!("login task: {e}"))??;
        pool.extend(cookies);
        retries += retried;
    }
    check(addr, &pool[0]).await?;
    Ok(Pool {
        cookies: pool,
        retries,
    })
}

/// `GET /me` with `cookie` must answer 200 with a user id.
async fn check(addr: SocketAddr, cookie: &HeaderValue) -> Result<(), String> {
    let mut connection = Connection::open(addr).await?;
    let reply = connection
        .send(Method::GET, "/me", Some(cookie), None)
        .await?;
    let body = String::from_utf8_lossy(&reply.body);
    if reply.status != StatusCode::OK || !body.contains("\"user_id\":\"user-") {
        return Err(format!(
            "GET /me after login answered {} {body}",
            reply.status
        ));
    }
    let reply = connection.send(Method::GET, "/me", None, None).await?;
    if reply.status != StatusCode::UNAUTHORIZED {
        return Err(format!(
            "GET /me without a session answered {}, not 401",
            reply.status
        ));
    }
    Ok(())
}
