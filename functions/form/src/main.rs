//! The `form` Lambda function: website forms (`/forms/…`), queued to SQS. Wiring only; the
//! router is `inlet::router`, the same one `inlet serve` runs.

#[tokio::main]
async fn main() -> Result<(), inlet::lambda::http::Error> {
    inlet::lambda::http::run(inlet::lambda::http::Function::Form).await
}
