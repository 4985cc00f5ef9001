//! Reading keys, codes and URIs from the command line, standard input or a file.
//!
//! Keys are imported with `mfa-core`'s *legacy* importers, which accept secrets from 80 bits
//! up instead of the 128 bits required of new secrets: the `mfa` command exists to check keys
//! that providers have already issued, some of them shorter than RFC 4226 recommends. New
//! secrets (`mfa secret`) are never shorter than 128 bits.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use mfa_core::Secret;
use zeroize::Zeroizing;

use crate::cli::KeyArg;
use crate::error::CliError;

/// The argument that means "read the value from standard input".
const STDIN: &str = "-";

/// The prefix that means "read the value from this file", as oathtool writes it.
const FILE_PREFIX: char = '@';

/// The longest line read from standard input or a file. A 2048-bit key is 410 base32
/// characters; a Key URI with a long issuer and image URL stays far below this. The bound
/// keeps `@/dev/zero` from filling memory.
const MAX_LINE: usize = 64 * 1024;

/// The value of an argument that may hold a secret: the argument itself; for `-` the next line
/// of standard input; for `@FILE` the first line of FILE. Line endings are dropped.
pub(crate) fn argument(value: &str) -> Result<Zeroizing<String>, CliError> {
    if value == STDIN {
        return first_line(io::stdin().lock(), "standard input").map_err(CliError::ReadStdin);
    }
    if let Some(path) = value.strip_prefix(FILE_PREFIX) {
        let path = Path::new(path);
        let read = File::open(path).and_then(|file| first_line(BufReader::new(file), "the file"));
        return read.map_err(|source| CliError::ReadFile {
            path: path.to_owned(),
            source,
        });
    }
    Ok(Zeroizing::new(value.to_owned()))
}

/// The next line of `reader` without its line ending, at most [`MAX_LINE`] bytes long.
///
/// The buffer is allocated at its final size before reading, so that growing it never leaves
/// a copy of the secret behind in freed memory; it is zeroized when dropped.
fn first_line(reader: impl BufRead, what: &str) -> io::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::with_capacity(MAX_LINE + 1));
    reader.take(MAX_LINE as u64 + 1).read_line(&mut line)?;
    if line.len() > MAX_LINE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the first line of {what} is longer than {MAX_LINE} bytes"),
        ));
    }
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
    fn a_line_is_read_up_to_its_ending_and_no_further() {
        let mut input = io::Cursor::new("GEZDGNBV\r\n123456\n".as_bytes());
        assert_eq!(first_line(&mut input, "x").unwrap().as_str(), "GEZDGNBV");
        assert_eq!(first_line(&mut input, "x").unwrap().as_str(), "123456");
        assert_eq!(first_line(&mut input, "x").unwrap().as_str(), "");
    }

    #[test]
    fn an_endless_line_is_refused_at_the_bound() {
        let endless = io::repeat(b'A');
        let err = first_line(BufReader::new(endless), "the file").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than 65536 bytes"), "{err}");
        let exact = "A".repeat(MAX_LINE);
        let line = first_line(io::Cursor::new(exact.as_bytes()), "x").unwrap();
        assert_eq!(line.len(), MAX_LINE);
    }

    #[test]
    fn a_missing_key_file_names_the_file() {
        let err = argument("@/nonexistent-dir/key").unwrap_err();
        assert!(
            matches!(err, CliError::ReadFile { ref path, .. } if path == Path::new("/nonexistent-dir/key"))
        );
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
