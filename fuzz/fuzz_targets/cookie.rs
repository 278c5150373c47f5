//! Cookie parsing: the input is one or more `Cookie` header values (separated by `\n`). The
//! parser's result must be consistent with the headers, and the real request path (database and
//! JWT apps) must answer 401, or 200 only for the one live session's exact token.
#![no_main]

use axum::http::{HeaderMap, header};
use libfuzzer_sys::fuzz_target;
use sessionward::__fuzz::{self, Credential};
use sessionward_fuzz::{DATABASE, JWT, check, database_token, expand, header_values, signed_jwt};

fuzz_target!(|data: &[u8]| {
    let data = expand(data);
    let Some(values) = header_values(&data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(header::COOKIE, value);
    }
    let read = __fuzz::cookie(&headers);
    if let Credential::Token(value) = &read {
        assert!(value.is_ascii(), "{value:?}");
        assert!(!value.contains(';'), "{value:?}");
        assert_eq!(value.trim(), value, "untrimmed");
        let found = value.is_empty()
            || headers.get_all(header::COOKIE).iter().any(|h| {
                h.as_bytes()
                    .windows(value.len())
                    .any(|w| w == value.as_bytes())
            });
        assert!(found, "{value:?} is in no header");
    }
    if headers.get_all(header::COOKIE).iter().next().is_none() {
        assert_eq!(read, Credential::Nothing);
    }
    check(&DATABASE, &headers, &read, database_token);
    check(&JWT, &headers, &read, signed_jwt);
});
