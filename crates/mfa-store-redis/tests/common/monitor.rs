//! The commands clients send, as `MONITOR` shows them on one or more servers: what a store
//! operation costs in commands, counted by the servers themselves.

use futures_util::StreamExt as _;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc::UnboundedReceiver;

/// `MONITOR` streams of some servers, read up to `ECHO` marks the test sends.
pub struct Commands {
    nodes: Vec<(UnboundedReceiver<String>, MultiplexedConnection)>,
    filter: String,
    marks: u32,
}

impl Commands {
    /// Monitors every server of `urls`, keeping only lines that contain `filter` (a store's
    /// prefix: other tests' commands on the same servers are left out).
    pub async fn start(urls: &[String], filter: &str) -> Self {
        let mut nodes = Vec::new();
        for url in urls {
            let client = redis::Client::open(url.as_str()).unwrap();
            let monitor = client.get_async_monitor().await.unwrap();
            let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                let mut stream = monitor.into_on_message::<String>();
                while let Some(line) = stream.next().await {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            nodes.push((lines, super::admin(url).await));
        }
        let mut commands = Self {
            nodes,
            filter: filter.to_owned(),
            marks: 0,
        };
        // MONITOR may start a little after it answered: wait for a first mark on every server.
        commands.since_last_mark().await;
        commands
    }

    /// The client commands (not those scripts run inside, which MONITOR marks `lua`) seen on
    /// every server since the previous mark.
    pub async fn since_last_mark(&mut self) -> Vec<String> {
        self.marks += 1;
        let mark = format!("mark-{}", self.marks);
        let mut seen = Vec::new();
        for (lines, admin) in &mut self.nodes {
            let _: String = redis::cmd("ECHO")
                .arg(&mark)
                .query_async(admin)
                .await
                .unwrap();
            while let Some(line) = lines.recv().await {
                if line.contains(&mark) {
                    break;
                }
                if line.contains(&self.filter) && !line.contains(" lua]") {
                    seen.push(line);
                }
            }
        }
        seen
    }
}
