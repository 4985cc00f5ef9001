//! `mfa uri` and `mfa parse`: building, drawing and reading otpauth:// Key URIs.

use mfa_core::{KeyUri, OtpKind};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::UriArgs;
use crate::error::CliError;
use crate::{Outcome, input, output};

/// `mfa uri`: prints the Key URI (or draws its QR code) and writes the requested QR files.
pub(crate) fn uri(args: &UriArgs) -> Result<Outcome, CliError> {
    if args.account.is_empty() {
        return Err(CliError::EmptyAccount);
    }
    let key = KeyUri {
        kind: match args.counter {
            Some(counter) => OtpKind::Hotp { counter },
            None => OtpKind::Totp {
                period: args.period,
            },
        },
        issuer: args.issuer.clone(),
        account: args.account.clone(),
        secret: input::secret(&args.key)?,
        algorithm: args.hash.algorithm,
        digits: args.hash.digits,
        image: args.image.clone(),
    };
    // Every output is prepared before anything is written, so that an error leaves no
    // half-done work behind.
    let svg = args.qr_svg.as_ref().map(|_| key.qr_svg()).transpose()?;
    let png = args.qr_png.as_ref().map(|_| key.qr_png()).transpose()?;
    let shown = if args.qr {
        key.qr_terminal()?
    } else {
        key.to_uri()
    };
    if let (Some(path), Some(svg)) = (&args.qr_svg, &svg) {
        output::private_file(path, svg.as_bytes())?;
    }
    if let (Some(path), Some(png)) = (&args.qr_png, &png) {
        output::private_file(path, png)?;
    }
    output::line(&shown)?;
    Ok(Outcome::Success)
}

/// The fields of a Key URI that `mfa parse` always prints: everything but the secret.
#[derive(Serialize)]
struct Fields<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    issuer: Option<&'a str>,
    account: &'a str,
    algorithm: &'static str,
    digits: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counter: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
}

/// [`Fields`] and the secret, for `--reveal-secret` only.
///
/// The one type here that serialises a secret, and only because the user asked to see it;
/// [`Fields`] cannot leak it by accident since it has no such field.
#[derive(Serialize)]
struct RevealedFields<'a> {
    #[serde(flatten)]
    fields: Fields<'a>,
    secret: &'a str,
}

/// `mfa parse`: prints the URI's fields as JSON, the secret only if `reveal_secret`.
pub(crate) fn parse(uri: &str, reveal_secret: bool) -> Result<Outcome, CliError> {
    let text = input::argument(uri)?;
    let key = KeyUri::parse(&text)?;
    let (kind, period, counter) = match key.kind {
        OtpKind::Totp { period } => ("totp", Some(period.as_secs()), None),
        OtpKind::Hotp { counter } => ("hotp", None, Some(counter)),
    };
    let fields = Fields {
        kind,
        issuer: key.issuer.as_deref(),
        account: &key.account,
        algorithm: key.algorithm.as_str(),
        digits: key.digits.get(),
        period,
        counter,
        image: key.image.as_deref(),
    };
    let json = if reveal_secret {
        let secret = key.secret.to_base32();
        Zeroizing::new(serde_json::to_string_pretty(&RevealedFields {
            fields,
            secret: &secret,
        })?)
    } else {
        Zeroizing::new(serde_json::to_string_pretty(&fields)?)
    };
    output::line(&json)?;
    Ok(Outcome::Success)
}
