//! The Lambda adapters (wiring): each function's start-up from the environment and its
//! handler, an event in and an answer out. `http` serves the router for the `webhook` and
//! `form` functions, `email` reads SES's mail, `deliver` takes SQS batches to Rechat,
//! `reconcile` runs Meta reconciliation on the stack's schedule.

pub mod deliver;
pub mod email;
pub mod http;
pub mod reconcile;

/// What a function's start-up or runtime fails with.
pub use lambda_runtime::Error;
