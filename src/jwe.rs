//! Decryption of the compact JWEs that Auth.js uses as session tokens and Better Auth as its
//! `jwe` cookie cache: `alg: "dir"` with `enc: "A256CBC-HS512"` (RFC 7518 §5.2.5) or
//! `enc: "A256GCM"` (§5.3), keys from HKDF-SHA-256 (features `authjs`, `betterauth`).
//!
//! Every primitive comes from RustCrypto (`aes`, `cbc`, `aes-gcm`, `hmac`, `hkdf`, `sha2`); the
//! CBC-HS512 tag is compared in constant time with `subtle`. Nothing here panics on input: every
//! failure is an `Err` with a reason for the log.

use aes_gcm::aead::{AeadInPlace, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, KeyIvInit as _};
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq as _;

/// Tokens (all chunks joined) longer than this are rejected unread.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The content encryption of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enc {
    /// `A256CBC-HS512`: a 64-byte key, HMAC-SHA-512 key first, AES-256 key second.
    CbcHs512,
    /// `A256GCM`: a 32-byte key.
    Gcm,
}

/// The HKDF-SHA-256 keys one secret gives for one salt (cookie name), and their RFC 7638
/// thumbprints (the `kid` Auth.js v5 and Better Auth write).
#[derive(Clone)]
pub(crate) struct DerivedKeys {
    /// 64 bytes for `A256CBC-HS512`; `None` for v4, which only uses `A256GCM`.
    cbc: Option<([u8; 64], String)>,
    /// 32 bytes for `A256GCM`, with its SHA-256 thumbprint (`None` for v4: no `kid`); `None`
    /// for Better Auth, whose one 64-byte key cannot serve `A256GCM`.
    gcm: Option<([u8; 32], Option<String>)>,
}

impl DerivedKeys {
    #[cfg(feature = "authjs")]
    /// Auth.js v5 (`@auth/core`): salt = the cookie name, info = `Auth.js Generated Encryption
    /// Key (<salt>)`.
    pub(crate) fn v5(secret: &str, salt: &str) -> Self {
        let info = format!("Auth.js Generated Encryption Key ({salt})");
        let cbc: [u8; 64] = hkdf(secret, salt, &info);
        let gcm: [u8; 32] = hkdf(secret, salt, &info);
        Self {
            cbc: Some((cbc, thumbprint::<Sha512>(&cbc))),
            gcm: Some((gcm, Some(thumbprint::<Sha256>(&gcm)))),
        }
    }

    /// Better Auth's `jwe` cookie cache: salt `better-auth-session`, info `BetterAuth.js
    /// Generated Encryption Key`, one 64-byte key whose `kid` is its SHA-256 thumbprint.
    #[cfg(feature = "betterauth")]
    pub(crate) fn better_auth(secret: &str) -> Self {
        let cbc: [u8; 64] = hkdf(
            secret,
            "better-auth-session",
            "BetterAuth.js Generated Encryption Key",
        );
        Self {
            cbc: Some((cbc, thumbprint::<Sha256>(&cbc))),
            gcm: None,
        }
    }

    #[cfg(feature = "authjs")]
    /// NextAuth.js v4: salt empty, info `NextAuth.js Generated Encryption Key`, 32 bytes.
    pub(crate) fn v4(secret: &str) -> Self {
        Self {
            cbc: None,
            gcm: Some((
                hkdf(secret, "", "NextAuth.js Generated Encryption Key"),
                None,
            )),
        }
    }

    /// The key for `enc`, unless the token's `kid` names another key.
    fn key_for(&self, enc: Enc, kid: Option<&str>) -> Option<&[u8]> {
        let (key, thumbprint): (&[u8], Option<&String>) = match enc {
            Enc::CbcHs512 => {
                let (key, thumbprint) = self.cbc.as_ref()?;
                (key, Some(thumbprint))
            }
            Enc::Gcm => {
                let (key, thumbprint) = self.gcm.as_ref()?;
                (key, thumbprint.as_ref())
            }
        };
        match (kid, thumbprint) {
            (Some(kid), Some(thumbprint)) if kid != thumbprint.as_str() => None,
            _ => Some(key),
        }
    }

    #[cfg(test)]
    pub(crate) fn cbc_key(&self) -> Option<&[u8; 64]> {
        self.cbc.as_ref().map(|(k, _)| k)
    }

    #[cfg(test)]
    pub(crate) fn gcm_key(&self) -> Option<&[u8; 32]> {
        self.gcm.as_ref().map(|(k, _)| k)
    }
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKeys(..)")
    }
}

fn hkdf<const N: usize>(secret: &str, salt: &str, info: &str) -> [u8; N] {
    let mut okm = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt.as_bytes()), secret.as_bytes())
        .expand(info.as_bytes(), &mut okm)
        .expect("32 and 64 bytes are valid HKDF-SHA-256 output lengths");
    okm
}

/// RFC 7638 thumbprint of a symmetric JWK: the hash of `{"k":"<b64url key>","kty":"oct"}`.
fn thumbprint<D: sha2::Digest>(key: &[u8]) -> String {
    let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
    URL_SAFE_NO_PAD.encode(D::digest(jwk.as_bytes()))
}

/// A token split into its parts, header checked, before any key is tried.
pub(crate) struct Parsed<'a> {
    /// The base64url protected header as sent: the additional authenticated data.
    aad: &'a [u8],
    enc: Enc,
    kid: Option<String>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

fn b64(part: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "malformed token encoding")
}

/// Splits and checks a compact JWE: five parts, `alg: "dir"`, a known `enc`, no `zip`, no
/// `crit`, an empty encrypted key, IV and tag of the sizes `enc` needs.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, &'static str> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("oversized token");
    }
    let mut parts = token.split('.');
    let (Some(header), Some(key), Some(iv), Some(ciphertext), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("not a compact JWE");
    };
    let fields: serde_json::Value =
        serde_json::from_slice(&b64(header)?).map_err(|_| "malformed header")?;
    let fields = fields.as_object().ok_or("malformed header")?;
    if fields.get("alg").and_then(|v| v.as_str()) != Some("dir") {
        return Err("unsupported alg");
    }
    let enc = match fields.get("enc").and_then(|v| v.as_str()) {
        Some("A256CBC-HS512") => Enc::CbcHs512,
        Some("A256GCM") => Enc::Gcm,
        _ => return Err("unsupported enc"),
    };
    if fields.contains_key("zip") || fields.contains_key("crit") {
        return Err("unsupported header parameter");
    }
    let kid = match fields.get("kid") {
        None => None,
        Some(serde_json::Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("malformed header"),
    };
    if !key.is_empty() {
        return Err("encrypted key present with alg dir");
    }
    let (iv, ciphertext, tag) = (b64(iv)?, b64(ciphertext)?, b64(tag)?);
    let (iv_len, tag_len) = match enc {
        Enc::CbcHs512 => (16, 32),
        Enc::Gcm => (12, 16),
    };
    if iv.len() != iv_len || tag.len() != tag_len {
        return Err("wrong IV or tag length");
    }
    Ok(Parsed {
        aad: header.as_bytes(),
        enc,
        kid,
        iv,
        ciphertext,
        tag,
    })
}

impl Parsed<'_> {
    /// Decrypts with the first of `keys` the token's `kid` allows and whose tag verifies.
    pub(crate) fn decrypt<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k DerivedKeys>,
    ) -> Option<Vec<u8>> {
        keys.into_iter()
            .filter_map(|k| k.key_for(self.enc, self.kid.as_deref()))
            .find_map(|key| match self.enc {
                Enc::CbcHs512 => self.cbc_hs512(key),
                Enc::Gcm => self.gcm(key),
            })
    }

    /// RFC 7518 §5.2.2.2: tag = first 32 bytes of HMAC-SHA-512(MAC key, AAD ‖ IV ‖ CT ‖ AL),
    /// checked in constant time before anything is decrypted.
    fn cbc_hs512(&self, key: &[u8]) -> Option<Vec<u8>> {
        let (mac_key, enc_key) = key.split_at(32);
        let mut mac = <Hmac<Sha512> as hmac::Mac>::new_from_slice(mac_key).ok()?;
        mac.update(self.aad);
        mac.update(&self.iv);
        mac.update(&self.ciphertext);
        let aad_bits = (self.aad.len() as u64).checked_mul(8)?;
        mac.update(&aad_bits.to_be_bytes());
        let expected = mac.finalize().into_bytes();
        if !bool::from(expected[..32].ct_eq(&self.tag)) {
            return None;
        }
        let mut buffer = self.ciphertext.clone();
        let plain = cbc::Decryptor::<aes::Aes256>::new_from_slices(enc_key, &self.iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .ok()?
            .len();
        buffer.truncate(plain);
        Some(buffer)
    }

    fn gcm(&self, key: &[u8]) -> Option<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(key).ok()?;
        let mut buffer = self.ciphertext.clone();
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&self.iv),
                self.aad,
                &mut buffer,
                Tag::from_slice(&self.tag),
            )
            .ok()?;
        Some(buffer)
    }
}

/// A stable UUID for an Auth.js token without a UUID `jti` (or a database session's token).
#[cfg(feature = "authjs")]
pub(crate) fn token_uuid(token: &str) -> uuid::Uuid {
    crate::token::labelled_uuid("sessionward authjs session id", token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret-for-rust-interop-0123456789abcdef";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[cfg(feature = "authjs")]
    #[test]
    fn keys_match_the_research_vectors() {
        let v5 = DerivedKeys::v5(SECRET, "authjs.session-token");
        assert_eq!(
            hex(v5.cbc_key().unwrap()),
            "2dc85bff851a6b22e5e9e6890705f4ed9405c22fd982dadbf2b487157ba0c1d0783661df62140cd67df024de44d544988d98c104d1485c1e48fcd066d2a814d4"
        );
        assert_eq!(
            v5.cbc.as_ref().unwrap().1,
            "1OgAC2hdywwfQgFqA7lz0sI9FDszBEoQ9EnLi409UwD_F3cyl1CBnOgs0Al0uU0b6QMZVkC0EEqgQFyoUDgtrw"
        );
        let secure = DerivedKeys::v5(SECRET, "__Secure-authjs.session-token");
        assert_eq!(
            hex(secure.cbc_key().unwrap()),
            "e378fd810155af207f13b842fc113a307e8918b92c0b35a1dbaf90616e5bb9c212383b3578e0da6535827605e444905a4fc0e053e883548f61f1aa2dfe74d2ed"
        );
        let v4 = DerivedKeys::v4(SECRET);
        assert_eq!(
            hex(v4.gcm_key().unwrap()),
            "3e007d9dc301ebfec9c8aa370b337266c5e71d824a795df65a46c4d65c1d816a"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for token in [
            "",
            ".",
            "....",
            "a.b.c.d.e",
            "a.b.c.d.e.f",
            "eyJhbGciOiJkaXIifQ....",
            &"A".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(parse(token).is_err(), "{token:.20}");
        }
    }
}
