//! Keys: the server's master key wraps one random data key per tenant; the
//! tenant's keys name chunks (keyed BLAKE3) and seal them (AES-256-GCM).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::{Error, Result};

/// Largest chunk a sealed blob may decompress to.
pub const MAX_CHUNK: usize = 4 * 1024 * 1024;

const FORMAT: u8 = 1;
const COMPRESSED: u8 = 1;
const TAG_LEN: usize = 16;

/// A chunk's name: the keyed BLAKE3 hash of its plaintext.
pub type ChunkId = [u8; 32];

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Backend("random source unavailable".into()))?;
    Ok(bytes)
}

fn aead(key: &[u8; 32]) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Backend("AES key".into()))?,
    ))
}

fn seal_with(
    key: &LessSafeKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; NONCE_LEN])> {
    let nonce = random::<NONCE_LEN>()?;
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buffer,
    )
    .map_err(|_| Error::Backend("sealing failed".into()))?;
    Ok((buffer, nonce))
}

fn open_with<'a>(
    key: &LessSafeKey,
    aad: &[u8],
    nonce: &[u8],
    sealed: &'a mut [u8],
) -> Result<&'a mut [u8]> {
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Integrity)?;
    key.open_in_place(nonce, Aad::from(aad), sealed)
        .map_err(|_| Error::Integrity)
}

/// The server's master key (from its configuration or key store).
pub struct MasterKey(LessSafeKey);

impl MasterKey {
    /// The master key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        #[allow(clippy::expect_used)] // 32 bytes are always a valid AES-256 key
        MasterKey(aead(&bytes).expect("a 32-byte AES-256 key"))
    }
}

/// One tenant's keys, unwrapped.
pub struct TenantKeys {
    id_key: [u8; 32],
    seal_key: LessSafeKey,
}

impl TenantKeys {
    fn derive(secret: &[u8; 32]) -> Result<Self> {
        Ok(TenantKeys {
            id_key: blake3::derive_key("guss-storage 2026 chunk ids", secret),
            seal_key: aead(&blake3::derive_key(
                "guss-storage 2026 chunk sealing",
                secret,
            ))?,
        })
    }

    /// New keys for a tenant, and their wrapped form to store with the
    /// tenant (`tenant` binds the wrapping to it).
    pub fn generate(master: &MasterKey, tenant: &[u8]) -> Result<(Self, Vec<u8>)> {
        let secret = random::<32>()?;
        let (sealed, nonce) = seal_with(&master.0, &wrapping_aad(tenant), &secret)?;
        let mut wrapped = vec![FORMAT];
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok((Self::derive(&secret)?, wrapped))
    }

    /// The keys from their wrapped form.
    pub fn unwrap(master: &MasterKey, tenant: &[u8], wrapped: &[u8]) -> Result<Self> {
        let (&format, rest) = wrapped.split_first().ok_or(Error::Integrity)?;
        if format != FORMAT {
            return Err(Error::Format(format));
        }
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(Error::Integrity)?;
        let mut sealed = sealed.to_vec();
        let secret = open_with(&master.0, &wrapping_aad(tenant), nonce, &mut sealed)?;
        let secret: [u8; 32] = (&*secret).try_into().map_err(|_| Error::Integrity)?;
        Self::derive(&secret)
    }

    /// The id of a chunk: equal chunks get equal ids within the tenant, and
    /// ids of different tenants cannot be compared.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        *blake3::keyed_hash(&self.id_key, plaintext).as_bytes()
    }

    /// Compresses (when that saves) and seals a chunk, bound to its id.
    pub fn seal(&self, id: &ChunkId, plaintext: &[u8]) -> Result<Vec<u8>> {
        if plaintext.len() > MAX_CHUNK {
            return Err(Error::LimitExceeded {
                what: "chunk size",
                limit: MAX_CHUNK as u64,
            });
        }
        let compressed =
            zstd::bulk::compress(plaintext, 1).map_err(|e| Error::Backend(e.to_string()))?;
        // Incompressible chunks (photos, PDFs, archives) are stored as they are.
        let (flags, body) = if compressed.len() < plaintext.len() - plaintext.len() / 16 {
            (COMPRESSED, compressed.as_slice())
        } else {
            (0, plaintext)
        };
        let (sealed, nonce) = seal_with(&self.seal_key, id, body)?;
        let mut out = Vec::with_capacity(2 + NONCE_LEN + sealed.len());
        out.push(FORMAT);
        out.push(flags);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed chunk and checks that it is the chunk named `id`.
    pub fn open(&self, id: &ChunkId, sealed: &[u8]) -> Result<Vec<u8>> {
        let [format, flags, rest @ ..] = sealed else {
            return Err(Error::Integrity);
        };
        if *format != FORMAT {
            return Err(Error::Format(*format));
        }
        let (nonce, body) = rest.split_at_checked(NONCE_LEN).ok_or(Error::Integrity)?;
        if body.len() < TAG_LEN {
            return Err(Error::Integrity);
        }
        let mut body = body.to_vec();
        let plain = open_with(&self.seal_key, id, nonce, &mut body)?;
        let plaintext = if flags & COMPRESSED != 0 {
            zstd::bulk::decompress(plain, MAX_CHUNK).map_err(|_| Error::LimitExceeded {
                what: "decompressed chunk",
                limit: MAX_CHUNK as u64,
            })?
        } else {
            plain.to_vec()
        };
        // The id is a hash of the plaintext: a second check that costs little.
        if self.chunk_id(&plaintext) != *id {
            return Err(Error::Integrity);
        }
        Ok(plaintext)
    }
}

fn wrapping_aad(tenant: &[u8]) -> Vec<u8> {
    [b"guss-storage tenant key v1\0".as_slice(), tenant].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (MasterKey, TenantKeys, Vec<u8>) {
        let master = MasterKey::from_bytes([1; 32]);
        let (keys, wrapped) = TenantKeys::generate(&master, b"t1").unwrap();
        (master, keys, wrapped)
    }

    #[test]
    fn compressible_and_incompressible_chunks_round_trip() {
        let (_, keys, _) = keys();
        let text = "Sehr geehrte Damen und Herren, ".repeat(2000).into_bytes();
        let noise: Vec<u8> = (0..60_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for data in [&text, &noise, &Vec::new()] {
            let id = keys.chunk_id(data);
            let sealed = keys.seal(&id, data).unwrap();
            assert_eq!(&keys.open(&id, &sealed).unwrap(), data);
        }
        let id = keys.chunk_id(&text);
        assert!(
            keys.seal(&id, &text).unwrap().len() < text.len() / 10,
            "text compresses"
        );
    }

    #[test]
    fn tampering_and_mixups_are_detected() {
        let (master, keys, wrapped) = keys();
        let data = b"contract v2".to_vec();
        let id = keys.chunk_id(&data);
        let mut sealed = keys.seal(&id, &data).unwrap();
        // Another chunk's id.
        assert!(matches!(
            keys.open(&keys.chunk_id(b"other"), &sealed),
            Err(Error::Integrity)
        ));
        // Another tenant's keys.
        let (other, _) = TenantKeys::generate(&master, b"t2").unwrap();
        assert!(matches!(other.open(&id, &sealed), Err(Error::Integrity)));
        assert_ne!(other.chunk_id(&data), id, "ids do not match across tenants");
        // A flipped bit, a truncation, a foreign format.
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(keys.open(&id, &sealed).is_err());
        assert!(keys.open(&id, &sealed[..5]).is_err());
        assert!(matches!(keys.open(&id, &[9, 0]), Err(Error::Format(9))));
        // The wrapped key is bound to its tenant and master key.
        assert!(TenantKeys::unwrap(&master, b"t1", &wrapped).is_ok());
        assert!(TenantKeys::unwrap(&master, b"t2", &wrapped).is_err());
        assert!(TenantKeys::unwrap(&MasterKey::from_bytes([2; 32]), b"t1", &wrapped).is_err());
        assert!(TenantKeys::unwrap(&master, b"t1", &wrapped[..10]).is_err());
    }
}
