//! Test support shared by the workspace's tests: a faithful Rechat test double, a moto
//! server harness and the log scan for personal data. Nothing here depends on Inlet itself, so any crate's tests can use it.

pub mod captcha_double;
pub mod graph_double;
pub mod moto;
pub mod pii;
pub mod rechat_double;

pub use captcha_double::CaptchaDouble;
pub use graph_double::{GraphDouble, leadgen_notification};
pub use moto::Moto;
pub use rechat_double::{Fault, FaultRates, RechatDouble, Recorded, Route, token_in};

/// A proof run's size: the environment variable `var` when it parses, else `default` (the
/// short version `make test` runs; `make proof` sets the full sizes).
pub fn scale<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
