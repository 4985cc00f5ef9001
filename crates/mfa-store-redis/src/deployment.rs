//! The deployment checks ([`RedisStore::verify_deployment`]) and the one-time initialisation
//! that writes the data-loss markers ([`RedisStore::initialise`]).
//!
//! A Redis that restarted without persistence, was flushed, or failed over to an empty replica
//! answers "absent" for everything it held, and "no settings" would read as "no second factor".
//! So each of the 16384 hash slots gets a marker key, written **only** by an explicit
//! [`RedisStore::initialise`] (never at connect: a Redis that came back empty would then quietly
//! get new markers and every user would read as never enrolled). Every script checks its slot's
//! marker first and answers [`StoreError::DataLoss`](mfa_store::StoreError::DataLoss) without
//! it; `put_settings` also records each settings record in its slot's marker, so a settings
//! record that alone went missing is data loss too.

use std::time::SystemTime;

use redis::{Cmd, Value};

use crate::codec::to_ms;
use crate::nodes::sum;
use crate::slot::SLOTS;
use crate::store::Op;
use crate::{Durability, Error, EvictionCheck, RedisStore, Result};

/// What follows a user's tag in a settings key (`{P:u:U}:settings`).
const SETTINGS_SUFFIX: &[u8] = b":settings";

/// Whether `key` is a settings key: nothing but `:settings` after the tag's closing brace
/// (a counter key may end in `:settings` too, after more parts).
fn is_settings_key(key: &[u8]) -> bool {
    key.iter()
        .position(|&b| b == b'}')
        .and_then(|close| key.get(close.saturating_add(1)..))
        .is_some_and(|rest| rest == SETTINGS_SUFFIX)
}

/// What [`RedisStore::initialise`] may assume about the keys it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Initialisation {
    /// A deployment that has never held data under this prefix: writes every marker. Refused
    /// with [`Error::NotEmpty`] if any key exists under the prefix; does nothing if every marker
    /// exists already (so provisioning may run it twice).
    ///
    /// A server that lost all its data looks exactly like a new one, so run this once, from
    /// provisioning or by hand, **never** from application start-up.
    NewDeployment,
    /// Declares the data now under the prefix complete: writes the missing markers and records
    /// every existing settings record in its slot's marker. For moving a deployment from a
    /// version without markers, or after an operator restored what could be restored and
    /// accepts the rest as lost (users whose settings are gone then read as never enrolled).
    /// Run it with the applications stopped.
    AdoptExistingData,
}

/// What [`RedisStore::initialise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct InitialisationReport {
    /// Markers written (16384 for a new deployment, 0 if it was initialised already).
    pub markers_created: u64,
    /// Existing settings records recorded in their slot's marker
    /// ([`AdoptExistingData`](Initialisation::AdoptExistingData) only).
    pub settings_adopted: u64,
}

/// The settings of one server that the deployment checks read from its `INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeSettings {
    /// `host:port` (`standalone` for a store built with `from_manager`).
    pub address: String,
    /// `redis_version`.
    pub version: String,
    /// `role`: `master` or `slave`.
    pub role: String,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory_policy`.
    pub maxmemory_policy: String,
    /// `aof_enabled`: whether the server writes an append-only file.
    pub aof_enabled: bool,
    /// `connected_slaves`: how many replicas are attached (on a primary).
    pub connected_replicas: u64,
}

impl NodeSettings {
    fn parse(address: String, info: &str) -> Self {
        let field = |name: &str| {
            info.lines()
                .filter_map(|line| line.trim_end().split_once(':'))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_owned())
                .unwrap_or_default()
        };
        let number = |name: &str| field(name).parse().unwrap_or(0);
        Self {
            address,
            version: field("redis_version"),
            role: field("role"),
            maxmemory: number("maxmemory"),
            maxmemory_policy: field("maxmemory_policy"),
            aof_enabled: field("aof_enabled") == "1",
            connected_replicas: number("connected_slaves"),
        }
    }

    /// `(major, minor)` of [`version`](Self::version); `(0, 0)` if it does not parse.
    fn version_number(&self) -> (u32, u32) {
        let mut parts = self.version.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    fn is_primary(&self) -> bool {
        self.role == "master"
    }

    /// Whether this server can evict keys: a memory limit with any policy but `noeviction`.
    #[must_use]
    pub fn can_evict(&self) -> bool {
        self.maxmemory > 0 && self.maxmemory_policy != "noeviction"
    }
}

impl RedisStore {
    /// Checks that the deployment is safe to serve from, and returns what it read of each
    /// server: the checks of [`check_servers`](Self::check_servers), then that every data-loss
    /// marker under the prefix exists. [`connect`](Self::connect) and
    /// [`connect_cluster`](Self::connect_cluster) run it; run it yourself after
    /// [`connect_lazy`](Self::connect_lazy), or periodically (a `CONFIG SET` can change a
    /// server's eviction policy at any time).
    ///
    /// # Errors
    /// Those of [`check_servers`](Self::check_servers); [`Error::NotInitialised`] if no marker
    /// exists (a new deployment that must be initialised, or one that lost everything);
    /// [`Error::DataLoss`] if some are missing.
    pub async fn verify_deployment(&self) -> Result<Vec<NodeSettings>> {
        let nodes = self.check_servers().await?;
        match self.markers_present().await? {
            SLOTS => Ok(nodes),
            0 => Err(Error::NotInitialised {
                prefix: self.prefix().to_string(),
            }),
            present => Err(Error::DataLoss {
                prefix: self.prefix().to_string(),
                missing: SLOTS.saturating_sub(present),
            }),
        }
    }

    /// Reads `INFO` from every server (every primary and replica of a Cluster) and checks each:
    /// Redis 7.0 or later; no eviction (unless [`EvictionCheck::Allow`]); for
    /// [`Durability::AppendOnlyFile`], Redis 7.2 or later and `appendonly yes` on the primaries.
    ///
    /// # Errors
    /// [`Error::Store`] if a server cannot be reached; [`Error::UnsupportedVersion`],
    /// [`Error::Evicting`], [`Error::Durability`] naming the server and what to change.
    pub async fn check_servers(&self) -> Result<Vec<NodeSettings>> {
        let nodes: Vec<NodeSettings> = self
            .info_of_every_node()
            .await?
            .into_iter()
            .map(|(address, info)| NodeSettings::parse(address, &info))
            .collect();
        for node in &nodes {
            if node.version_number() < (7, 0) {
                return Err(Error::UnsupportedVersion {
                    node: node.address.clone(),
                    version: node.version.clone(),
                });
            }
            if self.config.eviction == EvictionCheck::Refuse && node.can_evict() {
                return Err(Error::Evicting {
                    node: node.address.clone(),
                    policy: node.maxmemory_policy.clone(),
                    maxmemory: node.maxmemory,
                });
            }
            if matches!(self.config.durability, Durability::AppendOnlyFile { .. })
                && node.is_primary()
            {
                if node.version_number() < (7, 2) {
                    return Err(Error::Durability {
                        node: node.address.clone(),
                        reason: "WAITAOF needs Redis 7.2 or later",
                    });
                }
                if !node.aof_enabled {
                    return Err(Error::Durability {
                        node: node.address.clone(),
                        reason: "WAITAOF needs `appendonly yes`",
                    });
                }
            }
        }
        Ok(nodes)
    }

    /// Writes the data-loss markers of this prefix: once per deployment, from provisioning.
    ///
    /// Checks the servers first ([`check_servers`](Self::check_servers)). See
    /// [`Initialisation`] for what each mode assumes; afterwards
    /// [`verify_deployment`](Self::verify_deployment) passes and [`connect`](Self::connect)
    /// accepts the deployment.
    ///
    /// # Errors
    /// Those of [`check_servers`](Self::check_servers); [`Error::NotEmpty`] for a
    /// [`NewDeployment`](Initialisation::NewDeployment) that finds keys; [`Error::Store`] if a
    /// server fails.
    pub async fn initialise(&self, how: Initialisation) -> Result<InitialisationReport> {
        self.check_servers().await?;
        let mut report = InitialisationReport::default();
        match how {
            Initialisation::NewDeployment => {
                if self.markers_present().await? == SLOTS {
                    return Ok(report);
                }
                let pattern = self.prefix().scan_pattern();
                let found = self.scan(&pattern, Some(1)).await?;
                if found.iter().any(|(_, keys)| !keys.is_empty()) {
                    return Err(Error::NotEmpty {
                        prefix: self.prefix().to_string(),
                    });
                }
                report.markers_created = self.write_markers().await?;
            }
            Initialisation::AdoptExistingData => {
                report.markers_created = self.write_markers().await?;
                report.settings_adopted = self.adopt_settings().await?;
            }
        }
        Ok(report)
    }

    /// How many of the 16384 markers exist (one pipeline of `EXISTS` per node).
    async fn markers_present(&self) -> Result<usize> {
        let commands: Vec<Cmd> = self
            .keys
            .all_markers()
            .into_iter()
            .map(|marker| {
                let mut cmd = redis::cmd("EXISTS");
                cmd.arg(marker);
                cmd
            })
            .collect();
        let present = sum(self.per_slot(&commands).await?)?;
        Ok(usize::try_from(present).unwrap_or(usize::MAX))
    }

    /// `HSETNX <marker> init <now>` for every slot (one pipeline per node); returns how many were
    /// created.
    async fn write_markers(&self) -> Result<u64> {
        let now = to_ms(SystemTime::now());
        let commands: Vec<Cmd> = self
            .keys
            .all_markers()
            .into_iter()
            .map(|marker| {
                let mut cmd = redis::cmd("HSETNX");
                cmd.arg(marker).arg("init").arg(now);
                cmd
            })
            .collect();
        Ok(sum(self.per_slot(&commands).await?)?)
    }

    /// Gives every marker a TTL of `ttl` (throwaway test stores: a test that panics before its
    /// cleanup leaves no 2 MB of markers behind for longer than that).
    #[cfg(feature = "testkit")]
    pub(crate) async fn expire_markers(&self, ttl: std::time::Duration) -> Result<()> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let commands: Vec<Cmd> = self
            .keys
            .all_markers()
            .into_iter()
            .map(|marker| {
                let mut cmd = redis::cmd("PEXPIRE");
                cmd.arg(marker).arg(ms);
                cmd
            })
            .collect();
        self.per_slot(&commands).await?;
        Ok(())
    }

    /// Records every existing settings record in its slot's marker.
    async fn adopt_settings(&self) -> Result<u64> {
        let pattern = format!("{}u:*", self.prefix().scan_pattern().trim_end_matches('*'));
        let keys = self.scan(&pattern, None).await?;
        let mut adopted: u64 = 0;
        for key in keys
            .iter()
            .flat_map(|(_, keys)| keys)
            .filter(|k| is_settings_key(k))
        {
            let name = String::from_utf8_lossy(key).into_owned();
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.keys.marker_for(&name)).arg(key).arg("1");
            let _: Value = self.command(&cmd, Op::Write).await?;
            adopted = adopted.saturating_add(1);
        }
        Ok(adopted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_keys_are_adopted() {
        assert!(is_settings_key(b"{p:u:alice}:settings"));
        assert!(is_settings_key(b"{p:u:a:settings}:settings"));
        assert!(!is_settings_key(b"{p:u:alice}:ctr:4:totpa14:bob:settings"));
        assert!(!is_settings_key(b"{p:u:alice}:settingsx"));
        assert!(!is_settings_key(b"no tag:settings"));
    }

    #[test]
    fn info_is_read_field_by_field() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrole:master\r\n# Memory\r\n\
                    maxmemory:1048576\r\nmaxmemory_policy:allkeys-lru\r\naof_enabled:0\r\n\
                    connected_slaves:2\r\n";
        let node = NodeSettings::parse("standalone".into(), info);
        assert_eq!(node.version_number(), (7, 0));
        assert!(node.is_primary() && node.can_evict() && !node.aof_enabled);
        assert_eq!((node.maxmemory, node.connected_replicas), (1_048_576, 2));
        let unlimited =
            NodeSettings::parse("n".into(), "maxmemory:0\nmaxmemory_policy:allkeys-lru");
        assert!(!unlimited.can_evict(), "no limit, no eviction");
        let garbage = NodeSettings::parse("n".into(), "redis_version:x.y");
        assert_eq!(garbage.version_number(), (0, 0));
    }
}
