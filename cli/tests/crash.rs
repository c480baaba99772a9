//! kill -9 `inlet serve` at random moments (6, or `INLET_CRASH_KILLS`) while 500 leads are
//! posted and Rechat misbehaves as in run 1 (20% 5xx, 5% 429, 5% past the timeout, 2% lost
//! successes, 1% 204 without an id), restarting it each time on the same data dir: every lead
//! that got a 2xx reaches Rechat, and a lead reaches it twice only where the ledger reports a
//! capture whose outcome was lost, with the process or by the double.

mod common;

use common::chaos::{self, Run};
use inlet_testkit::{FaultRates, scale};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_lead_survives_kill_9() {
    let leads = scale("INLET_CRASH_LEADS", 500);
    let kills = scale("INLET_CRASH_KILLS", 6);
    let f = chaos::run(Run {
        name: "crash",
        leads,
        kills,
        // Past the 1 s client timeout that `Serve` sets.
        faults: FaultRates::proof_mix(Duration::from_millis(1_500)),
        fault_seed: 2028,
        env: vec![],
        // A debug build on a busy machine delivers a few hundred leads a second.
        drain_limit: Duration::from_secs(120) + Duration::from_millis(20 * leads as u64),
    })
    .await;
    println!(
        "crash test: {leads} acknowledged, {kills} kills, {} delivered, {} duplicated, {} uncertain in the ledger, {} successes lost by the double; drained {:.1} s after the last post",
        f.delivered,
        f.duplicates,
        f.uncertain,
        f.lost_successes,
        f.drain.as_secs_f64()
    );
    f.assert_sound();
}
