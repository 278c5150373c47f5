//! JWT decoding: the input is a token, sent to the JWT app as the session cookie and as a
//! bearer token. The answer must be 401, or 200 only for a token genuinely signed with the
//! app's key (checked independently of jsonwebtoken): no forgery, no panic, no 500.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use sessionward::__fuzz;
use sessionward_fuzz::{JWT, check, expand, signed_jwt};

fuzz_target!(|data: &[u8]| {
    let token = expand(data);
    let cookie = [b"session-id=".as_slice(), &token].concat();
    if let Ok(value) = HeaderValue::from_bytes(&cookie) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value);
        check(&JWT, &headers, &__fuzz::cookie(&headers), signed_jwt);
    }
    let bearer = [b"Bearer ".as_slice(), &token].concat();
    if let Ok(value) = HeaderValue::from_bytes(&bearer) {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        check(&JWT, &headers, &__fuzz::bearer(&headers), signed_jwt);
    }
});
