#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// The engine runs on attacker-chosen input: no slicing that can go out of range, no arithmetic
// that can overflow. Checked, saturating or provably bounded operations only.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects))]

mod clock;
mod code;
mod error;
mod hotp;
mod params;
mod secret;
mod totp;

// -- uri / qr ------------------------------------------------------------------------------
#[cfg(feature = "qr")]
mod qr;
mod uri;

// -- tokens, recovery codes, digests, sealing, passwords -------------------------------------
mod digest;
mod password;
mod recovery;
mod seal;
mod token;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::code::Code;
pub use crate::error::{Error, Result};
pub use crate::hotp::Hotp;
pub use crate::params::{Algorithm, Digits, Period, Skew};
pub use crate::secret::Secret;
pub use crate::totp::{Totp, TotpParams};
