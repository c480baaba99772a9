//! The `email` Lambda function: mail SES stored in S3 (or handed over by SNS), read, routed
//! and queued. Wiring only; the decisions are `inlet::email`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inlet::email::lambda::run().await
}
