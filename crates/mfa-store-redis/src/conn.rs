//! The connection: one standalone server (a reconnecting `ConnectionManager`) or a Redis
//! Cluster (the `redis` crate's async cluster client). Scripts go through the same code for
//! both; only the commands addressed to every node (`INFO`, `SCAN`) differ.

use std::sync::Arc;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo,
};
use redis::{Client, Cmd, ErrorKind, Pipeline, RedisError, RedisResult, Value};

use crate::slot::SLOTS;
use crate::{Error, RedisConfig, Result};

/// The address reported for a standalone server whose address is unknown (`from_manager`).
pub(crate) const STANDALONE: &str = "standalone";

/// Which nodes a command addressed to every node goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nodes {
    /// Primaries only (where the data is written).
    Primaries,
    /// Primaries and replicas (a replica becomes primary in a failover).
    All,
}

/// A standalone or Cluster connection; cheap to clone (clones share the connections).
#[derive(Clone)]
pub(crate) enum Conn {
    /// A standalone server, and its `host:port` for messages (never the URL: it may hold a
    /// password).
    Standalone(ConnectionManager, Arc<str>),
    Cluster(ClusterConnection),
}

impl Conn {
    /// A lazy standalone connection to `url`.
    pub(crate) fn standalone(url: &str, config: &RedisConfig) -> Result<Self> {
        let client = Client::open(url).map_err(Error::InvalidUrl)?;
        let address: Arc<str> = client.get_connection_info().addr().to_string().into();
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries);
        ConnectionManager::new_lazy_with_config(client, manager)
            .map(|conn| Self::Standalone(conn, address))
            .map_err(Error::InvalidUrl)
    }

    /// A lazy Cluster connection seeded by `urls`.
    ///
    /// The client's own retries are off (`retries(0)`): it would resend a command whose
    /// connection broke after it was written, running a write twice. The store retries itself,
    /// and only what is safe to retry (see `RedisStore::run`).
    pub(crate) fn cluster<I, S>(urls: I, config: &RedisConfig) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls: Vec<String> = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        if urls.is_empty() {
            return Err(Error::InvalidConfig(
                "a Redis Cluster needs at least one URL",
            ));
        }
        let client = ClusterClientBuilder::new(urls)
            .retries(0)
            .connection_timeout(config.connection_timeout)
            .response_timeout(config.response_timeout)
            .build()
            .map_err(Error::InvalidUrl)?;
        let cluster = ClusterConfig::new()
            .set_connection_timeout(config.connection_timeout)
            .set_response_timeout(config.response_timeout);
        Ok(Self::Cluster(
            client.get_pending_async_connection_with_config(cluster),
        ))
    }

    /// Whether this is a Cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Sends one command (routed by its key on a Cluster). A server error is an `Err`.
    pub(crate) async fn command(&self, cmd: &Cmd) -> RedisResult<Value> {
        let reply = match self.clone() {
            Self::Standalone(mut conn, _) => conn.req_packed_command(cmd).await,
            Self::Cluster(mut conn) => conn.req_packed_command(cmd).await,
        }?;
        reply.extract_error()
    }

    /// Sends a pipeline on one connection, in one write (on a Cluster: to the node of its first
    /// key). Server errors come back as `Value::ServerError` entries.
    pub(crate) async fn pipeline(&self, pipe: &Pipeline, count: usize) -> RedisResult<Vec<Value>> {
        match self.clone() {
            Self::Standalone(mut conn, _) => conn.req_packed_commands(pipe, 0, count).await,
            Self::Cluster(mut conn) => conn.req_packed_commands(pipe, 0, count).await,
        }
    }

    /// Sends `cmd` to every node of `nodes` and returns each node's reply (a server error as
    /// `Value::ServerError`), by address.
    pub(crate) async fn each_node(
        &self,
        cmd: &Cmd,
        nodes: Nodes,
    ) -> RedisResult<Vec<(String, Value)>> {
        match self.clone() {
            Self::Standalone(mut conn, address) => {
                let reply = conn.req_packed_command(cmd).await?;
                Ok(vec![(address.to_string(), reply)])
            }
            Self::Cluster(mut conn) => {
                let which = match nodes {
                    Nodes::Primaries => MultipleNodeRoutingInfo::AllMasters,
                    Nodes::All => MultipleNodeRoutingInfo::AllNodes,
                };
                let routing = RoutingInfo::MultiNode((which, Some(ResponsePolicy::Special)));
                match conn.route_command(cmd.clone(), routing).await? {
                    Value::Map(replies) => Ok(replies
                        .into_iter()
                        .map(|(address, reply)| (text(&address), reply))
                        .collect()),
                    other => Ok(vec![(String::new(), other)]),
                }
            }
        }
    }

    /// Sends `cmd` to the node at `address` (as [`each_node`](Self::each_node) named it). A
    /// server error is an `Err`.
    pub(crate) async fn on_node(&self, address: &str, cmd: &Cmd) -> RedisResult<Value> {
        match self.clone() {
            Self::Standalone(mut conn, _) => conn.req_packed_command(cmd).await?.extract_error(),
            Self::Cluster(mut conn) => conn
                .route_command(cmd.clone(), RoutingInfo::SingleNode(by_address(address)?))
                .await?
                .extract_error(),
        }
    }

    /// Sends a pipeline to the node at `address`, in one request: commands on keys of several
    /// slots that node serves, which no multi-key command may mix on a Cluster. Server errors
    /// come back as `Value::ServerError` entries (a redirection as an `Err`).
    pub(crate) async fn pipeline_on_node(
        &self,
        address: &str,
        pipe: &Pipeline,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self.clone() {
            Self::Standalone(mut conn, _) => conn.req_packed_commands(pipe, 0, count).await,
            Self::Cluster(mut conn) => {
                conn.route_pipeline(pipe.clone(), 0, count, by_address(address)?)
                    .await
            }
        }
    }

    /// Which node serves which slots: `(first slot, last slot, address)` ranges, from
    /// `CLUSTER SLOTS`; the whole range on the one server of a standalone connection.
    pub(crate) async fn slot_owners(&self) -> RedisResult<Vec<(u16, u16, String)>> {
        let conn = match self.clone() {
            Self::Standalone(_, address) => {
                let last = u16::try_from(SLOTS - 1).unwrap_or(u16::MAX);
                return Ok(vec![(0, last, address.to_string())]);
            }
            Self::Cluster(conn) => conn,
        };
        let mut conn = conn;
        let reply = conn
            .req_packed_command(&redis::cmd("CLUSTER").arg("SLOTS").clone())
            .await?
            .extract_error()?;
        let Value::Array(ranges) = reply else {
            return Err(unexpected("CLUSTER SLOTS"));
        };
        ranges
            .iter()
            .map(|range| {
                let Value::Array(parts) = range else {
                    return Err(unexpected("a CLUSTER SLOTS range"));
                };
                match parts.as_slice() {
                    [
                        Value::Int(first),
                        Value::Int(last),
                        Value::Array(primary),
                        ..,
                    ] => {
                        let (Ok(first), Ok(last)) = (u16::try_from(*first), u16::try_from(*last))
                        else {
                            return Err(unexpected("a CLUSTER SLOTS slot"));
                        };
                        match primary.as_slice() {
                            [host, Value::Int(port), ..] => {
                                Ok((first, last, format!("{}:{port}", text(host))))
                            }
                            _ => Err(unexpected("a CLUSTER SLOTS node")),
                        }
                    }
                    _ => Err(unexpected("a CLUSTER SLOTS range")),
                }
            })
            .collect()
    }
}

/// Routing to the node at `host:port`.
fn by_address(address: &str) -> RedisResult<SingleNodeRoutingInfo> {
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
        .ok_or_else(|| unexpected("a cluster node address without a port"))?;
    Ok(SingleNodeRoutingInfo::ByAddress { host, port })
}

fn unexpected(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::UnexpectedReturnType, what))
}

/// A reply as text (status, bulk or verbatim string), empty for anything else.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        _ => String::new(),
    }
}
