//! Validated OTP parameters: hash algorithm, number of digits, TOTP period and skew.
//!
//! Each type can only hold a valid value, so the engine never checks them again.

use core::fmt;
use core::num::NonZeroU64;
use core::str::FromStr;

use crate::error::{Error, Result};

/// The HMAC hash function of an HOTP/TOTP generator (RFC 6238 section 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1, what RFC 4226 specifies and every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth:// URIs: `SHA1`, `SHA256` or `SHA512`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parses `SHA1`, `SHA256` or `SHA512`, ignoring case and an optional dash (`sha-256`).
    fn from_str(s: &str) -> Result<Self> {
        let mut name = [0u8; 6];
        let mut len = 0usize;
        for b in s.bytes().filter(|&b| b != b'-') {
            let slot = name.get_mut(len).ok_or(Error::UnknownAlgorithm)?;
            *slot = b.to_ascii_uppercase();
            len = len.saturating_add(1);
        }
        match name.get(..len) {
            Some(b"SHA1") => Ok(Self::Sha1),
            Some(b"SHA256") => Ok(Self::Sha256),
            Some(b"SHA512") => Ok(Self::Sha512),
            _ => Err(Error::UnknownAlgorithm),
        }
    }
}

/// The number of decimal digits of a code: 6 to 10 inclusive.
///
/// RFC 4226 asks for at least 6; 10 is the most a 31-bit dynamic truncation can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits(u8);

impl Digits {
    /// Six digits, the default of every authenticator app.
    pub const SIX: Self = Self(6);
    /// Eight digits.
    pub const EIGHT: Self = Self(8);
    /// The fewest digits accepted.
    pub const MIN: u32 = 6;
    /// The most digits accepted.
    pub const MAX: u32 = 10;

    /// Validates a number of digits.
    ///
    /// # Errors
    /// [`Error::InvalidDigits`] unless `6 <= digits <= 10`.
    pub const fn new(digits: u32) -> Result<Self> {
        if digits >= Self::MIN && digits <= Self::MAX {
            #[allow(clippy::cast_possible_truncation)] // at most 10
            Ok(Self(digits as u8))
        } else {
            Err(Error::InvalidDigits(digits))
        }
    }

    /// The number of digits.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0 as u32
    }

    /// `10^digits`, the modulus of the truncated HMAC value. At most `10^10`, so it fits a `u64`.
    #[must_use]
    pub(crate) const fn modulus(self) -> NonZeroU64 {
        match NonZeroU64::new(10u64.pow(self.0 as u32)) {
            Some(m) => m,
            None => NonZeroU64::MIN, // unreachable: 10^n is never zero
        }
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The length of a TOTP time step, in seconds; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period(NonZeroU64);

impl Period {
    /// Thirty seconds, the RFC 6238 default and what every authenticator app assumes.
    pub const THIRTY_SECONDS: Self = Self(NonZeroU64::MIN.saturating_add(29));

    /// Validates a period in seconds.
    ///
    /// # Errors
    /// [`Error::ZeroPeriod`] if `seconds` is zero.
    pub const fn from_secs(seconds: u64) -> Result<Self> {
        match NonZeroU64::new(seconds) {
            Some(p) => Ok(Self(p)),
            None => Err(Error::ZeroPeriod),
        }
    }

    /// The period in seconds.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0.get()
    }

    pub(crate) const fn get(self) -> NonZeroU64 {
        self.0
    }
}

impl Default for Period {
    fn default() -> Self {
        Self::THIRTY_SECONDS
    }
}

/// How many time steps before and after the current one verification also accepts.
///
/// RFC 6238 section 5.2 recommends at most one step back for network delay; clock drift may
/// call for a step forward. The two are separate because they answer different risks: a code
/// from the past may have been observed, a code from the future cannot have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Skew {
    /// Steps accepted before the current one.
    pub back: u8,
    /// Steps accepted after the current one.
    pub forward: u8,
}

impl Skew {
    /// Only the current step.
    pub const NONE: Self = Self {
        back: 0,
        forward: 0,
    };
    /// One step each way: the default, and what the seed flows ask for.
    pub const ONE_STEP: Self = Self {
        back: 1,
        forward: 1,
    };

    /// The same number of steps each way.
    #[must_use]
    pub const fn symmetric(steps: u8) -> Self {
        Self {
            back: steps,
            forward: steps,
        }
    }
}

impl Default for Skew {
    fn default() -> Self {
        Self::ONE_STEP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_and_ignore_case() {
        for alg in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.as_str().to_lowercase().parse::<Algorithm>(), Ok(alg));
        }
        assert_eq!("sha-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
        for bad in ["", "MD5", "SHA", "SHA384", "SHA1SHA1", "ＳＨＡ1"] {
            assert_eq!(
                bad.parse::<Algorithm>(),
                Err(Error::UnknownAlgorithm),
                "{bad}"
            );
        }
    }

    #[test]
    fn parameters_display_as_key_uris_write_them() {
        // `algorithm=SHA256` and `digits=8` in a key URI (Google's Key Uri Format).
        let shown: Vec<String> = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["SHA1", "SHA256", "SHA512"]);
        assert_eq!(Digits::new(8).map(|d| d.to_string()), Ok("8".to_owned()));
        assert_eq!(format!("{:>3}", Digits::SIX), "  6");
    }

    #[test]
    fn digits_accept_six_to_ten_only() {
        for d in 0..=100 {
            assert_eq!(Digits::new(d).is_ok(), (6..=10).contains(&d), "{d}");
        }
        assert_eq!(Digits::new(u32::MAX), Err(Error::InvalidDigits(u32::MAX)));
        assert_eq!(
            Digits::new(10).map(|d| d.modulus().get()),
            Ok(10_000_000_000)
        );
    }

    #[test]
    fn period_refuses_zero() {
        assert_eq!(Period::from_secs(0), Err(Error::ZeroPeriod));
        assert_eq!(Period::THIRTY_SECONDS.as_secs(), 30);
        assert_eq!(
            Period::from_secs(u64::MAX).map(Period::as_secs),
            Ok(u64::MAX)
        );
    }
}
