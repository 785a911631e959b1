//! The chain itself: pure, no I/O.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use guss_core::TenantId;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The tenant whose log it is in.
    pub tenant: TenantId,
    /// Position in the log, from 1 without gaps.
    pub seq: u64,
    /// When it was appended.
    pub time: DateTime<Utc>,
    /// The event, as CloudEvents JSON (exactly the bytes that were hashed).
    pub event: String,
    /// The hash of the entry before (zeros for the first).
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    /// SHA-256 over the tenant, position, time, event and `prev_hash`.
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

/// The hash that seals an entry's fields to its predecessor.
pub(crate) fn entry_hash(
    tenant: TenantId,
    seq: u64,
    time: DateTime<Utc>,
    event: &str,
    prev_hash: &[u8; 32],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"guss-audit-entry-v1\0");
    hasher.update(tenant.as_uuid().as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(time.timestamp_micros().to_be_bytes());
    hasher.update(u64::try_from(event.len()).unwrap_or(u64::MAX).to_be_bytes());
    hasher.update(event.as_bytes());
    hasher.update(prev_hash);
    hasher.finalize().into()
}

impl Entry {
    /// The entry that follows `prev` (position and hash of the last entry),
    /// or the first entry when `prev` is `None`: what an [`AuditStore`](super::AuditStore)
    /// appends.
    pub fn next(
        tenant: TenantId,
        prev: Option<(u64, [u8; 32])>,
        time: DateTime<Utc>,
        event: String,
    ) -> Entry {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq.saturating_add(1), hash),
            None => (1, [0; 32]),
        };
        let hash = entry_hash(tenant, seq, time, &event, &prev_hash);
        Entry {
            tenant,
            seq,
            time,
            event,
            prev_hash,
            hash,
        }
    }
}

/// A signed statement that the log of `tenant` had `hash` at `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Whose log.
    pub tenant: TenantId,
    /// The position signed.
    pub seq: u64,
    /// The hash of the entry at that position.
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
    /// When it was signed.
    pub time: DateTime<Utc>,
    /// Ed25519 signature over the fields above.
    #[serde(with = "hex64")]
    pub signature: [u8; 64],
}

fn checkpoint_message(tenant: TenantId, seq: u64, hash: &[u8; 32], time: DateTime<Utc>) -> Vec<u8> {
    let mut message = b"guss-audit-checkpoint-v1\0".to_vec();
    message.extend_from_slice(tenant.as_uuid().as_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message.extend_from_slice(&time.timestamp_micros().to_be_bytes());
    message
}

impl Checkpoint {
    /// Signs the position of `entry`.
    pub(crate) fn sign(key: &SigningKey, entry: &Entry, time: DateTime<Utc>) -> Checkpoint {
        let signature = key.sign(&checkpoint_message(
            entry.tenant,
            entry.seq,
            &entry.hash,
            time,
        ));
        Checkpoint {
            tenant: entry.tenant,
            seq: entry.seq,
            hash: entry.hash,
            time,
            signature: signature.to_bytes(),
        }
    }

    /// Whether the signature is valid under `key`.
    pub fn is_signed_by(&self, key: &VerifyingKey) -> bool {
        let message = checkpoint_message(self.tenant, self.seq, &self.hash, self.time);
        key.verify(&message, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

/// What the verifier found wrong, at which position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tamper {
    /// An entry is not where its sequence number says (deleted, inserted, reordered).
    #[error("entry {found} stands where entry {expected} belongs")]
    Sequence {
        /// The position expected.
        expected: u64,
        /// The sequence number found there.
        found: u64,
    },
    /// An entry does not continue the chain (deleted, inserted, reordered).
    #[error("entry {seq} does not follow the entry before it")]
    Chain {
        /// The entry.
        seq: u64,
    },
    /// An entry's contents no longer match its hash (altered).
    #[error("entry {seq} was altered")]
    Altered {
        /// The entry.
        seq: u64,
    },
    /// An entry belongs to another tenant's log.
    #[error("entry {seq} belongs to another tenant")]
    ForeignEntry {
        /// The entry.
        seq: u64,
    },
    /// A checkpoint's signature is invalid.
    #[error("checkpoint at {seq} has an invalid signature")]
    BadSignature {
        /// The checkpoint's position.
        seq: u64,
    },
    /// What searches find an entry by no longer matches it (altered to
    /// hide it from a search or show it under another kind or person).
    #[error("the search keys of entry {seq} were altered")]
    SearchKeys {
        /// The entry.
        seq: u64,
    },
    /// The log does not match a signed checkpoint (rewritten or truncated).
    #[error("the log does not match the signed checkpoint at {seq}")]
    CheckpointMismatch {
        /// The checkpoint's position.
        seq: u64,
    },
}

/// Verifies a whole log against its checkpoints: every entry in order from
/// 1, chained and unaltered, and every checkpoint validly signed and matched.
///
/// ```
/// # use guss_policy::audit::verify;
/// # use guss_core::TenantId;
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// assert!(verify(TenantId::new(), &[], &[], &key.verifying_key()).is_ok());
/// ```
pub fn verify(
    tenant: TenantId,
    entries: &[Entry],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<(), Tamper> {
    let mut check = ChainCheck::new(tenant, checkpoints.to_vec());
    for entry in entries {
        check.entry(entry)?;
    }
    check.finish(key)
}

/// [`verify`] an entry at a time, so a long log is checked page by page
/// without holding it: what it keeps is the hashes at the checkpoints.
///
/// ```
/// # use guss_policy::audit::ChainCheck;
/// # use guss_core::TenantId;
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// let check = ChainCheck::new(TenantId::new(), Vec::new());
/// // … check.entry(&entry)? for each page of entries, in order …
/// assert!(check.finish(&key.verifying_key()).is_ok());
/// ```
#[derive(Debug)]
pub struct ChainCheck {
    tenant: TenantId,
    /// The position the next entry must have.
    next: u64,
    prev_hash: [u8; 32],
    checkpoints: Vec<Checkpoint>,
    /// The hash of each entry a checkpoint names, once seen.
    at_checkpoints: std::collections::HashMap<u64, Option<[u8; 32]>>,
}

impl ChainCheck {
    /// A check of `tenant`'s log against its `checkpoints`.
    pub fn new(tenant: TenantId, checkpoints: Vec<Checkpoint>) -> Self {
        ChainCheck {
            tenant,
            next: 1,
            prev_hash: [0u8; 32],
            at_checkpoints: checkpoints.iter().map(|c| (c.seq, None)).collect(),
            checkpoints,
        }
    }

    /// Checks the next entry of the log.
    pub fn entry(&mut self, entry: &Entry) -> Result<(), Tamper> {
        if entry.seq != self.next {
            return Err(Tamper::Sequence {
                expected: self.next,
                found: entry.seq,
            });
        }
        if entry.tenant != self.tenant {
            return Err(Tamper::ForeignEntry { seq: entry.seq });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(Tamper::Chain { seq: entry.seq });
        }
        if entry_hash(
            entry.tenant,
            entry.seq,
            entry.time,
            &entry.event,
            &entry.prev_hash,
        ) != entry.hash
        {
            return Err(Tamper::Altered { seq: entry.seq });
        }
        if let Some(hash) = self.at_checkpoints.get_mut(&entry.seq) {
            *hash = Some(entry.hash);
        }
        self.prev_hash = entry.hash;
        self.next = self.next.saturating_add(1);
        Ok(())
    }

    /// After the last entry: every checkpoint validly signed by `key` and
    /// matching the entry it names.
    pub fn finish(self, key: &VerifyingKey) -> Result<(), Tamper> {
        for checkpoint in &self.checkpoints {
            if checkpoint.tenant != self.tenant || !checkpoint.is_signed_by(key) {
                return Err(Tamper::BadSignature {
                    seq: checkpoint.seq,
                });
            }
            if self.at_checkpoints.get(&checkpoint.seq) != Some(&Some(checkpoint.hash)) {
                return Err(Tamper::CheckpointMismatch {
                    seq: checkpoint.seq,
                });
            }
        }
        Ok(())
    }
}

/// Hex for hashes and signatures in JSON exports.
mod hex32 {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        super::unhex(&text)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("expected 32 bytes in hex"))
    }
}

mod hex64 {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(d)?;
        super::unhex(&text)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("expected 64 bytes in hex"))
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // Hashes and signatures only: anything longer is not one.
    (text.len() <= 128).then(|| {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok()
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn log(tenant: TenantId, n: usize) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
        for i in 0..n {
            let prev = entries.last().map(|e| (e.seq, e.hash));
            entries.push(Entry::next(
                tenant,
                prev,
                t0 + chrono::TimeDelta::seconds(i as i64),
                format!("{{\"n\":{i}}}"),
            ));
        }
        entries
    }

    fn setup() -> (TenantId, Vec<Entry>, SigningKey, Vec<Checkpoint>) {
        let tenant = TenantId::new();
        let entries = log(tenant, 10);
        let key = SigningKey::from_bytes(&[42; 32]);
        let checkpoints = vec![
            Checkpoint::sign(&key, &entries[4], Utc::now()),
            Checkpoint::sign(&key, &entries[9], Utc::now()),
        ];
        (tenant, entries, key, checkpoints)
    }

    #[test]
    fn an_untouched_log_verifies() {
        let (tenant, entries, key, checkpoints) = setup();
        assert_eq!(
            verify(tenant, &entries, &checkpoints, &key.verifying_key()),
            Ok(())
        );
    }

    #[test]
    fn altering_an_entry_is_detected() {
        let (tenant, mut entries, key, checkpoints) = setup();
        entries[3].event = "{\"n\":999}".into();
        assert_eq!(
            verify(tenant, &entries, &checkpoints, &key.verifying_key()),
            Err(Tamper::Altered { seq: 4 })
        );
        // Re-hashing the altered entry breaks the link to the next one instead.
        entries[3].hash = entry_hash(
            tenant,
            4,
            entries[3].time,
            &entries[3].event,
            &entries[3].prev_hash,
        );
        assert_eq!(
            verify(tenant, &entries, &checkpoints, &key.verifying_key()),
            Err(Tamper::Chain { seq: 5 })
        );
    }

    #[test]
    fn deleting_inserting_and_reordering_are_detected() {
        let (tenant, entries, key, checkpoints) = setup();
        let vk = key.verifying_key();
        let mut deleted = entries.clone();
        deleted.remove(5);
        assert!(matches!(
            verify(tenant, &deleted, &checkpoints, &vk),
            Err(Tamper::Sequence {
                expected: 6,
                found: 7
            })
        ));

        let mut inserted = entries.clone();
        inserted.insert(
            2,
            Entry::next(tenant, Some((2, entries[1].hash)), Utc::now(), "{}".into()),
        );
        assert!(verify(tenant, &inserted, &checkpoints, &vk).is_err());

        let mut reordered = entries.clone();
        reordered.swap(6, 7);
        assert!(verify(tenant, &reordered, &checkpoints, &vk).is_err());
    }

    #[test]
    fn a_rewritten_or_truncated_log_fails_its_checkpoints() {
        let (tenant, entries, key, checkpoints) = setup();
        let vk = key.verifying_key();
        // A consistent but different history.
        let forged = log(tenant, 10)
            .into_iter()
            .map(|mut e| {
                e.time += chrono::TimeDelta::seconds(1);
                e
            })
            .collect::<Vec<_>>();
        let mut rechained: Vec<Entry> = Vec::new();
        for e in forged {
            let prev = rechained.last().map(|p| (p.seq, p.hash));
            rechained.push(Entry::next(tenant, prev, e.time, e.event));
        }
        assert_eq!(
            verify(tenant, &rechained, &checkpoints, &vk),
            Err(Tamper::CheckpointMismatch { seq: 5 })
        );
        assert_eq!(
            verify(tenant, &entries[..7], &checkpoints, &vk),
            Err(Tamper::CheckpointMismatch { seq: 10 })
        );
        // A checkpoint signed with another key.
        let other = SigningKey::from_bytes(&[1; 32]);
        let foreign = vec![Checkpoint::sign(&other, &entries[9], Utc::now())];
        assert_eq!(
            verify(tenant, &entries, &foreign, &vk),
            Err(Tamper::BadSignature { seq: 10 })
        );
    }

    #[test]
    fn checkpoints_round_trip_through_json() {
        let (_, _, _, checkpoints) = setup();
        let json = serde_json::to_string(&checkpoints).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<Checkpoint>>(&json).unwrap(),
            checkpoints
        );
    }
}
