//! Running `inlet serve` as a process for end-to-end tests.

#![allow(dead_code)]

pub mod chaos;
pub mod outage;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

pub struct Serve {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
    pub data: PathBuf,
    /// What it printed after the line saying where it listens (the rest of its banner).
    pub stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn data_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inlet-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Serve {
    /// Starts `inlet serve` against `rechat_url`, listening on `listen`, and waits until it
    /// says where it listens.
    pub fn start(rechat_url: &str, data: &Path, listen: &str, extra_env: &[(&str, &str)]) -> Serve {
        Serve::start_with_args(rechat_url, data, listen, extra_env, &[])
    }

    /// As `start`, with more arguments to `inlet serve` (`--max-receives 20`).
    pub fn start_with_args(
        rechat_url: &str,
        data: &Path,
        listen: &str,
        extra_env: &[(&str, &str)],
        extra_args: &[&str],
    ) -> Serve {
        let log = data.join(format!(
            "serve-{}.log",
            Instant::now().elapsed().as_nanos() ^ rand_suffix()
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
        cmd.args(["serve", "--listen", listen, "--data-dir"])
            .arg(data)
            .args(["--rechat-url", rechat_url, "--visibility-secs", "5"])
            .args(extra_args)
            .env("INLET_RECHAT_CONNECT_TIMEOUT_MS", "500")
            .env("INLET_RECHAT_TIMEOUT_MS", "1000")
            .env("INLET_RETRY_BASE_MS", "200")
            .env("INLET_RETRY_CAP_SECS", "2")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start inlet serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.trim().strip_prefix("listening on") {
                url = Some(rest.trim().to_owned());
                break;
            }
        }
        // Keep reading stdout so the child never blocks on a full pipe.
        let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = printed.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut kept = keep.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Serve {
            child,
            url: url.expect("inlet serve printed where it listens"),
            log,
            data: data.to_owned(),
            stdout: printed,
        }
    }

    /// The mail token `inlet serve` generated into its data dir at first start.
    pub fn mail_token(&self) -> String {
        std::fs::read_to_string(self.data.join("email-http.token"))
            .expect("inlet serve keeps a mail token")
            .trim()
            .to_owned()
    }

    /// Starts it with `routing` as its routing file (`INLET_ROUTING_FILE`), written into
    /// `data`.
    pub fn start_with_routing(rechat_url: &str, data: &Path, routing: &str) -> Serve {
        let file = data.join("inlet.toml");
        std::fs::write(&file, routing).unwrap();
        Serve::start(
            rechat_url,
            data,
            "127.0.0.1:0",
            &[("INLET_ROUTING_FILE", file.to_str().unwrap())],
        )
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "inlet serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `done` holds, up to `limit`.
pub async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// `inlet ARGS` with the standard credential chain pointed at moto.
pub fn inlet_on_moto(endpoint: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

/// The SDK pointed at moto, with dummy credentials.
pub async fn moto_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}
