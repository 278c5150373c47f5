//! Signing and verification keys, each with a `kid` and one pinned algorithm.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// The shortest HS256 secret accepted: 256 bits (RFC 7518 §3.2).
///
/// ```
/// use sessionward::jwt::{JwtKey, MIN_HS256_SECRET};
///
/// assert!(JwtKey::hs256("main", vec![7u8; MIN_HS256_SECRET]).is_ok());
/// assert!(JwtKey::hs256("main", vec![7u8; MIN_HS256_SECRET - 1]).is_err());
/// ```
pub const MIN_HS256_SECRET: usize = 32;

/// A key that cannot be used, found when the application starts.
///
/// ```
/// use sessionward::jwt::{JwtKey, JwtKeys, KeyError};
///
/// let short = JwtKey::hs256("main", b"too short");
/// assert!(matches!(short, Err(KeyError::SecretTooShort(9))));
///
/// let current = JwtKey::hs256("main", [1u8; 32]).unwrap();
/// let previous = JwtKey::hs256("main", [2u8; 32]).unwrap(); // should have had its own kid
/// let ring = JwtKeys::new(current).unwrap().verify_also(previous);
/// assert!(matches!(ring, Err(KeyError::DuplicateKid(kid)) if kid == "main"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An HS256 secret shorter than [`MIN_HS256_SECRET`] bytes.
    #[error("an HS256 secret needs at least {MIN_HS256_SECRET} bytes, this one has {0}")]
    SecretTooShort(usize),
    /// A PEM document that is not a key of the expected type.
    #[error("the {0} key is not valid PEM of the right type")]
    InvalidPem(&'static str, #[source] jsonwebtoken::errors::Error),
    /// A `kid` that is empty, too long or not printable ASCII.
    #[error("a key id must be 1 to 64 printable ASCII characters")]
    InvalidKid,
    /// Two keys with the same `kid`.
    #[error("two keys share the key id {0:?}")]
    DuplicateKid(String),
    /// The signing key was given as verification-only (no private part).
    #[error("the signing key {0:?} has no private part")]
    NotASigningKey(String),
}

/// One key: its `kid`, its one algorithm, and its verification (and maybe signing) half.
///
/// ```
/// use sessionward::jwt::JwtKey;
///
/// let key = JwtKey::hs256("2026-11", b"a-secret-of-at-least-thirty-two-bytes!").unwrap();
/// assert!(JwtKey::hs256("short", b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct JwtKey {
    pub(crate) kid: Arc<str>,
    pub(crate) algorithm: Algorithm,
    pub(crate) encoding: Option<Arc<EncodingKey>>,
    pub(crate) decoding: Arc<DecodingKey>,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

fn check_kid(kid: &str) -> Result<Arc<str>, KeyError> {
    let printable = kid.bytes().all(|b| b.is_ascii_graphic());
    if kid.is_empty() || kid.len() > 64 || !printable {
        return Err(KeyError::InvalidKid);
    }
    Ok(kid.into())
}

fn pem<T>(
    what: &'static str,
    parsed: Result<T, jsonwebtoken::errors::Error>,
) -> Result<Arc<T>, KeyError> {
    parsed
        .map(Arc::new)
        .map_err(|e| KeyError::InvalidPem(what, e))
}

impl JwtKey {
    /// An HMAC-SHA-256 key from a shared secret of at least 32 bytes (use random bytes, never a
    /// password).
    ///
    /// # Errors
    ///
    /// [`KeyError::SecretTooShort`], [`KeyError::InvalidKid`].
    pub fn hs256(kid: &str, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_HS256_SECRET {
            return Err(KeyError::SecretTooShort(secret.len()));
        }
        Ok(Self {
            kid: check_kid(kid)?,
            algorithm: Algorithm::HS256,
            encoding: Some(Arc::new(EncodingKey::from_secret(secret))),
            decoding: Arc::new(DecodingKey::from_secret(secret)),
        })
    }

    /// An RS256 key pair from PEM: the private key signs, the public key verifies.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn rs256(kid: &str, private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Self::pair(
            kid,
            Algorithm::RS256,
            pem("RSA private", EncodingKey::from_rsa_pem(private_pem))?,
            pem("RSA public", DecodingKey::from_rsa_pem(public_pem))?,
        )
    }

    /// An ES256 (P-256) key pair from PEM (the private key in PKCS#8).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn es256(kid: &str, private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Self::pair(
            kid,
            Algorithm::ES256,
            pem("EC private", EncodingKey::from_ec_pem(private_pem))?,
            pem("EC public", DecodingKey::from_ec_pem(public_pem))?,
        )
    }

    /// An EdDSA (Ed25519) key pair from PEM (the private key in PKCS#8).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn eddsa(kid: &str, private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Self::pair(
            kid,
            Algorithm::EdDSA,
            pem("Ed25519 private", EncodingKey::from_ed_pem(private_pem))?,
            pem("Ed25519 public", DecodingKey::from_ed_pem(public_pem))?,
        )
    }

    /// A verification-only RS256 key (a retired key, or one held by another service).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn rs256_public(kid: &str, public_pem: &[u8]) -> Result<Self, KeyError> {
        let decoding = pem("RSA public", DecodingKey::from_rsa_pem(public_pem))?;
        Self::verify_only(kid, Algorithm::RS256, decoding)
    }

    /// A verification-only ES256 key.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn es256_public(kid: &str, public_pem: &[u8]) -> Result<Self, KeyError> {
        let decoding = pem("EC public", DecodingKey::from_ec_pem(public_pem))?;
        Self::verify_only(kid, Algorithm::ES256, decoding)
    }

    /// A verification-only EdDSA key.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPem`], [`KeyError::InvalidKid`].
    pub fn eddsa_public(kid: &str, public_pem: &[u8]) -> Result<Self, KeyError> {
        let decoding = pem("Ed25519 public", DecodingKey::from_ed_pem(public_pem))?;
        Self::verify_only(kid, Algorithm::EdDSA, decoding)
    }

    fn pair(
        kid: &str,
        algorithm: Algorithm,
        encoding: Arc<EncodingKey>,
        decoding: Arc<DecodingKey>,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            kid: check_kid(kid)?,
            algorithm,
            encoding: Some(encoding),
            decoding,
        })
    }

    fn verify_only(
        kid: &str,
        algorithm: Algorithm,
        decoding: Arc<DecodingKey>,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            kid: check_kid(kid)?,
            algorithm,
            encoding: None,
            decoding,
        })
    }

    /// The key's id, written in the `kid` header of every token it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// The key ring: one current key that signs, and any number of older or foreign keys that only
/// verify. Rotation: add a new signing key and keep the old one as a verification key until
/// the tokens it signed have expired; nobody is logged out.
///
/// ```
/// use sessionward::jwt::{JwtKey, JwtKeys};
///
/// let old = JwtKey::hs256("2026-10", b"the-october-secret-of-32-bytes-or-more").unwrap();
/// let new = JwtKey::hs256("2026-11", b"the-november-secret-of-32-bytes-or-more").unwrap();
/// let keys = JwtKeys::new(new).unwrap().verify_also(old).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct JwtKeys {
    pub(crate) signing: JwtKey,
    by_kid: HashMap<Arc<str>, JwtKey>,
}

impl JwtKeys {
    /// A ring whose current signing key is `signing`.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotASigningKey`] for a verification-only key.
    pub fn new(signing: JwtKey) -> Result<Self, KeyError> {
        if signing.encoding.is_none() {
            return Err(KeyError::NotASigningKey(signing.kid.to_string()));
        }
        let by_kid = HashMap::from([(signing.kid.clone(), signing.clone())]);
        Ok(Self { signing, by_kid })
    }

    /// Also accepts tokens signed by `key` (it never signs).
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateKid`] when the ring already has that `kid`.
    pub fn verify_also(mut self, key: JwtKey) -> Result<Self, KeyError> {
        if self.by_kid.contains_key(&key.kid) {
            return Err(KeyError::DuplicateKid(key.kid.to_string()));
        }
        self.by_kid.insert(key.kid.clone(), key);
        Ok(self)
    }

    /// The key a token's `kid` names, if the ring has it.
    pub(crate) fn get(&self, kid: &str) -> Option<&JwtKey> {
        self.by_kid.get(kid)
    }
}
