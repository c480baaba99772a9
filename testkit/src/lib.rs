//! Test support shared by the workspace's tests: a faithful Rechat test double, a moto
//! server harness and the log scan for personal data. Nothing here depends on Inlet itself, so any crate's tests can use it.

pub mod captcha_double;
pub mod graph_double;
pub mod moto;
pub mod pii;
pub mod rechat_double;

pub use captcha_double::CaptchaDouble;
pub use graph_double::GraphDouble;
pub use moto::Moto;
pub use rechat_double::{Fault, FaultRates, RechatDouble, Recorded, Route, token_in};
