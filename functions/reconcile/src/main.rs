//! The `reconcile` Lambda function: one Meta reconciliation pass per scheduled invocation.
//! Wiring only; the logic is `inlet::meta_reconcile`.

#[tokio::main]
async fn main() -> Result<(), inlet::lambda::Error> {
    inlet::lambda::reconcile::run().await
}
