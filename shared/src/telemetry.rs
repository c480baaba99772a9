//! Logging set-up shared by every binary: JSON lines through `tracing`, level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else info.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| EnvFilter::new(l.to_lowercase()))
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
