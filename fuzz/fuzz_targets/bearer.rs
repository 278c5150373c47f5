//! Bearer parsing: the input is one or more `Authorization` header values (separated by `\n`).
//! A token is read only from a single `Bearer` header, and the real request path (database and
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
        headers.append(header::AUTHORIZATION, value);
    }
    let read = __fuzz::bearer(&headers);
    match &read {
        Credential::Token(token) => {
            let all: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
            assert_eq!(all.len(), 1, "a token read from {} headers", all.len());
            let text = all[0].to_str().expect("a token is read only from text");
            let (scheme, rest) = text.split_once(' ').expect("scheme and token");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{scheme:?}");
            assert_eq!(rest.trim(), token);
        }
        Credential::Nothing => {}
        Credential::Unusable | Credential::Ambiguous => {
            panic!("Authorization is never an unusable cookie")
        }
    }
    check(&DATABASE, &headers, &read, database_token);
    check(&JWT, &headers, &read, signed_jwt);
});
