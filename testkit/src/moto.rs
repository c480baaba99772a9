//! moto's server (SQS, DynamoDB, S3 on one port), started once per test process on a free
//! 127.0.0.1 port and reset between tests.
//!
//! The binary comes from `INLET_MOTO_SERVER`, else the virtualenv `make test` creates under
//! `target/venv`, else `PATH`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    endpoint: String,
    _child: Child,
}

static SHARED: OnceLock<Moto> = OnceLock::new();
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("INLET_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

impl Moto {
    /// The process-wide moto server, started on first use.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(Moto::start)
    }

    /// Holds moto for one test: resets its state and keeps other tests off it until the
    /// guard drops.
    pub async fn exclusive() -> (&'static Moto, tokio::sync::MutexGuard<'static, ()>) {
        let guard = EXCLUSIVE.lock().await;
        let moto = Moto::shared();
        moto.reset();
        (moto, guard)
    }

    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let bin = binary();
        // A shell watchdog ends moto when this test process ends, however it ends.
        let script = format!(
            "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {} 2>/dev/null; do sleep 1; done; kill $m",
            bin.display(),
            std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .spawn()
            .expect("start sh for moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server ({}) did not start on port {port}; `make test` installs it into target/venv",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: child,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Forgets every queue, table and bucket.
    pub fn reset(&self) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("connect to moto");
        s.write_all(b"POST /moto-api/reset HTTP/1.1\r\nHost: moto\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("reset moto");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 200"), "moto reset failed: {out}");
    }
}
