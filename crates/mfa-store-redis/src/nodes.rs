//! Commands addressed to every node (one server, or every primary of a Cluster): key scans,
//! deleting a prefix, reading `INFO`.

use mfa_store::Result as StoreResult;

use crate::RedisStore;
use crate::conn::{Nodes, text};
use crate::error::store_error;
use crate::store::{Op, decode};

impl RedisStore {
    /// Deletes every key under this store's prefix, data-loss markers included (`SCAN MATCH
    /// {<prefix>:*` on every primary, then `DEL`), for tests, benchmarks and decommissioning;
    /// returns how many keys went. Not atomic: keys written meanwhile may stay. Afterwards the
    /// prefix is uninitialised: operations answer [`StoreError::DataLoss`](mfa_store::StoreError::DataLoss).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`](mfa_store::StoreError::Unavailable) if a server does not answer.
    pub async fn delete_all_keys(&self) -> StoreResult<u64> {
        let keys = self.scan(&self.keys.prefix().scan_pattern(), None).await?;
        let mut deleted: u64 = 0;
        for chunk in keys.chunks(1000) {
            let n: u64 = self.command(redis::cmd("DEL").arg(chunk), Op::Read).await?;
            deleted = deleted.saturating_add(n);
        }
        Ok(deleted)
    }

    /// The keys matching `pattern` on every primary, at most `limit` if given.
    pub(crate) async fn scan(
        &self,
        pattern: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Vec<u8>>> {
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
        for (address, mut reply) in nodes {
            loop {
                let (cursor, keys): (u64, Vec<Vec<u8>>) =
                    decode(reply.extract_error().map_err(store_error)?)?;
                found.extend(keys);
                if cursor == 0 || limit.is_some_and(|limit| found.len() >= limit) {
                    break;
                }
                reply = self
                    .conn
                    .on_node(&address, &scan(cursor))
                    .await
                    .map_err(store_error)?;
            }
            if limit.is_some_and(|limit| found.len() >= limit) {
                break;
            }
        }
        Ok(found)
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
