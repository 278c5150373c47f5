//! Session tokens: generation from the OS CSPRNG, the SHA-256 digest stored at rest, and the
//! shape check that keeps garbage away from the store.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Number of random bytes in a session token (256 bits; OWASP and ASVS ask for at least 128).
pub const TOKEN_BYTES: usize = 32;

/// Length of a token's text form: base64url without padding of [`TOKEN_BYTES`] bytes.
pub const TOKEN_LEN: usize = 43;

/// The secret a client holds: 32 bytes from the operating system's CSPRNG.
///
/// Its text form (what travels in the cookie or the `Authorization` header) is base64url without
/// padding, 43 characters. Only its [`TokenHash`] is ever stored. `Debug` never shows the secret.
///
/// ```
/// use sessionward::SessionToken;
///
/// let token = SessionToken::generate();
/// let text = token.as_str().to_owned();
/// let parsed = SessionToken::parse(&text).expect("a generated token parses");
/// assert_eq!(parsed.hash(), token.hash());
/// assert!(SessionToken::parse("not a token").is_none());
/// ```
#[derive(Clone)]
pub struct SessionToken {
    text: String,
    hash: TokenHash,
}

impl SessionToken {
    /// Draws a fresh token from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Panics if the operating system cannot supply random bytes; a process that cannot draw
    /// randomness must not issue credentials.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        Self::from_bytes(&bytes)
    }

    /// Parses a token's text form. Anything that is not exactly 43 canonical base64url
    /// characters is `None`, so malformed input never reaches a store.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != TOKEN_LEN
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        // The decoder rejects non-canonical trailing bits, so each token has one text form.
        // (So `text` already is that form: no need to encode the bytes again.)
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(TOKEN_BYTES) => Some(Self {
                text: text.to_owned(),
                hash: Self::digest(&bytes),
            }),
            _ => None,
        }
    }

    fn from_bytes(bytes: &[u8; TOKEN_BYTES]) -> Self {
        Self {
            text: URL_SAFE_NO_PAD.encode(bytes),
            hash: Self::digest(bytes),
        }
    }

    fn digest(bytes: &[u8; TOKEN_BYTES]) -> TokenHash {
        TokenHash(Sha256::digest(bytes).into())
    }

    /// The text form sent to the client. Treat it as a password: never log it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The SHA-256 digest of the token's bytes: what stores keep and look up by.
    pub fn hash(&self) -> TokenHash {
        self.hash
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// SHA-256 of a session token: the only form of the secret a store holds.
///
/// A leaked hash cannot be turned back into a working token. Equality is constant-time.
///
/// A store keeps its 32 bytes and reads them back:
///
/// ```
/// use sessionward::{SessionToken, TokenHash};
///
/// let token = SessionToken::generate();
/// let hash: TokenHash = token.hash();
/// let column: Vec<u8> = hash.as_bytes().to_vec(); // what a store writes
/// assert_eq!(TokenHash::from_slice(&column), Some(hash));
/// assert_eq!(TokenHash::from_slice(&column[..31]), None); // a corrupt row
/// assert_ne!(hash, SessionToken::generate().hash());
/// ```
#[derive(Clone, Copy, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The digest's bytes, for binding into a query.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a hash from bytes read back from a store; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even the hash is a lookup key: show only enough to tell two apart in a test failure.
        write!(f, "TokenHash({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// A stable UUID named by `text`, for sessions that another application keeps under ids or
/// tokens that are not UUIDs: the first 16 bytes of a SHA-256 over `label`, a zero byte and
/// `text`, as a version-8 (custom) UUID. The label keeps two kinds of names apart.
#[cfg(any(feature = "authjs", feature = "betterauth"))]
pub(crate) fn labelled_uuid(label: &str, text: &str) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(label.as_bytes())
        .chain_update(b"\0")
        .chain_update(text.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_distinct_and_well_formed() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), TOKEN_LEN);
        assert_eq!(SessionToken::parse(a.as_str()).unwrap().hash(), a.hash());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let good = SessionToken::generate();
        let text = good.as_str();
        assert!(SessionToken::parse("").is_none());
        assert!(SessionToken::parse(&text[..42]).is_none());
        assert!(SessionToken::parse(&format!("{text}A")).is_none());
        assert!(SessionToken::parse(&format!("{}=", &text[..42])).is_none());
        assert!(SessionToken::parse(&format!("{}+", &text[..42])).is_none());
        assert!(SessionToken::parse(&format!("{}/", &text[..42])).is_none());
        assert!(SessionToken::parse(&format!("{}\u{e9}", &text[..41])).is_none());
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // 32 bytes = 42 full characters plus one carrying 4 bits and 2 zero bits; 'B' sets one
        // of the zero bits, so it is never a canonical final character.
        let text = format!("{}B", &SessionToken::generate().as_str()[..42]);
        assert!(SessionToken::parse(&text).is_none());
    }

    /// Timing (issue 4): can comparing a presented token with a stored one leak how many of its
    /// leading characters were right? A clock-based test of that is noise; what decides it is
    /// the code path, which this test pins down:
    ///
    /// 1. The presented text never meets a stored secret: `SessionToken::parse` checks only its
    ///    shape (length and alphabet, compared with nothing stored), and the database strategy
    ///    looks up `SessionToken::hash`, the SHA-256 of the decoded bytes: a fixed 32-byte key.
    ///    Whatever a store's index comparison leaks is a prefix of a SHA-256 digest, and a
    ///    digest prefix says nothing about the token (preimage resistance).
    /// 2. Where the crate compares digests itself (`TokenHash == TokenHash`: `MemoryStore`'s
    ///    map), equality is the hand-written impl over `subtle::ConstantTimeEq`, which looks at
    ///    all 32 bytes whatever they hold. A `#[derive(PartialEq)]` (a short-circuiting byte
    ///    compare) cannot sneak in beside it: two impls conflict (E0119), so checking that the
    ///    one impl goes through `ct_eq` is enough.
    ///
    /// (JWT signatures are checked by `jsonwebtoken`, whose HMAC verification is the `hmac`
    /// crate's `verify_slice`, also constant-time.)
    #[test]
    fn lookups_compare_fixed_length_digests_in_constant_time() {
        // 1. The lookup key is SHA-256 of the token's 32 bytes.
        let token = SessionToken::generate();
        let bytes = URL_SAFE_NO_PAD.decode(token.as_str()).unwrap();
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(token.hash().as_bytes(), &digest);

        // 2. Equality looks at every bit: no prefix decides it.
        let a = token.hash();
        assert!(a == TokenHash(digest));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b.0[byte] ^= 1 << bit;
                assert!(a != b, "byte {byte} bit {bit} ignored");
            }
        }
        // ... through `subtle`: the one `PartialEq` impl of `TokenHash` calls `ct_eq` and
        // compares nothing with `==` itself.
        let source = include_str!("token.rs");
        let start = source
            .find("impl PartialEq for TokenHash {")
            .expect("a hand-written PartialEq");
        let end = start + source[start..].find("\n}\n").expect("end of the impl");
        let body = &source[start..end];
        assert!(body.contains("self.0.ct_eq(&other.0).into()"), "{body}");
        assert!(!body.contains("=="), "{body}");
        let derive = source[..source.find("pub struct TokenHash").unwrap()]
            .lines()
            .next_back()
            .unwrap();
        assert!(!derive.contains("PartialEq"), "{derive}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = SessionToken::generate();
        assert!(!format!("{t:?}").contains(t.as_str()));
    }
}
