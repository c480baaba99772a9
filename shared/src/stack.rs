//! A deployed stack's outputs (template.yaml's `QueueUrl`, `DeadLetterQueueUrl`,
//! `LedgerTable`, …), so the CLI can operate on it by name, and what CloudWatch says of it
//! (`metrics`): the queue's oldest lead, and Inlet's leads by outcome.

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

/// Stack `name` as CloudFormation describes it.
async fn describe(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<aws_sdk_cloudformation::types::Stack, StackError> {
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
    out.stacks()
        .first()
        .cloned()
        .ok_or_else(|| StackError::NotFound(name.to_owned()))
}

/// The outputs of stack `name`.
pub async fn outputs(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<HashMap<String, String>, StackError> {
    Ok(describe(client, name)
        .await?
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// The parameters stack `name` was deployed with (template.yaml's `AllowedChannels`,
/// `DefaultChannel`, `RoutingParameter`, …), as CloudFormation reports them.
pub async fn parameters(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<HashMap<String, String>, StackError> {
    Ok(describe(client, name)
        .await?
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.resolved_value()
                    .or(p.parameter_value())
                    .unwrap_or_default()
                    .to_owned(),
            ))
        })
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

/// What CloudWatch says of a stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackMetrics {
    /// The oldest waiting lead's age (SQS's `ApproximateAgeOfOldestMessage`, its newest
    /// minute in the last quarter hour); `None` when SQS reported none.
    pub oldest_waiting_secs: Option<u64>,
    /// Inlet's `Leads` metric by outcome: (outcome, last hour, last day), in `OUTCOMES`
    /// order.
    pub leads: Vec<(&'static str, u64, u64)>,
}

/// The outcomes Inlet counts (`telemetry::count_lead`).
pub const OUTCOMES: [&str; 9] = [
    "received",
    "queued",
    "delivered",
    "retry",
    "dead_lettered",
    "unknown_lead",
    "spam",
    "not_a_lead",
    "unroutable",
];

/// Reads the stack's metrics from CloudWatch: one `GetMetricData` call for the queue's
/// oldest age (a minute at a time) and the leads by outcome (an hour at a time, over the
/// last day).
pub async fn metrics(
    client: &aws_sdk_cloudwatch::Client,
    queue_url: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StackMetrics, StackError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
    let queue_name = queue_url.rsplit('/').next().unwrap_or(queue_url);
    let query =
        |id: String, namespace: &str, name: &str, dim: (&str, &str), period: i32, stat: &str| {
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(namespace)
                                .metric_name(name)
                                .dimensions(Dimension::builder().name(dim.0).value(dim.1).build())
                                .build(),
                        )
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .return_data(true)
                .build()
        };
    // Whole minutes: CloudWatch aligns periods to them.
    let end = now.timestamp() - now.timestamp() % 60 + 60;
    let start = end - 86_400;
    let mut request = client
        .get_metric_data()
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampDescending)
        .metric_data_queries(query(
            "oldest".into(),
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            ("QueueName", queue_name),
            60,
            "Maximum",
        ));
    for (i, outcome) in OUTCOMES.iter().enumerate() {
        request = request.metric_data_queries(query(
            format!("leads{i}"),
            crate::telemetry::METRIC_NAMESPACE,
            "Leads",
            ("Outcome", outcome),
            3600,
            "Sum",
        ));
    }
    let mut results = Vec::new();
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            StackError::Unavailable(format!(
                "CloudWatch: {}",
                aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
            ))
        })?;
        results.extend(page.metric_data_results().iter().cloned());
    }
    let series = |id: &str| -> Vec<(i64, f64)> {
        let mut points: Vec<(i64, f64)> = results
            .iter()
            .filter(|r| r.id() == Some(id))
            .flat_map(|r| {
                r.timestamps()
                    .iter()
                    .map(|t| t.secs())
                    .zip(r.values().iter().copied())
                    .collect::<Vec<_>>()
            })
            .collect();
        points.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        points
    };
    let oldest_waiting_secs = series("oldest")
        .into_iter()
        .find(|(t, _)| *t >= end - 15 * 60)
        .map(|(_, v)| v.max(0.0) as u64);
    let leads = OUTCOMES
        .iter()
        .enumerate()
        .map(|(i, outcome)| {
            let points = series(&format!("leads{i}"));
            let day: f64 = points.iter().map(|(_, v)| v).sum();
            // The periods run from `start` an hour at a time: the last is the last hour.
            let hour: f64 = points
                .iter()
                .filter(|(t, _)| *t >= end - 3600)
                .map(|(_, v)| v)
                .sum();
            (*outcome, hour as u64, day as u64)
        })
        .collect();
    Ok(StackMetrics {
        oldest_waiting_secs,
        leads,
    })
}
