#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// The engine runs on attacker-chosen input: no slicing that can go out of range, no arithmetic
// that can overflow. Checked, saturating or provably bounded operations only.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects))]

// One-time passwords.
mod code;
mod hotp;
mod params;
mod secret;
mod totp;

// Enrolment: Key URIs and their QR codes.
#[cfg(feature = "qr")]
mod qr;
mod uri;

// What a server keeps and compares: tokens, recovery codes, digests, sealed secrets, passwords.
mod digest;
mod password;
mod recovery;
mod seal;
mod token;

// The shared vocabulary: factor kinds, channels, challenge kinds, destinations.
mod address;
mod vocab;

mod clock;
mod error;

pub use crate::address::{EmailAddress, PhoneNumber};
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::code::Code;
pub use crate::digest::{CodeDigest, Pepper};
pub use crate::error::{Error, Result};
pub use crate::hotp::Hotp;
pub use crate::params::{Algorithm, Digits, Period, Skew};
pub use crate::password::{PasswordHash, PasswordHasher, PasswordParams};
pub use crate::recovery::{RecoveryCode, RecoveryHardening, RecoveryVerifier};
pub use crate::seal::{Keyring, SealedSecret, SealingKey};
pub use crate::secret::Secret;
pub use crate::token::Token;
pub use crate::totp::{Totp, TotpParams};
pub use crate::uri::{KeyUri, OtpKind};
pub use crate::vocab::{ChallengeKind, Channel, FactorKind};
