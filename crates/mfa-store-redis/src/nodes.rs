//! Commands addressed to every node (one server, or every primary of a Cluster): key scans,
//! deleting a prefix, reading `INFO`, and one command per hash slot (the data-loss markers).
//!
//! A Cluster refuses a multi-key command over several slots, and the cluster client splits one
//! into a request per slot; for 16384 markers that took seconds. These commands instead go as
//! one pipeline per node, addressed to the node that serves the keys.

use std::time::Duration;

use futures_util::future::join_all;
use mfa_store::{Result as StoreResult, StoreError};
use redis::{Cmd, RedisError, Value};

use crate::RedisStore;
use crate::conn::{Nodes, text};
use crate::error::{is_refused_unrun, store_error};
use crate::store::decode;

/// How many keys one `UNLINK` pipeline of [`RedisStore::delete_all_keys`] carries.
const DELETE_BATCH: usize = 1000;

/// How many times a per-slot batch is sent again after a redirection (a slot moved while it
/// ran); its commands are idempotent.
const BATCH_RETRIES: u32 = 4;

impl RedisStore {
    /// Deletes every key under this store's prefix, data-loss markers included (`SCAN MATCH
    /// {<prefix>:*` on every primary, then `UNLINK` on that primary), for tests, benchmarks and
    /// decommissioning; returns how many keys went. Not atomic: keys written meanwhile may stay.
    /// Afterwards the prefix is uninitialised: operations answer
    /// [`StoreError::DataLoss`](mfa_store::StoreError::DataLoss).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`](mfa_store::StoreError::Unavailable) if a server does not
    /// answer.
    pub async fn delete_all_keys(&self) -> StoreResult<u64> {
        let mut deleted: u64 = 0;
        for (address, keys) in self.scan(&self.keys.prefix().scan_pattern(), None).await? {
            for chunk in keys.chunks(DELETE_BATCH) {
                let mut pipe = redis::pipe();
                for key in chunk {
                    pipe.cmd("UNLINK").arg(key);
                }
                let replies = self
                    .conn
                    .pipeline_on_node(&address, &pipe, chunk.len())
                    .await
                    .map_err(store_error)?;
                for reply in replies {
                    let n: u64 = decode(reply.extract_error().map_err(store_error)?)?;
                    deleted = deleted.saturating_add(n);
                }
            }
        }
        Ok(deleted)
    }

    /// The keys matching `pattern` on each primary, by its address; at most about `limit` in
    /// all if given.
    pub(crate) async fn scan(
        &self,
        pattern: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<(String, Vec<Vec<u8>>)>> {
        let scan = |cursor: u64| {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            cmd
        };
        let nodes = self
            .conn
            .each_node(&scan(0), Nodes::Primaries)
            .await
            .map_err(store_error)?;
        let mut found = Vec::new();
        let mut total = 0_usize;
        for (address, mut reply) in nodes {
            let mut keys = Vec::new();
            loop {
                let (cursor, batch): (u64, Vec<Vec<u8>>) =
                    decode(reply.extract_error().map_err(store_error)?)?;
                total = total.saturating_add(batch.len());
                keys.extend(batch);
                if cursor == 0 || limit.is_some_and(|limit| total >= limit) {
                    break;
                }
                reply = self
                    .conn
                    .on_node(&address, &scan(cursor))
                    .await
                    .map_err(store_error)?;
            }
            found.push((address, keys));
            if limit.is_some_and(|limit| total >= limit) {
                break;
            }
        }
        Ok(found)
    }

    /// Sends `commands[slot]`, one single-key command for each slot in slot order, as one
    /// pipeline per node serving those slots, all nodes at once; returns the replies in slot
    /// order. The commands must be idempotent: a redirection sends the whole batch again.
    pub(crate) async fn per_slot(&self, commands: &[Cmd]) -> StoreResult<Vec<Value>> {
        let mut attempt = 0;
        loop {
            match self.per_slot_once(commands).await {
                Err(error) if is_refused_unrun(&error) && attempt < BATCH_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                other => return other.map_err(store_error),
            }
        }
    }

    async fn per_slot_once(&self, commands: &[Cmd]) -> Result<Vec<Value>, RedisError> {
        let mut nodes: Vec<(String, Vec<usize>)> = Vec::new();
        for (first, last, address) in self.conn.slot_owners().await? {
            let slots: Vec<usize> = (usize::from(first)..=usize::from(last))
                .filter(|&slot| slot < commands.len())
                .collect();
            match nodes.iter_mut().find(|(a, _)| *a == address) {
                Some((_, owned)) => owned.extend(slots),
                None => nodes.push((address, slots)),
            }
        }
        let sends = nodes.iter().map(|(address, slots)| {
            let mut pipe = redis::pipe();
            for cmd in slots.iter().filter_map(|&slot| commands.get(slot)) {
                pipe.add_command(cmd.clone());
            }
            async move {
                self.conn
                    .pipeline_on_node(address, &pipe, slots.len())
                    .await
            }
        });
        let mut replies: Vec<Option<Value>> = vec![None; commands.len()];
        for ((_, slots), sent) in nodes.iter().zip(join_all(sends).await) {
            for (&slot, reply) in slots.iter().zip(sent?) {
                if let Some(entry) = replies.get_mut(slot) {
                    *entry = Some(reply.extract_error()?);
                }
            }
        }
        // A slot no node serves (a Cluster missing slots) has no reply: the cluster is down.
        replies
            .into_iter()
            .map(|reply| {
                reply.ok_or_else(|| {
                    RedisError::from((
                        redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
                        "a hash slot is not served by any node",
                    ))
                })
            })
            .collect()
    }

    /// The text of the `INFO` reply of every node (primaries and replicas), by address.
    pub(crate) async fn info_of_every_node(&self) -> StoreResult<Vec<(String, String)>> {
        let replies = self
            .conn
            .each_node(&redis::cmd("INFO"), Nodes::All)
            .await
            .map_err(store_error)?;
        replies
            .into_iter()
            .map(|(address, reply)| {
                let reply = reply.extract_error().map_err(store_error)?;
                Ok((address, text(&reply)))
            })
            .collect()
    }
}

/// The sum of integer replies (`EXISTS`, `HSETNX` per marker).
pub(crate) fn sum(replies: Vec<Value>) -> StoreResult<u64> {
    replies.into_iter().try_fold(0_u64, |total, reply| {
        let n: u64 = decode(reply)?;
        Ok::<u64, StoreError>(total.saturating_add(n))
    })
}
