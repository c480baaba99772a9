//! kill -9 `inlet serve` at random moments while leads are posted and the Rechat double
//! misbehaves, restarting it each time on the same data dir: what reached Rechat, how many
//! times, what the ledger reports as uncertain, and how long the drain took. The crash test
//! (issue 8's fault mix, short retries) and the chaos test (issue 37: 5xx and 429 only, the
//! production backoff) run it.

use super::{CHANNEL, Serve, data_dir, free_port, wait_for};
use futures::StreamExt;
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet_testkit::{Fault, FaultRates, RechatDouble, Route};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Run {
    pub name: &'static str,
    pub leads: usize,
    pub kills: usize,
    pub faults: FaultRates,
    pub fault_seed: u64,
    /// Passed to every start of `inlet serve`, over `common::Serve`'s defaults.
    pub env: Vec<(&'static str, &'static str)>,
    /// How long after the last lead was acknowledged every one must have reached Rechat.
    pub drain_limit: Duration,
}

#[derive(Debug)]
pub struct Figures {
    pub acknowledged: usize,
    /// Acknowledged leads not in Rechat when the drain limit passed.
    pub missing: usize,
    pub delivered: usize,
    /// Captures of a lead beyond its first.
    pub duplicates: usize,
    /// Captures the ledger counts as uncertain (an answer lost with the process or a timeout).
    pub uncertain: u32,
    /// Successes the double answered and then dropped (the client saw a timeout).
    pub lost_successes: usize,
    /// From the last lead acknowledged to the last delivered.
    pub drain: Duration,
    /// The most capture calls one lead took, faults included.
    pub max_calls_per_lead: usize,
    /// What the PII scan found in the logs of every start.
    pub leaks: Vec<String>,
}

impl Figures {
    /// Nothing lost, no duplicate the ledger cannot account for, nothing personal logged.
    pub fn assert_sound(&self) {
        assert_eq!(
            self.missing, 0,
            "{} of {} acknowledged leads not in Rechat at the drain limit",
            self.missing, self.acknowledged
        );
        // A success lost by the double is a timeout to the client: the ledger counts it as
        // uncertain too, like the calls a killed process died in.
        assert!(
            self.duplicates as u32 <= self.uncertain,
            "{} duplicate captures but only {} reported as uncertain",
            self.duplicates,
            self.uncertain
        );
        assert!(self.leaks.is_empty(), "{}", self.leaks.join("\n"));
    }
}

pub async fn run(run: Run) -> Figures {
    let double = RechatDouble::start().await;
    double.set_latency(Duration::from_millis(5));
    double.random_faults(run.faults, run.fault_seed);
    let data = data_dir(run.name);
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let mut serve = Serve::start(double.url(), &data, &listen, &run.env);

    let leads = run.leads;
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
    println!("{} seed {seed}", run.name);
    for _ in 0..run.kills {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(100 + (seed >> 33) % 700)).await;
        serve.kill9();
        serve = Serve::start(double.url(), &data, &listen, &run.env);
    }
    poster.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), leads, "every lead was eventually taken");

    let emails_in_rechat = || -> HashSet<String> {
        double
            .leads()
            .iter()
            .map(|l| l.payload["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let missing = || acknowledged.difference(&emails_in_rechat()).count();
    let drain = Instant::now();
    wait_for(run.drain_limit, || missing() == 0).await;
    let missing = missing();
    serve.stop();
    let requests = double.requests();
    let drain = double
        .leads()
        .iter()
        .map(|l| requests[l.request_index].at)
        .max()
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(drain));

    let mut captures: HashMap<String, usize> = HashMap::new();
    for l in double.leads() {
        *captures
            .entry(l.payload["email"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let mut calls: HashMap<String, usize> = HashMap::new();
    for r in requests.iter().filter(|r| r.route == Some(Route::Capture)) {
        if let Some(email) = r.json()["email"].as_str() {
            *calls.entry(email.to_owned()).or_default() += 1;
        }
    }
    let lost_successes = requests
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
    // Every start's log: nothing personal, whatever moment the process died at.
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap();
            for leak in inlet_testkit::pii::findings(&log, &[]) {
                leaks.push(format!("{}: {leak}", path.display()));
            }
        }
    }
    Figures {
        acknowledged: acknowledged.len(),
        missing,
        delivered: captures.len(),
        duplicates: captures.values().map(|n| n - 1).sum(),
        uncertain,
        lost_successes,
        drain,
        max_calls_per_lead: calls.values().copied().max().unwrap_or(0),
        leaks,
    }
}
