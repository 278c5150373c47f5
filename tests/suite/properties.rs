//! Property tests (proptest): session tokens round-trip through their text form; any bytes
//! sent as the session cookie or a bearer token are "no session" (401) or the one real
//! session, never another answer and never a store lookup for a token of the wrong shape; and
//! lifetimes are monotone (whatever the order of clock advances, requests and refreshes, a
//! session's expiry never moves back and never passes the absolute limit).
//!
//! Case counts are modest (64–256) to keep the suite fast; `PROPTEST_CASES` raises them.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sessionward::SessionToken;
use sha2::{Digest as _, Sha256};
use time::Duration;

use crate::backends::Backend;
use crate::support::{Reply, START, Setup, Strategy as SessionStrategy, TestApp};

/// `cases` cases, no regression files written next to the sources.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn memory(strategy: SessionStrategy) -> Setup {
    Setup {
        backend: Backend::Memory,
        strategy,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// Any 32 bytes, as base64url, parse back to the same token, whose hash is their SHA-256.
    #[test]
    fn token_text_round_trips(bytes in any::<[u8; 32]>()) {
        let text = URL_SAFE_NO_PAD.encode(bytes);
        let token = SessionToken::parse(&text).expect("the canonical text of 32 bytes parses");
        prop_assert_eq!(token.as_str(), text.as_str());
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        prop_assert_eq!(token.hash().0, digest);
        let again = SessionToken::parse(token.as_str()).expect("parses again");
        prop_assert!(again.hash() == token.hash());
    }

    /// Whatever text is parsed, a token that comes out has exactly that text: one text form per
    /// token (no padding, no other alphabet, no non-canonical last character, no whitespace).
    #[test]
    fn only_the_canonical_text_parses(
        text in prop_oneof![
            "[A-Za-z0-9_-]{43}",
            "[A-Za-z0-9_+/= -]{41,45}",
            "\\PC{0,64}",
        ]
    ) {
        if let Some(token) = SessionToken::parse(&text) {
            prop_assert_eq!(token.as_str(), text.as_str());
            prop_assert_eq!(URL_SAFE_NO_PAD.decode(&text).map(|b| b.len()), Ok(32));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Any bytes as a credential
// ---------------------------------------------------------------------------------------------

/// Bytes a header value may hold (tab, visible ASCII, obs-text), to keep rejections rare.
fn sendable_byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff]
}

/// Credentials near and far from the valid one: arbitrary bytes, sendable bytes, text in and
/// around the token alphabet, and the valid token with one edit (a byte replaced, inserted or
/// removed, or the token cut short), which is sometimes the valid token itself.
fn credential(valid: &str) -> impl Strategy<Value = Vec<u8>> + use<> {
    let valid = valid.as_bytes().to_vec();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..96),
        prop::collection::vec(sendable_byte(), 0..96),
        "[A-Za-z0-9_=+/%.;, \t-]{0,96}".prop_map(String::into_bytes),
        (any::<prop::sample::Index>(), sendable_byte(), 0..4u8).prop_map(
            move |(at, byte, edit)| {
                let mut v = valid.clone();
                let i = at.index(v.len() + 1);
                match edit {
                    0 if i < v.len() => v[i] = byte,
                    1 => v.insert(i, byte),
                    2 if i < v.len() => {
                        v.remove(i);
                    }
                    _ => v.truncate(i),
                }
                v
            }
        ),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` hold a run of at least 43 base64url characters: the least any token needs.
fn has_token_shaped_run(bytes: &[u8]) -> bool {
    bytes
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        .any(|run| run.len() >= 43)
}

#[test]
fn any_bytes_as_cookie_or_bearer_token_are_401_or_the_real_session() {
    let rt = runtime();
    for strategy in [SessionStrategy::Database, SessionStrategy::Jwt] {
        let (app, user, valid) = rt.block_on(async {
            let app = TestApp::new(memory(strategy)).await.expect("memory store");
            let user = format!("user-{}", uuid::Uuid::new_v4().simple());
            let valid = app.login(&user, "user").await.token().expect("a token");
            (app, user, valid)
        });
        let mut runner = TestRunner::new(config(256));
        let inputs = (credential(&valid), any::<bool>());
        let result = runner.run(&inputs, |(bytes, as_bearer)| {
            let (name, value) = if as_bearer {
                (
                    header::AUTHORIZATION,
                    [b"Bearer ", bytes.as_slice()].concat(),
                )
            } else {
                (header::COOKIE, [b"session-id=", bytes.as_slice()].concat())
            };
            // What cannot be a header value cannot be sent.
            let Ok(value) = HeaderValue::from_bytes(&value) else {
                return Err(TestCaseError::reject("not a header value"));
            };
            let req = Request::builder()
                .uri("/me")
                .header(header::HOST, "app.test")
                .header(name, value)
                .body(Body::empty())
                .expect("valid request");
            let loads = app.counts.loads();
            let reply: Reply = rt.block_on(app.send(req));
            let lookups = app.counts.loads() - loads;
            match reply.status {
                StatusCode::UNAUTHORIZED => {}
                StatusCode::OK => {
                    let me = reply.json();
                    prop_assert_eq!(me["user_id"].as_str(), Some(user.as_str()));
                    prop_assert!(
                        contains(&bytes, valid.as_bytes()),
                        "a session from a credential that does not hold the token"
                    );
                }
                other => prop_assert!(false, "{} for {:?}", other, String::from_utf8_lossy(&bytes)),
            }
            if strategy == SessionStrategy::Database {
                prop_assert!(lookups <= 1, "{} lookups for one request", lookups);
                if !has_token_shaped_run(&bytes) {
                    prop_assert_eq!(
                        lookups,
                        0,
                        "a store lookup for {:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{strategy:?}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lifetimes
// ---------------------------------------------------------------------------------------------

/// One step: advance the clock by some minutes, then `GET /me` or `POST /refresh`.
fn steps() -> impl Strategy<Value = Vec<(i64, bool)>> {
    prop::collection::vec((0i64..36 * 60, any::<bool>()), 1..24)
}

#[test]
fn lifetimes_never_shrink_and_never_pass_the_absolute_limit() {
    const MAX_AGE: Duration = Duration::days(1);
    const ABSOLUTE: Duration = Duration::days(3);
    let rt = runtime();
    for strategy in [SessionStrategy::Database, SessionStrategy::Jwt] {
        // A JWT is accepted until `exp` plus the default leeway.
        let leeway = if strategy == SessionStrategy::Jwt {
            Duration::seconds(30)
        } else {
            Duration::ZERO
        };
        let cap = (START + ABSOLUTE).unix_timestamp();
        let mut runner = TestRunner::new(config(64));
        let result = runner.run(&steps(), |steps| {
            rt.block_on(async {
                let app = TestApp::with_config(memory(strategy), |c| {
                    c.max_age(MAX_AGE)
                        .update_age(Duration::hours(1))
                        .absolute_timeout(ABSOLUTE)
                })
                .await
                .expect("memory store");
                let user = format!("user-{}", uuid::Uuid::new_v4().simple());
                let mut token = app.login(&user, "user").await.token().expect("a token");
                let me = app.call("GET", "/me", Some(&token)).await.json();
                let mut expires = me["expires_at"].as_i64().expect("expires_at");
                prop_assert_eq!(me["absolute_expires_at"].as_i64(), Some(cap));
                let mut now = START;
                let mut dead = false;
                for (minutes, refresh) in steps {
                    now += Duration::minutes(minutes);
                    app.clock.set(now);
                    let reply = if refresh {
                        app.call("POST", "/refresh", Some(&token)).await
                    } else {
                        app.call("GET", "/me", Some(&token)).await
                    };
                    let t = now.unix_timestamp();
                    match reply.status {
                        StatusCode::OK => {
                            prop_assert!(!dead, "a session came back after it ended");
                            let e = reply.json()["expires_at"].as_i64().expect("expires_at");
                            prop_assert!(e >= expires, "expiry moved back: {} -> {}", expires, e);
                            prop_assert!(
                                e <= cap,
                                "expiry {} passes the absolute limit {}",
                                e,
                                cap
                            );
                            prop_assert!(
                                t < e + leeway.whole_seconds(),
                                "valid at {} past {}",
                                t,
                                e
                            );
                            expires = e;
                            if let Some(new) = reply.token() {
                                token = new;
                            }
                        }
                        StatusCode::UNAUTHORIZED => {
                            prop_assert!(
                                t >= expires + leeway.whole_seconds(),
                                "rejected at {} before its expiry {}",
                                t,
                                expires
                            );
                            dead = true;
                        }
                        other => prop_assert!(false, "{}: {}", other, reply.body),
                    }
                }
                Ok(())
            })
        });
        if let Err(e) = result {
            panic!("{strategy:?}: {e}");
        }
    }
}
