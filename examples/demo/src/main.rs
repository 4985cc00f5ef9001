//! `cargo run -p mfa-demo`: the demo web app on 127.0.0.1:3000 (see the README).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match mfa_demo::DemoConfig::from_env() {
        Ok(config) => mfa_demo::run(config).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the demo stopped");
            ExitCode::FAILURE
        }
    }
}
