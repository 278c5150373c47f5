//! A [`SessionRecord`] as the fields of a Redis hash, and back.
//!
//! | field | value |
//! | --- | --- |
//! | `i` | the session id (hyphenated UUID) |
//! | `u` | the user id |
//! | `d` | the data (JSON text) |
//! | `v` | the version (decimal) |
//! | `c`, `r`, `e`, `a` | created, refreshed, expires, absolute expiry: microseconds since the Unix epoch (decimal) |
//! | `ua`, `ip` | user agent and client address; absent when `None` |
//! | `t` | authenticated at (login or re-authentication), microseconds; absent on records written before it existed: then `c` |
//! | `b` | `1` on a browser session (signed in without "remember me"); absent on a remembered one |
//! | `m` | only while a rotation moves the record: the hex hash it moves to |
//!
//! The token hash is not a field: it is in the key's name.

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::keys::{from_micros, micros};
use crate::error::StoreError;
use crate::store::SessionRecord;
use crate::token::TokenHash;

/// The rotation mark: present while the record is being moved to another token hash.
pub(super) const MOVING: &str = "m";

/// Present (`1`) on a session signed in without "remember me".
const BROWSER_SESSION: &str = "b";

/// The fields of `record`, as `HSET` arguments (field, value, field, value, ...).
pub(super) fn fields(record: &SessionRecord) -> Vec<String> {
    let mut out = vec![
        "i".into(),
        record.id.hyphenated().to_string(),
        "u".into(),
        record.user_id.clone(),
        "d".into(),
        record.data.clone(),
        "v".into(),
        record.version.to_string(),
        "c".into(),
        micros(record.created_at).to_string(),
        "r".into(),
        micros(record.refreshed_at).to_string(),
        "e".into(),
        micros(record.expires_at).to_string(),
        "a".into(),
        micros(record.absolute_expires_at).to_string(),
        "t".into(),
        micros(record.authenticated_at).to_string(),
    ];
    if !record.persistent {
        out.extend([BROWSER_SESSION.into(), "1".into()]);
    }
    if let Some(ua) = &record.user_agent {
        out.extend(["ua".into(), ua.clone()]);
    }
    if let Some(ip) = &record.ip {
        out.extend(["ip".into(), ip.clone()]);
    }
    out
}

/// A stored record: the session, and where a rotation in progress moves it (if one does).
pub(super) struct Stored {
    pub(super) record: SessionRecord,
    pub(super) moving: Option<String>,
}

/// Decodes the fields of a record read from the key of `token_hash`. `None` for no fields at
/// all (no such key).
pub(super) fn decode(
    fields: &HashMap<String, String>,
    token_hash: TokenHash,
) -> Result<Option<Stored>, StoreError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let get = |name: &'static str, column: &'static str| {
        fields
            .get(name)
            .ok_or(StoreError::Corrupt(column))
            .map(String::as_str)
    };
    // Only a number as the store writes it: the scripts compare these fields as text
    // (`+7` would load as version 7 and never match `7`).
    let int = |name, column| {
        let text = get(name, column)?;
        text.parse::<i64>()
            .ok()
            .filter(|n| n.to_string() == text)
            .ok_or(StoreError::Corrupt(column))
    };
    let time = |name, column| -> Result<OffsetDateTime, StoreError> {
        from_micros(int(name, column)?).ok_or(StoreError::Corrupt(column))
    };
    let record = SessionRecord {
        id: Uuid::parse_str(get("i", "id")?).map_err(|_| StoreError::Corrupt("id"))?,
        token_hash,
        user_id: get("u", "user_id")?.to_owned(),
        data: get("d", "data")?.to_owned(),
        version: int("v", "version")?,
        created_at: time("c", "created_at")?,
        authenticated_at: match fields.get("t") {
            Some(_) => time("t", "authenticated_at")?,
            None => time("c", "created_at")?,
        },
        refreshed_at: time("r", "refreshed_at")?,
        expires_at: time("e", "expires_at")?,
        absolute_expires_at: time("a", "absolute_expires_at")?,
        user_agent: fields.get("ua").cloned(),
        ip: fields.get("ip").cloned(),
        persistent: match fields.get(BROWSER_SESSION).map(String::as_str) {
            None => true,
            Some("1") => false,
            Some(_) => return Err(StoreError::Corrupt("persistent")),
        },
    };
    Ok(Some(Stored {
        record,
        moving: fields.get(MOVING).cloned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
        let t = time::macros::datetime!(2030-01-01 0:00:00.000001 UTC);
        SessionRecord {
            id: Uuid::new_v4(),
            token_hash: crate::SessionToken::generate().hash(),
            user_id: "alice: {x}\n".into(),
            data: r#"{"a":1}"#.into(),
            version: 7,
            created_at: t,
            authenticated_at: t + time::Duration::seconds(5),
            refreshed_at: t + time::Duration::microseconds(1),
            expires_at: t + time::Duration::days(7),
            absolute_expires_at: t + time::Duration::days(30),
            user_agent: Some(String::new()),
            ip: None,
            persistent: true,
        }
    }

    fn as_map(fields: Vec<String>) -> HashMap<String, String> {
        fields
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect()
    }

    #[test]
    fn records_round_trip() {
        let record = sample();
        let map = as_map(fields(&record));
        let stored = decode(&map, record.token_hash).unwrap().unwrap();
        assert_eq!(stored.record, record);
        assert!(stored.moving.is_none());
        let browser = SessionRecord {
            persistent: false,
            ..record.clone()
        };
        let map = as_map(fields(&browser));
        assert_eq!(
            decode(&map, browser.token_hash).unwrap().unwrap().record,
            browser
        );
        assert!(
            decode(&HashMap::new(), record.token_hash)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn malformed_fields_are_corrupt() {
        let record = sample();
        // Numbers not as the store writes them too: the scripts compare them as text, so `+7`
        // loaded as version 7 and no update ever matched it again, and a zero-padded expiry
        // was not expired to the cleanup script while it was to the store.
        for (field, value) in [
            ("i", "nope"),
            ("c", "x"),
            ("v", ""),
            ("a", "9e99"),
            ("v", "+7"),
            ("v", "07"),
            ("e", "01893456000000000"),
            ("v", " 7"),
        ] {
            let mut map = as_map(fields(&record));
            map.insert(field.into(), value.into());
            assert!(
                matches!(decode(&map, record.token_hash), Err(StoreError::Corrupt(_))),
                "{field} = {value:?}"
            );
        }
        let mut map = as_map(fields(&record));
        map.remove("u");
        assert!(matches!(
            decode(&map, record.token_hash),
            Err(StoreError::Corrupt("user_id"))
        ));
    }
}
