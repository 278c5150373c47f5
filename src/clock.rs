//! The one source of "now". Every expiry decision and every timestamp written to a store comes
//! from here, never from the database's `now()`, so application and SQL never disagree.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// A source of the current UTC time. [`Clock::system`] in production; [`Clock::manual`] in
/// tests that need to move time forward.
///
/// ```
/// use sessionward::Clock;
/// use time::{Duration, macros::datetime};
///
/// let (clock, control) = Clock::manual(datetime!(2030-01-01 0:00 UTC));
/// control.advance(Duration::hours(2));
/// assert_eq!(clock.now(), datetime!(2030-01-01 2:00 UTC));
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<OffsetDateTime>>>,
}

impl Clock {
    /// The system's UTC clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still until moved through the returned [`ManualClock`].
    pub fn manual(start: OffsetDateTime) -> (Self, ManualClock) {
        let cell = Arc::new(Mutex::new(start));
        (
            Self {
                manual: Some(cell.clone()),
            },
            ManualClock { cell },
        )
    }

    /// The current time, truncated to whole microseconds (the finest unit every backend keeps,
    /// so a value read back equals the value written).
    pub fn now(&self) -> OffsetDateTime {
        let now = match &self.manual {
            Some(cell) => *cell.lock().unwrap_or_else(|p| p.into_inner()),
            None => OffsetDateTime::now_utc(),
        };
        truncate_to_micros(now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.manual.is_some() {
            "Clock::Manual"
        } else {
            "Clock::System"
        })
    }
}

/// The handle that moves a [`Clock::manual`] clock: a test reaches an expiry without waiting.
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::{Clock, MemoryStore, Session, SessionConfig, SessionLayer};
/// use sessionward::testing::{ManualClock, SignedIn};
/// use time::{Duration, macros::datetime};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (clock, control): (Clock, ManualClock) = Clock::manual(datetime!(2030-01-01 0:00 UTC));
/// let config = SessionConfig::default().clock(clock).max_age(Duration::hours(1));
/// let layer = SessionLayer::database(MemoryStore::new(), config);
/// let app = Router::new()
///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }))
///     .layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// let me = || alice.request(Request::get("/me")).body(Body::empty());
/// assert_eq!(app.clone().oneshot(me()?).await?.status(), StatusCode::OK);
/// control.advance(Duration::hours(2)); // past max_age, without a request in between
/// assert_eq!(app.oneshot(me()?).await?.status(), StatusCode::UNAUTHORIZED);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    cell: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.cell.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Sets the clock to an exact time.
    pub fn set(&self, to: OffsetDateTime) {
        *self.cell.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

/// Drops sub-microsecond precision.
pub(crate) fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000)
        .expect("a smaller nanosecond value is always valid")
}

/// `t` truncated to whole milliseconds: what a JavaScript `Date` holds, so a time written for
/// a JavaScript application (Auth.js, Better Auth) reads back equal.
#[cfg(any(all(feature = "authjs", feature = "postgres"), feature = "betterauth"))]
pub(crate) fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

/// A time as JavaScript's `Date.prototype.toISOString` writes it (what a `Date` becomes in
/// JSON): `2024-05-01T10:00:00.000Z`.
#[cfg(any(all(feature = "authjs", feature = "postgres"), feature = "betterauth"))]
pub(crate) fn javascript_iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Whole microseconds since the Unix epoch: how stores and `auth_time` keep a time (the
/// precision every store holds). Every `OffsetDateTime` is within ±10,000 years: it fits.
#[cfg_attr(
    not(any(
        feature = "jwt",
        feature = "redis",
        all(feature = "authjs", feature = "postgres"),
        feature = "betterauth"
    )),
    allow(dead_code)
)]
pub(crate) fn unix_micros(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos().div_euclid(1_000) as i64
}

/// A time kept as [`unix_micros`]; `None` when out of range.
#[cfg_attr(
    not(any(feature = "jwt", feature = "redis", feature = "betterauth")),
    allow(dead_code)
)]
pub(crate) fn from_unix_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// A token's NumericDate (whole seconds) as a time; the Unix epoch when out of range (the
/// verifiers never let such a time through).
#[cfg_attr(not(any(feature = "jwt", feature = "authjs")), allow(dead_code))]
pub(crate) fn from_unix_seconds(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
