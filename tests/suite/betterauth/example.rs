//! `examples/betterauth_api.rs`, run as a process.

use super::*;

/// `examples/betterauth_api.rs`, started as its own process against a PostgreSQL database that
/// the real Better Auth filled, driven over real HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_betterauth_api_example_answers_api_me() {
    if !better_auth_available() {
        return;
    }
    let Some((url, _pool)) = fresh(Backend::Postgres).await else {
        return;
    };
    logs::install();
    let options = json!({ "database": url, "secret": SECRET, "bearer": true });
    let out = node(
        &options,
        json!([{ "op": "migrate" }, sign_up("Hal", "hal@example.com")]),
    )
    .await;
    let hal = SignedIn::read(&out[1], TOKEN_COOKIE);
    let seen = node(
        &options,
        json!([{ "op": "getSession", "cookie": hal.cookies }]),
    )
    .await;
    let expires_at = iso_millis(&seen[0]["body"]["session"]["expiresAt"]);

    let binary = crate::demo::example_binary("betterauth_api");
    let dir = crate::demo::TempDir::new("betterauth-api");
    // Without a secret it refuses to start, saying what to set.
    let refused = std::process::Command::new(&binary)
        .env_remove("BETTER_AUTH_SECRET")
        .env_remove("BETTER_AUTH_SECRETS")
        .env_remove("AUTH_SECRET")
        .env("DATABASE_URL", &url)
        .output()
        .expect("run the example");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("BETTER_AUTH_SECRET"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port();
    let log = dir.path().join("betterauth_api.log");
    let out = std::fs::File::create(&log).expect("create the example's log");
    let mut child = KillOnDrop(
        std::process::Command::new(&binary)
            .current_dir(dir.path())
            .env("BETTER_AUTH_SECRET", SECRET)
            // The app's `baseURL`: on plain http, its cookies have no `__Secure-` prefix.
            .env("BETTER_AUTH_URL", "http://localhost:3000")
            .env_remove("BETTER_AUTH_SECRETS")
            .env_remove("BETTER_AUTH_COOKIE_PREFIX")
            .env_remove("BETTER_AUTH_COOKIE_CACHE")
            .env("DATABASE_URL", &url)
            .env("PORT", port.to_string())
            .env("RUST_LOG", "trace")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("clone the log handle"))
            .stderr(out)
            .spawn()
            .expect("start the example"),
    );
    crate::demo::wait_until_listening(&mut child.0, port, &log).await;
    let http = reqwest::Client::new();
    let me = format!("http://127.0.0.1:{port}/api/me");
    let get = |request: reqwest::RequestBuilder| async move {
        let reply = request.send().await.expect("the example answers");
        let status = reply.status().as_u16();
        (status, reply.json::<Value>().await.unwrap_or(Value::Null))
    };
    let expected = |body: &Value| {
        let at = OffsetDateTime::parse(body["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(millis(at), expires_at, "Better Auth's expiresAt");
        let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["email", "expires_at", "name", "user_id"]);
        assert_eq!(body["user_id"], hal.user["id"]);
        assert_eq!(body["name"], "Hal");
        assert_eq!(body["email"], "hal@example.com");
    };
    // The session cookie as Better Auth set it, and the bearer plugin's token.
    let (status, body) = get(http.get(&me).header(header::COOKIE, &hal.cookies)).await;
    assert_eq!(status, 200, "{body}");
    expected(&body);
    let auth_token = hal.auth_token.clone().expect("set-auth-token");
    let (status, body) = get(http.get(&me).bearer_auth(&auth_token)).await;
    assert_eq!(status, 200, "{body}");
    expected(&body);
    // No session, a forged one, and Hal's own under the name an app on https would set, which
    // this app (on plain http) never does: 401 with an error.
    let forged = format!("{TOKEN_COOKIE}={}", sign(&hal.token, OTHER_SECRET));
    let other_scheme = hal.session_cookie(&format!("__Secure-{TOKEN_COOKIE}"));
    for request in [
        http.get(&me),
        http.get(&me).header(header::COOKIE, forged),
        http.get(&me).header(header::COOKIE, other_scheme),
    ] {
        let (status, body) = get(request).await;
        assert_eq!(status, 401);
        assert!(body["error"].is_string(), "{body}");
    }
    drop(child);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let leaks = logs::leaks_in(&output, &[SECRET]);
    assert!(leaks.is_empty(), "the example logged {leaks:?}");
}

/// A child process, killed when dropped (also when a test fails).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
