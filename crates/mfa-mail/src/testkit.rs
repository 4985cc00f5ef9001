//! A real SMTP server on loopback for tests (feature `testkit`).
//!
//! [`SmtpTestServer::start`] listens on `127.0.0.1` on a free port, accepts every message (or
//! refuses recipients starting with `nobody@`, answering 550), and keeps what it received. Point
//! [`SmtpTestServer::mailer`] (an [`SmtpMailer`] speaking plain SMTP to it) at your code under
//! test, then read [`SmtpTestServer::messages`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mfa_mail::testkit::SmtpTestServer;
//! use mfa_mail::{EmailAddress, EmailMessage, Mailbox, Mailer};
//!
//! let server = SmtpTestServer::start()?;
//! let to = Mailbox::address_only(EmailAddress::parse("ada@example.com")?);
//! let from = Mailbox::address_only(EmailAddress::parse("app@example.com")?);
//! let message = EmailMessage::new(from, to, "Hello", "Body", "<p>Body</p>");
//! server.mailer()?.send(&message).await?;
//! let received = server.messages();
//! assert_eq!(received.len(), 1);
//! assert_eq!(received[0].rcpt_to, ["ada@example.com"]);
//! assert!(received[0].text().contains("Body"));
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, response};

use crate::error::Result;
use crate::smtp::{SmtpConfig, SmtpMailer, SmtpSecurity};

/// One message as the test server received it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The raw message (headers and bodies) as sent in `DATA`.
    pub data: Vec<u8>,
}

impl ReceivedMail {
    /// The raw message as text (lossy UTF-8), with quoted-printable soft line breaks joined
    /// and `=3D` decoded, so a test can search it for a code or a link.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data)
            .replace("=\r\n", "")
            .replace("=3D", "=")
    }
}

impl core::fmt::Debug for ReceivedMail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The data holds codes and links: print its length only.
        f.debug_struct("ReceivedMail")
            .field("mail_from", &self.mail_from)
            .field("rcpt_to", &self.rcpt_to)
            .field("data_len", &self.data.len())
            .finish()
    }
}

#[derive(Clone)]
struct Recorder {
    current: ReceivedMail,
    done: Arc<Mutex<Vec<ReceivedMail>>>,
    closed: Arc<AtomicBool>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        if self.closed.load(Ordering::SeqCst) {
            return response::NO_SERVICE;
        }
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        if self.closed.load(Ordering::SeqCst) {
            return response::NO_SERVICE;
        }
        self.current = ReceivedMail {
            mail_from: from.to_owned(),
            ..ReceivedMail::default()
        };
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with("nobody@") {
            return response::NO_MAILBOX;
        }
        self.current.rcpt_to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(core::mem::take(&mut self.current));
        response::OK
    }
}

/// A real SMTP server on a free loopback port, collecting what it receives.
///
/// Dropping it shuts it down: it answers 421 ("service not available") from then on.
/// `mailin-embedded` has no way to stop its accept loop, so the listening thread stays parked
/// in `accept` until the test process ends; it uses no CPU.
#[derive(Debug)]
pub struct SmtpTestServer {
    port: u16,
    done: Arc<Mutex<Vec<ReceivedMail>>>,
    closed: Arc<AtomicBool>,
}

impl SmtpTestServer {
    /// Starts a server on `127.0.0.1` with a free port.
    ///
    /// # Errors
    /// [`MailError::Io`](crate::MailError::Io) when no loopback port can be bound.
    pub fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let done = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let recorder = Recorder {
            current: ReceivedMail::default(),
            done: Arc::clone(&done),
            closed: Arc::clone(&closed),
        };
        let mut server = Server::new(recorder);
        server
            .with_name("mx.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name(format!("smtp-test-{port}"))
            .spawn(move || {
                let _ = server.serve();
            })?;
        Ok(Self { port, done, closed })
    }

    /// The port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain-SMTP configuration for this server (5 s timeouts).
    #[must_use]
    pub fn config(&self) -> SmtpConfig {
        let mut config = SmtpConfig::new("127.0.0.1", SmtpSecurity::Plain).with_port(self.port);
        config.timeout = Duration::from_secs(5);
        config.hello_name = Some("client.test".into());
        config
    }

    /// An [`SmtpMailer`] that delivers to this server.
    ///
    /// # Errors
    /// As [`SmtpMailer::new`].
    pub fn mailer(&self) -> Result<SmtpMailer> {
        SmtpMailer::new(self.config())
    }

    /// Every message received so far, oldest first.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns every message received so far.
    pub fn take(&self) -> Vec<ReceivedMail> {
        core::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for SmtpTestServer {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}
