//! Proof run 4, the queue unavailable during intake: the real `webhook` function under
//! `cargo lambda watch` reaches moto through a proxy this test cuts (open connections dropped,
//! new ones refused) for `INLET_OUTAGE_SECS` (5 in `make test`, 60 in `make proof`). Every
//! request answered inside the outage gets 503 with Retry-After, none a 2xx it cannot
//! honour (every 2xx reaches Rechat afterwards), and intake recovers by itself once the
//! queue is back.

use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{Moto, RechatDouble};
use inlet_tests::watch::{CHANNEL, Watch, deploy, function_binary, function_env};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `upstream` that, while `down`, refuses new connections and cuts open ones.
async fn cuttable_proxy(upstream: String) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let down = Arc::new(AtomicBool::new(false));
    let flag = down.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                continue;
            };
            if flag.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let (upstream, flag) = (upstream.clone(), flag.clone());
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let pipe = tokio::io::copy_bidirectional(&mut client, &mut server);
                let cut = async {
                    while !flag.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                tokio::select! {
                    _ = pipe => {}
                    _ = cut => {}
                }
            });
        }
    });
    (url, down)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_answers_503_while_the_queue_is_down_and_recovers_by_itself() {
    let outage = Duration::from_secs(inlet_testkit::scale("INLET_OUTAGE_SECS", 5));
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let routing = format!("[email]\ndefault_channel = \"{CHANNEL}\"\n");
    let deployed = deploy(&aws, &routing, b"Subject: unused\r\n\r\n").await;
    let double = RechatDouble::start().await;
    let upstream = moto.endpoint().trim_start_matches("http://").to_owned();
    let (proxy, down) = cuttable_proxy(upstream).await;

    let logs = std::env::temp_dir().join(format!("inlet-outage-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    let env = function_env(&proxy, double.url(), &deployed);
    watch.start_function(&function_binary("webhook"), "webhook", 128, &env);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let post = |i: usize| {
        http.post(watch.url(&format!(
            "/lambda-url/webhook/leads/channels/{CHANNEL}/webhook"
        )))
        .json(&json!({"email": format!("outage{i}@example.com"), "first_name": "Out"}))
        .send()
    };

    let mut accepted = Vec::new();
    for i in 0..5 {
        let r = post(i).await.unwrap();
        assert_eq!(r.status(), 202, "before the outage");
        accepted.push(i);
    }

    down.store(true, Ordering::SeqCst);
    let cut_at = Instant::now();
    let mut during = 0;
    let mut i = 5;
    while cut_at.elapsed() < outage {
        let sent = Instant::now();
        let r = post(i).await.unwrap();
        let status = r.status().as_u16();
        // Answered entirely inside the outage: the queue could not have taken it.
        if sent >= cut_at && cut_at.elapsed() < outage {
            assert_eq!(status, 503, "request {i} during the outage");
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            assert!(
                retry_after.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n > 0)),
                "503 without a Retry-After"
            );
            during += 1;
        } else if status == 202 {
            accepted.push(i);
        }
        i += 1;
    }
    down.store(false, Ordering::SeqCst);
    let restored = Instant::now();
    // Recovers by itself: the same process takes leads again.
    let recovered = loop {
        let r = post(i).await.unwrap();
        if r.status() == 202 {
            accepted.push(i);
            break restored.elapsed();
        }
        assert!(restored.elapsed() < Duration::from_secs(30), "no recovery");
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(during > 0, "no request was answered during the outage");

    // Every 2xx reaches Rechat.
    watch.start_function(&function_binary("deliver"), "deliver", 128, &env);
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url.clone(),
        deployed.dlq_url.clone(),
    );
    let drained = Instant::now();
    while double.leads().len() < accepted.len() {
        assert!(drained.elapsed() < Duration::from_secs(60), "drain");
        watch.deliver_once(&http, &queue).await;
    }
    let delivered: std::collections::HashSet<String> = double
        .leads()
        .iter()
        .filter_map(|l| l.payload["email"].as_str().map(str::to_owned))
        .collect();
    for a in &accepted {
        assert!(delivered.contains(&format!("outage{a}@example.com")));
    }
    for function in ["webhook", "deliver"] {
        let leaks = inlet_testkit::pii::findings(&watch.function_log(function), &[]);
        assert!(leaks.is_empty(), "{function}: {}", leaks.join("\n"));
    }
    println!(
        "outage {:?}: {during} requests answered 503 with Retry-After, {} accepted around it, all delivered; intake back {recovered:?} after the queue",
        outage,
        accepted.len()
    );
}
