//! Every challenge purpose and every digest purpose of the facade, in one place.
//!
//! A challenge's purpose is stored as text; the store keeps at most one challenge per user and
//! purpose, so the purpose also decides what replaces what. Login and step-up tickets carry
//! the context they were started from (see [`TicketContext`]), so that tickets started from
//! different networks never replace each other: a stranger who starts a login for someone else's
//! account cannot cancel the one the user is in.

use mfa_core::FactorKind;

/// The digest purposes: one per use, so a digest made for one never verifies for another.
pub(crate) mod digest {
    pub(crate) const CHALLENGE_ID: &str = "mfa/challenge-id";
    pub(crate) const LINK_ID: &str = "mfa/magic-link-id";
    pub(crate) const LINK: &str = "mfa/magic-link";
    pub(crate) const LINK_BINDING: &str = "mfa/magic-link-binding";
    pub(crate) const STEP_UP_ID: &str = "mfa/step-up-id";
    pub(crate) const UNLOCK_ID: &str = "mfa/unlock-id";
    pub(crate) const UNLOCK: &str = "mfa/unlock";
    pub(crate) const DEVICE: &str = "mfa/trusted-device";
    pub(crate) const EMAIL_CODE: &str = "mfa/email-code";
    pub(crate) const SMS_CODE: &str = "mfa/sms-code";
    pub(crate) const ENROL_ID: &str = "mfa/enrol-id";
    pub(crate) const ENROL_EMAIL: &str = "mfa/enrol-email";
    pub(crate) const ENROL_SMS: &str = "mfa/enrol-sms";
    #[cfg(feature = "webauthn")]
    pub(crate) const WEBAUTHN_USER: &str = "mfa/webauthn-user-handle";
}

/// Where a ticket was started from: the client network, and whether it was recognised for the
/// user then. A verification uses the recognised budget only from that same network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TicketContext {
    /// The client network (`ClientKey` text), `None` when the application gave no address.
    pub(crate) network: Option<String>,
    /// Whether the network was recognised for the user when the ticket was started.
    pub(crate) recognised: bool,
}

impl TicketContext {
    fn encode(&self) -> String {
        let class = if self.recognised { 'r' } else { 'u' };
        format!("{class}:{}", self.network.as_deref().unwrap_or("-"))
    }

    fn decode(text: &str) -> Option<Self> {
        let (class, network) = text.split_once(':')?;
        let recognised = match class {
            "r" => true,
            "u" => false,
            _ => return None,
        };
        let network = (network != "-").then(|| network.to_owned());
        Some(Self {
            network,
            recognised,
        })
    }
}

/// What a stored challenge is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A login between the first factor and the second.
    Login(TicketContext),
    /// A passwordless login started from an email address
    /// ([`Mfa::begin_email_login`](crate::Mfa::begin_email_login)). Every address gets one,
    /// whether or not an account has it: for an unknown address the ticket's code is made,
    /// counted and stored like any other, and never delivered.
    EmailLogin(TicketContext),
    /// A re-verification of a signed-in user before a management call.
    StepUp(TicketContext),
    /// A magic link, for the ticket started from the context given.
    Link(TicketContext),
    /// A step-up grant (no tries: it is checked, never spent).
    Grant,
    /// The emailed unlock link of a locked account (one per user: a new lock replaces it).
    UnlockLink,
    /// The ticket an unlock link opened, answered with the password or a second factor.
    Unlock,
    /// The code sent to a destination being enrolled.
    Enrol(FactorKind),
}

impl Purpose {
    /// The stored text.
    pub(crate) fn encode(&self) -> String {
        match self {
            Self::Login(c) => format!("login|{}", c.encode()),
            Self::EmailLogin(c) => format!("email-login|{}", c.encode()),
            Self::StepUp(c) => format!("reauth|{}", c.encode()),
            Self::Link(c) => format!("link|{}", c.encode()),
            Self::Grant => "grant".to_owned(),
            Self::UnlockLink => "unlock-link".to_owned(),
            Self::Unlock => "unlock".to_owned(),
            Self::Enrol(kind) => format!("enrol|{kind}"),
        }
    }

    /// The purpose stored as `text`, `None` for text the facade did not write.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let (head, rest) = text.split_once('|').unwrap_or((text, ""));
        Some(match head {
            "login" => Self::Login(TicketContext::decode(rest)?),
            "email-login" => Self::EmailLogin(TicketContext::decode(rest)?),
            "reauth" => Self::StepUp(TicketContext::decode(rest)?),
            "link" => Self::Link(TicketContext::decode(rest)?),
            "grant" if rest.is_empty() => Self::Grant,
            "unlock-link" if rest.is_empty() => Self::UnlockLink,
            "unlock" if rest.is_empty() => Self::Unlock,
            "enrol" => Self::Enrol(rest.parse().ok()?),
            _ => return None,
        })
    }

    /// Whether a challenge of this purpose is a ticket a proof can be verified against.
    pub(crate) fn is_ticket(&self) -> bool {
        matches!(
            self,
            Self::Login(_) | Self::EmailLogin(_) | Self::StepUp(_) | Self::Unlock
        )
    }

    /// The context a ticket was started from (none for an unlock ticket: it is bound to the
    /// emailed link, not to a network).
    pub(crate) fn context(&self) -> Option<&TicketContext> {
        match self {
            Self::Login(c) | Self::EmailLogin(c) | Self::StepUp(c) | Self::Link(c) => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_foreign_text_is_none() {
        let ctx = |network: Option<&str>, recognised| TicketContext {
            network: network.map(str::to_owned),
            recognised,
        };
        for p in [
            Purpose::Login(ctx(Some("203.0.113.7/32"), false)),
            Purpose::Login(ctx(None, false)),
            Purpose::EmailLogin(ctx(Some("203.0.113.7/32"), true)),
            Purpose::StepUp(ctx(Some("2001:db8:1:2::/64"), true)),
            Purpose::Link(ctx(Some("198.51.100.0/24"), true)),
            Purpose::Grant,
            Purpose::UnlockLink,
            Purpose::Unlock,
            Purpose::Enrol(FactorKind::Sms),
        ] {
            assert_eq!(Purpose::decode(&p.encode()), Some(p.clone()), "{p:?}");
        }
        for foreign in ["", "login", "login|x:1", "grant|x", "enrol|fax", "other"] {
            assert_eq!(Purpose::decode(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn tickets_from_two_networks_have_two_purposes() {
        let a = Purpose::Login(TicketContext {
            network: Some("203.0.113.7/32".into()),
            recognised: false,
        });
        let b = Purpose::Login(TicketContext {
            network: Some("198.51.100.9/32".into()),
            recognised: false,
        });
        assert_ne!(a.encode(), b.encode());
    }
}
