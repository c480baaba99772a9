//! `inlet serve` under load on loopback: the durable capture route against the same
//! server's `/health`, measured in the same run with the same client, as a ratio; the
//! console's JSON (`/console/api/status`); capture again while an operator's tools poll
//! `/health` and the console; the console page's weight; then the peak memory of the server
//! while it takes 10,000 leads.
//!
//! The server runs with `--dry-run`, so delivery (which shares the machine's 2 cores and
//! the store's commits) goes on during the run as it would against Rechat, without a
//! network peer.

use futures::StreamExt;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// As issue 8 asks: a thousand concurrent connections on loopback.
const CONNECTIONS: usize = 1_000;
const RUN: Duration = Duration::from_secs(10);
const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
const CONSOLE_TOKEN: &str = "serve-load-console-token-000001";

#[derive(Clone, Copy, PartialEq)]
enum Route {
    Health,
    ConsoleStatus,
    Capture,
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn load(url: &str, route: Route, connections: usize) -> Figures {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let counter = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let started = Instant::now();
    let latencies: Vec<Vec<Duration>> = futures::stream::iter(0..connections)
        .map(|_| {
            let (http, counter, errors) = (&http, &counter, &errors);
            async move {
                let mut mine = Vec::new();
                while started.elapsed() < RUN {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let sent = match route {
                        Route::Capture => {
                            let body = format!(
                                r#"{{"first_name":"Ana","email":"load{n}-{}@example.com"}}"#,
                                std::process::id()
                            );
                            http.post(format!("{url}/leads/channels/{CHANNEL}/webhook"))
                                .header("content-type", "application/json")
                                .body(body)
                                .send()
                                .await
                        }
                        Route::Health => http.get(format!("{url}/health")).send().await,
                        Route::ConsoleStatus => {
                            http.get(format!("{url}/console/api/status"))
                                .bearer_auth(CONSOLE_TOKEN)
                                .send()
                                .await
                        }
                    };
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            mine.push(t.elapsed());
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                mine
            }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let data = std::env::temp_dir().join(format!("inlet-serve-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--dry-run",
            "--data-dir",
        ])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .env("INLET_CONSOLE_TOKEN", CONSOLE_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("listening on")
                .map(|u| u.trim().to_owned())
        })
        .unwrap();
    std::thread::spawn(move || for _ in lines {});

    let health = load(&url, Route::Health, CONNECTIONS).await;
    let capture = load(&url, Route::Capture, CONNECTIONS).await;
    let console = load(&url, Route::ConsoleStatus, CONNECTIONS).await;
    // Capture while 20 connections poll /health and 20 the console's JSON without pause:
    // far more than any dashboard or load balancer does.
    let (watched, _, _) = tokio::join!(
        load(&url, Route::Capture, CONNECTIONS - 40),
        load(&url, Route::Health, 20),
        load(&url, Route::ConsoleStatus, 20)
    );
    for (name, f) in [
        ("GET /health", &health),
        ("POST capture (durable)", &capture),
        ("GET /console/api/status", &console),
        ("capture, while polled", &watched),
    ] {
        println!(
            "serve_load: {name:<24} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} errors, {CONNECTIONS} connections, {} s)",
            f.rate,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.errors,
            RUN.as_secs()
        );
    }
    println!(
        "serve_load: a durable capture costs {:.2}x a health check (throughput ratio {:.0}%)",
        health.rate / capture.rate,
        100.0 * capture.rate / health.rate
    );

    println!(
        "serve_load: capture while /health and the console are polled: {:.0}% of its rate alone",
        100.0 * watched.rate / capture.rate
    );
    let http = reqwest::Client::new();
    let mut weight = 0;
    for path in ["/console", "/console/console.js", "/console/console.css"] {
        let r = http
            .get(format!("{url}{path}"))
            .bearer_auth(CONSOLE_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
        weight += r.bytes().await.unwrap().len();
    }
    println!(
        "serve_load: the console page weighs {weight} bytes (HTML, script and stylesheet, uncompressed; no other request)"
    );

    // Peak memory while 10,000 more leads are taken.
    futures::stream::iter(0..10_000)
        .for_each_concurrent(CONNECTIONS, |i| {
            let (http, url) = (&http, &url);
            async move {
                let body = format!(r#"{{"first_name":"Ana","email":"mem{i}@example.com"}}"#);
                let r = http
                    .post(format!("{url}/leads/channels/{CHANNEL}/webhook"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 202);
            }
        })
        .await;
    println!(
        "serve_load: peak memory (VmHWM) after 10,000 more leads: {:.1} MiB",
        peak_rss_kib(child.id()) as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}
