//! Speed to lead through a Rechat outage under `inlet serve` (issue 25): leads arrive while
//! Rechat fails every call, it comes back, and the figures are the time from its return to
//! the last lead delivered (target: under 30 s) and the calls made to the failing Rechat
//! (target: about one per lead, plus the probes). Production settings: probes every 5 s,
//! retry backoff 2 s doubling to 300 s, ten leads at once.
//!
//! `INLET_OUTAGE_RUNS` picks the runs as `SECONDSxLEADS,…` (default the four:
//! 120x200,120x2000,600x200,600x2000; about 26 minutes).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = std::env::var("INLET_OUTAGE_RUNS")
        .unwrap_or_else(|_| "120x200,120x2000,600x200,600x2000".into());
    println!(
        "| outage | leads | calls to the failing Rechat | return → first lead | return → last lead | order violations | dead-lettered |"
    );
    println!("|---|---|---|---|---|---|---|");
    for run in runs.split(',') {
        let (secs, leads) = run
            .split_once('x')
            .and_then(|(s, l)| Some((s.trim().parse().ok()?, l.trim().parse().ok()?)))
            .expect("INLET_OUTAGE_RUNS: SECONDSxLEADS,…");
        let f = common::outage::run(
            &format!("outage-bench-{secs}-{leads}"),
            Duration::from_secs(secs),
            leads,
            &[],
            &[],
        )
        .await;
        println!(
            "| {} s | {} | {} | {:.1} s | {:.1} s | {} | {} |",
            secs,
            f.leads,
            f.failed_calls,
            f.to_first.as_secs_f64(),
            f.to_last.as_secs_f64(),
            f.order_violations,
            f.dead_letters.len()
        );
    }
}
