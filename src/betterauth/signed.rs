//! Better Auth's signed cookie values (better-call's `setSignedCookie`): the session token, a
//! dot, and the standard base64 (44 characters, padded) of HMAC-SHA256 of the token under the
//! app's secret, the whole percent-encoded (`encodeURIComponent`) in the cookie.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The app's secret as an HMAC-SHA256 key, ready to verify signatures.
#[derive(Clone)]
pub(crate) struct Signer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub(crate) fn new(secret: &str) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size"),
        }
    }

    /// Whether `signature` is the HMAC-SHA256 of `message`, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.verify_slice(signature).is_ok()
    }

    /// The signed value's token, when the signature is this secret's: `None` for anything
    /// else (no dot, a signature that is not 44 characters of standard base64 ending in `=`,
    /// a wrong signature). `value` is the cookie as it arrives, percent-encoded or not.
    pub(crate) fn unsign(&self, value: &str) -> Option<String> {
        let value = percent_decoded(unquoted(value));
        let (token, signature) = value.rsplit_once('.')?;
        if token.is_empty() || signature.len() != 44 || !signature.ends_with('=') {
            return None;
        }
        let signature = STANDARD.decode(signature).ok()?;
        self.verify(token.as_bytes(), &signature)
            .then(|| token.to_owned())
    }

    /// Whether `signature`, base64url without padding (what Better Auth's compact cookie
    /// cache writes; its decoder also takes standard base64 and padding), is the HMAC-SHA256 of
    /// `message`.
    pub(crate) fn verify_base64url(&self, message: &[u8], signature: &str) -> bool {
        let normalized: String = signature
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        URL_SAFE_NO_PAD
            .decode(normalized)
            .is_ok_and(|signature| self.verify(message, &signature))
    }
}

/// A cookie value without the double quotes a client may put around it (as better-call's
/// cookie parser removes them).
pub(crate) fn unquoted(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// `decodeURIComponent(value)`, or `value` as it is when that would fail (as better-call's
/// `tryDecode` does): `%XX` escapes decoded, the result valid UTF-8.
pub(crate) fn percent_decoded(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('%') {
        return value.into();
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None => return value.into(),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_or(value.into(), Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-secret-for-sessionward-tests-0123";

    /// better-call's `signCookieValue`.
    fn sign(token: &str, secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        format!("{token}.{signature}")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    }

    #[test]
    fn a_signed_value_gives_its_token_and_nothing_else_does() {
        let signer = Signer::new(SECRET);
        let token = "Xk3aQ9pLm2ZrT7vB1nC8dE4fG6hJ0sW5";
        let cookie = sign(token, SECRET);
        assert_eq!(signer.unsign(&cookie).as_deref(), Some(token));
        assert_eq!(
            signer.unsign(&format!("\"{cookie}\"")).as_deref(),
            Some(token)
        );
        // Not percent-encoded (a bearer token as `set-auth-token` hands it out).
        let plain = percent_decoded(&cookie).into_owned();
        assert_eq!(signer.unsign(&plain).as_deref(), Some(token));
        let other_secret = sign(token, "another-secret-of-the-same-length-0123456");
        let other_token = sign("Yk3aQ9pLm2ZrT7vB1nC8dE4fG6hJ0sW5", SECRET);
        let (_, other_signature) = other_token.split_once('.').unwrap();
        for bad in [
            other_secret,
            format!("{token}.{other_signature}"),
            format!("x{cookie}"),
            token.to_owned(),
            format!("{token}."),
            format!(".{}", cookie.split_once('.').unwrap().1),
            cookie.replace("%3D", ""),
            format!("{cookie}%3D"),
            "%zz".into(),
            String::new(),
        ] {
            assert_eq!(signer.unsign(&bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_decoding_follows_decode_uri_component_or_leaves_the_value() {
        assert_eq!(percent_decoded("a%2Bb%3D"), "a+b=");
        assert_eq!(percent_decoded("plain"), "plain");
        assert_eq!(percent_decoded("bad%2"), "bad%2");
        assert_eq!(percent_decoded("bad%zz"), "bad%zz");
        assert_eq!(percent_decoded("%C3%A9"), "é");
        assert_eq!(percent_decoded("%FF"), "%FF", "not UTF-8");
    }
}
