//! The Auth.js cookie names a strategy is configured with (reading them is
//! [`AppCookieNames`](crate::credential::AppCookieNames)).

/// # Panics
///
/// Without any name, or with a name that is not a valid cookie name.
pub(super) fn assert_valid<N: AsRef<str>>(names: &[N], what: &str) {
    assert!(
        !names.is_empty(),
        "sessionward: {what} has no session cookie name"
    );
    for name in names {
        let name = name.as_ref();
        assert!(
            crate::cookie::is_valid_name(name),
            "sessionward: {name:?} is not a valid cookie name"
        );
    }
}
