//! A deployed stack's outputs (template.yaml's `QueueUrl`, `DeadLetterQueueUrl`,
//! `LedgerTable`, …), so the CLI can operate on it by name.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("CloudFormation: {0}")]
    Unavailable(String),
    #[error("no stack named {0}")]
    NotFound(String),
    #[error("stack {stack} has no output {output} (is it an Inlet stack?)")]
    MissingOutput { stack: String, output: String },
}

/// The outputs of stack `name`.
pub async fn outputs(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<HashMap<String, String>, StackError> {
    let out = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            let text = aws_sdk_cloudformation::error::DisplayErrorContext(&e).to_string();
            if text.contains("does not exist") {
                StackError::NotFound(name.to_owned())
            } else {
                StackError::Unavailable(text)
            }
        })?;
    let stack = out
        .stacks()
        .first()
        .ok_or_else(|| StackError::NotFound(name.to_owned()))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// One named output.
pub fn output<'a>(
    outputs: &'a HashMap<String, String>,
    stack: &str,
    key: &str,
) -> Result<&'a str, StackError> {
    outputs
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| StackError::MissingOutput {
            stack: stack.to_owned(),
            output: key.to_owned(),
        })
}
