//! JWT-specific cases: key rotation, revocation (by `sid`, per user, across instances), every
//! kind of bad token, the four algorithms, the issue callback, sliding re-issue, key errors, and
//! interop with an independent implementation (PyJWT).
//!
//! Tokens are forged with `jsonwebtoken` (header and claims written as JSON by hand, then signed)
//! around the test apps' manual clock, which stands at `support::START`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sessionward::jwt::{IssueReason, JwtConfig, JwtKey, JwtKeys, KeyError, TokenIssue};
use time::Duration;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::backends::Backend;
use crate::support::{
    Data, JWT_ISSUER, JWT_KID, JWT_SECRET, Reply, START, Setup, Strategy, TestApp, jwt_config,
    request, user,
};

/// Test-only keys (see `tests/fixtures/jwt/README.md`).
const RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/jwt/rs256-private.pem");
const RS256_PUBLIC: &[u8] = include_bytes!("../fixtures/jwt/rs256-public.pem");
const ES256_PRIVATE: &[u8] = include_bytes!("../fixtures/jwt/es256-private.pem");
const ES256_PUBLIC: &[u8] = include_bytes!("../fixtures/jwt/es256-public.pem");
const ED25519_PRIVATE: &[u8] = include_bytes!("../fixtures/jwt/ed25519-private.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../fixtures/jwt/ed25519-public.pem");
const ATTACKER_RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/jwt/attacker-rs256-private.pem");

/// A second HS256 secret: the next key in a rotation, or an attacker's guess.
const OTHER_SECRET: &[u8] = b"another-secret-of-more-than-32-bytes-0123456789";
/// The kid of the RS256 fixture key in the apps that hold it.
const RSA_KID: &str = "rsa-1";
/// How often the test apps refresh their revocation list (`support::jwt_config`).
const REFRESH: std::time::Duration = std::time::Duration::from_millis(100);
/// Generous slack on top of `REFRESH` for a revocation to reach another instance.
const SLACK: std::time::Duration = std::time::Duration::from_secs(2);
/// The default `update_age`, past which a request re-issues the token.
pub(crate) const UPDATE_AGE: Duration = Duration::days(1);

/// Runs each listed `async fn case(t: Setup)` of this module as a test on every backend (the
/// revocation list lives in the store): `jwt_cases::postgres::<case>`, and so on.
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        every_backend!(@cell memory, Memory, $($case),*);
        every_backend!(@cell sqlite, Sqlite, $($case),*);
        every_backend!(@cell postgres, Postgres, $($case),*);
        every_backend!(@cell mysql, MySql, $($case),*);
        every_backend!(@cell redis, Redis, $($case),*);
        every_backend!(@cell redis_cluster, RedisCluster, $($case),*);
    };
    (@cell $backend:ident, $variant:ident, $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::support::Setup {
                        backend: crate::backends::Backend::$variant,
                        strategy: crate::support::Strategy::Jwt,
                    })
                    .await;
                }
            )*
        }
    };
}

every_backend!(
    revoking_a_sid_kills_every_token_reissued_for_it,
    revoke_all_kills_only_tokens_signed_in_before_it,
    logout_on_one_instance_reaches_another_within_the_refresh_interval,
    revoke_all_on_one_instance_reaches_another_within_the_refresh_interval,
    an_extension_whose_session_another_instance_rotated_meanwhile_sends_no_cookie,
    a_user_with_a_long_id_is_revoked_everywhere,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

pub(crate) fn memory() -> Setup {
    Setup {
        backend: Backend::Memory,
        strategy: Strategy::Jwt,
    }
}

/// A JWT app on a memory store with these JWT settings and session config.
pub(crate) async fn memory_app(
    jwt: JwtConfig,
    configure: impl FnOnce(sessionward::SessionConfig) -> sessionward::SessionConfig,
) -> TestApp {
    TestApp::build(memory(), configure, jwt)
        .await
        .expect("a memory store is always available")
}

/// JWT settings like the test apps', with another key ring.
fn config(keys: JwtKeys) -> JwtConfig {
    JwtConfig::new(keys, JWT_ISSUER, JWT_ISSUER).revocation_refresh(REFRESH)
}

/// Sends one request through `router`; a panic in the service fails the test, saying so.
pub(crate) async fn send_to(router: &Router, req: Request<Body>) -> Reply {
    use http_body_util::BodyExt as _;
    let router = router.clone();
    let res = tokio::spawn(async move { router.oneshot(req).await })
        .await
        .unwrap_or_else(|e| panic!("the request panicked: {e}"))
        .expect("infallible");
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub(crate) fn bearer(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.test")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("valid request")
}

pub(crate) async fn me(router: &Router, token: &str) -> Reply {
    send_to(router, request("GET", "/me", Some(token))).await
}

/// The JSON of one part (0 header, 1 payload) of a compact JWS.
pub(crate) fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("a compact JWS");
    let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
}

/// A compact JWS with exactly this header and payload, signed with `key` as `alg` (whatever
/// the header says).
fn forge(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{signature}")
}

/// Signed with the test apps' own HS256 key, under its kid.
fn signed(claims: &Value) -> String {
    forge(
        &json!({ "alg": "HS256", "typ": "JWT", "kid": JWT_KID }),
        claims,
        &EncodingKey::from_secret(JWT_SECRET),
        Algorithm::HS256,
    )
}

/// A valid claim set for the test apps at `START`: signed in now, one hour to live.
fn claims() -> Value {
    let now = START.unix_timestamp();
    json!({
        "sub": "alice",
        "sid": Uuid::new_v4(),
        "jti": Uuid::new_v4().simple().to_string(),
        "iat": now,
        "exp": now + 3600,
        "iss": JWT_ISSUER,
        "aud": JWT_ISSUER,
        "auth_time": now,
        "abs_exp": now + 86_400,
        "role": "user",
        "items": [],
    })
}

/// `claims()` with some claims replaced.
fn claims_with(changes: &[(&str, Value)]) -> Value {
    let mut claims = claims();
    for (name, value) in changes {
        claims[*name] = value.clone();
    }
    claims
}

fn at(offset_seconds: i64) -> Value {
    json!(START.unix_timestamp() + offset_seconds)
}

/// The token is no session: 401 with the cookie cleared when sent as the cookie, 401 without
/// any cookie when sent as a bearer token, anonymous where a session is optional. Never a 500.
async fn assert_rejected(router: &Router, token: &str, what: &str) {
    let cookie = me(router, token).await;
    assert_eq!(
        cookie.status,
        StatusCode::UNAUTHORIZED,
        "{what} (cookie): {}",
        cookie.body
    );
    assert!(
        cookie.clears_cookie(),
        "{what}: the cookie is not cleared: {:?}",
        cookie.set_cookies()
    );
    let api = send_to(router, bearer("GET", "/me", token)).await;
    assert_eq!(
        api.status,
        StatusCode::UNAUTHORIZED,
        "{what} (bearer): {}",
        api.body
    );
    assert!(
        api.set_cookies().is_empty(),
        "{what}: a bearer request got a cookie"
    );
    let maybe = send_to(router, request("GET", "/maybe", Some(token))).await;
    assert_eq!(maybe.status, StatusCode::OK, "{what} (/maybe)");
    assert_eq!(maybe.body, "anonymous", "{what} (/maybe)");
}

/// The token is a session, as a cookie and as a bearer token. Returns `/me`.
async fn assert_accepted(router: &Router, token: &str, what: &str) -> Value {
    let api = send_to(router, bearer("GET", "/me", token)).await;
    assert_eq!(api.status, StatusCode::OK, "{what} (bearer): {}", api.body);
    let cookie = me(router, token).await;
    assert_eq!(
        cookie.status,
        StatusCode::OK,
        "{what} (cookie): {}",
        cookie.body
    );
    cookie.json()
}

/// The fixture key of `alg` under `kid`.
fn fixture_key(alg: Algorithm, kid: &str) -> JwtKey {
    match alg {
        Algorithm::HS256 => JwtKey::hs256(kid, JWT_SECRET),
        Algorithm::RS256 => JwtKey::rs256(kid, RS256_PRIVATE, RS256_PUBLIC),
        Algorithm::ES256 => JwtKey::es256(kid, ES256_PRIVATE, ES256_PUBLIC),
        Algorithm::EdDSA => JwtKey::eddsa(kid, ED25519_PRIVATE, ED25519_PUBLIC),
        other => panic!("no fixture for {other:?}"),
    }
    .expect("valid fixture key")
}

/// The verification half of the fixture key of `alg`, for `jsonwebtoken` itself.
fn fixture_decoding_key(alg: Algorithm) -> DecodingKey {
    match alg {
        Algorithm::HS256 => DecodingKey::from_secret(JWT_SECRET),
        Algorithm::RS256 => DecodingKey::from_rsa_pem(RS256_PUBLIC).unwrap(),
        Algorithm::ES256 => DecodingKey::from_ec_pem(ES256_PUBLIC).unwrap(),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(ED25519_PUBLIC).unwrap(),
        other => panic!("no fixture for {other:?}"),
    }
}

const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// A ring that signs with the test HS256 key and also verifies the RS256 fixture key under
/// `RSA_KID`.
fn hs256_and_rsa_ring() -> JwtConfig {
    let keys = JwtKeys::new(fixture_key(Algorithm::HS256, JWT_KID))
        .unwrap()
        .verify_also(fixture_key(Algorithm::RS256, RSA_KID))
        .unwrap();
    config(keys)
}

// ---------------------------------------------------------------------------------------------
// 1. Key rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn key_rotation_keeps_old_tokens_signs_with_the_new_kid_and_drops_removed_keys() {
    let k1 = || JwtKey::hs256("k1", JWT_SECRET).unwrap();
    let k2 = || JwtKey::hs256("k2", OTHER_SECRET).unwrap();
    let before = memory_app(config(JwtKeys::new(k1()).unwrap()), |c| c).await;
    let (during, during_clock) = before.instance_with(config(
        JwtKeys::new(k2()).unwrap().verify_also(k1()).unwrap(),
    ));
    let (after, after_clock) = before.instance_with(config(JwtKeys::new(k2()).unwrap()));

    let old = before.login(&user(), "user").await.token().unwrap();
    assert_eq!(part(&old, 0)["kid"], "k1");

    // {k2 signs, k1 verifies}: the old token still works, and what it signs carries k2.
    let still = me(&during, &old).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
    assert!(still.set_cookies().is_empty());
    let login = send_to(
        &during,
        request("POST", &format!("/login/{}?role=user", user()), None),
    )
    .await;
    let new = login.token().expect("login sets the cookie");
    assert_eq!(part(&new, 0)["kid"], "k2");
    assert_eq!(part(&new, 0)["alg"], "HS256");
    assert_eq!(me(&during, &new).await.status, StatusCode::OK);

    // A sliding re-issue of the old token is signed with the new key too.
    during_clock.advance(UPDATE_AGE + Duration::minutes(1));
    let reissued = me(&during, &old).await.token().expect("re-issued");
    assert_eq!(part(&reissued, 0)["kid"], "k2");

    // {k2} only: k1's tokens are dead, k2's live.
    after_clock.advance(UPDATE_AGE + Duration::minutes(1));
    let dropped = me(&after, &old).await;
    assert_eq!(dropped.status, StatusCode::UNAUTHORIZED);
    assert!(dropped.clears_cookie());
    assert_eq!(me(&after, &new).await.status, StatusCode::OK);
    assert_eq!(me(&after, &reissued).await.status, StatusCode::OK);
    // And {k1} only never knew k2.
    assert_rejected(&before.router, &new, "a k2 token on a k1-only instance").await;
}

#[tokio::test]
async fn a_verify_only_public_key_accepts_the_key_holders_tokens_but_never_signs() {
    let holder = memory_app(
        config(JwtKeys::new(fixture_key(Algorithm::RS256, RSA_KID)).unwrap()),
        |c| c,
    )
    .await;
    let keys = JwtKeys::new(fixture_key(Algorithm::HS256, JWT_KID))
        .unwrap()
        .verify_also(JwtKey::rs256_public(RSA_KID, RS256_PUBLIC).unwrap())
        .unwrap();
    let (verifier, _) = holder.instance_with(config(keys));
    let token = holder.login(&user(), "user").await.token().unwrap();
    assert_eq!(part(&token, 0)["alg"], "RS256");
    assert_eq!(me(&verifier, &token).await.status, StatusCode::OK);
    let own = send_to(&verifier, request("POST", "/login/bob?role=user", None))
        .await
        .token()
        .unwrap();
    assert_eq!(
        part(&own, 0)["kid"],
        JWT_KID,
        "the verify-only key never signs"
    );
    assert_eq!(part(&own, 0)["alg"], "HS256");
}

// ---------------------------------------------------------------------------------------------
// 2-4. Revocation (every backend)
// ---------------------------------------------------------------------------------------------

async fn revoking_a_sid_kills_every_token_reissued_for_it(t: Setup) {
    let app = app!(t);
    let first = app.login(&user(), "user").await.token().unwrap();
    let id = me(&app.router, &first).await.json()["id"].clone();

    app.clock.advance(UPDATE_AGE + Duration::minutes(1));
    let slid = me(&app.router, &first).await;
    assert_eq!(slid.status, StatusCode::OK);
    assert_eq!(slid.json()["id"], id);
    let second = slid.token().expect("a token past update_age is re-issued");
    assert_ne!(second, first);
    assert_eq!(part(&second, 1)["sid"], part(&first, 1)["sid"]);
    let refreshed = send_to(&app.router, request("POST", "/refresh", Some(&first))).await;
    let third = refreshed.token().expect("an explicit refresh re-issues");
    for token in [&first, &second, &third] {
        assert_eq!(me(&app.router, token).await.json()["id"], id);
    }

    let out = send_to(&app.router, request("POST", "/logout", Some(&second))).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.clears_cookie());
    for (name, token) in [
        ("first", &first),
        ("re-issued", &second),
        ("refreshed", &third),
    ] {
        let replay = me(&app.router, token).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "the {name} token");
        assert!(replay.clears_cookie(), "the {name} token");
    }
}

async fn revoke_all_kills_only_tokens_signed_in_before_it(t: Setup) {
    let app = app!(t);
    let alice = user();
    let early = app.login(&alice, "user").await.token().unwrap();
    app.clock.advance(UPDATE_AGE + Duration::seconds(1));
    // Re-issued after the sign-in, still signed in before the revocation.
    let early_reissued = me(&app.router, &early).await.token().expect("re-issued");
    let later = app.login(&alice, "user").await.token().unwrap();
    let bob = app.login(&user(), "user").await.token().unwrap();
    app.clock.advance(Duration::seconds(1));
    let revoked_at = (START + UPDATE_AGE + Duration::seconds(2)).unix_timestamp();

    let all = send_to(
        &app.router,
        request("POST", &format!("/revoke-all/{alice}"), None),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    for (name, token) in [
        ("first sign-in", &early),
        ("its re-issue", &early_reissued),
        ("second sign-in", &later),
    ] {
        assert_rejected(&app.router, token, name).await;
    }
    assert_eq!(
        me(&app.router, &bob).await.status,
        StatusCode::OK,
        "bob is untouched"
    );

    // Signing in again, in the very second of the revocation, works and stays working.
    let again = app.login(&alice, "user").await.token().unwrap();
    // Signed in after the revocation to the microsecond, and never in a later second (so
    // its `iat` is not in the future).
    let signed_in = part(&again, 1)["auth_time"].as_f64().unwrap();
    assert!(signed_in > revoked_at as f64 && signed_in < (revoked_at + 1) as f64);
    assert_eq!(part(&again, 1)["iat"], revoked_at);
    assert_eq!(me(&app.router, &again).await.status, StatusCode::OK);
    app.clock.advance(UPDATE_AGE + Duration::seconds(1));
    let again_reissued = me(&app.router, &again).await.token().expect("re-issued");
    assert_eq!(
        me(&app.router, &again_reissued).await.status,
        StatusCode::OK
    );
    assert_eq!(me(&app.router, &bob).await.status, StatusCode::OK);
}

/// Polls `/me` on `router` with `token` until it is rejected; returns how long that took.
async fn time_until_rejected(router: &Router, token: &str, what: &str) -> std::time::Duration {
    let started = Instant::now();
    loop {
        let reply = me(router, token).await;
        let elapsed = started.elapsed();
        match reply.status {
            StatusCode::UNAUTHORIZED => return elapsed,
            StatusCode::OK => {}
            other => panic!("{what}: {other} while waiting: {}", reply.body),
        }
        assert!(
            elapsed < REFRESH + SLACK,
            "{what}: still accepted after {elapsed:?} (refresh every {REFRESH:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn logout_on_one_instance_reaches_another_within_the_refresh_interval(t: Setup) {
    let app = app!(t);
    let (other, _) = app.second_instance();
    let token = app.login(&user(), "user").await.token().unwrap();
    let kept = app.login(&user(), "user").await.token().unwrap();
    assert_eq!(
        me(&other, &token).await.status,
        StatusCode::OK,
        "the other instance accepts it"
    );

    let out = send_to(&app.router, request("POST", "/logout", Some(&token))).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(
        me(&app.router, &token).await.status,
        StatusCode::UNAUTHORIZED,
        "at once here"
    );
    let delay = time_until_rejected(&other, &token, "logout").await;
    eprintln!(
        "{:?}: logout reached the second instance after {delay:?}",
        t.backend
    );
    assert_eq!(
        me(&other, &kept).await.status,
        StatusCode::OK,
        "only that session"
    );
}

/// `cases::an_extension_whose_session_was_rotated_meanwhile_sends_no_cookie`, with the
/// rotation made on another instance, which this one has not heard of yet (no notices, a
/// revocation refresh of 30 s): the extension's cookie is checked against the store's list, not
/// this instance's copy, so the re-issued token is not sent after the rotated one.
async fn an_extension_whose_session_another_instance_rotated_meanwhile_sends_no_cookie(t: Setup) {
    let slow = || jwt_config().revocation_refresh(std::time::Duration::from_secs(30));
    let Some(app) = TestApp::build(t, |c| c.change_notices(false), slow()).await else {
        return;
    };
    let (other, other_clock) = app.instance_with(slow());
    let old = app.login(&user(), "user").await.token().unwrap();
    // Past update_age on both instances: the next request here re-issues the session.
    app.clock.advance(Duration::days(2));
    other_clock.advance(Duration::days(2));
    let (gate, held) = crate::support::Held::open();
    let inside = app.call("GET", &held, Some(&old));
    let meanwhile = async {
        gate.entered.notified().await;
        let rotated = send_to(&other, request("POST", "/rotate", Some(&old))).await;
        gate.release.notify_one();
        rotated
    };
    let (inside, rotated) = tokio::join!(inside, meanwhile);
    assert!(rotated.status.is_success(), "{}", rotated.body);
    assert_eq!(inside.status, StatusCode::OK, "{}", inside.body);
    assert!(
        inside.set_cookies().is_empty(),
        "the re-issued token is not sent after the other instance's rotation: {:?}",
        inside.set_cookies()
    );
}

/// A JWT's `sub` can be any length (an `issuer|subject` pair, say); the revocation list holds it
/// on every store: revoke-all and a change to all of the user's sessions reach such a user.
async fn a_user_with_a_long_id_is_revoked_everywhere(t: Setup) {
    let app = app!(t);
    let long = format!("{}-{}", user(), "x".repeat(300));
    let token = app.login(&long, "user").await.token().unwrap();
    let changed = send_to(
        &app.router,
        request("POST", &format!("/user-role/{long}?role=admin"), None),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let reply = me(&app.router, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["role"], "admin");
    let all = send_to(
        &app.router,
        request("POST", &format!("/revoke-all/{long}"), None),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(
        me(&app.router, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (other, _) = app.second_instance();
    assert_eq!(me(&other, &token).await.status, StatusCode::UNAUTHORIZED);
}

async fn revoke_all_on_one_instance_reaches_another_within_the_refresh_interval(t: Setup) {
    let app = app!(t);
    let (other, _) = app.second_instance();
    let alice = user();
    let token = app.login(&alice, "user").await.token().unwrap();
    let bob = app.login(&user(), "user").await.token().unwrap();
    assert_eq!(
        me(&other, &token).await.status,
        StatusCode::OK,
        "the other instance accepts it"
    );

    let all = send_to(
        &app.router,
        request("POST", &format!("/revoke-all/{alice}"), None),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let delay = time_until_rejected(&other, &token, "revoke-all").await;
    eprintln!(
        "{:?}: revoke-all reached the second instance after {delay:?}",
        t.backend
    );
    assert_eq!(
        me(&other, &bob).await.status,
        StatusCode::OK,
        "bob is untouched"
    );
    let again = send_to(
        &other,
        request("POST", &format!("/login/{alice}?role=user"), None),
    )
    .await
    .token()
    .unwrap();
    assert_eq!(
        me(&other, &again).await.status,
        StatusCode::OK,
        "a new sign-in works there"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input: 401 with the cookie cleared, never a 500 or a panic
// ---------------------------------------------------------------------------------------------

/// A fresh memory app with the test settings, after checking that an untouched forged claim
/// set is accepted (so every rejection below is about the one thing each case changes).
async fn checked_app(jwt: JwtConfig) -> TestApp {
    let app = memory_app(jwt, |c| c).await;
    let me = assert_accepted(&app.router, &signed(&claims()), "the untouched claim set").await;
    assert_eq!(me["user_id"], "alice");
    app
}

#[tokio::test]
async fn wrong_signature_issuer_or_audience_is_rejected() {
    let app = checked_app(jwt_config()).await;
    let other_key = forge(
        &json!({ "alg": "HS256", "typ": "JWT", "kid": JWT_KID }),
        &claims(),
        &EncodingKey::from_secret(OTHER_SECRET),
        Algorithm::HS256,
    );
    assert_rejected(&app.router, &other_key, "signed with another secret").await;
    for (name, changes) in [
        ("another issuer", vec![("iss", json!("evil"))]),
        ("an empty issuer", vec![("iss", json!(""))]),
        ("another audience", vec![("aud", json!("evil"))]),
        (
            "an audience list without ours",
            vec![("aud", json!(["evil", "other"]))],
        ),
        ("an empty audience list", vec![("aud", json!([]))]),
    ] {
        assert_rejected(&app.router, &signed(&claims_with(&changes)), name).await;
    }
    // RFC 7519 §4.1.3: a list that names us is for us.
    let listed = claims_with(&[("aud", json!(["other", JWT_ISSUER]))]);
    assert_accepted(&app.router, &signed(&listed), "an audience list with ours").await;
}

#[tokio::test]
async fn missing_required_claims_are_rejected() {
    let app = checked_app(jwt_config()).await;
    for name in ["sid", "sub", "aud", "iss", "exp", "iat"] {
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove(name);
        assert_rejected(&app.router, &signed(&claims), &format!("without {name}")).await;
    }
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected_beyond_the_leeway() {
    let app = checked_app(jwt_config()).await;
    let signed_in_an_hour_ago = [("iat", at(-3600)), ("auth_time", at(-3600))];
    let with = |extra: (&str, Value)| {
        let mut changes = signed_in_an_hour_ago.to_vec();
        changes.push(extra);
        signed(&claims_with(&changes))
    };
    // The default leeway is 30 s: just inside it passes, just outside it fails.
    assert_accepted(&app.router, &with(("exp", at(-29))), "expired 29 s ago").await;
    assert_rejected(&app.router, &with(("exp", at(-31))), "expired 31 s ago").await;
    assert_rejected(
        &app.router,
        &with(("exp", at(-86_400))),
        "expired a day ago",
    )
    .await;
    assert_accepted(&app.router, &with(("nbf", at(29))), "valid in 29 s").await;
    assert_rejected(&app.router, &with(("nbf", at(31))), "valid in 31 s").await;
    let issued_in = |seconds| signed(&claims_with(&[("iat", at(seconds))]));
    assert_accepted(&app.router, &issued_in(29), "issued in 29 s").await;
    assert_rejected(&app.router, &issued_in(31), "issued in 31 s").await;
    assert_rejected(&app.router, &issued_in(86_400), "issued tomorrow").await;
}

#[tokio::test]
async fn wrongly_typed_claims_are_rejected() {
    let app = checked_app(jwt_config()).await;
    for (name, value) in [
        ("exp", json!("tomorrow")),
        ("exp", json!(null)),
        ("exp", json!(18_446_744_073_709_551_615_u64)),
        ("iat", json!("x")),
        ("nbf", json!("soon")),
        ("sid", json!(5)),
        ("sid", json!("not-a-uuid")),
        ("sub", json!(5)),
        ("sub", json!(null)),
        ("aud", json!(5)),
        ("aud", json!({ "aud": JWT_ISSUER })),
        ("iss", json!([JWT_ISSUER])),
        ("jti", json!(5)),
        ("auth_time", json!("x")),
        ("abs_exp", json!(true)),
    ] {
        let what = format!("\"{name}\": {value}");
        assert_rejected(&app.router, &signed(&claims_with(&[(name, value)])), &what).await;
    }
    for payload in [json!([1, 2]), json!("alice"), json!(null)] {
        let token = forge(
            &json!({ "alg": "HS256", "kid": JWT_KID }),
            &payload,
            &EncodingKey::from_secret(JWT_SECRET),
            Algorithm::HS256,
        );
        assert_rejected(&app.router, &token, &format!("a payload of {payload}")).await;
    }
}

#[tokio::test]
async fn custom_claims_that_do_not_fit_the_data_type_are_no_session_not_a_500() {
    let app = checked_app(jwt_config()).await;
    for (name, value) in [
        ("role", json!(5)),
        ("items", json!("x")),
        ("role", json!(null)),
    ] {
        let token = signed(&claims_with(&[(name, value.clone())]));
        let what = format!("\"{name}\": {value}");
        let res = me(&app.router, &token).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{what}: {}", res.body);
        let maybe = send_to(&app.router, request("GET", "/maybe", Some(&token))).await;
        assert_eq!(maybe.body, "anonymous", "{what} (/maybe)");
        let admin = send_to(&app.router, request("GET", "/admin", Some(&token))).await;
        assert_eq!(admin.status, StatusCode::UNAUTHORIZED, "{what} (guard)");
    }
}

#[tokio::test]
async fn out_of_range_times_are_rejected_not_a_panic() {
    let app = checked_app(jwt_config()).await;
    for (name, value) in [
        ("exp", json!(i64::MAX)),
        ("exp", json!(i64::MIN)),
        ("abs_exp", json!(i64::MAX)),
        ("auth_time", json!(i64::MIN)),
        ("iat", json!(i64::MIN)),
        ("nbf", json!(i64::MAX)),
    ] {
        let what = format!("\"{name}\": {value}");
        assert_rejected(&app.router, &signed(&claims_with(&[(name, value)])), &what).await;
    }
}

#[tokio::test]
async fn alg_none_in_any_case_and_unpinned_algorithms_are_rejected() {
    let app = checked_app(jwt_config()).await;
    let payload = b64_json(&claims());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": JWT_KID });
        let unsigned = format!("{}.{payload}.", b64_json(&header));
        assert_rejected(&app.router, &unsigned, &format!("alg {alg}, no signature")).await;
        // The same header with a valid HMAC of it: the header, not the signature, decides.
        let hmac = forge(
            &header,
            &claims(),
            &EncodingKey::from_secret(JWT_SECRET),
            Algorithm::HS256,
        );
        assert_rejected(&app.router, &hmac, &format!("alg {alg}, HMAC signature")).await;
    }
    // The key is pinned to HS256: its secret under another HMAC size is no key.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": JWT_KID });
        let token = forge(
            &header,
            &claims(),
            &EncodingKey::from_secret(JWT_SECRET),
            alg,
        );
        assert_rejected(
            &app.router,
            &token,
            &format!("{alg:?} with the HS256 secret"),
        )
        .await;
    }
    let lower = json!({ "alg": "hs256", "typ": "JWT", "kid": JWT_KID });
    let token = forge(
        &lower,
        &claims(),
        &EncodingKey::from_secret(JWT_SECRET),
        Algorithm::HS256,
    );
    assert_rejected(&app.router, &token, "alg hs256 (lower case)").await;
}

#[tokio::test]
async fn unknown_or_missing_kid_is_rejected() {
    let app = checked_app(jwt_config()).await;
    let secret = EncodingKey::from_secret(JWT_SECRET);
    for (name, header) in [
        ("no kid", json!({ "alg": "HS256", "typ": "JWT" })),
        ("a null kid", json!({ "alg": "HS256", "kid": null })),
        ("an unknown kid", json!({ "alg": "HS256", "kid": "test-2" })),
        ("an empty kid", json!({ "alg": "HS256", "kid": "" })),
        (
            "the kid in upper case",
            json!({ "alg": "HS256", "kid": JWT_KID.to_uppercase() }),
        ),
        (
            "the kid with a space",
            json!({ "alg": "HS256", "kid": format!("{JWT_KID} ") }),
        ),
        ("a numeric kid", json!({ "alg": "HS256", "kid": 1 })),
        (
            "a path as kid",
            json!({ "alg": "HS256", "kid": "../../../dev/null" }),
        ),
    ] {
        let token = forge(&header, &claims(), &secret, Algorithm::HS256);
        assert_rejected(&app.router, &token, name).await;
    }
}

#[tokio::test]
async fn hs256_keyed_with_the_rsa_public_key_is_rejected() {
    // The ring holds the RSA key under RSA_KID: the classic confusion signs HS256 with its
    // public PEM as the HMAC secret.
    let app = checked_app(hs256_and_rsa_ring()).await;
    let genuine = forge(
        &json!({ "alg": "RS256", "typ": "JWT", "kid": RSA_KID }),
        &claims(),
        &EncodingKey::from_rsa_pem(RS256_PRIVATE).unwrap(),
        Algorithm::RS256,
    );
    assert_accepted(&app.router, &genuine, "RS256 under the RSA kid").await;
    let pem = std::str::from_utf8(RS256_PUBLIC).unwrap();
    for secret in [pem, pem.trim_end()] {
        for kid in [RSA_KID, JWT_KID] {
            let token = forge(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                &claims(),
                &EncodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            );
            assert_rejected(
                &app.router,
                &token,
                &format!("HS256 keyed with the RSA PEM, kid {kid}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn embedded_jwk_jku_and_x5u_headers_are_ignored() {
    let app = checked_app(hs256_and_rsa_ring()).await;
    let attacker = EncodingKey::from_rsa_pem(ATTACKER_RS256_PRIVATE).unwrap();
    let attacker_jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker, Algorithm::RS256).unwrap(),
    )
    .unwrap();
    let attacker_secret = b"the-attackers-own-secret-of-32-bytes-or-more";
    let oct_jwk = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker_secret) });
    let rsa = |extra: Value| {
        let mut header = json!({ "alg": "RS256", "typ": "JWT", "kid": RSA_KID });
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        header
    };
    let cases = [
        ("an embedded jwk", rsa(json!({ "jwk": attacker_jwk }))),
        (
            "an embedded jwk and no kid",
            json!({ "alg": "RS256", "jwk": attacker_jwk }),
        ),
        (
            "an embedded jwk under its own kid",
            json!({ "alg": "RS256", "kid": "attacker", "jwk": attacker_jwk }),
        ),
        (
            "a jku",
            rsa(json!({ "jku": "https://attacker.example/jwks.json" })),
        ),
        (
            "a jku and no kid",
            json!({ "alg": "RS256", "jku": "https://attacker.example/jwks.json" }),
        ),
        (
            "an x5u",
            rsa(json!({ "x5u": "https://attacker.example/cert.pem" })),
        ),
    ];
    for (name, header) in cases {
        let token = forge(&header, &claims(), &attacker, Algorithm::RS256);
        assert_rejected(
            &app.router,
            &token,
            &format!("{name}, signed by the attacker"),
        )
        .await;
    }
    let hmac = forge(
        &json!({ "alg": "HS256", "typ": "JWT", "kid": JWT_KID, "jwk": oct_jwk }),
        &claims(),
        &EncodingKey::from_secret(attacker_secret),
        Algorithm::HS256,
    );
    assert_rejected(&app.router, &hmac, "an embedded oct jwk, signed with it").await;

    // Ignored, not merely refused: the same headers on a genuinely signed token change nothing.
    let genuine = forge(
        &rsa(json!({
            "jwk": attacker_jwk,
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://attacker.example/cert.pem",
        })),
        &claims(),
        &EncodingKey::from_rsa_pem(RS256_PRIVATE).unwrap(),
        Algorithm::RS256,
    );
    assert_accepted(&app.router, &genuine, "jwk/jku/x5u on a genuine token").await;
}

#[tokio::test]
async fn lifetimes_beyond_the_absolute_limit_are_rejected() {
    let app = checked_app(jwt_config()).await;
    // The default absolute timeout of JWT sessions is 90 days.
    let ninety_days = 90 * 86_400;
    let exactly = claims_with(&[("exp", at(3600)), ("abs_exp", at(ninety_days))]);
    assert_accepted(
        &app.router,
        &signed(&exactly),
        "abs_exp exactly 90 days after sign-in",
    )
    .await;
    for (name, changes) in [
        (
            "exp past abs_exp",
            vec![("exp", at(7200)), ("abs_exp", at(3600))],
        ),
        (
            "abs_exp 90 days + 1 s after sign-in",
            vec![("abs_exp", at(ninety_days + 1))],
        ),
        (
            "abs_exp a year after sign-in",
            vec![("exp", at(300 * 86_400)), ("abs_exp", at(365 * 86_400))],
        ),
        ("a sign-in after issue", vec![("auth_time", at(60))]),
    ] {
        assert_rejected(&app.router, &signed(&claims_with(&changes)), name).await;
    }
}

#[tokio::test]
async fn oversized_tokens_are_rejected_even_when_validly_signed() {
    let app = checked_app(jwt_config()).await;
    let padded = |n: usize| signed(&claims_with(&[("pad", json!("x".repeat(n)))]));
    let near = padded(5_500);
    assert!(near.len() <= 8 * 1024, "{}", near.len());
    assert_accepted(&app.router, &near, "a signed token just under 8 KiB").await;
    let over = padded(6_200);
    assert!(over.len() > 8 * 1024, "{}", over.len());
    assert_rejected(&app.router, &over, "a signed token over 8 KiB").await;
    let huge = padded(60_000);
    assert_rejected(&app.router, &huge, "a signed token of 80 KiB").await;
}

#[tokio::test]
async fn truncated_tokens_are_rejected() {
    let app = memory_app(jwt_config(), |c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    assert_accepted(&app.router, &token, "the issued token").await;
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let (header_part, _) = signing_input.split_once('.').unwrap();
    let cases = [
        (
            "the last character cut",
            token[..token.len() - 1].to_owned(),
        ),
        (
            "the last 10 characters cut",
            token[..token.len() - 10].to_owned(),
        ),
        ("no signature", format!("{signing_input}.")),
        ("two parts", signing_input.to_owned()),
        ("the header alone", header_part.to_owned()),
        ("the header and a dot", format!("{header_part}.")),
        ("half the token", token[..token.len() / 2].to_owned()),
        (
            "a fourth part",
            format!("{token}.{}", URL_SAFE_NO_PAD.encode(b"x")),
        ),
        ("a trailing dot", format!("{token}.")),
        ("dots only", "..".to_owned()),
    ];
    for (name, value) in cases {
        assert_rejected(&app.router, &value, name).await;
    }
}

/// The issued token is accepted first, so it sits in the verified-token cache: a copy with one
/// changed bit (the same signature on another payload, too) must still be checked in full.
#[tokio::test]
async fn flipped_bits_in_any_part_are_rejected() {
    let app = memory_app(jwt_config(), |c| c).await;
    let token = app.login(&user(), "user").await.token().unwrap();
    assert_accepted(&app.router, &token, "the issued token").await;
    let parts: Vec<Vec<u8>> = token
        .split('.')
        .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
        .collect();
    for (index, name) in ["header", "payload", "signature"].into_iter().enumerate() {
        let len = parts[index].len();
        for byte in [0, len / 2, len - 1] {
            for bit in [0, 7] {
                let mut flipped = parts.clone();
                flipped[index][byte] ^= 1 << bit;
                let value = flipped
                    .iter()
                    .map(|p| URL_SAFE_NO_PAD.encode(p))
                    .collect::<Vec<_>>()
                    .join(".");
                let what = format!("{name} byte {byte} bit {bit}");
                assert_rejected(&app.router, &value, &what).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. The four algorithms, end to end
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_algorithm_signs_verifies_and_refreshes_end_to_end() {
    for alg in ALGORITHMS {
        let kid = format!("{alg:?}-1").to_lowercase();
        let app = memory_app(config(JwtKeys::new(fixture_key(alg, &kid)).unwrap()), |c| c).await;
        let alice = user();
        let token = app.login(&alice, "user").await.token().unwrap();
        let header = part(&token, 0);
        assert_eq!(header["alg"], json!(alg), "{alg:?}");
        assert_eq!(header["kid"], kid.as_str(), "{alg:?}");

        // The signature is what it says: jsonwebtoken verifies it with the public key alone.
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[JWT_ISSUER]);
        validation.set_issuer(&[JWT_ISSUER]);
        validation.validate_exp = false;
        let verified =
            jsonwebtoken::decode::<Value>(&token, &fixture_decoding_key(alg), &validation)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.claims["sub"], alice.as_str());

        let me_json = assert_accepted(&app.router, &token, &format!("{alg:?} token")).await;
        assert_eq!(me_json["user_id"], alice.as_str());
        app.clock.advance(Duration::hours(1));
        let refreshed = send_to(&app.router, request("POST", "/refresh", Some(&token))).await;
        assert_eq!(
            refreshed.status,
            StatusCode::OK,
            "{alg:?}: {}",
            refreshed.body
        );
        let new = refreshed.token().expect("refresh re-issues");
        assert_ne!(new, token);
        let expected = (START + Duration::hours(1) + Duration::days(30)).unix_timestamp();
        assert_eq!(
            me(&app.router, &new).await.json()["expires_at"],
            expected,
            "{alg:?}"
        );

        let mut signature = URL_SAFE_NO_PAD
            .decode(new.rsplit('.').next().unwrap())
            .unwrap();
        signature[0] ^= 1;
        let (input, _) = new.rsplit_once('.').unwrap();
        let bad = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        assert_rejected(
            &app.router,
            &bad,
            &format!("{alg:?} with a flipped signature bit"),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The issue callback
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_issue_callback_reloads_the_role_into_reissued_tokens() {
    let alice = user();
    // The application's database of roles, and what the callback saw.
    let roles = Arc::new(Mutex::new(HashMap::from([(
        alice.clone(),
        "user".to_owned(),
    )])));
    let seen: Arc<Mutex<Vec<(IssueReason, Uuid)>>> = Arc::default();
    let jwt = jwt_config().on_issue({
        let (roles, seen) = (roles.clone(), seen.clone());
        move |issue: TokenIssue<Data>| {
            let (roles, seen) = (roles.clone(), seen.clone());
            async move {
                seen.lock().unwrap().push((issue.reason, issue.session_id));
                let mut data = issue.data;
                if let Some(role) = roles.lock().unwrap().get(&issue.user_id) {
                    data.role = role.clone();
                }
                Ok::<_, sessionward::Error>(data)
            }
        }
    });
    let app = memory_app(jwt, |c| c).await;
    let reasons = || {
        seen.lock()
            .unwrap()
            .iter()
            .map(|(r, _)| *r)
            .collect::<Vec<_>>()
    };

    // The client asks for admin; the database says user, and the callback wins.
    let old = app.login(&alice, "admin").await.token().unwrap();
    let me_json = me(&app.router, &old).await.json();
    assert_eq!(me_json["role"], "user");
    assert_eq!(reasons(), [IssueReason::SignIn]);
    let sid: Uuid = serde_json::from_value(me_json["id"].clone()).unwrap();
    assert_eq!(seen.lock().unwrap()[0].1, sid);
    assert_eq!(
        send_to(&app.router, request("GET", "/admin", Some(&old)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    roles
        .lock()
        .unwrap()
        .insert(alice.clone(), "admin".to_owned());
    let refreshed = send_to(&app.router, request("POST", "/refresh", Some(&old))).await;
    let new = refreshed.token().expect("refresh re-issues");
    assert_eq!(reasons(), [IssueReason::SignIn, IssueReason::Refresh]);
    assert_eq!(part(&new, 1)["role"], "admin");
    let admin = send_to(&app.router, request("GET", "/admin", Some(&new))).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.body);
    let stale = send_to(&app.router, request("GET", "/admin", Some(&old))).await;
    assert_eq!(
        stale.status,
        StatusCode::FORBIDDEN,
        "the old token keeps its old claims"
    );

    let added = send_to(&app.router, request("POST", "/items/x", Some(&new))).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let updated = added.token().expect("an update re-issues");
    assert_eq!(
        reasons(),
        [
            IssueReason::SignIn,
            IssueReason::Refresh,
            IssueReason::Update
        ]
    );
    let me_json = me(&app.router, &updated).await.json();
    assert_eq!(me_json["items"], json!(["x"]));
    assert_eq!(me_json["role"], "admin");
    // Sign-in and refresh keep the session; an update gives it a new id, which ends every
    // older token of the session (see `jwt_edges`).
    let ids: Vec<Uuid> = seen.lock().unwrap().iter().map(|(_, s)| *s).collect();
    assert_eq!(ids[..2], [sid, sid], "one session until the update");
    assert_eq!(me_json["id"], json!(ids[2]), "the updated token's session");
    assert_ne!(ids[2], sid);
}

// ---------------------------------------------------------------------------------------------
// 8. Sliding re-issue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_past_update_age_is_reissued_with_a_new_jti_and_a_later_exp() {
    let app = memory_app(jwt_config(), |c| c).await;
    let first = app.login(&user(), "user").await.token().unwrap();
    let claims1 = part(&first, 1);

    app.clock.advance(UPDATE_AGE - Duration::seconds(1));
    let young = me(&app.router, &first).await;
    assert_eq!(young.status, StatusCode::OK);
    assert!(
        young.set_cookies().is_empty(),
        "younger than update_age: no Set-Cookie"
    );

    app.clock.advance(Duration::seconds(2));
    let old = me(&app.router, &first).await;
    assert_eq!(old.status, StatusCode::OK);
    let second = old.token().expect("older than update_age: re-issued");
    let claims2 = part(&second, 1);
    assert_ne!(claims2["jti"], claims1["jti"]);
    assert_eq!(claims2["sid"], claims1["sid"]);
    assert_eq!(claims2["auth_time"], claims1["auth_time"]);
    assert_eq!(claims2["abs_exp"], claims1["abs_exp"]);
    let now = (START + UPDATE_AGE + Duration::seconds(1)).unix_timestamp();
    assert_eq!(claims2["iat"], now);
    assert_eq!(claims2["exp"], now + Duration::days(30).whole_seconds());
    assert!(claims2["exp"].as_i64() > claims1["exp"].as_i64());

    // The re-issued token is itself young: no further Set-Cookie.
    let quiet = me(&app.router, &second).await;
    assert!(quiet.set_cookies().is_empty());
}

#[tokio::test]
async fn sliding_reissue_never_passes_the_absolute_limit() {
    let app = memory_app(jwt_config(), |c| c.absolute_timeout(Duration::days(40))).await;
    let mut token = app.login(&user(), "user").await.token().unwrap();
    let abs_exp = part(&token, 1)["abs_exp"].as_i64().unwrap();
    assert_eq!(abs_exp, (START + Duration::days(40)).unix_timestamp());
    let mut last_exp = part(&token, 1)["exp"].as_i64().unwrap();
    // Day 2 slides to day 32; day 15 would slide to day 45, capped at day 40.
    for day in [2, 15] {
        app.clock.set(START + Duration::days(day));
        let reply = me(&app.router, &token).await;
        token = reply
            .token()
            .unwrap_or_else(|| panic!("day {day}: re-issued"));
        let claims = part(&token, 1);
        let exp = claims["exp"].as_i64().unwrap();
        assert_eq!(claims["abs_exp"], abs_exp, "day {day}");
        assert!(
            exp <= abs_exp,
            "day {day}: exp {exp} passes abs_exp {abs_exp}"
        );
        assert!(exp >= last_exp, "day {day}: a re-issue never shortens");
        last_exp = exp;
    }
    assert_eq!(last_exp, abs_exp, "capped at the absolute limit");
    // At the cap, a re-issue would gain nothing: none is sent.
    app.clock.set(START + Duration::days(25));
    let capped = me(&app.router, &token).await;
    assert_eq!(capped.status, StatusCode::OK);
    assert!(capped.set_cookies().is_empty());
    app.clock
        .set(START + Duration::days(40) + Duration::seconds(31));
    assert_rejected(&app.router, &token, "past the absolute limit").await;
}

// ---------------------------------------------------------------------------------------------
// 9. Key configuration errors
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_key_configurations_fail_at_start_up() {
    assert!(matches!(
        JwtKey::hs256("k", [7u8; 31]),
        Err(KeyError::SecretTooShort(31))
    ));
    assert!(JwtKey::hs256("k", [7u8; 32]).is_ok(), "32 bytes is enough");
    assert!(matches!(
        JwtKey::hs256("", [7u8; 32]),
        Err(KeyError::InvalidKid)
    ));
    assert!(matches!(
        JwtKey::rs256("k", b"not a pem", RS256_PUBLIC),
        Err(KeyError::InvalidPem(..))
    ));
    let public = JwtKey::rs256_public(RSA_KID, RS256_PUBLIC).unwrap();
    assert!(matches!(JwtKeys::new(public), Err(KeyError::NotASigningKey(kid)) if kid == RSA_KID));
    let ring = JwtKeys::new(JwtKey::hs256("same", JWT_SECRET).unwrap()).unwrap();
    let duplicate = JwtKey::es256("same", ES256_PRIVATE, ES256_PUBLIC).unwrap();
    assert!(
        matches!(ring.verify_also(duplicate), Err(KeyError::DuplicateKid(kid)) if kid == "same")
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Interop with PyJWT
// ---------------------------------------------------------------------------------------------

/// Verifies the token on stdin with the key in `SW_VERIFY_KEY` (audience and issuer checked),
/// then signs the same claim shape with `SW_SIGN_KEY` (and once with a fresh key of the
/// same algorithm). Prints JSON.
pub(crate) const PYJWT_SCRIPT: &str = r#"
import json, os, sys, time, uuid
import jwt
alg, aud, kid = os.environ["SW_ALG"], os.environ["SW_AUD"], os.environ["SW_KID"]
verify_key, sign_key = os.environ["SW_VERIFY_KEY"], os.environ["SW_SIGN_KEY"]
if alg == "HS256":
    verify_key, sign_key = verify_key.encode(), sign_key.encode()
token = sys.stdin.read().strip()
out = {"header": jwt.get_unverified_header(token)}
out["claims"] = jwt.decode(token, verify_key, algorithms=[alg], audience=aud, issuer=aud,
                           options={"require": ["exp", "iat", "iss", "aud", "sub"]})
try:
    jwt.decode(token, verify_key, algorithms=[alg], audience="someone-else", issuer=aud)
    out["wrong_audience_rejected"] = False
except jwt.InvalidAudienceError:
    out["wrong_audience_rejected"] = True
now = int(time.time())
claims = {"sub": os.environ["SW_SUB"], "sid": str(uuid.uuid4()), "jti": uuid.uuid4().hex,
          "iat": now, "exp": now + 3600, "iss": aud, "aud": aud, "auth_time": now,
          "abs_exp": now + 86400, "role": "admin", "items": ["a", "b"]}
out["signed_claims"] = claims
out["signed"] = jwt.encode(claims, sign_key, algorithm=alg, headers={"kid": kid})
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
wrong_key = {"HS256": lambda: b"x" * 40,
             "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
             "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
             "EdDSA": lambda: ed25519.Ed25519PrivateKey.generate()}[alg]()
out["wrongly_signed"] = jwt.encode(claims, wrong_key, algorithm=alg, headers={"kid": kid})
print(json.dumps(out))
"#;

/// Whether PyJWT can run here; without it the test is skipped, unless
/// `SESSIONWARD_REQUIRE_PYJWT=1` (CI).
pub(crate) fn pyjwt_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SESSIONWARD_REQUIRE_PYJWT").as_deref() != Ok("1"),
            "SESSIONWARD_REQUIRE_PYJWT=1 but `python3 -c 'import jwt, cryptography'` fails"
        );
        eprintln!("SKIP: PyJWT not installed (pip install pyjwt cryptography)");
    }
    ok
}

pub(crate) fn run_pyjwt(token: &str, env: &[(&str, &str)]) -> Value {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", PYJWT_SCRIPT])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyJWT failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[tokio::test]
async fn tokens_interoperate_with_pyjwt_in_both_directions() {
    if !pyjwt_available() {
        return;
    }
    for alg in ALGORITHMS {
        let (verify_key, sign_key) = match alg {
            Algorithm::HS256 => (JWT_SECRET.as_slice(), JWT_SECRET.as_slice()),
            Algorithm::RS256 => (RS256_PUBLIC, RS256_PRIVATE),
            Algorithm::ES256 => (ES256_PUBLIC, ES256_PRIVATE),
            _ => (ED25519_PUBLIC, ED25519_PRIVATE),
        };
        let kid = format!("{alg:?}-interop");
        // PyJWT checks times against the real clock: so does this app.
        let jwt = config(JwtKeys::new(fixture_key(alg, &kid)).unwrap());
        let app = memory_app(jwt, |c| c.clock(sessionward::Clock::system())).await;
        let alice = user();
        let ours = app.login(&alice, "editor").await.token().unwrap();
        let alg_name = part(&ours, 0)["alg"].as_str().unwrap().to_owned();
        let py = run_pyjwt(
            &ours,
            &[
                ("SW_ALG", alg_name.as_str()),
                ("SW_AUD", JWT_ISSUER),
                ("SW_KID", kid.as_str()),
                ("SW_SUB", "py-user"),
                ("SW_VERIFY_KEY", std::str::from_utf8(verify_key).unwrap()),
                ("SW_SIGN_KEY", std::str::from_utf8(sign_key).unwrap()),
            ],
        );

        // (a) Our token verifies in PyJWT, with the same claims we put in it.
        assert_eq!(py["claims"], part(&ours, 1), "{alg:?}");
        assert_eq!(py["claims"]["sub"], alice.as_str());
        assert_eq!(py["claims"]["role"], "editor");
        assert_eq!(py["header"]["kid"], kid.as_str());
        assert_eq!(py["header"]["alg"], alg_name.as_str());
        assert_eq!(
            py["wrong_audience_rejected"], true,
            "PyJWT does check the audience"
        );

        // (b) PyJWT's token, with our claim set and kid, is a session here.
        let theirs = py["signed"].as_str().unwrap();
        let me_json = assert_accepted(&app.router, theirs, &format!("PyJWT {alg:?}")).await;
        assert_eq!(me_json["user_id"], "py-user");
        assert_eq!(me_json["id"], py["signed_claims"]["sid"]);
        assert_eq!(me_json["role"], "admin");
        assert_eq!(me_json["items"], json!(["a", "b"]));
        let admin = send_to(&app.router, request("GET", "/admin", Some(theirs))).await;
        assert_eq!(admin.status, StatusCode::OK, "{alg:?}");
        let wrong = py["wrongly_signed"].as_str().unwrap();
        assert_rejected(
            &app.router,
            wrong,
            &format!("PyJWT {alg:?} with a wrong key"),
        )
        .await;
    }
}
