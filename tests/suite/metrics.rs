//! Metrics and the request span (issue 17, feature `metrics`): the counters and the store call
//! histogram move under a real recorder (`metrics-util`'s `DebuggingRecorder`, installed for
//! the whole test binary), and the layer's span carries the user id and the session id. On
//! every store, database sessions (with and without the cache) and JWT.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::StatusCode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use crate::backends::Backend;
use crate::support::{Setup, logs};

suite!(metrics => database, Database; cached, DatabaseCached; jwt, Jwt:
    counters_and_store_timings_move_and_the_span_names_the_session,
);

/// The recorder of the whole test binary, installed by the first test that reads it.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("no other metrics recorder");
        snapshotter
    })
}

/// One test reads the recorder at a time: a snapshot drains what it reads (counters start
/// again from 0, histograms lose their samples).
static READING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A metric's name and labels.
type Series = (String, Vec<(String, String)>);

/// What the recorder holds: counter values, and how many samples each histogram has.
struct Reading {
    counters: HashMap<Series, u64>,
    samples: HashMap<Series, usize>,
}

impl Reading {
    fn now() -> Self {
        let mut counters = HashMap::new();
        let mut samples = HashMap::new();
        for (key, _, _, value) in snapshotter().snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let series = (key.name().to_owned(), labels);
            match value {
                DebugValue::Counter(n) => {
                    counters.insert(series, n);
                }
                DebugValue::Histogram(values) => {
                    samples.insert(series, values.len());
                }
                DebugValue::Gauge(_) => {}
            }
        }
        Self { counters, samples }
    }

    fn matching<T: Copy + Default + std::iter::Sum<T>>(
        map: &HashMap<Series, T>,
        name: &str,
        labels: &[(&str, &str)],
    ) -> T {
        map.iter()
            .filter(|((n, ls), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// The sum of the counters `name` with these labels (among others).
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        Self::matching(&self.counters, name, labels)
    }

    /// The samples of the histograms `name` with these labels (among others).
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        Self::matching(&self.samples, name, labels)
    }
}

const RESOLUTIONS: &str = "sessionward_resolutions_total";
const REJECTIONS: &str = "sessionward_rejections_total";
const STORE_CALLS: &str = "sessionward_store_call_duration_seconds";
const CACHE: &str = "sessionward_cache_lookups_total";
const RECEIVED: &str = "sessionward_change_notices_received_total";
const APPLIED: &str = "sessionward_change_notices_applied_total";

pub async fn counters_and_store_timings_move_and_the_span_names_the_session(t: Setup) {
    snapshotter();
    let _reading = READING.lock().await;
    let app = app!(t);
    // From here on the recorder counts what this test (and any test running beside it) does.
    Reading::now();
    // A user id long enough for the log capture to watch for it (see `support::logs`).
    let user = format!(
        "metrics-{}-{}",
        uuid::Uuid::new_v4().simple(),
        "x".repeat(8)
    );
    logs::register_canary(&user);

    assert_eq!(app.call("GET", "/maybe", None).await.body, "anonymous");
    let garbage = app.call("GET", "/me", Some("not-a-token")).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    // A well-formed token that is no session: a cache miss, then unknown to the store.
    let stranger = sessionward::SessionToken::generate();
    let unknown = app.call("GET", "/me", Some(stranger.as_str())).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let token = app.login(&user, "user").await.token().unwrap();
    for _ in 0..2 {
        assert_eq!(
            app.call("GET", "/me", Some(&token)).await.status,
            StatusCode::OK
        );
    }
    // A rotation logs inside the request's span, after the session was resolved.
    let rotated = app.call("POST", "/rotate", Some(&token)).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let token = rotated.token().unwrap();

    let after = Reading::now();
    let moved = |name: &str, labels: &[(&str, &str)]| after.counter(name, labels);
    assert!(moved(RESOLUTIONS, &[("outcome", "none")]) >= 1);
    assert!(moved(RESOLUTIONS, &[("outcome", "rejected")]) >= 1);
    assert!(moved(RESOLUTIONS, &[("outcome", "valid")]) >= 3);
    assert!(moved(REJECTIONS, &[("reason", "malformed")]) >= 1);
    // Store calls, timed by operation: the database's rows, or the JWT revocation list.
    let operation = if t.is_jwt() {
        "add_revocation"
    } else {
        "create"
    };
    assert!(
        after.samples(STORE_CALLS, &[("operation", operation), ("outcome", "ok")]) >= 1,
        "no {operation} timing"
    );
    if t.is_cached() {
        assert!(moved(CACHE, &[("result", "hit")]) >= 1, "the second /me");
        assert!(moved(CACHE, &[("result", "miss")]) >= 1, "the stranger");
    } else if !t.is_jwt() {
        assert!(after.samples(STORE_CALLS, &[("operation", "load")]) >= 1);
    }
    // The span: `session{user_id=... session_id=...}` on the rotation's log line.
    assert!(
        logs::canary_seen(&user),
        "the user id is on the request's span"
    );

    // Change notices: another instance's logout reaches this one's cache (stores with a feed).
    let has_feed = !matches!(t.backend, Backend::Memory | Backend::Sqlite);
    if t.is_cached() && has_feed {
        let (second, _) = app.second_instance();
        Reading::now();
        let request = crate::support::request("POST", "/logout", Some(&token));
        let out = tower::ServiceExt::oneshot(second, request).await.unwrap();
        assert_eq!(out.status(), StatusCode::OK);
        let (mut received, mut applied) = (0, 0);
        for _ in 0..500 {
            let now = Reading::now();
            received += now.counter(RECEIVED, &[]);
            applied += now.counter(APPLIED, &[]);
            if applied > 0 {
                assert!(received >= applied);
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no change notice applied within 5 s");
    }
}
