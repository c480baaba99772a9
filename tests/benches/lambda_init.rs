//! Init time of each Lambda function: process start to its first request for an event from
//! the runtime API, against a local runtime API on loopback, next to a hello-world
//! lambda_runtime binary built the same way (release), in the same run; and the binaries'
//! sizes. `cargo bench -p inlet-tests --bench lambda_init` (builds the release binaries
//! first).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const RUNS: usize = 30;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_LEVEL", "warn"),
        (
            "INLET_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/inlet.fifo",
        ),
        (
            "INLET_DLQ_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/inlet-dlq.fifo",
        ),
        ("INLET_LEDGER_TABLE", "inlet-ledger"),
        ("INLET_CHANNELS", "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f"),
        ("INLET_FORM_SECRET", "bench-secret"),
    ]
}

/// Milliseconds from spawn to the first `GET …/runtime/invocation/next`.
async fn init_ms(binary: &std::path::Path, listener: &TcpListener, port: u16, roots: Roots) -> f64 {
    let start = Instant::now();
    let mut command = Command::new(binary);
    if let Roots::File(file) = roots {
        // Only this file: an empty certificate directory stops the probe of /etc/ssl/certs.
        command.env("SSL_CERT_FILE", file).env(
            "SSL_CERT_DIR",
            std::env::temp_dir().join("inlet-no-cert-dir"),
        );
    }
    let mut child = command
        .envs(env())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            if String::from_utf8_lossy(&buf[..n]).contains("/runtime/invocation/next") {
                return start.elapsed();
            }
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    waited
        .unwrap_or_else(|_| panic!("{} never asked for an event", binary.display()))
        .as_secs_f64()
        * 1e3
}

/// Where the functions' TLS root certificates come from. rustls-native-certs reads the
/// system's bundle file and then every file of its certificate directory: on Debian that is
/// ~290 hashed links, each parsed again; Lambda's Amazon Linux 2023 keeps the roots in one
/// bundle. Both are measured, and a file of one certificate: the floor, what init costs when
/// loading roots costs nothing.
#[derive(Clone, Copy)]
enum Roots {
    SystemProbe,
    File(&'static str),
}

const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The bundle's first certificate, in a file of its own.
fn one_certificate() -> &'static str {
    let bundle = std::fs::read_to_string(BUNDLE).expect("the system's certificate bundle");
    let end = "-----END CERTIFICATE-----";
    let first = &bundle[..bundle.find(end).expect("a certificate") + end.len()];
    let path = std::env::temp_dir().join("inlet-one-certificate.pem");
    std::fs::write(&path, format!("{first}\n")).unwrap();
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

#[tokio::main]
async fn main() {
    let dir = inlet_tests::watch::release_binaries();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::create_dir_all(std::env::temp_dir().join("inlet-no-cert-dir")).unwrap();
    for (label, roots) in [
        (
            "this machine's bundle and certificate directory",
            Roots::SystemProbe,
        ),
        ("one bundle file, as on Lambda", Roots::File(BUNDLE)),
        (
            "one certificate (the floor: roots cost nothing)",
            Roots::File(one_certificate()),
        ),
    ] {
        println!("\nroots: {label}");
        table(&dir, &listener, port, roots).await;
    }
}

async fn table(dir: &std::path::Path, listener: &TcpListener, port: u16, roots: Roots) {
    let names = ["hello_lambda", "webhook", "form", "deliver", "email"];
    let mut results: Vec<(&str, Vec<f64>)> = names.iter().map(|n| (*n, Vec::new())).collect();
    // Interleaved, so that every binary sees the same machine state.
    for _ in 0..RUNS {
        for (name, times) in results.iter_mut() {
            times.push(init_ms(&dir.join(name), listener, port, roots).await);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&mut results[0].1.clone());
    println!(
        "{:<14} {:>10} {:>12} {:>12} {:>8}",
        "binary", "size", "init p50", "init p90", "× hello"
    );
    for (name, times) in results.iter_mut() {
        let size = std::fs::metadata(dir.join(*name)).unwrap().len();
        let p50 = median(times);
        let p90 = times[times.len() * 9 / 10];
        println!(
            "{name:<14} {:>8.1} MB {:>9.2} ms {:>9.2} ms {:>7.2}×",
            size as f64 / 1e6,
            p50,
            p90,
            p50 / base
        );
    }
}
