//! Logging set-up shared by every binary: JSON lines through `tracing`, level from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else info.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// What to log, from the environment (`var` looks a variable up).
#[derive(Debug, PartialEq)]
pub enum Filter {
    /// One level for everything: what `AWS_LAMBDA_LOG_LEVEL` holds, and most `RUST_LOG`s.
    Level(LevelFilter),
    /// Per-target directives (`RUST_LOG=inlet=debug,aws_smithy_runtime=warn`).
    Directives(String),
}

/// Reads `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging controls), else `RUST_LOG`, else
/// info; what cannot be read as either is info.
pub fn filter(var: impl Fn(&str) -> Option<String>) -> Filter {
    let wanted = var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| var("RUST_LOG"))
        .filter(|v| !v.trim().is_empty());
    let Some(wanted) = wanted else {
        return Filter::Level(LevelFilter::INFO);
    };
    // Lambda's advanced logging controls offer FATAL, which tracing has not.
    if wanted.trim().eq_ignore_ascii_case("fatal") {
        return Filter::Level(LevelFilter::ERROR);
    }
    match wanted.trim().parse::<LevelFilter>() {
        Ok(level) => Filter::Level(level),
        Err(_) if EnvFilter::try_new(&wanted).is_ok() => Filter::Directives(wanted),
        Err(_) => Filter::Level(LevelFilter::INFO),
    }
}

pub fn init() {
    let builder = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A bare level needs no EnvFilter, whose directive parser compiles a regex: about 50 µs
    // of every Lambda cold start (`lambda_init` bench), for the level Lambda always sets.
    let _ = match filter(|name| std::env::var(name).ok()) {
        Filter::Level(level) => builder.with_max_level(level).try_init(),
        Filter::Directives(directives) => builder
            .with_env_filter(EnvFilter::new(directives))
            .try_init(),
    };
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
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_level_comes_from_lambda_then_rust_log_then_info() {
        assert_eq!(
            filter(vars(&[
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("RUST_LOG", "debug")
            ])),
            Filter::Level(LevelFilter::WARN)
        );
        assert_eq!(
            filter(vars(&[("RUST_LOG", "debug")])),
            Filter::Level(LevelFilter::DEBUG)
        );
        assert_eq!(
            filter(vars(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")])),
            Filter::Level(LevelFilter::ERROR)
        );
        assert_eq!(filter(vars(&[])), Filter::Level(LevelFilter::INFO));
        assert_eq!(
            filter(vars(&[("AWS_LAMBDA_LOG_LEVEL", " ")])),
            Filter::Level(LevelFilter::INFO)
        );
    }

    #[test]
    fn directives_are_kept_and_nonsense_falls_back_to_info() {
        assert_eq!(
            filter(vars(&[("RUST_LOG", "inlet=debug,aws_smithy_runtime=warn")])),
            Filter::Directives("inlet=debug,aws_smithy_runtime=warn".into())
        );
        assert_eq!(
            filter(vars(&[("RUST_LOG", "inlet=[")])),
            Filter::Level(LevelFilter::INFO)
        );
    }

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
