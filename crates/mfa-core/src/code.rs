//! Numeric one-time codes: what an authenticator shows, what email and SMS carry, what a
//! person types back.

use core::fmt;

use rand_core::CryptoRng;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::params::Digits;

/// A numeric one-time code of 6 to 10 digits.
///
/// Made by an [`Hotp`](crate::Hotp)/[`Totp`](crate::Totp) generator, drawn at random for
/// delivery by email or SMS ([`Code::generate`]), or parsed from what a person typed
/// ([`Code::parse`]). Zeroized on drop, redacted in `Debug`, compared in constant time; the
/// digits come out only through [`Code::expose`].
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Code {
    value: u64,
    #[zeroize(skip)]
    digits: Digits,
}

impl Code {
    /// A code from its numeric value; `value` is already reduced modulo `10^digits`.
    pub(crate) fn from_value(value: u64, digits: Digits) -> Self {
        Self { value, digits }
    }

    /// Parses what a person typed, expecting exactly `digits` digits.
    ///
    /// Spaces (including the no-break and ideographic spaces), dashes and dots between digit
    /// groups are ignored, and full-width digits (`０`-`９`, as East Asian input methods type
    /// them) count as digits. Anything else is an error, never a panic.
    ///
    /// ```
    /// use mfa_core::{Code, Digits};
    /// let a = Code::parse("123 456", Digits::SIX)?;
    /// let b = Code::parse("１２３-４５６", Digits::SIX)?;
    /// assert!(a.ct_eq(&b));
    /// assert!(Code::parse("12345", Digits::SIX).is_err());
    /// # Ok::<(), mfa_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::MalformedCode`] for any other character or a wrong number of digits.
    pub fn parse(input: &str, digits: Digits) -> Result<Self> {
        let malformed = Error::MalformedCode {
            expected: digits.get(),
        };
        let mut value = 0u64;
        let mut count = 0u32;
        for c in input.chars() {
            let digit = match c {
                '0'..='9' => u32::from(c).wrapping_sub(u32::from('0')),
                '０'..='９' => u32::from(c).wrapping_sub(u32::from('０')),
                ' ' | '\t' | '-' | '.' | '\u{a0}' | '\u{2009}' | '\u{202f}' | '\u{3000}' | '－' => {
                    continue;
                }
                _ => return Err(malformed),
            };
            count = count.saturating_add(1);
            if count > digits.get() {
                return Err(malformed);
            }
            // At most 10 digits: value < 10^10, no overflow.
            value = value.saturating_mul(10).saturating_add(u64::from(digit));
        }
        if count != digits.get() {
            return Err(malformed);
        }
        Ok(Self { value, digits })
    }

    /// Draws a code uniformly from `0 ..= 10^digits - 1` with the operating system's RNG.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn generate(digits: Digits) -> Result<Self> {
        uniform(digits, || getrandom::u64().map_err(|_| Error::Rng))
    }

    /// Draws a code uniformly from `0 ..= 10^digits - 1` with the given RNG.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R, digits: Digits) -> Self {
        match uniform(digits, || {
            Ok::<_, core::convert::Infallible>(rng.next_u64())
        }) {
            Ok(code) => code,
        }
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }

    pub(crate) fn value(&self) -> u64 {
        self.value
    }

    /// The code as decimal digits, zero-padded: to show or send it. The string is zeroized
    /// when dropped.
    #[must_use]
    pub fn expose(&self) -> Zeroizing<String> {
        let width = self.digits.get() as usize;
        Zeroizing::new(format!("{:0width$}", self.value))
    }

    /// Constant-time equality; codes of different lengths are never equal.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        bool::from(
            self.value.ct_eq(&other.value) & Choice::from(u8::from(self.digits == other.digits)),
        )
    }
}

/// Rejection sampling: values from the top, incomplete copy of `0..m` are drawn again, so
/// every code is equally likely (a plain `x % m` would favour the low codes).
fn uniform<E>(
    digits: Digits,
    mut next: impl FnMut() -> core::result::Result<u64, E>,
) -> core::result::Result<Code, E> {
    let m = digits.modulus();
    // The largest multiple of m that fits: u64::MAX - (u64::MAX % m) rounds down by < m.
    let zone = u64::MAX.saturating_sub(u64::MAX % m);
    loop {
        let x = next()?;
        if x < zone {
            return Ok(Code::from_value(x % m, digits));
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Code")
            .field("digits", &self.digits.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_what_people_type() {
        for input in [
            "123456",
            " 123 456 ",
            "123-456",
            "１２３４５６",
            "123\u{3000}456",
            "12.34.56",
        ] {
            let code = Code::parse(input, Digits::SIX).unwrap();
            assert_eq!(code.expose().as_str(), "123456", "{input:?}");
        }
        assert_eq!(
            Code::parse("000001", Digits::SIX)
                .unwrap()
                .expose()
                .as_str(),
            "000001"
        );
        let ten = Digits::new(10).unwrap();
        assert_eq!(
            Code::parse("9999999999", ten).unwrap().expose().as_str(),
            "9999999999"
        );
    }

    #[test]
    fn parse_rejects_everything_else() {
        for input in [
            "",
            "12345",
            "1234567",
            "12345a",
            "١٢٣٤٥٦",
            "12345६",
            "+12345",
            "12345٫6",
            "123456\0",
        ] {
            assert_eq!(
                Code::parse(input, Digits::SIX).map(|c| c.digits()),
                Err(Error::MalformedCode { expected: 6 }),
                "{input:?}"
            );
        }
        let long = "1".repeat(10_000);
        assert!(Code::parse(&long, Digits::new(10).unwrap()).is_err());
    }

    #[test]
    fn equality_needs_the_same_length() {
        let six = Code::parse("012345", Digits::SIX).unwrap();
        let eight = Code::parse("00012345", Digits::EIGHT).unwrap();
        assert!(!six.ct_eq(&eight));
        assert!(six.ct_eq(&Code::parse("012 345", Digits::SIX).unwrap()));
    }

    #[test]
    fn generated_codes_are_in_range_and_spread() {
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..2_000 {
            let code = Code::generate(Digits::SIX).unwrap();
            assert!(code.value() < 1_000_000);
            assert_eq!(code.expose().len(), 6);
            seen_low |= code.value() < 500_000;
            seen_high |= code.value() >= 500_000;
        }
        assert!(seen_low && seen_high);
    }

    #[test]
    fn rejection_sampling_redraws_the_biased_top() {
        // The first draw falls in the incomplete top copy of 0..10^6 and must be redrawn.
        let mut draws = [u64::MAX, 7].into_iter();
        let code = uniform(Digits::SIX, || Ok::<_, ()>(draws.next().unwrap())).unwrap();
        assert_eq!(code.value(), 7);
    }

    #[test]
    fn rejection_zone_ends_at_the_largest_multiple_of_the_modulus() {
        // 2^64 - 1 = 18446744073709551615; the largest multiple of 10^6 not above it is
        // 18446744073709000000 and of 10^8 is 18446744073700000000. Draws from there up are
        // redrawn; the draw just below is the last code of a complete copy.
        for (digits, zone, last) in [
            (Digits::SIX, 18_446_744_073_709_000_000_u64, 999_999),
            (Digits::EIGHT, 18_446_744_073_700_000_000_u64, 99_999_999),
        ] {
            let mut draws = [zone, zone - 1].into_iter();
            let code = uniform(digits, || Ok::<_, ()>(draws.next().unwrap())).unwrap();
            assert_eq!(code.value(), last, "{digits:?}");
            assert_eq!(draws.next(), None, "the draw at the zone's end is redrawn");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let code = Code::parse("123456", Digits::SIX).unwrap();
        assert_eq!(format!("{code:?}"), "Code { digits: 6, .. }");
    }
}
