//! Logging set-up shared by every binary: JSON lines through `tracing`, level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else info.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| EnvFilter::new(l.to_lowercase()))
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The CloudWatch namespace Inlet's metrics are in.
pub const METRIC_NAMESPACE: &str = "Inlet";

/// One count in CloudWatch's embedded metric format: `Leads` with dimensions `Outcome`
/// (received, queued, delivered, dead_lettered, spam, not_a_lead, unroutable) and `Source`
/// (the sender or portal). Written to stdout on Lambda, where CloudWatch Logs turns the line
/// into a metric without an API call; elsewhere nothing is written.
pub fn count_lead(outcome: &str, source: &str) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    println!(
        "{}",
        metric_line(outcome, source, chrono::Utc::now().timestamp_millis())
    );
}

/// The EMF document for one count.
pub fn metric_line(outcome: &str, source: &str, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["Outcome", "Source"], ["Outcome"]],
                "Metrics": [{"Name": "Leads", "Unit": "Count"}]
            }]
        },
        "Outcome": outcome,
        "Source": source,
        "Leads": 1
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_emf_line_names_its_metric_and_dimensions() {
        let v: serde_json::Value =
            serde_json::from_str(&super::metric_line("queued", "zillow", 1_700_000_000_000))
                .unwrap();
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "Inlet");
        assert_eq!(m["Metrics"][0]["Name"], "Leads");
        for dims in m["Dimensions"].as_array().unwrap() {
            for d in dims.as_array().unwrap() {
                assert!(
                    v.get(d.as_str().unwrap()).is_some(),
                    "dimension {d} has a value"
                );
            }
        }
        assert_eq!(v["Leads"], 1);
    }
}
