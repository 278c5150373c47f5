//! What the crate counts and times, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`; without it every function here is empty and costs nothing). The names
//! and labels, which the README's Metrics section lists for users:
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | `sessionward_resolutions_total` | counter | `outcome`: `valid`, `none` (no credential), `rejected`, `error` (store unavailable) |
//! | `sessionward_rejections_total` | counter | `reason`: `malformed`, `invalid`, `unknown`, `expired`, `revoked` |
//! | `sessionward_store_call_duration_seconds` | histogram | `operation` (the store method: `load`, `create`, `touch`, ..., `revocations_since`), `outcome`: `ok`, `error` |
//! | `sessionward_cache_lookups_total` | counter | `result`: `hit`, `miss` |
//! | `sessionward_change_notices_received_total` | counter | none |
//! | `sessionward_change_notices_applied_total` | counter | none |

/// Resolutions of a request's session, by outcome.
#[cfg(feature = "metrics")]
pub(crate) const RESOLUTIONS: &str = "sessionward_resolutions_total";
/// Credentials that were no session, by reason category.
#[cfg(feature = "metrics")]
pub(crate) const REJECTIONS: &str = "sessionward_rejections_total";
/// How long each store call took, by operation.
#[cfg(feature = "metrics")]
pub(crate) const STORE_CALLS: &str = "sessionward_store_call_duration_seconds";
/// Lookups in the session cache, by result.
#[cfg(feature = "metrics")]
pub(crate) const CACHE_LOOKUPS: &str = "sessionward_cache_lookups_total";
/// Change notices read from the store's feed.
#[cfg(feature = "metrics")]
pub(crate) const NOTICES_RECEIVED: &str = "sessionward_change_notices_received_total";
/// Change notices of other instances that were acted upon.
#[cfg(feature = "metrics")]
pub(crate) const NOTICES_APPLIED: &str = "sessionward_change_notices_applied_total";

/// How a request's session resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    /// A valid session.
    Valid,
    /// No credential at all.
    None,
    /// A credential that is no session.
    Rejected,
    /// The store could not answer.
    Error,
}

impl Outcome {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::None => "none",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
        }
    }
}

/// Counts one resolution.
pub(crate) fn resolution(outcome: Outcome) {
    #[cfg(feature = "metrics")]
    metrics::counter!(RESOLUTIONS, "outcome" => outcome.label()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// Counts one rejection; `reason` is a [`RejectReason`](crate::RejectReason) name.
pub(crate) fn rejection(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(REJECTIONS, "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// Counts one lookup in the session cache.
pub(crate) fn cache_lookup(hit: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(CACHE_LOOKUPS, "result" => if hit { "hit" } else { "miss" }).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// Counts one change notice read from the feed.
pub(crate) fn notice_received() {
    #[cfg(feature = "metrics")]
    metrics::counter!(NOTICES_RECEIVED).increment(1);
}

/// Counts one change notice acted upon.
pub(crate) fn notice_applied() {
    #[cfg(feature = "metrics")]
    metrics::counter!(NOTICES_APPLIED).increment(1);
}

/// Runs one store call, timing it as `operation`.
#[cfg(feature = "metrics")]
pub(crate) async fn store_call<T, E>(
    operation: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!(STORE_CALLS, "operation" => operation, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}
