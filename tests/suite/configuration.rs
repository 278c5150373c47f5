//! Start-up checks of `SessionConfig`: a contradiction or a value the layer cannot work with
//! stops the application when the layer is built, with a message naming the setting, instead
//! of a panic at the first request or sessions that silently misbehave.

use axum::http::StatusCode;
use sessionward::{MemoryStore, SessionConfig, SessionLayer};
use time::Duration;

use crate::backends::Backend;
use crate::support::{Setup, Strategy, TestApp, router, user};

/// The strategies a `SessionConfig` drives whose layer is built from it alone.
const STRATEGIES: [Strategy; 2] = [Strategy::Database, Strategy::Jwt];

/// Builds the layer of `strategy` with `config`, returning the panic message if it refuses.
fn refused(strategy: Strategy, config: SessionConfig) -> Option<String> {
    crate::support::start_up_refusal(|| match strategy {
        Strategy::Jwt => {
            SessionLayer::jwt(crate::support::jwt_config(), MemoryStore::new(), config)
        }
        _ => SessionLayer::database(MemoryStore::new(), config),
    })
}

/// Asserts that `config` is refused at start-up with a "sessionward:" message naming
/// `setting`; if it is not, runs a login and a request on it (which is where it used to fail).
async fn assert_refused(config: impl Fn() -> SessionConfig, setting: &str) {
    for strategy in STRATEGIES {
        let Some(message) = refused(strategy, config()) else {
            let setup = Setup {
                backend: Backend::Memory,
                strategy,
            };
            let app = TestApp::with_config(setup, |_| config()).await.unwrap();
            let login = app
                .call("POST", &format!("/login/{}?role=user", user()), None)
                .await;
            panic!(
                "{strategy:?}: accepted at start-up; the login then answered {}",
                login.status
            );
        };
        assert!(
            message.starts_with("sessionward:") && message.contains(setting),
            "{strategy:?}: the message names `{setting}`: {message}"
        );
    }
}

#[tokio::test]
async fn an_update_age_not_shorter_than_max_age_is_refused_at_start_up() {
    for update_age in [Duration::hours(2), Duration::hours(1)] {
        assert_refused(
            || {
                SessionConfig::default()
                    .max_age(Duration::hours(1))
                    .update_age(update_age)
            },
            "update_age",
        )
        .await;
    }
}

/// Without an `update_age` of its own, a short `max_age` still slides: the default
/// `update_age` (one day) shrinks to a tenth of `max_age`.
#[tokio::test]
async fn a_short_max_age_alone_keeps_sliding() {
    for strategy in STRATEGIES {
        let setup = Setup {
            backend: Backend::Memory,
            strategy,
        };
        let app = TestApp::with_config(setup, |c| c.max_age(Duration::hours(1)))
            .await
            .unwrap();
        let mut token = app.login(&user(), "user").await.token().unwrap();
        // Active every 50 minutes for a day: never logged out.
        for step in 0..30 {
            app.clock.advance(Duration::minutes(50));
            let me = app.call("GET", "/me", Some(&token)).await;
            assert_eq!(me.status, StatusCode::OK, "{strategy:?}, step {step}");
            if let Some(new) = me.token() {
                token = new;
            }
        }
        app.clock.advance(Duration::minutes(61));
        let idle = app.call("GET", "/me", Some(&token)).await;
        assert_eq!(idle.status, StatusCode::UNAUTHORIZED, "{strategy:?}");
    }
}

#[tokio::test]
async fn lifetimes_too_long_for_date_arithmetic_are_refused_at_start_up() {
    let absurd = [
        Duration::MAX,
        Duration::days(4_000_000),
        Duration::weeks(600_000),
    ];
    for value in absurd {
        assert_refused(|| SessionConfig::default().max_age(value), "max_age").await;
        assert_refused(
            || SessionConfig::default().absolute_timeout(value),
            "absolute_timeout",
        )
        .await;
        assert_refused(
            || SessionConfig::default().idle_timeout(Some(value)),
            "idle_timeout",
        )
        .await;
        assert_refused(|| SessionConfig::default().update_age(value), "update_age").await;
    }
}

#[tokio::test]
async fn cookie_paths_and_domains_that_break_set_cookie_are_refused_at_start_up() {
    for path in [
        "/a\u{1}b",
        "/a\tb",
        "/a\u{7f}",
        "/caf\u{e9}",
        "/a;b",
        "/a\nb",
    ] {
        assert_refused(|| SessionConfig::default().cookie_path(path), "cookie_path").await;
    }
    for domain in [
        "example.com\u{0}",
        "exa\tmple.com",
        "example.com;x",
        "ex ample.com",
        "exämple.com",
        "",
    ] {
        assert_refused(
            || SessionConfig::default().cookie_domain(domain),
            "cookie_domain",
        )
        .await;
    }
}

#[tokio::test]
async fn ordinary_cookie_paths_and_domains_are_accepted() {
    let config = SessionConfig::default()
        .cookie_path("/app/v1_2-x.y~")
        .cookie_domain(".example-1.co.uk");
    let app = router(SessionLayer::database(MemoryStore::new(), config));
    drop(app);
}
