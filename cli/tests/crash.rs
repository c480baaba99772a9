//! kill -9 `inlet serve` at random moments (6, or `INLET_CRASH_KILLS`) while 500 leads are
//! posted and Rechat misbehaves as in run 1 (20% 5xx, 5% 429, 5% past the timeout, 2% lost
//! successes, 1% 204 without an id), restarting it each time on the same data dir: every lead
//! that got a 2xx reaches Rechat, and a lead reaches it twice only where the ledger reports a
//! capture whose outcome was lost, with the process or by the double.

mod common;

use common::{CHANNEL, Serve, data_dir, free_port, wait_for};
use futures::StreamExt;
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet_testkit::{Fault, FaultRates, RechatDouble, Route, scale};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_lead_survives_kill_9() {
    let (leads, kills) = (
        scale("INLET_CRASH_LEADS", 500),
        scale("INLET_CRASH_KILLS", 6),
    );
    let double = RechatDouble::start().await;
    double.set_latency(Duration::from_millis(5));
    // Past the 1 s client timeout that `Serve` sets.
    double.random_faults(FaultRates::proof_mix(Duration::from_millis(1_500)), 2028);
    let data = data_dir("crash");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let mut serve = Serve::start(double.url(), &data, &listen, &[]);

    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let poster = {
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            futures::stream::iter(0..leads)
                .for_each_concurrent(8, |i| {
                    let (http, url, acknowledged) = (http.clone(), url.clone(), acknowledged.clone());
                    async move {
                        let email = format!("p{i}@example.com");
                        let body = json!({"first_name": "Ana", "email": email, "note": format!("lead {i}")});
                        // A sender retries until it is told the lead is taken.
                        for _ in 0..400 {
                            let sent = http.post(format!("{url}/leads/channels/{CHANNEL}/webhook")).json(&body).send().await;
                            if sent.is_ok_and(|r| r.status().as_u16() == 202) {
                                acknowledged.lock().unwrap().insert(email);
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
                .await;
        })
    };

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("crash test seed {seed}");
    for _ in 0..kills {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(100 + (seed >> 33) % 700)).await;
        serve.kill9();
        serve = Serve::start(double.url(), &data, &listen, &[]);
    }
    poster.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), leads, "every lead was eventually taken");

    let missing = || {
        let emails: HashSet<String> = double
            .leads()
            .iter()
            .map(|l| l.payload["email"].as_str().unwrap().to_owned())
            .collect();
        acknowledged.difference(&emails).count()
    };
    // A debug build on a busy machine delivers a few hundred leads a second.
    let patience = Duration::from_secs(120) + Duration::from_millis(20 * leads as u64);
    let drain = std::time::Instant::now();
    let delivered = wait_for(patience, || missing() == 0).await;
    let drain = drain.elapsed();
    assert!(
        delivered,
        "every acknowledged lead reached Rechat: {} of {} missing after {patience:?}",
        missing(),
        acknowledged.len()
    );
    serve.stop();

    let mut captures: HashMap<String, usize> = HashMap::new();
    for l in double.leads() {
        *captures
            .entry(l.payload["email"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let duplicates: usize = captures.values().map(|n| n - 1).sum();
    let lost = double
        .requests()
        .iter()
        .filter(|r| {
            r.route == Some(Route::Capture) && matches!(r.fault, Some(Fault::LostSuccess(_)))
        })
        .count();
    let store = EmbeddedStore::open(&data, QueueSettings::default()).unwrap();
    let uncertain: u32 = store
        .recent_records(10 * leads)
        .await
        .unwrap()
        .iter()
        .map(|r| r.uncertain_captures)
        .sum();
    println!(
        "crash test: {leads} acknowledged, {kills} kills, {} delivered, {duplicates} duplicated, {uncertain} uncertain in the ledger, {lost} successes lost by the double; drained {:.1} s after the last post",
        captures.len(),
        drain.as_secs_f64()
    );
    // A success lost by the double is a timeout to the client: the ledger counts it as
    // uncertain too, like the calls the process died in.
    assert!(
        duplicates as u32 <= uncertain,
        "{duplicates} duplicate captures but only {uncertain} reported as uncertain"
    );
    // Every restart's log: nothing personal, whatever moment the process died at.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap();
            let leaks = inlet_testkit::pii::findings(&log, &[]);
            assert!(leaks.is_empty(), "{}: {}", path.display(), leaks.join("\n"));
        }
    }
}
