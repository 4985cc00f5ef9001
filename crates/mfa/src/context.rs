//! Where an attempt comes from: the client network, and whether the account recognises it (a
//! trusted device of the user, or a network the user completed a login from recently).

use std::time::SystemTime;

use mfa_policy::Context;
use mfa_store::{ClientInfo, CounterKey, CounterScope};

use crate::error::Result;
use crate::facade::Mfa;
use crate::purpose::TicketContext;

/// The context of one attempt, as the budgets see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// Recognised or not.
    pub(crate) class: Context,
    /// The client network (the policy's prefix of the client's address), if the application
    /// gave an address.
    pub(crate) network: Option<String>,
    /// The recognised context's own key: `net:<network>` or `device:<id>`.
    pub(crate) tag: Option<String>,
}

impl Attempt {
    /// An unrecognised attempt from `network`.
    pub(crate) fn unrecognised(network: Option<String>) -> Self {
        Self {
            class: Context::Unrecognised,
            network,
            tag: None,
        }
    }

    /// An attempt from `network`, recognised because the user logged in from it.
    pub(crate) fn known_network(network: String) -> Self {
        Self {
            class: Context::Recognised,
            tag: Some(format!("net:{network}")),
            network: Some(network),
        }
    }

    /// An attempt carrying the user's trusted device `device_id`.
    pub(crate) fn trusted_device(network: Option<String>, device_id: &str) -> Self {
        Self {
            class: Context::Recognised,
            network,
            tag: Some(format!("device:{device_id}")),
        }
    }

    /// The context a ticket started from this attempt records (a device is not recorded: a
    /// trusted device never needs a ticket).
    pub(crate) fn ticket_context(&self) -> TicketContext {
        TicketContext {
            network: self.network.clone(),
            recognised: self.class == Context::Recognised && self.tag_is_network(),
        }
    }

    fn tag_is_network(&self) -> bool {
        self.tag.as_deref().is_some_and(|t| t.starts_with("net:"))
    }

    /// The attempt on a ticket started from `ticket`: recognised only from the very network
    /// the ticket was started from, when that network was recognised then.
    pub(crate) fn on_ticket(ticket: &TicketContext, network: Option<String>) -> Self {
        match (&ticket.network, network) {
            (Some(started), Some(now)) if ticket.recognised && *started == now => {
                Self::known_network(now)
            }
            (_, now) => Self::unrecognised(now),
        }
    }
}

/// The record that a user completed a login from a network: a counter whose lock end is the
/// end of the recognition (only ever extended, gone by itself afterwards).
pub(crate) fn known_key(user: &str, network: &str) -> CounterKey {
    CounterKey::new(
        "known-network",
        CounterScope::AccountClient {
            account: user.to_owned(),
            client: network.to_owned(),
        },
    )
}

impl Mfa {
    /// The client network of `client` under the policy's prefixes.
    pub(crate) fn network(&self, client: &ClientInfo) -> Option<String> {
        client
            .ip
            .map(|ip| self.inner.policy.client_key(ip).to_string())
    }

    /// Whether `user` completed a login from `client`'s network within the recognition period.
    pub(crate) async fn classify_network(
        &self,
        user: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Attempt> {
        let Some(network) = self.network(client) else {
            return Ok(Attempt::unrecognised(None));
        };
        let known = self
            .inner
            .store
            .counter(&known_key(user, &network), now)
            .await?
            .is_some_and(|s| s.is_locked(now));
        Ok(if known {
            Attempt::known_network(network)
        } else {
            Attempt::unrecognised(Some(network))
        })
    }

    /// The lock that remembers `user` completed a login from `client`'s network now (the
    /// recognition period starts again), to settle with the login's success.
    pub(crate) fn remembered(
        &self,
        user: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Option<(CounterKey, SystemTime)> {
        let network = self.network(client)?;
        let until = now
            .checked_add(self.inner.policy.recognition())
            .unwrap_or(now);
        Some((known_key(user, &network), until))
    }

    /// Remembers that `user` completed a login from `client`'s network (the recognition
    /// period starts again).
    pub(crate) async fn remember_network(
        &self,
        user: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<()> {
        if let Some(network) = self.network(client) {
            let until = now
                .checked_add(self.inner.policy.recognition())
                .unwrap_or(now);
            self.inner
                .store
                .lock_counter(&known_key(user, &network), until, now)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_recognised_only_from_the_network_it_started_on() {
        let home = Attempt::known_network("198.51.100.7/32".into());
        let ticket = home.ticket_context();
        assert!(ticket.recognised);
        let same = Attempt::on_ticket(&ticket, Some("198.51.100.7/32".into()));
        assert_eq!(same.class, Context::Recognised);
        let other = Attempt::on_ticket(&ticket, Some("203.0.113.9/32".into()));
        assert_eq!(other.class, Context::Unrecognised);
        assert_eq!(
            Attempt::on_ticket(&ticket, None).class,
            Context::Unrecognised
        );
        let stranger = Attempt::unrecognised(Some("198.51.100.7/32".into())).ticket_context();
        let later = Attempt::on_ticket(&stranger, Some("198.51.100.7/32".into()));
        assert_eq!(later.class, Context::Unrecognised);
    }
}
