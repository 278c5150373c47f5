//! What the strategies that read another application's session rows share (the tables of an
//! Auth.js adapter, Better Auth's): the shape check that keeps garbage away from those tables,
//! and the lookup that follows an attempt to extend a session.

use std::sync::Arc;

use crate::strategy::{Lookup, NewToken, ValidSession};

/// The longest token looked up: the adapters' columns are `VARCHAR(255)`, and the tokens these
/// applications make (a UUID, 64 hex digits, 32 letters and digits) are far shorter.
const MAX_TOKEN_LEN: usize = 255;

/// Whether `token` can be such a session token at all: 1 to 255 printable ASCII characters.
/// Anything else never reaches the database.
pub(crate) fn well_formed(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// The lookup of `session`, valid when it was read, once the attempt to extend it is over:
/// `extended` when the conditional update wrote, else (the row was deleted or extended by the
/// other application meanwhile) the session as read, with nothing written over the newer row.
pub(crate) fn after_extension(
    session: ValidSession,
    extended: Option<(ValidSession, NewToken)>,
) -> Lookup {
    match extended {
        Some((session, issued)) => {
            tracing::debug!(session = %session.info.id, "session refreshed");
            Lookup::Valid {
                session: Arc::new(session),
                reissue: Some(issued),
            }
        }
        None => {
            let id = session.info.id;
            tracing::debug!(session = %id, "session changed meanwhile; not extended");
            Lookup::Valid {
                session: Arc::new(session),
                reissue: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_printable_ascii_up_to_255_bytes_is_looked_up() {
        assert!(well_formed("0b7c5a3e-1d2f-4c6b-9a8e-7f6d5c4b3a21"));
        assert!(well_formed(&"ab".repeat(32)));
        assert!(well_formed(&"x".repeat(255)));
        for bad in ["", " ", "a b", "a\tb", "é", "a\u{7f}", "a\0"] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        assert!(!well_formed(&"x".repeat(256)));
    }
}
