//! The `webhook` Lambda function: sender webhooks and Rechat's own lead API, queued to SQS.
//! Wiring only; the router is `inlet::intake`, the same one `inlet serve` runs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    inlet::intake::lambda::run().await
}
