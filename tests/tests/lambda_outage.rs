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
    let f = lambda_outage::run(&deliver, outage, leads, "2", 1000).await;
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

/// Issue 37 on SQS FIFO: a long outage scaled down. SQS counts every receive, held or not,
/// and redrives at maxReceiveCount (20 here) whatever the consumer says: with a probe every
/// second, a minute of outage is three times that for the lead taken as the probe (three
/// leads, so that the others' 5 s holds seldom take the probe from it, as hours-long holds
/// never do). Such a lead is put back as a new message before the limit; every lead is
/// delivered after the return, none dead-lettered for waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_dead_letters_no_lead_for_waiting_on_sqs() {
    let outage = Duration::from_secs(60);
    let leads = 3;
    let deliver = inlet_tests::watch::function_binary("deliver");
    let f = lambda_outage::run(&deliver, outage, leads, "1", 20).await;
    println!("{f:#?}");
    assert!(
        f.dead_letters.is_empty(),
        "dead-lettered while Rechat was down: {:?}",
        f.dead_letters
    );
    assert!(f.failed_calls >= 30, "{} failed calls", f.failed_calls);
    assert_eq!(f.order_violations, 0);
}
