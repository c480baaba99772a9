//! The `deliver` Lambda function: SQS batches of envelopes to Rechat. Wiring only; the
//! logic is `inlet::deliver`.

#[tokio::main]
async fn main() -> Result<(), inlet::lambda::Error> {
    inlet::lambda::deliver::run().await
}
