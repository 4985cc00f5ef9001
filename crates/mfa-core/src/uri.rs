//! otpauth:// Key URIs: the text inside the QR code an authenticator app scans.
//!
//! The format is Google Authenticator's "Key Uri Format":
//! `otpauth://TYPE/[ISSUER:]ACCOUNT?secret=BASE32[&issuer=..][&algorithm=..][&digits=..]
//! [&period=..|&counter=..][&image=..]`.

use core::fmt;
use core::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::params::{Algorithm, Digits, Period};
use crate::secret::Secret;
use crate::totp::{Totp, TotpParams};

const SCHEME: &str = "otpauth://";

/// Bytes percent-encoded in label parts and parameter values: everything but RFC 3986's
/// unreserved characters and `@` (legal in both places, and kept readable in e-mail accounts).
/// A space becomes `%20`, `:` becomes `%3A` so that only the issuer separator is a literal colon.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// The kind of one-time password a Key URI provisions, with its moving factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpKind {
    /// Time-based codes (RFC 6238), `otpauth://totp/`.
    Totp {
        /// Seconds per time step (`period`, 30 by default).
        period: Period,
    },
    /// Counter-based codes (RFC 4226), `otpauth://hotp/`.
    Hotp {
        /// The counter the authenticator starts from (`counter`, required).
        counter: u64,
    },
}

/// An otpauth:// Key URI: everything an authenticator app needs to generate codes.
///
/// [`KeyUri::to_uri`] builds the URI (it contains the secret: show it only in the QR code or
/// the set-up page), [`KeyUri::parse`] reads one from any provider.
///
/// Choices made where the format leaves room:
/// - **Secret:** read with [`Secret::from_base32_legacy`], so secrets of 80 bits and more that
///   providers have already issued can be imported. Case, spaces, dashes and padding are ignored.
/// - **Issuer:** accepted as label prefix, as `issuer` parameter, or both; both must agree
///   ([`Error::UriIssuerMismatch`]). An empty issuer counts as none. On output it is written in
///   both places, as the format recommends.
/// - **Label:** split at the first literal `:`; without one, at the first `%3A`. Spaces after
///   the separator are dropped, as the format's grammar allows. An account without an issuer
///   that contains a colon is written after an empty prefix (`/:a%3Ab`) so it reads back whole.
///   An account that starts with a space is written without the issuer prefix (the issuer
///   goes in the parameter only) so the space survives; one that also contains a colon cannot
///   keep leading spaces in any label, and reads back without them.
/// - **Parameters:** `algorithm`, `digits` and `period` are always written, even at their
///   defaults (SHA1, 6, 30): explicit is unambiguous, and apps that ignore them lose nothing.
///   Order: `secret`, `issuer`, `algorithm`, `digits`, `period` or `counter`, `image`. When
///   reading, names match in any case, unknown parameters are ignored, a known one given twice
///   is an error, and `+` in a value means a space (form encoding, as Java's `URLEncoder`
///   writes it); `+` in the label stays a `+`.
///
/// ```
/// use mfa_core::{Algorithm, KeyUri, OtpKind};
///
/// let uri = KeyUri::parse(
///     "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
///      &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
/// )?;
/// assert_eq!(uri.issuer.as_deref(), Some("ACME Co"));
/// assert_eq!(uri.account, "john.doe@email.com");
/// assert!(matches!(uri.kind, OtpKind::Totp { period } if period.as_secs() == 30));
/// assert_eq!(uri.algorithm, Algorithm::Sha1);
/// assert!(uri.to_uri().starts_with("otpauth://totp/ACME%20Co:john.doe@email.com?secret="));
/// # Ok::<(), mfa_core::Error>(())
/// ```
pub struct KeyUri {
    /// TOTP with its period, or HOTP with its counter.
    pub kind: OtpKind,
    /// The provider or service the account belongs to, shown by the app above the account.
    pub issuer: Option<String>,
    /// The account name, usually the user's e-mail address or user name; never empty.
    pub account: String,
    /// The shared secret.
    pub secret: Secret,
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Digits per code.
    pub digits: Digits,
    /// The URL of an image (logo) for the app to show, a FreeOTP extension.
    pub image: Option<String>,
}

impl KeyUri {
    /// Parses an otpauth:// URI.
    ///
    /// # Errors
    /// [`Error::UriScheme`], [`Error::UriMissingType`], [`Error::UriUnknownType`],
    /// [`Error::UriMissingAccount`], [`Error::UriMissingSecret`], [`Error::UriInvalidSecret`],
    /// [`Error::UriInvalidPercentEncoding`], [`Error::UriNotUtf8`],
    /// [`Error::UriIssuerMismatch`], [`Error::UriInvalidParameter`] (a duplicate parameter, or
    /// a number that does not parse), [`Error::UriMissingCounter`], [`Error::UnknownAlgorithm`],
    /// [`Error::InvalidDigits`] or [`Error::ZeroPeriod`]: each names the one rule broken.
    pub fn parse(uri: &str) -> Result<Self> {
        // otpauth://TYPE/LABEL?QUERY#FRAGMENT, read left to right, one delimiter at a time.
        let rest = strip_scheme(uri)?;
        let rest = rest
            .split_once('#')
            .map_or(rest, |(before, _fragment)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (type_name, label) = path.split_once('/').unwrap_or((path, ""));
        let is_hotp = parse_type(type_name)?;
        let params = RawParams::collect(query)?;

        let (label_issuer, account) = parse_label(label)?;
        let param_issuer = params
            .issuer
            .map(|v| decode(v, Plus::Space).map(|s| s.to_string()))
            .transpose()?
            .filter(|s| !s.is_empty());
        let issuer = match (label_issuer, param_issuer) {
            (Some(a), Some(b)) if a != b => return Err(Error::UriIssuerMismatch),
            (a, b) => a.or(b),
        };

        let secret_text = decode(params.secret.ok_or(Error::UriMissingSecret)?, Plus::Space)?;
        if secret_text.trim().is_empty() {
            return Err(Error::UriMissingSecret);
        }
        let secret =
            Secret::from_base32_legacy(&secret_text).map_err(|_| Error::UriInvalidSecret)?;

        let algorithm = match params.algorithm {
            Some(v) => decode(v, Plus::Space)?.parse::<Algorithm>()?,
            None => Algorithm::default(),
        };
        let digits = match params.digits {
            Some(v) => Digits::new(number(v, "digits")?)?,
            None => Digits::default(),
        };
        let kind = if is_hotp {
            let counter = params.counter.ok_or(Error::UriMissingCounter)?;
            OtpKind::Hotp {
                counter: number(counter, "counter")?,
            }
        } else {
            OtpKind::Totp {
                period: match params.period {
                    Some(v) => Period::from_secs(number(v, "period")?)?,
                    None => Period::default(),
                },
            }
        };
        let image = params
            .image
            .map(|v| decode(v, Plus::Space).map(|s| s.to_string()))
            .transpose()?;

        Ok(Self {
            kind,
            issuer,
            account,
            secret,
            algorithm,
            digits,
            image,
        })
    }

    /// Builds the URI; see the type's documentation for the choices made.
    ///
    /// The result contains the secret and is zeroized when dropped. An empty `account` gives
    /// a URI that [`KeyUri::parse`] refuses, as every authenticator app would.
    #[must_use]
    pub fn to_uri(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(256));
        out.push_str(SCHEME);
        out.push_str(match self.kind {
            OtpKind::Totp { .. } => "totp/",
            OtpKind::Hotp { .. } => "hotp/",
        });
        let issuer = self.issuer.as_deref().filter(|i| !i.is_empty());
        // The label grammar drops spaces after the colon, so an account that starts with a
        // space carries its issuer in the parameter alone (the format allows either). An
        // account that also holds a ':' needs the colon and loses those spaces (see above).
        let has_colon = self.account.contains(':');
        let label_issuer = issuer.filter(|_| has_colon || !self.account.starts_with(' '));
        if let Some(issuer) = label_issuer {
            out.extend(utf8_percent_encode(issuer, COMPONENT));
            out.push(':');
        } else if has_colon {
            out.push(':');
        }
        out.extend(utf8_percent_encode(&self.account, COMPONENT));
        out.push_str("?secret=");
        out.push_str(&self.secret.to_base32());
        if let Some(issuer) = issuer {
            out.push_str("&issuer=");
            out.extend(utf8_percent_encode(issuer, COMPONENT));
        }
        out.push_str("&algorithm=");
        out.push_str(self.algorithm.as_str());
        out.push_str("&digits=");
        out.push_str(&self.digits.get().to_string());
        match self.kind {
            OtpKind::Totp { period } => {
                out.push_str("&period=");
                out.push_str(&period.as_secs().to_string());
            }
            OtpKind::Hotp { counter } => {
                out.push_str("&counter=");
                out.push_str(&counter.to_string());
            }
        }
        if let Some(image) = &self.image {
            out.push_str("&image=");
            out.extend(utf8_percent_encode(image, COMPONENT));
        }
        out
    }

    /// A prepared TOTP generator for this key (with `T0 = 0`), or `None` for an HOTP key.
    #[must_use]
    pub fn totp(&self) -> Option<Totp> {
        self.totp_params()
            .map(|params| Totp::new(&self.secret, params))
    }

    /// The TOTP parameters of this key (with `T0 = 0`), or `None` for an HOTP key.
    #[must_use]
    pub fn totp_params(&self) -> Option<TotpParams> {
        match self.kind {
            OtpKind::Totp { period } => Some(TotpParams {
                algorithm: self.algorithm,
                digits: self.digits,
                period,
                t0: 0,
            }),
            OtpKind::Hotp { .. } => None,
        }
    }
}

impl FromStr for KeyUri {
    type Err = Error;

    /// Same as [`KeyUri::parse`].
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Debug for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUri")
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("secret", &self.secret) // redacted: prints only the length
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

fn strip_scheme(uri: &str) -> Result<&str> {
    match (uri.get(..SCHEME.len()), uri.get(SCHEME.len()..)) {
        (Some(scheme), Some(rest)) if scheme.eq_ignore_ascii_case(SCHEME) => Ok(rest),
        _ => Err(Error::UriScheme),
    }
}

/// `true` for `hotp`, `false` for `totp` (any case).
fn parse_type(name: &str) -> Result<bool> {
    if name.is_empty() {
        Err(Error::UriMissingType)
    } else if name.eq_ignore_ascii_case("totp") {
        Ok(false)
    } else if name.eq_ignore_ascii_case("hotp") {
        Ok(true)
    } else {
        Err(Error::UriUnknownType)
    }
}

/// Splits and decodes `[issuer:]account`; returns a non-empty issuer, if any, and the account.
fn parse_label(raw: &str) -> Result<(Option<String>, String)> {
    let (issuer, account) = match raw.split_once(':') {
        Some((issuer, account)) => (
            Some(decode(issuer, Plus::Literal)?.to_string()),
            decode(account, Plus::Literal)?.to_string(),
        ),
        None => {
            let label = decode(raw, Plus::Literal)?;
            match label.split_once(':') {
                Some((issuer, account)) => (Some(issuer.to_owned()), account.to_owned()),
                None => (None, label.to_string()),
            }
        }
    };
    let account = match issuer {
        Some(_) => account.trim_start_matches(' ').to_owned(),
        None => account,
    };
    if account.is_empty() {
        return Err(Error::UriMissingAccount);
    }
    Ok((issuer.filter(|i| !i.is_empty()), account))
}

/// The raw (still percent-encoded) values of the parameters this module understands.
#[derive(Default)]
struct RawParams<'a> {
    secret: Option<&'a str>,
    issuer: Option<&'a str>,
    algorithm: Option<&'a str>,
    digits: Option<&'a str>,
    period: Option<&'a str>,
    counter: Option<&'a str>,
    image: Option<&'a str>,
}

impl<'a> RawParams<'a> {
    fn collect(query: &'a str) -> Result<Self> {
        let mut params = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some((slot, name)) = params.slot(name)
                && slot.replace(value).is_some()
            {
                return Err(Error::UriInvalidParameter(name));
            }
        }
        Ok(params)
    }

    /// The slot of a known parameter name (any case) and its canonical name.
    fn slot(&mut self, name: &str) -> Option<(&mut Option<&'a str>, &'static str)> {
        let slots: [(&mut Option<&'a str>, &'static str); 7] = [
            (&mut self.secret, "secret"),
            (&mut self.issuer, "issuer"),
            (&mut self.algorithm, "algorithm"),
            (&mut self.digits, "digits"),
            (&mut self.period, "period"),
            (&mut self.counter, "counter"),
            (&mut self.image, "image"),
        ];
        slots
            .into_iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
    }
}

/// What a `+` means in a component.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plus {
    /// A space: query values, as HTML forms and Java's `URLEncoder` write them.
    Space,
    /// A plus sign: the label, a path segment.
    Literal,
}

/// Percent-decodes one component into UTF-8, refusing malformed escapes. The buffers are
/// zeroized because the component may be the secret.
fn decode(raw: &str, plus: Plus) -> Result<Zeroizing<String>> {
    check_escapes(raw)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
    match plus {
        Plus::Literal => bytes.extend(percent_decode_str(raw)),
        Plus::Space => {
            for (i, piece) in raw.split('+').enumerate() {
                if i > 0 {
                    bytes.push(b' ');
                }
                bytes.extend(percent_decode_str(piece));
            }
        }
    }
    let text = core::str::from_utf8(&bytes).map_err(|_| Error::UriNotUtf8)?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Every `%` must start `%XX` with two hexadecimal digits (`percent_decode` would pass it
/// through silently).
fn check_escapes(raw: &str) -> Result<()> {
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit());
            if !(hex(bytes.next()) && hex(bytes.next())) {
                return Err(Error::UriInvalidPercentEncoding);
            }
        }
    }
    Ok(())
}

/// A decimal parameter; anything else is [`Error::UriInvalidParameter`] naming it.
fn number<T: FromStr>(raw: &str, name: &'static str) -> Result<T> {
    let text = decode(raw, Plus::Space)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::UriInvalidParameter(name));
    }
    text.parse().map_err(|_| Error::UriInvalidParameter(name))
}
