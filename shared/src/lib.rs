//! Inlet's library: everything that decides something lives here, as plain functions over
//! plain data, with adapters (SQS, DynamoDB, Rechat over HTTP) behind narrow traits.

pub mod config;
pub mod deliver;
pub mod email;
pub mod embedded;
pub mod envelope;
pub mod forms;
pub mod intake;
pub mod lead;
pub mod ledger;
pub mod mask;
pub mod meta_graph;
pub mod normalize;
pub mod objects;
pub mod queue;
pub mod rechat;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod serve;
#[cfg(feature = "aws")]
pub mod stack;
pub mod telemetry;
pub mod tls;
pub mod webhook;

/// This build's version, as `inlet/<version>` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
