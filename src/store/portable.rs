//! What every store can hold: the checks that make a session that one backend refuses a clear
//! error on all of them, before anything is written, instead of a store failure (503) on that
//! one backend only (PostgreSQL: `jsonb` refuses the `\u0000` escape, `text` the NUL byte).

use crate::error::Error;

/// `Ok` when the session data (JSON text, as serde_json writes it) and the user id can be
/// stored by every backend; [`Error::Data`] otherwise, saying why.
pub(crate) fn refuse_unportable(user_id: Option<&str>, data: &str) -> Result<(), Error> {
    if user_id.is_some_and(|user| user.contains('\0')) {
        return Err(data_error("the user id holds a NUL character (U+0000)"));
    }
    if holds_nul_escape(data) {
        return Err(data_error(
            "the session data holds a NUL character (U+0000), which PostgreSQL cannot store",
        ));
    }
    Ok(())
}

fn data_error(why: &'static str) -> Error {
    Error::Data(std::sync::Arc::new(
        <serde_json::Error as serde::ser::Error>::custom(why),
    ))
}

/// Whether JSON text holds a `\u0000` escape (not a `\\` followed by `u0000`).
fn holds_nul_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'\\') {
        let escape = at + offset;
        if bytes[escape + 1..].starts_with(b"u0000") {
            return true;
        }
        // Past the backslash and the character it escapes (`\\` included).
        at = escape + 2;
        if at >= bytes.len() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_the_data_or_the_user_id_is_refused_and_nothing_else() {
        let with_nul = serde_json::json!({ "note": "a\u{0}b" }).to_string();
        assert!(refuse_unportable(None, &with_nul).is_err());
        let in_a_key = serde_json::json!({ "a\u{0}": 1 }).to_string();
        assert!(refuse_unportable(None, &in_a_key).is_err());
        let backslash_then_u0000 = serde_json::json!({ "path": "C:\\u0000" }).to_string();
        assert!(refuse_unportable(None, &backslash_then_u0000).is_ok());
        let other_escapes = serde_json::json!({ "s": "tab\t\"quote\" \u{1} é \\" }).to_string();
        assert!(refuse_unportable(None, &other_escapes).is_ok());
        assert!(refuse_unportable(Some("al\u{0}ice"), "{}").is_err());
        assert!(refuse_unportable(Some("alice"), "{}").is_ok());
        assert!(refuse_unportable(None, "\\").is_ok());
    }
}
