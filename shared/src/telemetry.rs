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
    {
        let mut counts = COUNTS.lock().unwrap();
        // Bounded: a sender name a request may choose must not grow it without end.
        let key = (outcome.to_owned(), source.to_owned());
        let key = if counts.len() < MAX_SERIES || counts.contains_key(&key) {
            key
        } else {
            (outcome.to_owned(), "other".to_owned())
        };
        *counts.entry(key).or_default() += 1;
    }
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    println!(
        "{}",
        metric_line(outcome, source, chrono::Utc::now().timestamp_millis())
    );
}

/// The most (outcome, source) pairs counted apart; past it, new sources count as "other".
const MAX_SERIES: usize = 1_000;

/// This process's counts by (outcome, source), for `/metrics`: what `inlet serve` did since
/// it started (a Lambda instance's are its own, so on AWS the EMF metrics are the figures).
static COUNTS: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The upper bounds, in seconds, of the Rechat latency histogram's buckets.
pub const RECHAT_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Rechat calls by bucket (the last is +Inf), their count and total seconds.
struct Latency {
    buckets: [u64; RECHAT_BUCKETS.len() + 1],
    count: u64,
    sum_secs: f64,
}

static RECHAT_LATENCY: std::sync::Mutex<Latency> = std::sync::Mutex::new(Latency {
    buckets: [0; RECHAT_BUCKETS.len() + 1],
    count: 0,
    sum_secs: 0.0,
});

/// One Rechat call's time, answered or not.
pub fn observe_rechat(elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64();
    let mut l = RECHAT_LATENCY.lock().unwrap();
    let i = RECHAT_BUCKETS
        .iter()
        .position(|le| secs <= *le)
        .unwrap_or(RECHAT_BUCKETS.len());
    l.buckets[i] += 1;
    l.count += 1;
    l.sum_secs += secs;
    drop(l);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!(
            "{}",
            latency_line(elapsed, chrono::Utc::now().timestamp_millis())
        );
    }
}

/// A lead delivered, `elapsed` after intake acknowledged it: the `SpeedToLead` metric
/// (milliseconds) on Lambda, for the dashboard's p50 and p99; `inlet serve` and `inlet
/// status` read the same from the ledger.
pub fn speed_to_lead(elapsed: chrono::TimeDelta) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    println!(
        "{}",
        speed_line(
            elapsed.to_std().unwrap_or_default(),
            chrono::Utc::now().timestamp_millis()
        )
    );
}

/// How many parse drifts last after a read was added to its source's profile
/// (`crate::profile`): the `ParseDrift` metric on Lambda, which the stack's alarm watches.
pub fn parse_drifts(count: usize) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    println!(
        "{}",
        drift_line(count, chrono::Utc::now().timestamp_millis())
    );
}

/// The EMF document of the drifts that last.
pub fn drift_line(count: usize, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": "ParseDrift", "Unit": "Count"}]
            }]
        },
        "ParseDrift": count
    })
    .to_string()
}

/// The EMF document of one lead's speed to lead.
pub fn speed_line(elapsed: std::time::Duration, timestamp_ms: i64) -> String {
    milliseconds_line("SpeedToLead", elapsed, timestamp_ms)
}

/// The EMF document for one Rechat call's latency (`RechatLatency`, milliseconds): the
/// dashboard's p50 and p99 on AWS.
pub fn latency_line(elapsed: std::time::Duration, timestamp_ms: i64) -> String {
    milliseconds_line("RechatLatency", elapsed, timestamp_ms)
}

/// One duration as an EMF metric `name` in milliseconds, with no dimension.
fn milliseconds_line(name: &str, elapsed: std::time::Duration, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": name, "Unit": "Milliseconds"}]
            }]
        },
        name: elapsed.as_secs_f64() * 1000.0
    })
    .to_string()
}

/// A label value in Prometheus's text format: backslash, quote and newline escaped.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// This process's counters and the Rechat latency histogram, in Prometheus's text format
/// (version 0.0.4). Written here rather than with a metrics crate: two families, and the
/// format is a few lines of text.
pub fn prometheus_counters() -> String {
    let mut out = String::from(
        "# HELP inlet_leads_total Leads by outcome (received, queued, delivered, retry, dead_lettered, unknown_lead, spam, not_a_lead, unroutable) and sender or portal, since this process started.\n# TYPE inlet_leads_total counter\n",
    );
    for ((outcome, source), n) in COUNTS.lock().unwrap().iter() {
        out.push_str(&format!(
            "inlet_leads_total{{outcome=\"{}\",source=\"{}\"}} {n}\n",
            label(outcome),
            label(source)
        ));
    }
    out.push_str("# HELP inlet_rechat_request_duration_seconds Rechat API calls made by delivery.\n# TYPE inlet_rechat_request_duration_seconds histogram\n");
    let l = RECHAT_LATENCY.lock().unwrap();
    let mut cumulative = 0;
    for (i, le) in RECHAT_BUCKETS.iter().enumerate() {
        cumulative += l.buckets[i];
        out.push_str(&format!(
            "inlet_rechat_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
        ));
    }
    out.push_str(&format!(
        "inlet_rechat_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\ninlet_rechat_request_duration_seconds_sum {}\ninlet_rechat_request_duration_seconds_count {}\n",
        l.count, l.sum_secs, l.count
    ));
    out
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

    #[test]
    fn a_speed_line_is_emf_in_milliseconds() {
        let line: serde_json::Value =
            serde_json::from_str(&speed_line(std::time::Duration::from_millis(1500), 7)).unwrap();
        assert_eq!(line["SpeedToLead"], 1500.0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "SpeedToLead"
        );
    }

    #[test]
    fn a_latency_line_is_emf_in_milliseconds() {
        let line: serde_json::Value =
            serde_json::from_str(&latency_line(std::time::Duration::from_millis(250), 7)).unwrap();
        assert_eq!(line["RechatLatency"], 250.0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Inlet");
    }

    #[test]
    fn counters_and_the_histogram_read_as_prometheus_text() {
        count_lead("delivered", "zillow \"premier\"\nagent");
        count_lead("delivered", "zillow \"premier\"\nagent");
        observe_rechat(std::time::Duration::from_millis(70));
        observe_rechat(std::time::Duration::from_secs(60));
        let text = prometheus_counters();
        assert!(
            text.contains(
                "inlet_leads_total{outcome=\"delivered\",source=\"zillow \\\"premier\\\"\\nagent\"} 2"
            ),
            "{text}"
        );
        // Cumulative buckets; the minute-long call only in +Inf. Other tests may observe
        // too, so the figures are at least these.
        let bucket = |le: &str| -> u64 {
            let prefix = format!("inlet_rechat_request_duration_seconds_bucket{{le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(bucket("0.1") >= 1);
        assert!(bucket("+Inf") > bucket("30"));
        assert!(text.contains("# TYPE inlet_rechat_request_duration_seconds histogram"));
    }

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
