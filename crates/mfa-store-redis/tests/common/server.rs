//! Redis servers a test starts for itself on free loopback ports (never the shared one on
//! 6379): with a tiny `maxmemory`, as a replica, or restarted empty. Each runs in the
//! foreground as a child of the test process, in its own temporary directory, keeps nothing on
//! disk, and is killed when its handle drops, also when the test fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mfa_store_redis::testkit::skip_or_fail;
use redis::aio::MultiplexedConnection;

/// A `redis-server` process of this test.
pub struct RedisServer {
    child: Child,
    port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` with `args` on a free port; `None` (after `skip_or_fail`) if it
    /// cannot be started, e.g. because it is not installed.
    pub async fn start(test: &str, args: &[&str]) -> Option<Self> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut last_error = String::new();
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            match spawn(port, &args, &dir).await {
                Ok(child) => {
                    return Some(Self {
                        child,
                        port,
                        args,
                        dir,
                    });
                }
                Err(error) => last_error = error,
            }
        }
        skip_or_fail(test, "redis-server (started by the test)", &last_error);
        None
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain connection to it.
    pub async fn admin(&self) -> MultiplexedConnection {
        super::admin(&self.url()).await
    }

    /// Kills the server and starts a new, empty one on the same port with the same arguments:
    /// what a restart without persistence, or a failover to an empty replica, looks like.
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.child = spawn(self.port, &self.args, &self.dir)
            .await
            .unwrap_or_else(|e| panic!("restarting redis-server on {}: {e}", self.port));
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Starts the process and waits (up to 5 s) until it answers `PING`.
async fn spawn(port: u16, args: &[String], dir: &tempfile::TempDir) -> Result<Child, String> {
    let log = dir.path().join(format!("redis-{port}.log"));
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--logfile")
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run redis-server: {e}"))?;
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("redis-server on {port} exited ({status}): {tail}"));
        }
        if ping(&url).await {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("redis-server on {port} did not answer within 5 s"))
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}
