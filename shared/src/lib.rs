//! Inlet's library: everything that decides something lives here, as plain functions over
//! plain data, with adapters (SQS, DynamoDB, S3, Rechat over HTTP) behind narrow traits.
//!
//! Its modules import in one direction, each only from the layers above it in this list
//! (`tests/layers.rs` holds them to it):
//!
//! 0. foundations with no domain in them: `mask`, `telemetry`, `tls`;
//! 1. plain data and decisions: `lead`, `normalize`, `envelope`, the field-alias table
//!    (`fields`), and the routing file's value readers (`settings`); no HTTP, no AWS;
//! 2. HTTP (`web`): request and response types, the refusal error with its status and code,
//!    body decoding, signatures and tokens, CORS, the channel allowlist;
//! 3. the sources, side by side and never importing each other: Rechat's own routes
//!    (`rechat_api`), sender webhooks (`webhook`), website forms (`forms`), mail (`email`);
//!    each owns its settings and its part of the routing file;
//! 4. the ports and their adapters: `queue`, `ledger`, `objects`, `rechat`, `meta_graph`,
//!    the SNS endpoint (`sns`: signing certificates, subscription confirmations),
//!    what is kept for a person to review and release (`kept`: spam, mail read as no
//!    lead, unsure readings),
//!    the embedded SQLite store that implements the queue and ledger for `inlet serve`
//!    (`embedded`), the AWS SDK's set-up (`sdk`) and stack outputs (`stack`);
//! 5. delivery (`deliver`): envelopes off the queue, to Rechat; and Meta reconciliation
//!    (`meta_reconcile`): the leads Meta's webhooks missed, asked of the Graph API and queued
//!    as a webhook would have;
//! 6. wiring: the `router`, `serve`, the Lambda adapters (`lambda`), and `config`, which
//!    reads the environment and the routing file into each source's settings.
//!
//! Features keep each binary to what it runs: `aws` (the SDK adapters), `lambda` (the
//! Lambda adapters), `embedded` and `serve` (`inlet serve`'s SQLite store and HTTP server),
//! `stack` (CloudFormation, for the CLI). The Lambda functions take `lambda` alone.

// 0. foundations
pub mod mask;
pub mod telemetry;
pub mod tls;

// 1. plain data and decisions
pub mod breaker;
pub mod envelope;
pub mod fields;
pub mod lead;
pub mod normalize;
pub mod postal;
pub mod settings;

// 2. HTTP
pub mod web;

// 3. sources
pub mod email;
pub mod forms;
pub mod rechat_api;
pub mod webhook;

// 4. ports and adapters
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod kept;
pub mod ledger;
pub mod meta_graph;
pub mod objects;
/// What each lead source usually carries, and its drift (kept as a ledger document).
pub mod profile;
pub mod queue;
pub mod rechat;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod sns;
#[cfg(feature = "stack")]
pub mod stack;

// 5. delivery
pub mod deliver;
pub mod meta_reconcile;

// 6. wiring
pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod router;
#[cfg(feature = "serve")]
pub mod serve;

/// This build's version, as `inlet/<version>` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
