//! The `reconcile` function: the stack's schedule (EventBridge Scheduler) invokes it with a
//! small fixed event; it runs one Meta reconciliation pass (`crate::meta_reconcile`) and
//! answers what the pass did. A pass that fails is answered all the same, not thrown: the
//! schedule must not retry it at once (the next run goes on where it stopped), and the alarm
//! watches the `MetaReconcileSucceeded` metric written here, which is 0 for every failed run,
//! so that an hour of them raises it.

use crate::meta_reconcile::{Pass, PassReport, Reconciler};
use serde_json::{Value, json};

/// The answer to one invocation, and the metric line written for it.
pub async fn handle(
    reconciler: &Reconciler<'_>,
    event: &Value,
) -> Result<Value, lambda_runtime::Error> {
    // The schedule's input names the task; anything else is refused, so that a stray event
    // (a test invoke of the wrong sample) is seen as such.
    let task = event.get("task").and_then(Value::as_str);
    if task != Some("meta-reconcile") {
        return Err(format!(
            "the reconcile function takes {{\"task\": \"meta-reconcile\"}}, not {}",
            task.map_or("an event without a task".to_owned(), |t| format!(
                "task {t:?}"
            ))
        )
        .into());
    }
    let report = reconciler
        .run(Pass {
            now: chrono::Utc::now(),
            since: None,
            dry_run: false,
        })
        .await?;
    if matches!(report.status, "ok" | "failed") {
        println!(
            "{}",
            metric_line(&report, chrono::Utc::now().timestamp_millis())
        );
    }
    Ok(answer(&report))
}

/// The invocation's answer: the pass's figures and errors, no lead's data.
pub fn answer(report: &PassReport) -> Value {
    json!({
        "status": report.status,
        "forms": report.forms.len(),
        "added": report.added(),
        "graph_calls": report.graph_calls,
        "waited_ms": report.waited_ms,
        "errors": report.errors(),
    })
}

/// `MetaReconcileSucceeded` (1 or 0) and `MetaReconciled` (leads added) in CloudWatch's
/// embedded metric format.
pub fn metric_line(report: &PassReport, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": crate::telemetry::METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "MetaReconcileSucceeded", "Unit": "Count"},
                    {"Name": "MetaReconciled", "Unit": "Count"}
                ]
            }]
        },
        "MetaReconcileSucceeded": u8::from(!report.failed()),
        "MetaReconciled": report.added(),
    })
    .to_string()
}

/// Starts the `reconcile` function from the environment.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use crate::config::Config;
    use crate::ledger::dynamodb::DynamoLedger;
    use crate::queue::sqs::SqsQueue;
    use lambda_runtime::{LambdaEvent, service_fn};

    crate::telemetry::init();
    let tls = crate::tls::lambda_client_config()?;
    let aws = crate::sdk::lambda_config(tls.clone()).await;
    let config = Config::load_lambda(&aws, true).await?;
    let needs = config.require_reconcile()?;
    let graph = config.graph_client(Some(&tls))?;
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        needs.ledger_table,
        config.ledger_ttl,
    );
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        needs.queue_url,
        needs.dead_letter_url,
    );
    let reconciler = Reconciler {
        graph: &graph,
        ledger: &ledger,
        queue: &queue,
        webhooks: &config.webhooks,
        normalize: config.normalize_options(),
        other_channels: config.channels.clone(),
        options: Default::default(),
    };
    let reconciler = &reconciler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(reconciler, &event.payload).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_says_whether_the_run_succeeded() {
        let failed = PassReport {
            status: "failed",
            page_errors: vec!["page 1: Meta refused the page token".into()],
            ..PassReport::default()
        };
        let line: Value = serde_json::from_str(&metric_line(&failed, 1)).unwrap();
        assert_eq!(line["MetaReconcileSucceeded"], 0);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Inlet");
        assert_eq!(
            answer(&failed)["errors"][0],
            "page 1: Meta refused the page token"
        );
        let ok = PassReport {
            status: "ok",
            ..PassReport::default()
        };
        let line: Value = serde_json::from_str(&metric_line(&ok, 1)).unwrap();
        assert_eq!(line["MetaReconcileSucceeded"], 1);
    }
}
