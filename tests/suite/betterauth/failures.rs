//! Failures: bad signatures never reach the database, a database down is 503, bad settings are
//! refused when the layer is built.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_never_reaches_the_database_and_a_database_down_is_503() {
    let layer = SessionLayer::betterauth(
        unreachable_pool(),
        on_http(),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let app = Router::new().route("/me", get(me)).layer(layer);
    // Any query would be a 503 here: these (a signature made with another secret, none,
    // nothing) are 401 at once.
    let token = "Vgp9ZpuJ0IcfkuFv29vekdlUlnTalwwO";
    for cookie in [
        format!("{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        format!("{TOKEN_COOKIE}={token}"),
        format!("{TOKEN_COOKIE}="),
        format!("{TOKEN_COOKIE}=.x"),
        format!("__Secure-{TOKEN_COOKIE}={}", sign(token, OTHER_SECRET)),
        // A cache cookie beside a session cookie that is not the secret's, or alone.
        format!(
            "{TOKEN_COOKIE}={}; {CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0",
            sign(token, OTHER_SECRET)
        ),
        format!("{CACHE_COOKIE}=eyJzZXNzaW9uIjp7fX0"),
    ] {
        let r = with_cookies(&app, "GET", "/me", &cookie).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{cookie}");
    }
    // Bearer tokens signed with another secret, percent-encoded or not, and ones that cannot be
    // a token (a bare token of the right shape is looked up: the plugin accepts bare tokens).
    let foreign = sign(token, OTHER_SECRET);
    let foreign_decoded = foreign
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let oversized = "x".repeat(256);
    for bearer_token in [foreign.as_str(), &foreign_decoded, "a b", &oversized] {
        let r = bearer(&app, "/me", bearer_token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bearer_token:.20}");
    }
    let strict = SessionLayer::betterauth(
        unreachable_pool(),
        on_http().bearer_requires_signature(true),
        SessionConfig::default().store_timeout(StdDuration::from_millis(500)),
    );
    let strict = Router::new().route("/me", get(me)).layer(strict);
    let r = bearer(&strict, "/me", token).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an unsigned bearer token"
    );
    // A correctly signed token needs the database, which is down: 503, fail closed.
    let signed = sign(token, SECRET);
    let r = with_cookies(&app, "GET", "/me", &format!("{TOKEN_COOKIE}={signed}")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_lifetimes_are_refused_when_the_layer_is_built() {
    let refused = |better_auth: BetterAuthConfig, config: SessionConfig| {
        crate::support::start_up_refusal(|| {
            SessionLayer::betterauth(unreachable_pool(), better_auth, config)
        })
    };
    let ok = SessionConfig::default;
    let good = || on_http();
    assert_eq!(refused(good(), ok()), None);
    for (what, config) in [
        (
            "table",
            good().schema(BetterAuthSchema::default().user_table("user; DROP TABLE x")),
        ),
        (
            "column",
            good().schema(BetterAuthSchema::default().session_column("token", "to\"ken")),
        ),
        ("cookie", good().cookie_prefix("bad prefix")),
        ("secret", BetterAuthConfig::new("")),
    ] {
        assert!(refused(config, ok()).is_some(), "{what}");
    }
    let message = refused(good(), ok().absolute_timeout(Duration::days(30)));
    assert!(message.unwrap().contains("absolute_timeout"));
    // Sign-ins are Better Auth's: no device limit to enforce here.
    let message = refused(good(), ok().max_sessions_per_user(3));
    assert!(message.unwrap().contains("max_sessions_per_user"));
}
