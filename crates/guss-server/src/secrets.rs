//! The server's own secrets: random 32-byte keys kept in files of the data
//! directory (mode 0600), made on first start.
//!
//! Processes that share one PostgreSQL and S3 must share these files too
//! (copy them, or mount one directory): the master key unwraps every
//! organisation's file keys and the audit key signs the audit checkpoints.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use ring::rand::{SecureRandom as _, SystemRandom};

/// The key in `path`, made (and synced) if the file does not exist yet.
pub fn key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => {
            return bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    }
    let key = random_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
        Err(e) => Err(e).with_context(|| format!("create {}", path.display())),
    }
}

/// 32 random bytes.
pub fn random_key() -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("the system has no randomness"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.key");
        let first = key_file(&path).unwrap();
        assert_eq!(key_file(&path).unwrap(), first);
        assert_ne!(first, [0; 32]);
        std::fs::write(&path, b"short").unwrap();
        assert!(key_file(&path).is_err());
    }
}
