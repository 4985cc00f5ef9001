//! The development sealing key and pepper, generated once into `keys` (mode 0600).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The secret key material of the demo: 32 bytes of sealing key, 32 bytes of pepper.
pub(crate) struct DevKeys {
    pub(crate) sealing: Zeroizing<[u8; 32]>,
    pub(crate) pepper: Zeroizing<[u8; 32]>,
}

/// Reads `dir/keys`, or creates it with fresh random keys (and says so loudly on stderr).
pub(crate) fn load_or_create(dir: &Path) -> Result<DevKeys> {
    let path = dir.join("keys");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = Zeroizing::new(text);
        let mut keys = DevKeys {
            sealing: Zeroizing::new([0; 32]),
            pepper: Zeroizing::new([0; 32]),
        };
        for line in text.lines() {
            if let Some(hex) = line.strip_prefix("sealing-key=") {
                decode_hex(hex, &mut keys.sealing)?;
            } else if let Some(hex) = line.strip_prefix("pepper=") {
                decode_hex(hex, &mut keys.pepper)?;
            }
        }
        if keys.sealing.iter().all(|b| *b == 0) || keys.pepper.iter().all(|b| *b == 0) {
            return Err(Error::Config(format!("{} lacks a key", path.display())));
        }
        return Ok(keys);
    }
    let mut keys = DevKeys {
        sealing: Zeroizing::new([0; 32]),
        pepper: Zeroizing::new([0; 32]),
    };
    getrandom::fill(keys.sealing.as_mut_slice()).map_err(|_| mfa::core::Error::Rng)?;
    getrandom::fill(keys.pepper.as_mut_slice()).map_err(|_| mfa::core::Error::Rng)?;
    let text = Zeroizing::new(format!(
        "# mfa-demo DEVELOPMENT keys: never use in production\nsealing-key={}\npepper={}\n",
        encode_hex(keys.sealing.as_slice()).as_str(),
        encode_hex(keys.pepper.as_slice()).as_str()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    #[allow(
        clippy::print_stderr,
        reason = "the warning about development keys must be seen by whoever starts the demo"
    )]
    {
        eprintln!(
            "\n!!! WARNING: generated DEVELOPMENT sealing key and pepper in {} (mode 0600).\n\
             !!! They protect every TOTP secret and code digest of this demo. Never use them in\n\
             !!! production: load real keys from a secret manager instead.\n",
            path.display()
        );
    }
    Ok(keys)
}

fn encode_hex(bytes: &[u8]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn decode_hex(hex: &str, out: &mut [u8; 32]) -> Result<()> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return Err(Error::Config(
            "a development key is not 64 hex digits".into(),
        ));
    }
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(Error::Config("a development key is not hex".into()));
        };
        *slot = (hi << 4) | lo;
    }
    Ok(())
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(*first.sealing, *again.sealing);
        assert_eq!(*first.pepper, *again.pepper);
        assert_ne!(*first.sealing, *first.pepper);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
