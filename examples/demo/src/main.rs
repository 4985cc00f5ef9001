//! `cargo run -p mfa-demo`: the demo web app on 127.0.0.1:3000 (see the README);
//! `cargo run -p mfa-demo -- init-redis`: the one-time initialisation of a new Redis deployment.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match std::env::args().nth(1).as_deref() {
        None => match mfa_demo::DemoConfig::from_env() {
            Ok(config) => mfa_demo::run(config).await,
            Err(e) => Err(e),
        },
        // The provisioning step of a new Redis deployment, run once (never at start-up).
        Some("init-redis") => {
            let url = mfa_demo::redis_url_from_env();
            mfa_demo::initialise_redis(&url).await.map(|markers| {
                tracing::info!(%url, prefix = mfa_demo::REDIS_PREFIX, markers, "Redis initialised");
            })
        }
        Some(other) => Err(mfa_demo::Error::Config(format!(
            "unknown command {other:?}: run without arguments, or `init-redis` once to \
             initialise a new Redis deployment"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the demo stopped");
            ExitCode::FAILURE
        }
    }
}
