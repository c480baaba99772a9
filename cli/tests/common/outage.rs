//! A Rechat outage under `inlet serve`: leads arrive while every call fails, Rechat comes
//! back, and the figures say what it cost (issue 25). The test runs it short; the `outage`
//! bench at the sizes the issue names.

use super::{CHANNEL, Serve, data_dir, wait_for};
use futures::StreamExt;
use inlet_testkit::{Fault, RechatDouble};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Figures {
    pub leads: usize,
    pub outage: Duration,
    /// Calls Rechat answered with the outage's fault.
    pub failed_calls: usize,
    /// From Rechat's return to its first and its last lead created.
    pub to_first: Duration,
    pub to_last: Duration,
    pub order_violations: usize,
    /// What `inlet status` printed, and its exit status, during the outage.
    pub status_during: (String, Option<i32>),
    /// What `inlet leads` printed during the outage.
    pub leads_during: String,
    /// `/health`'s `delivery` during the outage.
    pub health_during: serde_json::Value,
    /// The reasons of what was dead-lettered (`inlet dlq list`) once every lead arrived.
    pub dead_letters: Vec<String>,
}

/// Runs one outage of `outage` with `leads` waiting; `env` and `args` are passed to `inlet
/// serve` (its defaults otherwise: the production retry backoff and probe interval).
pub async fn run(
    name: &str,
    outage: Duration,
    leads: usize,
    env: &[(&str, &str)],
    args: &[&str],
) -> Figures {
    let double = RechatDouble::start().await;
    double.go_down(Fault::Status(503));
    let data = data_dir(name);
    let mut env = env.to_vec();
    // The production backoff, not the e2e tests' short one: it is what the breaker replaces.
    env.extend([
        ("INLET_RETRY_BASE_MS", "2000"),
        ("INLET_RETRY_CAP_SECS", "300"),
    ]);
    let serve = Serve::start_with_args(double.url(), &data, "127.0.0.1:0", &env, args);
    let started = Instant::now();
    let http = reqwest::Client::new();
    let pid = std::process::id();
    let accepted = futures::stream::iter(0..leads)
        .map(|n| {
            let (http, url) = (&http, &serve.url);
            async move {
                let body =
                    format!(r#"{{"first_name":"Ana","email":"outage{n}-{pid}@example.com"}}"#);
                http.post(format!("{url}/leads/channels/{CHANNEL}/webhook"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(50)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    assert_eq!(
        accepted, leads,
        "every lead is acknowledged while Rechat is down"
    );

    // Midway, what an operator sees.
    tokio::time::sleep(outage / 2).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let status_during = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["leads", "--limit", "3", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let leads_during = String::from_utf8_lossy(&out.stdout).into_owned();
    let health: serde_json::Value = http
        .get(format!("{}/health", serve.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokio::time::sleep(outage.saturating_sub(started.elapsed())).await;

    double.come_back();
    let back = Instant::now();
    let failed_calls = double
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    let done = wait_for(Duration::from_secs(120) + outage, || {
        double.leads().len() >= leads
    })
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["dlq", "list", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let dead_letters: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|d| d["dead_letter"]["reason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        done,
        "{} of {leads} leads delivered after Rechat came back; dead-lettered: {dead_letters:?}",
        double.leads().len()
    );
    let (to_first, to_last) = double.captures_after(back);
    Figures {
        leads,
        outage,
        failed_calls,
        to_first,
        to_last,
        order_violations: double.order_violations().len(),
        status_during,
        leads_during,
        health_during: health["delivery"].clone(),
        dead_letters,
    }
}
