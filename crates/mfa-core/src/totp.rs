//! TOTP (RFC 6238): time-based one-time codes with replay-aware verification.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::code::Code;
use crate::error::{Error, Result};
use crate::hotp::Hotp;
use crate::params::{Algorithm, Digits, Period, Skew};
use crate::secret::Secret;

/// The parameters of a TOTP generator. Every field is a validated type, so every value of
/// this struct is a valid configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TotpParams {
    /// The HMAC hash function; SHA-1 by default.
    pub algorithm: Algorithm,
    /// Digits per code; 6 by default.
    pub digits: Digits,
    /// Seconds per time step; 30 by default.
    pub period: Period,
    /// The Unix time at which step 0 starts (RFC 6238 `T0`); 0 by default.
    pub t0: u64,
}

/// A TOTP generator (RFC 6238) with its key prepared for repeated use.
///
/// Verification returns the time step that matched, so that the caller can store it and
/// refuse the same step next time ([`Totp::verify_after`]): a TOTP code is accepted once.
///
/// ```
/// use mfa_core::{Code, Secret, Skew, Totp, TotpParams};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::new(&secret, TotpParams::default());
/// let code = totp.generate_at(59)?;                    // RFC 6238 Appendix B, T = 59
/// assert_eq!(code.expose().as_str(), "287082");
///
/// let typed = Code::parse("287 082", totp.params().digits)?;
/// let step = totp.verify_at(&typed, 70, Skew::ONE_STEP).expect("within one step");
/// assert_eq!(step, 1);
/// // The same code again, after step 1 was used: refused.
/// assert_eq!(totp.verify_after(&typed, 70, Skew::ONE_STEP, Some(step)), None);
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    hotp: Hotp,
    params: TotpParams,
}

impl Totp {
    /// Prepares a TOTP generator.
    #[must_use]
    pub fn new(secret: &Secret, params: TotpParams) -> Self {
        Self {
            hotp: Hotp::new(secret, params.algorithm, params.digits),
            params,
        }
    }

    /// The parameters this generator was built with.
    #[must_use]
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The time step containing Unix time `unix_secs`: `floor((unix_secs - T0) / period)`.
    ///
    /// # Errors
    /// [`Error::TimeBeforeEpoch`] if `unix_secs` is before `T0`.
    pub fn step_at(&self, unix_secs: u64) -> Result<u64> {
        let since_t0 = unix_secs
            .checked_sub(self.params.t0)
            .ok_or(Error::TimeBeforeEpoch)?;
        Ok(since_t0 / self.params.period.get())
    }

    /// The code for time step `step`.
    #[must_use]
    pub fn generate_step(&self, step: u64) -> Code {
        self.hotp.generate(step)
    }

    /// The code valid at Unix time `unix_secs`.
    ///
    /// # Errors
    /// [`Error::TimeBeforeEpoch`] if `unix_secs` is before `T0`.
    pub fn generate_at(&self, unix_secs: u64) -> Result<Code> {
        Ok(self.generate_step(self.step_at(unix_secs)?))
    }

    /// The code valid now, by the system clock.
    ///
    /// # Errors
    /// [`Error::TimeBeforeEpoch`] if the system clock is before `T0` or before 1970.
    pub fn generate_now(&self) -> Result<Code> {
        self.generate_at(unix_now()?)
    }

    /// Verifies `code` at Unix time `unix_secs`, accepting `skew.back` steps before and
    /// `skew.forward` steps after the current one.
    ///
    /// Every step of the window is computed and compared in constant time, without early exit.
    /// Returns the matched time step, which the caller stores to refuse its reuse, or `None`.
    /// Steps before step 0 or past `u64::MAX` do not exist and are not tried; a time before
    /// `T0` matches nothing.
    #[must_use]
    pub fn verify_at(&self, code: &Code, unix_secs: u64, skew: Skew) -> Option<u64> {
        let (first, last) = self.window(unix_secs, skew)?;
        self.hotp.match_in(code, first, last)
    }

    /// Like [`Totp::verify_at`], but refuses every step at or before `last_used_step`: the form
    /// a server uses, so that an accepted code, or any older one, cannot be replayed.
    #[must_use]
    pub fn verify_after(
        &self,
        code: &Code,
        unix_secs: u64,
        skew: Skew,
        last_used_step: Option<u64>,
    ) -> Option<u64> {
        let (first, last) = self.window(unix_secs, skew)?;
        let first = match last_used_step {
            None => first,
            // Steps are public (they follow from the time), so narrowing the window leaks
            // nothing about the code.
            Some(used) => first.max(used.checked_add(1)?),
        };
        if first > last {
            return None;
        }
        self.hotp.match_in(code, first, last)
    }

    /// Verifies `code` against the system clock; see [`Totp::verify_after`].
    ///
    /// # Errors
    /// [`Error::TimeBeforeEpoch`] if the system clock is before 1970.
    pub fn verify_now(
        &self,
        code: &Code,
        skew: Skew,
        last_used_step: Option<u64>,
    ) -> Result<Option<u64>> {
        Ok(self.verify_after(code, unix_now()?, skew, last_used_step))
    }

    fn window(&self, unix_secs: u64, skew: Skew) -> Option<(u64, u64)> {
        let current = self.step_at(unix_secs).ok()?;
        Some((
            current.saturating_sub(u64::from(skew.back)),
            current.saturating_add(u64::from(skew.forward)),
        ))
    }
}

impl core::fmt::Debug for Totp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch by the system clock.
fn unix_now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::TimeBeforeEpoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B. The seeds are the ASCII digits "1234567890" repeated to 20, 32
    /// and 64 bytes; the codes are 8 digits.
    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn a_generator_reports_the_parameters_it_was_built_with() {
        // Not the defaults, so that an accessor answering the defaults is caught.
        let params = TotpParams {
            algorithm: Algorithm::Sha512,
            digits: Digits::EIGHT,
            period: Period::from_secs(60).unwrap(),
            t0: 7,
        };
        let totp = Totp::new(&Secret::from_bytes(SEED_SHA512).unwrap(), params);
        assert_eq!(totp.params(), params);
        assert_eq!(totp.hotp.algorithm(), Algorithm::Sha512);
        assert_eq!(totp.hotp.digits(), Digits::EIGHT);
    }

    #[test]
    fn verify_now_reads_the_system_clock() {
        let totp = totp(SEED_SHA1, Algorithm::Sha1);
        let skew = Skew::symmetric(1);
        // The step is read before and after, so that a step boundary between the two readings
        // is seen; the code of the step before `before` stays inside the window either way.
        let before = totp.step_at(unix_now().unwrap()).unwrap();
        let code = totp.generate_step(before);
        let matched = totp.verify_now(&code, skew, None).unwrap();
        let after = totp.step_at(unix_now().unwrap()).unwrap();
        assert_eq!(matched, Some(before));
        assert!(after - before <= 1);
        // The code of step 0 (1970) is far outside the window today.
        assert_eq!(
            totp.verify_now(&totp.generate_step(0), skew, None).unwrap(),
            None
        );
        // And a step already used is not accepted again.
        assert_eq!(totp.verify_now(&code, skew, Some(before)).unwrap(), None);
    }

    #[test]
    fn debug_shows_the_parameters_and_never_the_key() {
        let totp = totp(SEED_SHA1, Algorithm::Sha1);
        let shown = format!("{totp:?}");
        assert!(shown.starts_with("Totp"), "{shown}");
        assert!(
            shown.contains("Sha1") && shown.contains("params"),
            "{shown}"
        );
        for leak in ["1234567890", "GEZDGNBVGY3TQOJQ", "3132333435"] {
            assert!(!shown.contains(leak), "{shown}");
        }
    }

    const APPENDIX_B: [(u64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];

    fn totp(seed: &[u8], algorithm: Algorithm) -> Totp {
        Totp::new(
            &Secret::from_bytes(seed).unwrap(),
            TotpParams {
                algorithm,
                digits: Digits::EIGHT,
                ..TotpParams::default()
            },
        )
    }

    #[test]
    fn rfc6238_appendix_b() {
        let generators = [
            totp(SEED_SHA1, Algorithm::Sha1),
            totp(SEED_SHA256, Algorithm::Sha256),
            totp(SEED_SHA512, Algorithm::Sha512),
        ];
        for (time, sha1, sha256, sha512) in APPENDIX_B {
            for (generator, expected) in generators.iter().zip([sha1, sha256, sha512]) {
                let code = generator.generate_at(time).unwrap();
                assert_eq!(
                    code.expose().as_str(),
                    expected,
                    "T={time} {:?}",
                    generator.params().algorithm
                );
                let typed = Code::parse(expected, Digits::EIGHT).unwrap();
                assert_eq!(
                    generator.verify_at(&typed, time, Skew::NONE),
                    Some(time / 30)
                );
            }
        }
    }

    #[test]
    fn skew_is_separate_back_and_forward() {
        let t = totp(SEED_SHA1, Algorithm::Sha1);
        let now = 1_111_111_111;
        let step = now / 30;
        let previous = t.generate_step(step - 1);
        let next = t.generate_step(step + 1);
        let back_only = Skew {
            back: 1,
            forward: 0,
        };
        let forward_only = Skew {
            back: 0,
            forward: 1,
        };
        assert_eq!(t.verify_at(&previous, now, back_only), Some(step - 1));
        assert_eq!(t.verify_at(&previous, now, forward_only), None);
        assert_eq!(t.verify_at(&next, now, forward_only), Some(step + 1));
        assert_eq!(t.verify_at(&next, now, back_only), None);
        let two_back = t.generate_step(step - 2);
        assert_eq!(t.verify_at(&two_back, now, Skew::ONE_STEP), None);
        assert_eq!(
            t.verify_at(&two_back, now, Skew::symmetric(2)),
            Some(step - 2)
        );
    }

    #[test]
    fn a_used_step_and_every_older_one_is_refused() {
        let t = totp(SEED_SHA1, Algorithm::Sha1);
        let now = 2_000_000_000;
        let step = now / 30;
        let code = t.generate_step(step);
        assert_eq!(t.verify_after(&code, now, Skew::ONE_STEP, None), Some(step));
        assert_eq!(
            t.verify_after(&code, now, Skew::ONE_STEP, Some(step - 1)),
            Some(step)
        );
        assert_eq!(t.verify_after(&code, now, Skew::ONE_STEP, Some(step)), None);
        assert_eq!(
            t.verify_after(&code, now, Skew::ONE_STEP, Some(step + 1)),
            None
        );
        // The previous step's code is refused once the current step was used.
        let previous = t.generate_step(step - 1);
        assert_eq!(
            t.verify_after(&previous, now, Skew::ONE_STEP, Some(step)),
            None
        );
        // Nothing can follow the last step.
        assert_eq!(
            t.verify_after(&code, now, Skew::ONE_STEP, Some(u64::MAX)),
            None
        );
    }

    #[test]
    fn t0_and_period_shift_the_steps() {
        let params = TotpParams {
            period: Period::from_secs(60).unwrap(),
            t0: 1_000,
            ..TotpParams::default()
        };
        let t = Totp::new(&Secret::from_bytes(SEED_SHA1).unwrap(), params);
        assert_eq!(t.step_at(1_000), Ok(0));
        assert_eq!(t.step_at(1_059), Ok(0));
        assert_eq!(t.step_at(1_060), Ok(1));
        assert_eq!(t.step_at(999), Err(Error::TimeBeforeEpoch));
        assert!(matches!(t.generate_at(0), Err(Error::TimeBeforeEpoch)));
        let code = t.generate_step(0);
        assert_eq!(t.verify_at(&code, 999, Skew::ONE_STEP), None);
        assert_eq!(t.verify_at(&code, 1_000, Skew::ONE_STEP), Some(0));
    }

    #[test]
    fn extreme_times_neither_overflow_nor_panic() {
        let t = totp(SEED_SHA1, Algorithm::Sha1);
        // Past 2106 (u32 seconds) and at the very end of u64.
        for time in [1u64 << 32, u64::MAX - 1, u64::MAX] {
            let code = t.generate_at(time).unwrap();
            assert_eq!(
                t.verify_at(&code, time, Skew::symmetric(u8::MAX)),
                Some(time / 30)
            );
        }
        // At step 0 the window cannot reach back.
        let first = t.generate_step(0);
        assert_eq!(t.verify_at(&first, 0, Skew::symmetric(u8::MAX)), Some(0));
        // One-second period at the top of the time range: steps up to u64::MAX exist.
        let one = Totp::new(
            &Secret::from_bytes(SEED_SHA1).unwrap(),
            TotpParams {
                period: Period::from_secs(1).unwrap(),
                ..TotpParams::default()
            },
        );
        let top = one.generate_step(u64::MAX);
        assert_eq!(
            one.verify_at(&top, u64::MAX, Skew::ONE_STEP),
            Some(u64::MAX)
        );
        assert_eq!(
            one.verify_after(&top, u64::MAX, Skew::ONE_STEP, Some(u64::MAX - 1)),
            Some(u64::MAX)
        );
    }

    #[test]
    fn system_clock_paths_agree_with_explicit_time() {
        let t = totp(SEED_SHA1, Algorithm::Sha1);
        let code = t.generate_now().unwrap();
        assert!(t.verify_now(&code, Skew::ONE_STEP, None).unwrap().is_some());
    }
}
