//! The service: the facade, the users, the web edge, and the router with its layers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use mfa::Mfa;
use mfa::core::PasswordHasher;
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{EdgeConfig, EdgeConfigBuilder};
use tokio::net::TcpListener;

use crate::error::Result;
use crate::users::Users;

/// The TOTP + backup codes + SMS fallback web service. Cheap to clone (shared).
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) mfa: Mfa,
    pub(crate) users: Users,
    pub(crate) edge: EdgeConfig,
}

impl core::fmt::Debug for App {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("App")
            .field("transport", &self.inner.edge.transport())
            .finish_non_exhaustive()
    }
}

impl FromRef<App> for Mfa {
    fn from_ref(app: &App) -> Self {
        app.inner.mfa.clone()
    }
}

impl App {
    /// The service over `mfa` (see [`build_mfa`](crate::build_mfa)), with passwords hashed by
    /// `hasher` (users live in memory: a real application keeps them in its own database),
    /// reached as `edge` says.
    ///
    /// # Errors
    /// [`Error::Edge`](crate::Error::Edge) when the web edge refuses its settings,
    /// [`Error::Core`](crate::Error::Core) when the hasher fails.
    pub fn new(mfa: Mfa, hasher: PasswordHasher, edge: EdgeConfigBuilder) -> Result<Self> {
        let edge = edge.build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                mfa,
                users: Users::new(hasher)?,
                edge,
            }),
        })
    }

    /// The facade.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.inner.mfa
    }

    /// The routes with their layers: CSRF (the `X-CSRF-Token` header), the sessions (kept in
    /// `sessions`), and the edge (client address, security headers).
    pub fn router<S: SessionStore + Clone>(&self, sessions: S) -> Router {
        crate::routes::router(self.clone(), sessions)
    }

    /// Serves the API on `listener` until the task ends.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when serving fails.
    pub async fn serve<S: SessionStore + Clone>(
        self,
        listener: TcpListener,
        sessions: S,
    ) -> Result<()> {
        let service = self
            .router(sessions)
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await?;
        Ok(())
    }
}
