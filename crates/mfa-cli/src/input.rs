//! Reading keys, codes and URIs from the command line or standard input.
//!
//! Keys are imported with `mfa-core`'s *legacy* importers, which accept secrets from 80 bits
//! up instead of the 128 bits required of new secrets: the `mfa` command exists to check keys
//! that providers have already issued, some of them shorter than RFC 4226 recommends. New
//! secrets (`mfa secret`) are never shorter than 128 bits.

use std::io::{self, BufRead};

use mfa_core::Secret;
use zeroize::Zeroizing;

use crate::cli::KeyArg;
use crate::error::CliError;

/// The argument that means "read the value from standard input".
const STDIN: &str = "-";

/// The value of an argument that may hold a secret: the argument itself, or for `-` the
/// first line of standard input without its line ending.
pub(crate) fn argument(value: &str) -> Result<Zeroizing<String>, CliError> {
    if value != STDIN {
        return Ok(Zeroizing::new(value.to_owned()));
    }
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::ReadStdin)?;
    let kept = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(kept);
    Ok(line)
}

/// The secret named by a KEY argument: base32, or hexadecimal with `--hex`, at least 80 bits.
pub(crate) fn secret(arg: &KeyArg) -> Result<Secret, CliError> {
    let text = argument(&arg.key)?;
    let secret = if arg.hex {
        Secret::from_hex_legacy(&text)?
    } else {
        Secret::from_base32_legacy(&text)?
    };
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str, hex: bool) -> KeyArg {
        KeyArg {
            key: key.to_owned(),
            hex,
        }
    }

    #[test]
    fn keys_of_80_bits_are_accepted_for_checking_existing_keys() {
        // 10 bytes = 80 bits: below the 128-bit minimum for new secrets, above the legacy one.
        let s = secret(&key("GEZDGNBVGY3TQOJQ", false)).unwrap();
        assert_eq!(s.len_bits(), 80);
        let s = secret(&key("31323334353637383930", true)).unwrap();
        assert_eq!(s.expose_bytes(), b"1234567890");
    }

    #[test]
    fn shorter_or_malformed_keys_are_refused() {
        assert!(matches!(
            secret(&key("GEZDGNBV", false)),
            Err(CliError::Core(mfa_core::Error::SecretTooShort { .. }))
        ));
        assert!(matches!(
            secret(&key("GEZDGNBVGY3TQOJ1", false)),
            Err(CliError::Core(mfa_core::Error::InvalidBase32))
        ));
        assert!(matches!(
            secret(&key("3132333435363738393G", true)),
            Err(CliError::Core(mfa_core::Error::InvalidHex))
        ));
    }
}
