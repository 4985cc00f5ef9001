//! The one error type of `mfa-core`.
//!
//! Every fallible function of this crate returns [`Result`]. No variant carries secret
//! material: a variant may say *which* rule a value broke, never the value itself.

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in `mfa-core`.
///
/// Each variant names one broken rule so that callers (and the CLI) can say precisely what is
/// wrong with an input. None of them carries a secret, a code or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- parameters -------------------------------------------------------------------------
    /// A code length outside 6..=10 digits.
    #[error("a code must have between 6 and 10 digits, not {0}")]
    InvalidDigits(u32),
    /// A TOTP period of zero seconds.
    #[error("the TOTP period must be at least one second")]
    ZeroPeriod,
    /// An algorithm name other than SHA1, SHA256 or SHA512.
    #[error("unknown algorithm (expected SHA1, SHA256 or SHA512)")]
    UnknownAlgorithm,
    /// A time before the TOTP epoch `T0`, for which no time step exists.
    #[error("the time is before the TOTP epoch T0")]
    TimeBeforeEpoch,

    // --- secrets ----------------------------------------------------------------------------
    /// A secret shorter than the minimum the called function accepts.
    #[error("the secret has {bits} bits, at least {min_bits} are required")]
    SecretTooShort {
        /// Length of the rejected secret, in bits.
        bits: usize,
        /// Minimum length the called function accepts, in bits.
        min_bits: usize,
    },
    /// A secret longer than the maximum this crate accepts.
    #[error("the secret has {bits} bits, at most {max_bits} are accepted")]
    SecretTooLong {
        /// Length of the rejected secret, in bits.
        bits: usize,
        /// Maximum length accepted, in bits.
        max_bits: usize,
    },
    /// Text that is not base32 (RFC 4648 alphabet, case-insensitive, spaces, dashes and
    /// padding ignored).
    #[error("the secret is not valid base32")]
    InvalidBase32,
    /// Text that is not an even number of hexadecimal digits.
    #[error("the secret is not valid hexadecimal")]
    InvalidHex,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,

    // --- otpauth:// Key URIs ----------------------------------------------------------------
    /// A URI that does not start with `otpauth://`.
    #[error("the URI does not start with otpauth://")]
    UriScheme,
    /// A URI without the `totp` or `hotp` host.
    #[error("the URI has no type (expected otpauth://totp/ or otpauth://hotp/)")]
    UriMissingType,
    /// A URI whose host is neither `totp` nor `hotp`.
    #[error("the URI type is neither totp nor hotp")]
    UriUnknownType,
    /// A URI without an account name in its label.
    #[error("the URI label has no account name")]
    UriMissingAccount,
    /// A URI without a `secret` parameter.
    #[error("the URI has no secret parameter")]
    UriMissingSecret,
    /// A URI whose `secret` parameter is not valid base32 or too short.
    #[error("the URI secret parameter is not a valid base32 secret")]
    UriInvalidSecret,
    /// A `%` escape that is not followed by two hexadecimal digits.
    #[error("the URI contains a malformed percent-escape")]
    UriInvalidPercentEncoding,
    /// A percent-decoded component that is not UTF-8.
    #[error("the URI contains text that is not UTF-8")]
    UriNotUtf8,
    /// The issuer in the label and the `issuer` parameter differ.
    #[error("the issuer in the label and the issuer parameter differ")]
    UriIssuerMismatch,
    /// A parameter whose value cannot be understood.
    #[error("the URI parameter {0} has an invalid value")]
    UriInvalidParameter(&'static str),
    /// An `hotp` URI without the `counter` parameter.
    #[error("an hotp URI needs a counter parameter")]
    UriMissingCounter,
    /// A value too long to fit in a QR code.
    #[error("the data is too long for a QR code")]
    QrTooLong,

    // --- typed-in codes ---------------------------------------------------------------------
    /// Input that cannot be a numeric one-time code of the expected length.
    #[error("the code is not a {expected}-digit number")]
    MalformedCode {
        /// Number of digits expected.
        expected: u32,
    },
    /// Input that cannot be a recovery code.
    #[error("the recovery code is not in the expected form")]
    MalformedRecoveryCode,
    /// Input that cannot be a URL-safe token.
    #[error("the token is not in the expected form")]
    MalformedToken,

    // --- keys, digests, sealing -------------------------------------------------------------
    /// A key (pepper or sealing key) of the wrong length.
    #[error("the key has {bytes} bytes, {expected} are required")]
    InvalidKeyLength {
        /// Length of the rejected key, in bytes.
        bytes: usize,
        /// Length required, in bytes.
        expected: usize,
    },
    /// A keyring without keys, or with two keys of one id.
    #[error("the keyring is empty or has duplicate key ids")]
    InvalidKeyring,
    /// A sealed blob whose key id is not in the keyring.
    #[error("the sealed secret was sealed with key {0}, which is not in the keyring")]
    UnknownKeyId(u32),
    /// A sealed blob whose format cannot be read (truncated, bad version, bad encoding).
    #[error("the sealed secret is malformed")]
    MalformedSealedSecret,
    /// A sealed blob that fails authentication: tampered, or bound to another user or factor.
    #[error("the sealed secret failed to open (tampered, or bound to another user or factor)")]
    SealOpen,

    // --- passwords --------------------------------------------------------------------------
    /// Argon2 parameters outside the accepted range.
    #[error("invalid Argon2id parameters: {0}")]
    InvalidPasswordParams(&'static str),
    /// A stored password hash that cannot be parsed.
    #[error("the stored password hash is malformed")]
    MalformedPasswordHash,

    // --- recovery codes ---------------------------------------------------------------------
    /// A number of recovery codes to generate outside `1..=max`.
    #[error("a recovery code set holds between 1 and {max} codes, not {count}")]
    InvalidRecoveryCodeCount {
        /// Number of codes asked for.
        count: usize,
        /// Largest set accepted.
        max: usize,
    },
    /// A stored recovery code verifier that cannot be decoded.
    #[error("the stored recovery code verifier is malformed")]
    MalformedRecoveryVerifier,

    // --- destinations and names -------------------------------------------------------------
    /// Text that is not an email address of the form `local@domain`.
    #[error("invalid email address")]
    InvalidEmailAddress,
    /// Text that is not a phone number in international (E.164) form such as `+14155550100`.
    #[error("invalid phone number (expected E.164 such as +14155550100)")]
    InvalidPhoneNumber,
    /// A stored or typed name that is not one of the names of the named type.
    #[error("unknown {0} name")]
    UnknownName(&'static str),
}
