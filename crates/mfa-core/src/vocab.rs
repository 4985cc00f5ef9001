//! The vocabulary every crate shares: which kind of second factor, which delivery channel, which
//! kind of challenge. One enum each, so that "email or SMS" is spelt once in the workspace.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};

/// Declares a `Copy` enum with a stable lower-case text name per variant (`as_str`, `FromStr`,
/// `Display`): the name a store writes and an audit record shows.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Not `#[non_exhaustive]`: the crates of this workspace are released together, and a new
        // variant (a new kind of factor) must make every `match` over it fail to compile until
        // it is handled.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable lower-case name (the inverse of `FromStr`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text ),+
                }
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self> {
                match text {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(Error::UnknownName(stringify!($name))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// A kind of second factor a user can enable.
    pub enum FactorKind {
        /// Codes from an authenticator app (TOTP, RFC 6238).
        Totp => "totp",
        /// Codes (or magic links) sent by email.
        Email => "email",
        /// Codes sent by SMS.
        Sms => "sms",
        /// A WebAuthn credential: a security key or a passkey (phishing-resistant).
        WebAuthn => "webauthn",
    }
}

impl FactorKind {
    /// The channel a factor of this kind is reached through, if it is delivered at all (an
    /// authenticator app is not).
    #[must_use]
    pub const fn channel(self) -> Option<Channel> {
        match self {
            Self::Totp | Self::WebAuthn => None,
            Self::Email => Some(Channel::Email),
            Self::Sms => Some(Channel::Sms),
        }
    }
}

named_enum! {
    /// A delivery channel for one-time codes, links and notices.
    pub enum Channel {
        /// Email.
        Email => "email",
        /// SMS (every message costs money: its quotas are the toll-fraud budget).
        Sms => "sms",
    }
}

impl Channel {
    /// The factor kind delivered through this channel.
    #[must_use]
    pub const fn factor(self) -> FactorKind {
        match self {
            Self::Email => FactorKind::Email,
            Self::Sms => FactorKind::Sms,
        }
    }

    /// The kind of challenge a code sent through this channel is.
    #[must_use]
    pub const fn code_challenge(self) -> ChallengeKind {
        match self {
            Self::Email => ChallengeKind::EmailCode,
            Self::Sms => ChallengeKind::SmsCode,
        }
    }
}

named_enum! {
    /// What a stored challenge is, which also fixes its lifetime in a policy.
    pub enum ChallengeKind {
        /// A numeric code sent by email.
        EmailCode => "email_code",
        /// A numeric code sent by SMS.
        SmsCode => "sms_code",
        /// A magic link sent by email (with a code beside it).
        MagicLink => "magic_link",
        /// A ticket: the pending login between the first factor and the second (or a step-up,
        /// an unlock, a grant).
        LoginTicket => "login_ticket",
    }
}

impl ChallengeKind {
    /// The channel a challenge of this kind was sent through, if it was sent.
    #[must_use]
    pub const fn channel(self) -> Option<Channel> {
        match self {
            Self::EmailCode | Self::MagicLink => Some(Channel::Email),
            Self::SmsCode => Some(Channel::Sms),
            Self::LoginTicket => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_typed_errors() {
        for kind in FactorKind::ALL {
            assert_eq!(kind.as_str().parse::<FactorKind>(), Ok(*kind));
        }
        for kind in ChallengeKind::ALL {
            assert_eq!(kind.to_string().parse::<ChallengeKind>(), Ok(*kind));
        }
        assert_eq!(
            "TOTP".parse::<FactorKind>(),
            Err(Error::UnknownName("FactorKind"))
        );
        assert_eq!("".parse::<Channel>(), Err(Error::UnknownName("Channel")));
    }

    #[test]
    fn channels_and_kinds_agree() {
        for channel in Channel::ALL {
            assert_eq!(channel.factor().channel(), Some(*channel));
            assert_eq!(channel.code_challenge().channel(), Some(*channel));
        }
        assert_eq!(FactorKind::Totp.channel(), None);
        assert_eq!(ChallengeKind::LoginTicket.channel(), None);
    }
}
