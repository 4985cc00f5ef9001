//! `-v`: the parameters block that `oathtool -v` prints before its codes, line for line.
//!
//! Like oathtool's, the block shows the key (in hex and base32) so that an operator can see
//! how it was decoded; it is built in a buffer that is zeroized when dropped. Where oathtool
//! has no such parameter (HOTP over SHA-256 or SHA-512) one line is added, and only then, so
//! that every run oathtool can also do prints exactly what oathtool prints.

use mfa_core::{Algorithm, Code, Digits, Period, Secret};
use zeroize::Zeroizing;

use crate::time::utc;

/// What is being computed or checked, and from where.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// HOTP from `counter`.
    Hotp {
        /// The HMAC hash function.
        algorithm: Algorithm,
        /// The first counter.
        counter: u64,
    },
    /// TOTP at Unix time `time`, in time step `step`.
    Totp {
        /// The HMAC hash function.
        algorithm: Algorithm,
        /// Seconds per step.
        period: Period,
        /// Unix time step 0 starts at.
        t0: u64,
        /// The Unix time.
        time: u64,
        /// The time step `time` falls in.
        step: u64,
    },
}

/// The parameters of one run, as `-v` shows them.
pub(crate) struct Parameters<'a> {
    /// The key.
    pub(crate) secret: &'a Secret,
    /// The code being checked (`mfa verify`), if any.
    pub(crate) code: Option<&'a Code>,
    /// Digits per code.
    pub(crate) digits: Digits,
    /// The window: extra codes printed, or steps or counters tried.
    pub(crate) window: u32,
    /// HOTP or TOTP and their own parameters.
    pub(crate) mode: Mode,
}

impl Parameters<'_> {
    /// The block, ending with the blank line oathtool puts before its result.
    pub(crate) fn render(&self) -> Zeroizing<String> {
        // Room for the key in hex (2 characters a byte) and padded base32 (1.6) and the other
        // lines, so that the buffer never grows and leaves a copy of the key behind.
        let key_len = self.secret.expose_bytes().len();
        let mut out = Zeroizing::new(String::with_capacity(4 * key_len + 512));
        out.push_str("Hex secret: ");
        push_hex(&mut out, self.secret.expose_bytes());
        out.push_str("\nBase32 secret: ");
        push_padded_base32(&mut out, self.secret);
        if let Some(code) = self.code {
            out.push_str("\nOTP: ");
            out.push_str(&code.expose());
        }
        out.push_str(&format!(
            "\nDigits: {}\nWindow size: {}\n",
            self.digits.get(),
            self.window
        ));
        out.push_str(&mode_lines(self.mode));
        out
    }
}

/// The lines that depend on the mode, none of them secret.
fn mode_lines(mode: Mode) -> String {
    match mode {
        Mode::Hotp { algorithm, counter } => {
            // oathtool's HOTP is SHA-1 only and says nothing of the hash.
            let hash = if algorithm == Algorithm::Sha1 {
                String::new()
            } else {
                format!("HOTP mode: {}\n", algorithm.as_str())
            };
            format!("{hash}Start counter: 0x{counter:X} ({counter})\n\n")
        }
        Mode::Totp {
            algorithm,
            period,
            t0,
            time,
            step,
        } => format!(
            "TOTP mode: {}\nStep size (seconds): {}\nStart time: {} ({t0})\n\
             Current time: {} ({time})\nCounter: 0x{step:X} ({step})\n\n",
            algorithm.as_str(),
            period.as_secs(),
            utc(t0),
            utc(time),
        ),
    }
}

/// Appends `bytes` in lower-case hex, one character at a time, so that no unzeroized copy of
/// the key is made on the way.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// Appends the key in base32 with RFC 4648 `=` padding, as oathtool prints it.
fn push_padded_base32(out: &mut String, secret: &Secret) {
    let base32 = secret.to_base32();
    out.push_str(&base32);
    let padding = (8 - base32.len() % 8) % 8;
    out.extend(core::iter::repeat_n('=', padding));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn totp_block_as_oathtool_prints_it() {
        // `oathtool -v --totp -d 8 -N @59 3132333435363738393031323334353637383930`
        let secret = rfc_secret();
        let block = Parameters {
            secret: &secret,
            code: None,
            digits: Digits::new(8).unwrap(),
            window: 0,
            mode: Mode::Totp {
                algorithm: Algorithm::Sha1,
                period: Period::from_secs(30).unwrap(),
                t0: 0,
                time: 59,
                step: 1,
            },
        }
        .render();
        assert_eq!(
            block.as_str(),
            "Hex secret: 3132333435363738393031323334353637383930\n\
             Base32 secret: GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n\
             Digits: 8\n\
             Window size: 0\n\
             TOTP mode: SHA1\n\
             Step size (seconds): 30\n\
             Start time: 1970-01-01 00:00:00 UTC (0)\n\
             Current time: 1970-01-01 00:00:59 UTC (59)\n\
             Counter: 0x1 (1)\n\n"
        );
    }

    #[test]
    fn hotp_block_with_a_code_and_padded_base32() {
        // `oathtool -v -w 3 -c 255 31323334353637383930313233343536 287082`, but for the
        // SHA-256 line, which oathtool (SHA-1 only in HOTP mode) never prints.
        let secret = Secret::from_bytes(b"1234567890123456").unwrap();
        let code = Code::parse("287082", Digits::new(6).unwrap()).unwrap();
        let block = Parameters {
            secret: &secret,
            code: Some(&code),
            digits: Digits::new(6).unwrap(),
            window: 3,
            mode: Mode::Hotp {
                algorithm: Algorithm::Sha256,
                counter: 255,
            },
        }
        .render();
        assert_eq!(
            block.as_str(),
            "Hex secret: 31323334353637383930313233343536\n\
             Base32 secret: GEZDGNBVGY3TQOJQGEZDGNBVGY======\n\
             OTP: 287082\n\
             Digits: 6\n\
             Window size: 3\n\
             HOTP mode: SHA256\n\
             Start counter: 0xFF (255)\n\n"
        );
    }
}
