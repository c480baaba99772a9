//! Speed to lead through a Rechat outage on the Lambda set-up (issue 25): the deliver
//! binary under `cargo lambda watch` with moto's SQS and DynamoDB, three event-source
//! pollers, production settings (probe every 5 s). Figures: calls to the failing Rechat,
//! the time from Rechat's return to the last lead (target: under 60 s), and what the
//! queue's receives cost while it was down.
//!
//! `INLET_OUTAGE_RUNS` picks the runs as `SECONDSxLEADS,…` (default the four:
//! 120x200,120x2000,600x200,600x2000).

#[path = "../tests/support/lambda_outage.rs"]
mod lambda_outage;

use std::time::Duration;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The floor moto sets: how long it takes to hand out this many messages with no delivery.
    if let Ok(sizes) = std::env::var("INLET_QUEUE_FLOOR") {
        for leads in sizes
            .split(',')
            .map(|n| n.trim().parse::<usize>().expect("INLET_QUEUE_FLOOR: N,…"))
        {
            let took = lambda_outage::queue_alone(leads).await;
            println!(
                "moto alone: {leads} messages received and deleted by {} pollers in {:.1} s",
                lambda_outage::POLLERS,
                took.as_secs_f64()
            );
        }
        return;
    }
    let runs = std::env::var("INLET_OUTAGE_RUNS")
        .unwrap_or_else(|_| "120x200,120x2000,600x200,600x2000".into());
    println!(
        "| outage | leads | calls to the failing Rechat | probes | return → first lead | return → last lead | receives during the outage (calls / messages) | order violations |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let deliver = inlet_tests::watch::release_binaries().join("deliver");
    for run in runs.split(',') {
        let (secs, leads) = run
            .split_once('x')
            .and_then(|(s, l)| Some((s.trim().parse().ok()?, l.trim().parse().ok()?)))
            .expect("INLET_OUTAGE_RUNS: SECONDSxLEADS,…");
        let f = lambda_outage::run(&deliver, Duration::from_secs(secs), leads, "5", 1000).await;
        println!(
            "| {} s | {} | {} | {:.1} s | {:.1} s | {:.1} s | {} / {} | {} |",
            secs,
            f.leads,
            f.failed_calls,
            f.to_first.as_secs_f64(),
            f.to_last.as_secs_f64(),
            f.receiving_after.as_secs_f64(),
            f.receive_calls_during,
            f.received_during,
            f.order_violations
        );
    }
}
