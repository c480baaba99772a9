//! A Rechat outage under `inlet serve` (issue 25): leads acknowledged while every call
//! fails, held without calling Rechat once the outage is seen, shown as "Rechat unavailable
//! since" by `inlet status` (exit 1) and `/health` (still 200), and delivered within
//! seconds of Rechat's return, not at each lead's next backoff (up to five minutes).
//! `cargo bench -p inlet-cli --bench outage` runs it at 2 and 10 minutes with 200 and
//! 2,000 leads.

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_costs_about_a_call_per_lead_and_recovery_takes_seconds() {
    let outage = Duration::from_secs(12);
    let leads = 60;
    let f = common::outage::run("outage", outage, leads, &[("INLET_PROBE_SECS", "1")], &[]).await;
    println!("{f:#?}");

    let (status, code) = &f.status_during;
    assert_eq!(
        *code,
        Some(1),
        "inlet status fails while Rechat is down:\n{status}"
    );
    assert!(status.contains("Rechat unavailable since"), "{status}");
    assert!(status.contains("503"), "{status}");
    assert!(
        f.leads_during.contains("Rechat unavailable since"),
        "{}",
        f.leads_during
    );
    assert_eq!(f.health_during["status"], "failing", "{}", f.health_during);
    assert!(
        f.health_during["rechat_unavailable_since"].is_string(),
        "{}",
        f.health_during
    );

    // About one failing call per lead (those in flight when the outage was seen), plus a
    // probe a second; per-message retries would make several per lead.
    let probes = outage.as_secs() as usize + 2;
    assert!(
        f.failed_calls <= leads + probes,
        "{} calls to the failing Rechat for {leads} leads",
        f.failed_calls
    );
    // The first probe after the return releases every held lead. Without the breaker the
    // last lead waits out its own backoff (tens of seconds to five minutes).
    assert!(f.to_last < Duration::from_secs(30), "{f:?}");
    assert_eq!(f.order_violations, 0);
}

/// Issue 37: a long outage scaled down. With a probe every second and 20 receives allowed, a
/// minute of outage is three times the receive budget of the lead taken as the probe (a
/// failed probe's lead comes back when the next is due, and is that probe; three leads, so
/// that the others' 5 s holds seldom take it from it, as hours-long holds never do). A lead
/// waiting out an outage spends none of it: every lead is delivered after the return, none
/// dead-lettered for waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_dead_letters_no_lead_for_waiting() {
    let outage = Duration::from_secs(60);
    let leads = 3;
    let f = common::outage::run(
        "long-outage",
        outage,
        leads,
        &[("INLET_PROBE_SECS", "1")],
        &["--max-receives", "20"],
    )
    .await;
    println!("{f:#?}");
    assert!(
        f.dead_letters.is_empty(),
        "dead-lettered while Rechat was down: {:?}",
        f.dead_letters
    );
    // Probed about every second, and all released by the first answer.
    assert!(f.failed_calls >= 30, "{} failed calls", f.failed_calls);
    assert!(f.to_last < Duration::from_secs(30), "{f:?}");
    assert_eq!(f.order_violations, 0);
}
