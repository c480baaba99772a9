//! Init time of each Lambda function: process start to its first request for an event from
//! the runtime API, against a local runtime API on loopback, next to a hello-world
//! lambda_runtime binary built the same way (release), in the same run; and the binaries'
//! sizes. `cargo bench -p inlet-tests --bench lambda_init` (builds the release binaries
//! first).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const RUNS: usize = 200;

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
    // Lambda sets neither; a machine running the bench may (this one does).
    command
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    if let Roots::CertFile(file) = roots {
        command.env("SSL_CERT_FILE", file);
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

/// Where the functions' TLS roots come from. On Lambda, Mozilla's roots compiled into the
/// binary (`inlet::sdk::https`): nothing is read or decoded at init. With `SSL_CERT_FILE`
/// set (a private CA in front of an endpoint), that file's PEM is decoded at init: measured
/// with the system's whole bundle, the worst such file.
#[derive(Clone, Copy)]
enum Roots {
    CompiledIn,
    CertFile(&'static str),
}

const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The binaries as Lambda runs them: extracted from the deployment package, a file written
/// from start to end. The linker writes its output through a memory map, which the page
/// cache then holds in small pages: run from there, a cold start took ~20 more page faults
/// (265 against 245 for a copy of the same file, `perf stat`) and ~0.4 ms more, in every
/// binary alike, which is the file's history and not its code.
fn as_deployed(built: &std::path::Path, names: &[&str]) -> std::path::PathBuf {
    let dir = built.join("lambda-init");
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        let to = dir.join(name);
        let _ = std::fs::remove_file(&to);
        std::fs::write(&to, std::fs::read(built.join(name)).unwrap()).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    dir
}

const NAMES: [&str; 5] = ["hello_lambda", "webhook", "form", "deliver", "email"];

#[tokio::main]
async fn main() {
    let dir = as_deployed(&inlet_tests::watch::release_binaries(), &NAMES);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    for (label, roots) in [
        ("compiled in, as on Lambda", Roots::CompiledIn),
        (
            "SSL_CERT_FILE naming the system's whole bundle",
            Roots::CertFile(BUNDLE),
        ),
    ] {
        println!("\nroots: {label}");
        table(&dir, &listener, port, roots).await;
    }
}

async fn table(dir: &std::path::Path, listener: &TcpListener, port: u16, roots: Roots) {
    let mut results: Vec<(&str, Vec<f64>)> = NAMES.iter().map(|n| (*n, Vec::new())).collect();
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
