//! What the contract clauses build and compare: session records with every field distinct, and
//! user ids no other clause uses.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::store::SessionRecord;
use crate::token::{SessionToken, TokenHash};

/// The hash of a token nobody has.
pub(crate) fn new_hash() -> TokenHash {
    SessionToken::generate().hash()
}

/// A user id no other clause or run uses: `name` plus a random suffix.
pub(crate) fn user(name: &str) -> String {
    format!("{name}-{}", Uuid::new_v4().simple())
}

/// A session of `user_id` created at `created_at`, every time field distinct (so a swapped
/// column shows) and with sub-second precision (so a lost microsecond shows).
pub(crate) fn record(user_id: &str, created_at: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        token_hash: new_hash(),
        user_id: user_id.to_owned(),
        data: r#"{"role":"user","permissions":["read"],"n":1}"#.to_owned(),
        version: 0,
        created_at,
        refreshed_at: created_at + Duration::microseconds(1),
        authenticated_at: created_at + Duration::microseconds(4),
        expires_at: created_at + Duration::days(7) + Duration::microseconds(2),
        absolute_expires_at: created_at + Duration::days(30) + Duration::microseconds(3),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux) \u{fc}n\u{ef}c\u{f8}d\u{e9} \u{1f980}".to_owned(),
        ),
        ip: Some("2001:db8::1".to_owned()),
        persistent: true,
    }
}

/// Equal as stored: every field exact, the data compared as JSON values (a store may normalize
/// the text, as PostgreSQL's JSONB does).
#[track_caller]
pub(crate) fn assert_same(got: &SessionRecord, want: &SessionRecord, clause: &str) {
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    assert_eq!(
        json(&got.data),
        json(&want.data),
        "{clause}: the data differs (or is not JSON)"
    );
    let blank = |r: &SessionRecord| SessionRecord {
        data: String::new(),
        ..r.clone()
    };
    assert_eq!(blank(got), blank(want), "{clause}: the record differs");
}

/// The value of a store call the contract expects to succeed; a panic naming the clause and the
/// call otherwise.
#[track_caller]
pub(crate) fn ok<T>(result: Result<T, crate::error::StoreError>, clause: &str, call: &str) -> T {
    result.unwrap_or_else(|e| panic!("{clause}: `{call}` failed: {e:?}"))
}
