//! DKIM signing keys and signatures for mail that guss submits.
//!
//! Each domain signs with two keys at once, Ed25519 and RSA 2048, as
//! RFC 8463 suggests while Ed25519 is not yet verified everywhere: receivers
//! that know Ed25519 verify the short signature, the others the RSA one
//! (RFC 8301 asks for at least 1024 bits and recommends 2048). A receiver
//! that knows only RSA sees the Ed25519 signature as one it cannot check,
//! which is harmless but can show up in DMARC reports.
//!
//! This module is pure: it makes keys, names their selectors, says when they
//! are due for rotation and signs messages. Storing keys and publishing their
//! DNS records belong to the caller.
//!
//! ```
//! use guss_mail::dkim::{self, Algorithm, DkimKey};
//!
//! let key = DkimKey::generate(Algorithm::Ed25519, "guss-ed-202611")?;
//! // Publish this TXT record at `guss-ed-202611._domainkey.example.com`.
//! let _txt = key.dns_txt();
//! let message = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n";
//! let headers = dkim::sign(message, "example.com", &[key])?;
//! assert!(headers.starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"));
//! # Ok::<(), guss_mail::dkim::DkimError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, Months, NaiveDate};
use mail_auth::common::crypto::{self, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::DkimSigner;
use ring::signature::KeyPair as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The header fields guss signs, in this order.
///
/// `From` is listed twice: the second entry never matches a field, so it
/// signs the absence of another `From` and a second one added on the way
/// breaks the signature (RFC 6376 §5.4.2, "over-signing"). Fields that the
/// message does not have are signed as absent in the same way.
pub const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "In-Reply-To",
    "References",
];

/// The key type of a DKIM key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 with SHA-256 (RFC 8463): `a=ed25519-sha256`, `k=ed25519`.
    Ed25519,
    /// RSA with SHA-256 (RFC 6376, RFC 8301): `a=rsa-sha256`, `k=rsa`.
    /// Keys guss generates have 2048 bits.
    Rsa,
}

impl Algorithm {
    /// Both algorithms, in the order guss signs with them.
    pub const ALL: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::Rsa];

    /// The `k=` value of the key's DNS record.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Rsa => "rsa",
        }
    }

    /// The `a=` value of signatures made with such a key.
    pub fn signature_algorithm(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519-sha256",
            Algorithm::Rsa => "rsa-sha256",
        }
    }

    /// The short name used in guss selectors (`ed`, `rsa`).
    fn selector_tag(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed",
            Algorithm::Rsa => "rsa",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key_type())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = DkimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" | "ed25519-sha256" | "ed" => Ok(Algorithm::Ed25519),
            "rsa" | "rsa-sha256" => Ok(Algorithm::Rsa),
            _ => Err(DkimError::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// What went wrong making a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// `sign` was given no key.
    #[error("no DKIM key to sign with")]
    NoKeys,
    /// The message has no `From` field, which every DKIM signature must cover
    /// (RFC 6376 §5.4).
    #[error("the message has no From header field, which DKIM must sign")]
    MissingFrom,
    /// The selector is not a sequence of DNS labels (RFC 6376 §3.1).
    #[error("invalid DKIM selector {0:?}")]
    InvalidSelector(String),
    /// The signing domain is not a DNS name.
    #[error("invalid DKIM signing domain {0:?}")]
    InvalidDomain(String),
    /// An algorithm name that guss does not know.
    #[error("unknown DKIM key algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The private key could not be read as a PKCS #8 key of that algorithm.
    #[error("invalid {algorithm} private key: {reason}")]
    InvalidKey {
        /// The algorithm the key was expected to have.
        algorithm: Algorithm,
        /// What the crypto library said.
        reason: String,
    },
    /// The system's random number generator failed.
    #[error("DKIM key generation failed")]
    KeyGeneration,
    /// The signer refused the message.
    #[error("DKIM signing failed: {0}")]
    Signing(String),
}

/// A DKIM signing key: its selector, its algorithm and its private key.
///
/// Cloning is cheap (the parsed key is shared). `Debug` shows the selector,
/// the algorithm and the public key only.
#[derive(Clone)]
pub struct DkimKey {
    selector: String,
    algorithm: Algorithm,
    pkcs8: Arc<[u8]>,
    public_key: Arc<[u8]>,
    signer: Arc<crypto::DkimKey>,
}

impl fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// Generates a new key: Ed25519, or RSA with 2048 bits.
    pub fn generate(algorithm: Algorithm, selector: &str) -> Result<Self, DkimError> {
        let pkcs8 = match algorithm {
            Algorithm::Ed25519 => {
                ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| DkimError::KeyGeneration)?
                    .as_ref()
                    .to_vec()
            }
            // ring cannot generate RSA keys; aws-lc-rs can, and writes PKCS #8
            // that ring reads.
            Algorithm::Rsa => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map_err(|_| DkimError::KeyGeneration)?
                .as_ref()
                .to_vec(),
        };
        Self::from_pkcs8(algorithm, selector, &pkcs8)
    }

    /// Reads a key stored with [`DkimKey::to_pkcs8`] (PKCS #8 DER; for
    /// Ed25519, version 1 and 2 documents are accepted).
    pub fn from_pkcs8(algorithm: Algorithm, selector: &str, der: &[u8]) -> Result<Self, DkimError> {
        validate_selector(selector)?;
        let invalid = |reason: String| DkimError::InvalidKey { algorithm, reason };
        let (public_key, signer) = match algorithm {
            Algorithm::Ed25519 => {
                let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| invalid(e.to_string()))?;
                let signer = Ed25519Key::from_pkcs8_maybe_unchecked_der(der)
                    .map_err(|e| invalid(e.to_string()))?;
                // RFC 8463 §4.2: the raw 32-byte public key.
                (
                    pair.public_key().as_ref().to_vec(),
                    crypto::DkimKey::Ed25519(signer),
                )
            }
            Algorithm::Rsa => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| invalid(e.to_string()))?;
                // The DER SubjectPublicKeyInfo, as opendkim, dkimpy and
                // RFC 6376's own examples publish it.
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|e| invalid(e.to_string()))?;
                let signer = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(
                    PrivatePkcs8KeyDer::from(der),
                ))
                .map_err(|e| invalid(e.to_string()))?;
                (spki.as_ref().to_vec(), crypto::DkimKey::Rsa(signer))
            }
        };
        Ok(DkimKey {
            selector: selector.to_owned(),
            algorithm,
            pkcs8: Arc::from(der),
            public_key: Arc::from(public_key),
            signer: Arc::new(signer),
        })
    }

    /// The private key as PKCS #8 DER, for the caller's key store.
    /// Treat it as a secret.
    pub fn to_pkcs8(&self) -> Vec<u8> {
        self.pkcs8.to_vec()
    }

    /// The selector (`s=`) this key signs under.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key as it goes into the DNS record's `p=` tag: base64 of
    /// the raw 32-byte key for Ed25519 (RFC 8463 §4.2), of the DER
    /// SubjectPublicKeyInfo for RSA.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(&self.public_key)
    }

    /// The DNS name the key's record is published at:
    /// `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1).
    pub fn dns_name(&self, domain: &str) -> String {
        format!(
            "{}._domainkey.{}",
            self.selector,
            domain.trim_end_matches('.')
        )
    }

    /// The key as the DNS record set for a domain takes it.
    pub fn dns_public_key(&self) -> crate::dns::DkimPublicKey {
        crate::dns::DkimPublicKey::new(self.selector(), self.algorithm(), self.public_key_base64())
    }

    /// The TXT record to publish, e.g. `v=DKIM1; k=ed25519; p=…`.
    ///
    /// An RSA 2048 record is longer than 255 octets: whoever publishes it
    /// splits it into several character-strings of one TXT record, which
    /// verifiers join again (RFC 6376 §3.6.2.2).
    pub fn dns_txt(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            self.public_key_base64()
        )
    }
}

/// Signs `message` for `domain` with every key in `keys` and returns the
/// `DKIM-Signature:` header fields to prepend to it, CRLF-terminated.
///
/// Signatures are relaxed/relaxed and cover [`SIGNED_HEADERS`]. They are
/// independent of one another: none signs another's `DKIM-Signature` field.
pub fn sign(message: &[u8], domain: &str, keys: &[DkimKey]) -> Result<String, DkimError> {
    if keys.is_empty() {
        return Err(DkimError::NoKeys);
    }
    let domain = domain.trim_end_matches('.');
    if !is_dns_name(domain) {
        return Err(DkimError::InvalidDomain(domain.to_owned()));
    }
    // RFC 6376 §5.4: "The From header field MUST be signed".
    let has_from = mail_parser::MessageParser::new()
        .parse_headers(message)
        .is_some_and(|parsed| parsed.header(mail_parser::HeaderName::From).is_some());
    if !has_from {
        return Err(DkimError::MissingFrom);
    }
    let mut fields = String::new();
    for key in keys {
        let signature = DkimSigner::from_key(SharedKey(Arc::clone(&key.signer)))
            .domain(domain)
            .selector(key.selector.as_str())
            .headers(SIGNED_HEADERS)
            .sign(message)
            .map_err(|e| DkimError::Signing(e.to_string()))?;
        fields.push_str(&signature.to_header());
    }
    Ok(fields)
}

/// A parsed key shared between clones of a [`DkimKey`].
struct SharedKey(Arc<crypto::DkimKey>);

impl SigningKey for SharedKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> crypto::Algorithm {
        self.0.algorithm()
    }
}

/// The guss selector for a key of `algorithm` created on `created`:
/// `guss-ed-202611`, `guss-rsa-202611`.
///
/// Naming selectors after their month lets old and new keys live side by
/// side in DNS during a rotation, and shows an operator at a glance how old
/// a key is.
pub fn selector_for(algorithm: Algorithm, created: NaiveDate) -> String {
    format!(
        "guss-{}-{:04}{:02}",
        algorithm.selector_tag(),
        created.year(),
        created.month()
    )
}

/// A guss selector for `algorithm` and `created` that is not in `taken`:
/// [`selector_for`], or that name with `-2`, `-3`, … appended when a key was
/// already made that month.
pub fn unique_selector(algorithm: Algorithm, created: NaiveDate, taken: &[&str]) -> String {
    let base = selector_for(algorithm, created);
    let is_taken = |name: &str| taken.iter().any(|t| t.eq_ignore_ascii_case(name));
    if !is_taken(&base) {
        return base;
    }
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !is_taken(name))
        .unwrap_or(base)
}

/// Reads back the algorithm and month from a selector made by
/// [`selector_for`] or [`unique_selector`]; the date is the first of the
/// month. `None` for selectors guss did not name.
pub fn parse_selector(selector: &str) -> Option<(Algorithm, NaiveDate)> {
    let rest = selector.strip_prefix("guss-")?;
    let (tag, rest) = rest.split_once('-')?;
    let algorithm = Algorithm::ALL
        .into_iter()
        .find(|a| a.selector_tag() == tag)?;
    let stamp = rest.split_once('-').map_or(rest, |(stamp, _)| stamp);
    if stamp.len() != 6 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = stamp.get(..4)?.parse().ok()?;
    let month = stamp.get(4..)?.parse().ok()?;
    Some((algorithm, NaiveDate::from_ymd_opt(year, month, 1)?))
}

/// A key as the caller's store knows it, for rotation planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's selector.
    pub selector: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The day it was generated.
    pub created: NaiveDate,
}

/// When keys are replaced and when replaced keys go away.
///
/// The default replaces keys every 6 months (M3AAWG recommends rotating at
/// least twice a year) and keeps a replaced key's DNS record for 7 days, so
/// that mail signed just before the switch still verifies on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// How long a key signs before a successor is generated.
    pub period: Months,
    /// How long a replaced key's DNS record stays published once its
    /// successor exists.
    pub overlap_days: u64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            period: Months::new(6),
            overlap_days: 7,
        }
    }
}

/// What to do with a domain's keys today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationPlan {
    /// Algorithms that need a new key, with the selector to give it.
    pub generate: Vec<(Algorithm, String)>,
    /// Keys that should sign no more: a newer key of their algorithm exists.
    /// Their DNS records stay until they appear in `retire`.
    pub superseded: Vec<String>,
    /// Keys whose successor is older than the overlap: delete them and
    /// their DNS records.
    pub retire: Vec<String>,
}

impl RotationPolicy {
    /// Whether a key created on `created` is due for rotation on `today`.
    pub fn is_due(&self, created: NaiveDate, today: NaiveDate) -> bool {
        created
            .checked_add_months(self.period)
            .is_none_or(|due| today >= due)
    }

    /// The rotation steps for one domain's `keys` on `today`: for each
    /// algorithm, a new key when there is none or the newest is due, and
    /// which older keys stop signing or go away.
    pub fn plan(&self, keys: &[StoredKey], today: NaiveDate) -> RotationPlan {
        let mut plan = RotationPlan::default();
        let taken: Vec<&str> = keys.iter().map(|k| k.selector.as_str()).collect();
        for algorithm in Algorithm::ALL {
            let mut of_algorithm: Vec<&StoredKey> =
                keys.iter().filter(|k| k.algorithm == algorithm).collect();
            // Newest first; the selector breaks ties the same way every time.
            of_algorithm.sort_by(|a, b| {
                b.created
                    .cmp(&a.created)
                    .then_with(|| b.selector.cmp(&a.selector))
            });
            match of_algorithm.first() {
                Some(newest) if !self.is_due(newest.created, today) => {}
                _ => plan
                    .generate
                    .push((algorithm, unique_selector(algorithm, today, &taken))),
            }
            // Each older key is replaced from the day its successor was made.
            for pair in of_algorithm.windows(2) {
                if let [newer, older] = pair {
                    let replaced_on = newer.created;
                    let gone = replaced_on
                        .checked_add_days(chrono::Days::new(self.overlap_days))
                        .is_none_or(|end| today >= end);
                    if gone {
                        plan.retire.push(older.selector.clone());
                    } else {
                        plan.superseded.push(older.selector.clone());
                    }
                }
            }
        }
        plan
    }
}

/// RFC 6376 §3.1: a selector is one or more DNS labels.
fn validate_selector(selector: &str) -> Result<(), DkimError> {
    if is_dns_name(selector) {
        Ok(())
    } else {
        Err(DkimError::InvalidSelector(selector.to_owned()))
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1–63 octets,
/// no label starting or ending with a hyphen, at most 253 octets in all.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn ed25519_key_round_trips_through_pkcs8() {
        let key = DkimKey::generate(Algorithm::Ed25519, "guss-ed-202611").unwrap();
        let again =
            DkimKey::from_pkcs8(Algorithm::Ed25519, "guss-ed-202611", &key.to_pkcs8()).unwrap();
        assert_eq!(key.public_key_base64(), again.public_key_base64());
        // 32 raw bytes are 44 base64 characters.
        assert_eq!(key.public_key_base64().len(), 44);
        assert!(key.dns_txt().starts_with("v=DKIM1; k=ed25519; p="));
    }

    #[test]
    fn rsa_key_is_2048_bits_and_publishes_its_spki() {
        let key = DkimKey::generate(Algorithm::Rsa, "guss-rsa-202611").unwrap();
        let again =
            DkimKey::from_pkcs8(Algorithm::Rsa, "guss-rsa-202611", &key.to_pkcs8()).unwrap();
        assert_eq!(key.public_key_base64(), again.public_key_base64());
        // A 2048-bit SubjectPublicKeyInfo is 294 bytes.
        assert_eq!(key.public_key.len(), 294);
        assert!(key.dns_txt().starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
    }

    #[test]
    fn wrong_algorithm_or_garbage_is_an_error() {
        let ed = DkimKey::generate(Algorithm::Ed25519, "s").unwrap();
        assert!(matches!(
            DkimKey::from_pkcs8(Algorithm::Rsa, "s", &ed.to_pkcs8()),
            Err(DkimError::InvalidKey { .. })
        ));
        assert!(DkimKey::from_pkcs8(Algorithm::Ed25519, "s", b"nonsense").is_err());
        assert!(matches!(
            DkimKey::from_pkcs8(Algorithm::Ed25519, "bad selector", &ed.to_pkcs8()),
            Err(DkimError::InvalidSelector(_))
        ));
    }

    #[test]
    fn debug_does_not_show_the_private_key() {
        let key = DkimKey::generate(Algorithm::Ed25519, "s1").unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("s1"));
        assert!(!shown.contains(&BASE64.encode(key.to_pkcs8())));
        assert!(!shown.contains("pkcs8"));
    }

    #[test]
    fn signing_needs_a_key_a_from_field_and_a_domain() {
        let key = DkimKey::generate(Algorithm::Ed25519, "s1").unwrap();
        let msg = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(sign(msg, "example.com", &[]), Err(DkimError::NoKeys));
        assert_eq!(
            sign(
                b"Subject: x\r\n\r\nbody\r\n",
                "example.com",
                std::slice::from_ref(&key)
            ),
            Err(DkimError::MissingFrom)
        );
        assert!(matches!(
            sign(msg, "exa mple.com", std::slice::from_ref(&key)),
            Err(DkimError::InvalidDomain(_))
        ));
        assert!(matches!(
            sign(msg, "example.com\r\nX-Evil: 1", &[key]),
            Err(DkimError::InvalidDomain(_))
        ));
    }

    #[test]
    fn dual_signature_has_both_algorithms_and_oversigns_from() {
        let ed = DkimKey::generate(Algorithm::Ed25519, "guss-ed-202611").unwrap();
        let rsa = DkimKey::generate(Algorithm::Rsa, "guss-rsa-202611").unwrap();
        let msg = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n";
        let fields = sign(msg, "example.com", &[ed, rsa]).unwrap();
        assert_eq!(fields.matches("DKIM-Signature:").count(), 2);
        assert!(fields.contains("a=ed25519-sha256"));
        assert!(fields.contains("a=rsa-sha256"));
        assert!(fields.contains("c=relaxed/relaxed"));
        assert!(fields.contains("s=guss-ed-202611"));
        assert!(fields.contains("d=example.com"));
        assert!(fields.ends_with("\r\n"));
        let unfolded = fields.replace("\r\n\t", "");
        // Present fields bottom-up, then the absent ones signed as absent,
        // among them the second From.
        assert!(
            unfolded.contains("h=Subject:To:From:From:Cc:Date:Message-ID:"),
            "{unfolded}"
        );
    }

    #[test]
    fn selectors_are_named_after_their_month() {
        assert_eq!(
            selector_for(Algorithm::Ed25519, date(2026, 11, 30)),
            "guss-ed-202611"
        );
        assert_eq!(
            selector_for(Algorithm::Rsa, date(2027, 2, 1)),
            "guss-rsa-202702"
        );
        assert_eq!(
            parse_selector("guss-rsa-202702"),
            Some((Algorithm::Rsa, date(2027, 2, 1)))
        );
        assert_eq!(
            parse_selector("guss-ed-202611-3"),
            Some((Algorithm::Ed25519, date(2026, 11, 1)))
        );
        assert_eq!(parse_selector("default"), None);
        assert_eq!(parse_selector("guss-ed-202613"), None);
        assert_eq!(parse_selector("guss-xx-202611"), None);
        assert_eq!(
            unique_selector(
                Algorithm::Ed25519,
                date(2026, 11, 5),
                &["guss-ed-202611", "guss-ed-202611-2"]
            ),
            "guss-ed-202611-3"
        );
    }

    #[test]
    fn rotation_generates_supersedes_and_retires() {
        let policy = RotationPolicy::default();
        let key = |selector: &str, algorithm, created| StoredKey {
            selector: selector.to_owned(),
            algorithm,
            created,
        };

        // A new domain gets one key of each algorithm.
        let plan = policy.plan(&[], date(2026, 11, 3));
        assert_eq!(
            plan.generate,
            vec![
                (Algorithm::Ed25519, "guss-ed-202611".to_owned()),
                (Algorithm::Rsa, "guss-rsa-202611".to_owned())
            ]
        );

        let keys = [
            key("guss-ed-202605", Algorithm::Ed25519, date(2026, 5, 10)),
            key("guss-rsa-202605", Algorithm::Rsa, date(2026, 5, 10)),
        ];
        assert!(!policy.is_due(date(2026, 5, 10), date(2026, 11, 9)));
        assert!(policy.is_due(date(2026, 5, 10), date(2026, 11, 10)));
        assert_eq!(
            policy.plan(&keys, date(2026, 11, 9)),
            RotationPlan::default()
        );
        let plan = policy.plan(&keys, date(2026, 11, 10));
        assert_eq!(plan.generate.len(), 2);
        assert!(plan.superseded.is_empty() && plan.retire.is_empty());

        // After the successors are made, the old keys stop signing, then go.
        let keys = [
            keys[0].clone(),
            keys[1].clone(),
            key("guss-ed-202611", Algorithm::Ed25519, date(2026, 11, 10)),
            key("guss-rsa-202611", Algorithm::Rsa, date(2026, 11, 10)),
        ];
        let plan = policy.plan(&keys, date(2026, 11, 12));
        assert!(plan.generate.is_empty());
        assert_eq!(plan.superseded, vec!["guss-ed-202605", "guss-rsa-202605"]);
        let plan = policy.plan(&keys, date(2026, 11, 17));
        assert_eq!(plan.retire, vec!["guss-ed-202605", "guss-rsa-202605"]);
        assert!(plan.superseded.is_empty());
    }
}
