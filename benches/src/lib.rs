//! Criterion benchmarks of the `mfa` workspace. The benchmarks live under `benches/`; this
//! library only holds the fixtures they share, so that every group measures our code and its
//! peer on the same key, time and code.
//!
//! Run them with `cargo bench -p mfa-benches --bench otp`; see `docs/performance.md` for the
//! figures and how they were produced.

/// The RFC 6238 Appendix B SHA-1 seed: the ASCII digits "1234567890" twice.
pub const RFC_SEED: &[u8; 20] = b"12345678901234567890";

/// The time every TOTP benchmark verifies at (an RFC 6238 Appendix B time).
pub const TIME: u64 = 1_111_111_111;

/// A Key URI with issuer prefix and parameters, the shape an enrolment produces.
pub const KEY_URI: &str = "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";
