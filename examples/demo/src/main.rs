//! `cargo run -p mfa-demo`: the demo web app on http://localhost:3000 (see the README);
//! `cargo run -p mfa-demo -- init-redis`: the one-time initialisation of a new Redis deployment;
//! `cargo run -p mfa-demo -- add-user NAME` (password on standard input): an account created
//! by the operator, the way to create an administrator's account outside development.

use std::io::BufRead as _;
use std::process::ExitCode;

use zeroize::Zeroizing;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        None => match mfa_demo::DemoConfig::from_env() {
            Ok(config) => mfa_demo::run(config).await,
            Err(e) => Err(e),
        },
        // The provisioning step of a new Redis deployment, run once (never at start-up).
        Some("init-redis") => {
            let url = mfa_demo::redis_url_from_env();
            mfa_demo::initialise_redis(&url).await.map(|markers| {
                tracing::info!(
                    prefix = mfa_demo::REDIS_PREFIX,
                    markers,
                    "Redis initialised"
                );
            })
        }
        Some("add-user") => match args.next() {
            Some(name) => add_user(&name).await,
            None => Err(mfa_demo::Error::Config(
                "usage: mfa-demo add-user NAME (the password on standard input)".into(),
            )),
        },
        Some(other) => Err(mfa_demo::Error::Config(format!(
            "unknown command {other:?}: run without arguments, `init-redis` once to initialise \
             a new Redis deployment, or `add-user NAME`"
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

/// Creates `name` with the password read from the first line of standard input.
async fn add_user(name: &str) -> mfa_demo::Result<()> {
    let config = mfa_demo::DemoConfig::from_env()?;
    let password = Zeroizing::new(
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|_| mfa_demo::Error::Config("reading standard input failed".into()))??,
    );
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| mfa_demo::local_url(config.addr));
    let demo = mfa_demo::Demo::build(&config, &base).await?;
    let name = name.trim().to_ascii_lowercase();
    let password = password.trim_end_matches(['\r', '\n']);
    if demo.add_user(&name, password).await? {
        tracing::info!(user = %name, "account created");
        Ok(())
    } else {
        Err(mfa_demo::Error::Config(format!(
            "the user name {name:?} is taken"
        )))
    }
}
