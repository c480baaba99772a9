//! The `webhook` Lambda function: sender webhooks and Rechat's own lead API, queued to SQS.
//! Wiring only; the router is `inlet::router`, the same one `inlet serve` runs.

#[tokio::main]
async fn main() -> Result<(), inlet::lambda::http::Error> {
    inlet::lambda::http::run(inlet::lambda::http::Function::Webhook).await
}
