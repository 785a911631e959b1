//! Random secrets and how they are kept: tokens hashed with SHA-256 (they are
//! 256-bit random, so a fast hash suffices), app passwords with Argon2id (they
//! are typed into devices and may end up in config files).

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use data_encoding::Encoding;
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::{Error, Result};

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::invalid("random source", "unavailable"))?;
    Ok(bytes)
}

/// A new opaque token (256 bits, base64url) and its hash for storage.
pub(crate) fn new_token() -> Result<(String, Vec<u8>)> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>()?);
    let hash = hash_token(&token);
    Ok((token, hash))
}

/// What is stored for a token: its SHA-256.
pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// Longest token accepted from a client (ours are 43 characters).
pub(crate) const MAX_TOKEN: guss_core::Limit = guss_core::Limit::new("token length", 128);

/// Base32 without look-alikes (no 0/o, 1/l): app passwords are typed on phones.
fn app_password_alphabet() -> Encoding {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("abcdefghijkmnpqrstuvwxyz23456789");
    #[allow(clippy::expect_used)] // a constant, valid specification
    spec.encoding().expect("a valid base32 alphabet")
}

/// Characters of an app password that are stored in clear to find it.
const LOOKUP_LEN: usize = 8;

/// A new app password: 160 random bits as 32 characters in groups of four,
/// e.g. `abcd-efgh-…`. Returns the password, its lookup prefix and its
/// Argon2id hash.
pub(crate) fn new_app_password() -> Result<(String, String, String)> {
    let raw = app_password_alphabet().encode(&random::<20>()?);
    let lookup = raw.get(..LOOKUP_LEN).unwrap_or_default().to_owned();
    let grouped = raw
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let hash = hash_app_password(&raw)?;
    Ok((grouped, lookup, hash))
}

/// The normalized form of a typed app password (dashes, spaces and case
/// ignored) and its lookup prefix, or `None` if it cannot be one of ours.
pub(crate) fn normalize_app_password(typed: &str) -> Option<(String, String)> {
    if typed.len() > 64 {
        return None;
    }
    let raw: String = typed
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if raw.len() != 32 || app_password_alphabet().decode(raw.as_bytes()).is_err() {
        return None;
    }
    let lookup = raw.get(..LOOKUP_LEN)?.to_owned();
    Some((raw, lookup))
}

fn hash_app_password(raw: &str) -> Result<String> {
    let salt = random::<16>()?;
    argon2::Argon2::default()
        .hash_password_with_salt(raw.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::invalid("app password hash", e.to_string()))
}

/// Whether `raw` (normalized) matches a stored Argon2id hash.
pub(crate) fn verify_app_password(raw: &str, hash: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(raw.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_passwords_round_trip_and_tolerate_typing() {
        let (password, lookup, hash) = new_app_password().unwrap();
        assert_eq!(password.len(), 32 + 7, "{password}");
        let typed = password.to_uppercase().replace('-', " ");
        let (raw, typed_lookup) = normalize_app_password(&typed).unwrap();
        assert_eq!(typed_lookup, lookup);
        assert!(verify_app_password(&raw, &hash));
        assert!(hash.starts_with("$argon2id$"));
        let (other, _) = normalize_app_password(&new_app_password().unwrap().0).unwrap();
        assert!(!verify_app_password(&other, &hash));
    }

    #[test]
    fn foreign_strings_are_not_app_passwords() {
        for typed in [
            "",
            "hunter2",
            &"a".repeat(31),
            &"0".repeat(32),
            &"a".repeat(100),
        ] {
            assert!(normalize_app_password(typed).is_none(), "{typed}");
        }
    }

    #[test]
    fn tokens_are_256_bits_and_hashed() {
        let (token, hash) = new_token().unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .unwrap()
                .len(),
            32
        );
        assert_eq!(hash, hash_token(&token));
        assert_eq!(hash.len(), 32);
    }
}
