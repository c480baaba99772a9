//! A Rechat outage on the Lambda set-up (moto + `cargo lambda watch`, issue 25): the deliver
//! function calls Rechat only for the probe while it is down (the breaker's state shared by
//! its instances through the DynamoDB ledger), returns the other messages with a short
//! visibility, and every lead is delivered soon after Rechat answers again.
//! `cargo bench -p inlet-tests --bench lambda_outage` runs it at the sizes.

#[path = "support/lambda_outage.rs"]
mod lambda_outage;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_instances_share_one_outage_and_recover_together() {
    let outage = Duration::from_secs(20);
    let leads = 60;
    let deliver = inlet_tests::watch::function_binary("deliver");
    let f = lambda_outage::run(&deliver, outage, leads, "2").await;
    println!("{f:#?}");
    let since = f
        .state_during
        .describe()
        .expect("the ledger holds the outage");
    assert!(since.starts_with("Rechat unavailable since"), "{since}");
    assert!(f.state_during.probes >= 1, "{:?}", f.state_during);
    // One failing call per lead at most before the outage is seen, then a probe every
    // 2 s, shared by the three instances.
    let probes = outage.as_secs() as usize / 2 + 3;
    assert!(
        f.failed_calls <= leads + probes,
        "{} calls to the failing Rechat for {leads} leads",
        f.failed_calls
    );
    // Held for 5 s at this outage's age: back within a hold and a probe, not a backoff.
    assert!(f.to_last < Duration::from_secs(60), "{f:?}");
    assert_eq!(f.order_violations, 0);
}
