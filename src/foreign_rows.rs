//! What the strategies that read another application's session rows share (the tables of an
//! Auth.js adapter, Better Auth's): the shape check that keeps garbage away from those tables,
//! and the reads of a row that the other application may change meanwhile.

use std::sync::Arc;

use crate::config::Persistence;
use crate::strategy::{Lookup, NewToken, ValidSession};

/// The longest token looked up: the adapters' columns are `VARCHAR(255)`, and the tokens these
/// applications make (a UUID, 64 hex digits, 32 letters and digits) are far shorter.
const MAX_TOKEN_LEN: usize = 255;

/// Whether `token` can be such a session token at all: 1 to 255 printable ASCII characters.
/// Anything else never reaches the database.
pub(crate) fn well_formed(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// The token of `session` as its cookie carries it: the other application's cookie, which
/// the layer never writes, with the session's expiry.
pub(crate) fn token_of(session: &ValidSession) -> NewToken {
    NewToken {
        token: session.token.clone(),
        expires_at: session.info.expires_at,
        persistence: Persistence::Remembered,
    }
}

/// The session whose row now reads `fresh`, as it is, when an extension asked for with
/// [`Sessions::refresh`](crate::Sessions::refresh) to `to` would not make it last longer (a
/// layer whose `max_age` is shorter than the other application's): nothing is written then.
/// `None` when the extension is to be written.
pub(crate) fn already_lasting(
    fresh: &ValidSession,
    to: Option<time::OffsetDateTime>,
) -> Option<(ValidSession, NewToken)> {
    let shorter = to.is_none_or(|to| to <= fresh.info.expires_at);
    shorter.then(|| (fresh.clone(), token_of(fresh)))
}

/// The reads of one session row while the other application may change it: what a read
/// (and the attempt to extend it) comes to, or `None` when the row must be read again.
///
/// An extension is a conditional update on the expiry that was read. When it writes nothing,
/// the other application changed the row meanwhile: it extended it, or deleted it (a sign-out
/// everywhere racing this request). The row is read once more, so a deleted session is no
/// session, as the other application answers; if it changed yet again, the second read is
/// served as read, with nothing written over the newer row.
#[derive(Default)]
pub(crate) struct ReadsOfAChangingRow {
    read_again: bool,
}

impl ReadsOfAChangingRow {
    /// The lookup of `session`, valid when it was read: `due` says whether it was due to be
    /// extended, `extended` what the extension wrote.
    pub(crate) fn after(
        &mut self,
        session: ValidSession,
        due: bool,
        extended: Option<(ValidSession, NewToken)>,
    ) -> Option<Lookup> {
        match extended {
            Some((session, issued)) => {
                tracing::debug!(session = %session.info.id, "session refreshed");
                Some(Lookup::Valid {
                    session: Arc::new(session),
                    reissue: Some(issued),
                })
            }
            None if due && !self.read_again => {
                tracing::debug!(session = %session.info.id, "session changed meanwhile; reading it again");
                self.read_again = true;
                None
            }
            None => Some(Lookup::Valid {
                session: Arc::new(session),
                reissue: None,
            }),
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
