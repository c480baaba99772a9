//! The function binaries under `cargo lambda watch`, as deployed: the test
//! `tests/lambda_watch.rs` and the bench `benches/lambda_cost.rs` share it.
//!
//! The watch runs with `--only-lambda-apis` and the binaries are started here, pointed at its
//! runtime API (`/.rt/{name}`): letting the watch compile them itself would wait on the build
//! directory cargo holds locked while tests run.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The lead channel the samples in `events/` post to.
pub const CHANNEL: &str = "00000000-0000-4000-8000-000000000001";
/// The bucket and key `events/s3-email.json` names.
pub const MAIL_BUCKET: &str = "inlet-inbound-mail";
pub const MAIL_KEY: &str = "inbound/0a1b2c3d4e5f";
pub const FUNCTIONS: [&str; 5] = ["webhook", "form", "email", "deliver", "reconcile"];
pub const ROUTING_PARAMETER: &str = "/inlet/routing";

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `INLET_CARGO_LAMBDA` (the Makefile sets it), else the virtualenv `make test` fills.
pub fn cargo_lambda() -> PathBuf {
    let path = std::env::var_os("INLET_CARGO_LAMBDA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/venv/bin/cargo-lambda"));
    assert!(
        path.exists(),
        "{} is missing: `make test` installs cargo-lambda into target/venv",
        path.display()
    );
    path
}

/// A function binary from the same build as the running test (target/<profile>/<name>).
pub fn function_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().join(name)
}

/// What the stack would have created, in moto.
pub struct Deployed {
    pub queue_url: String,
    pub dlq_url: String,
    pub secrets_arn: String,
    pub mail_secret_arn: String,
}

/// The mail token the stack's `MailTokenSecret` holds here.
pub const MAIL_TOKEN: &str = "watch-mail-token-3b9f0e27c4";

/// The stack's resources in moto: the FIFO queue pair, the ledger table, the mail bucket
/// holding `message` at the key the sample S3 event names, the routing file as an SSM
/// SecureString and the secrets in Secrets Manager.
pub async fn deploy(aws: &aws_config::SdkConfig, routing: &str, message: &[u8]) -> Deployed {
    deploy_with_receive_limit(aws, routing, message, 1000).await
}

/// As `deploy`, with the queue redriving after `max_receives` (template.yaml: 1,000).
pub async fn deploy_with_receive_limit(
    aws: &aws_config::SdkConfig,
    routing: &str,
    message: &[u8],
    max_receives: u32,
) -> Deployed {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let (queue_url, dlq_url) =
        inlet::queue::sqs::SqsQueue::create_fifo_pair(&sqs, "inlet-watch", max_receives, 10)
            .await
            .unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    inlet::ledger::dynamodb::DynamoLedger::create_table(&dynamo, "inlet-ledger")
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(MAIL_BUCKET).send().await.unwrap();
    s3.put_object()
        .bucket(MAIL_BUCKET)
        .key(MAIL_KEY)
        .body(message.to_vec().into())
        .send()
        .await
        .unwrap();
    aws_sdk_ssm::Client::new(aws)
        .put_parameter()
        .name(ROUTING_PARAMETER)
        .value(routing)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let secret = aws_sdk_secretsmanager::Client::new(aws)
        .create_secret()
        .name("inlet-secrets")
        .secret_string(
            json!({"form_secret": "watch-form-secret", "meta_page_token": ""}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let mail_secret = aws_sdk_secretsmanager::Client::new(aws)
        .create_secret()
        .name("inlet-mail-token")
        .secret_string(json!({ "email_http_token": MAIL_TOKEN }).to_string())
        .send()
        .await
        .unwrap();
    Deployed {
        queue_url,
        dlq_url,
        secrets_arn: secret.arn().unwrap().to_owned(),
        mail_secret_arn: mail_secret.arn().unwrap().to_owned(),
    }
}

/// template.yaml's Globals and per-function variables; `AWS_ENDPOINT_URL` and dummy
/// credentials stand in for the execution role.
pub fn function_env(moto: &str, rechat: &str, deployed: &Deployed) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("AWS_ENDPOINT_URL", moto.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "info".to_owned()),
        ("INLET_RECHAT_URL", rechat.to_owned()),
        ("INLET_CHANNELS", CHANNEL.to_owned()),
        ("INLET_DEFAULT_CHANNEL", String::new()),
        ("INLET_ROUTING_PARAMETER", ROUTING_PARAMETER.to_owned()),
        ("INLET_QUEUE_URL", deployed.queue_url.clone()),
        ("INLET_DLQ_URL", deployed.dlq_url.clone()),
        ("INLET_LEDGER_TABLE", "inlet-ledger".to_owned()),
        ("INLET_KEEP_DAYS", "30".to_owned()),
        ("INLET_SECRETS_ARN", deployed.secrets_arn.clone()),
        ("INLET_MAIL_SECRET_ARN", deployed.mail_secret_arn.clone()),
        ("INLET_FORM_ORIGINS", "https://www.example.com".to_owned()),
        ("INLET_EMAIL_PREFIX", "inbound/".to_owned()),
    ]
}

/// A running `cargo lambda watch` and the functions started on it; all killed on drop.
pub struct Watch {
    pub port: u16,
    pub logs: PathBuf,
    processes: Vec<(String, Child)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Watch {
    /// Starts the watch on a free 127.0.0.1 port, logging into `logs`.
    pub fn start(logs: &Path) -> Watch {
        std::fs::create_dir_all(logs).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address"])
            .args(["127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .arg("--manifest-path")
            .arg(workspace().join("Cargo.toml"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(logs.join("watch.log")).unwrap())
            .stderr(std::fs::File::create(logs.join("watch.err")).unwrap())
            .spawn()
            .expect("cargo lambda watch starts");
        let watch = Watch {
            port,
            logs: logs.to_owned(),
            processes: vec![("watch".into(), child)],
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "cargo lambda watch did not listen: {}",
                std::fs::read_to_string(logs.join("watch.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        watch
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts `binary` as function `name` on this watch's runtime API, with `memory_mb` as
    /// its configured memory and only the environment given.
    pub fn start_function(
        &mut self,
        binary: &Path,
        name: &str,
        memory_mb: u32,
        env: &[(&str, String)],
    ) {
        assert!(
            binary.exists(),
            "{} is missing: build the functions first with `cargo build --workspace --bins` (`make test` does)",
            binary.display()
        );
        let child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.url(&format!("/.rt/{name}")))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Appended: a restarted function's log follows the crashed one's.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.logs.join(format!("{name}.log")))
                    .unwrap(),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        self.processes.push((name.to_owned(), child));
    }

    /// kill -9 function `name`, as a crashed Lambda instance.
    pub fn kill_function(&mut self, name: &str) {
        if let Some(i) = self.processes.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.processes.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The peak resident memory of function `name` so far (VmHWM), in MiB.
    pub fn peak_mib(&self, name: &str) -> f64 {
        let (_, child) = self
            .processes
            .iter()
            .find(|(n, _)| n == name)
            .expect("a started function");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb / 1024.0
    }

    /// `cargo lambda invoke NAME --data-file FILE` against this watch; the function's answer.
    pub fn invoke_file(&self, name: &str, file: &Path) -> Value {
        let out = Command::new(cargo_lambda())
            .args(["lambda", "invoke", name, "--output-format", "json"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo lambda invoke {name}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.function_log(name)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name} answered {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// An invocation through the emulator's Invoke API, as an event source mapping makes it.
    pub async fn invoke(&self, http: &reqwest::Client, name: &str, event: &Value) -> Value {
        let response = http
            .post(self.url(&format!("/2015-03-31/functions/{name}/invocations")))
            .json(event)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "invoking {name}: {}\n{}",
            response.status(),
            self.function_log(name)
        );
        response.json().await.unwrap()
    }

    pub fn function_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// One poll of the SQS event source mapping: receive a batch, invoke `deliver` with it,
    /// delete all but the failures it reports. How many messages it received, and how long
    /// the invocation took.
    pub async fn deliver_once(
        &self,
        http: &reqwest::Client,
        queue: &inlet::queue::sqs::SqsQueue,
    ) -> (usize, Duration) {
        let messages = receive_batch(queue).await;
        if messages.is_empty() {
            return (0, Duration::ZERO);
        }
        let (took, _) = self.deliver_batch(http, queue, &messages).await;
        (messages.len(), took)
    }

    /// Invokes `deliver` with a received batch and deletes what it did not report failed.
    /// How long the invocation took, and how many messages it reported failed.
    pub async fn deliver_batch(
        &self,
        http: &reqwest::Client,
        queue: &inlet::queue::sqs::SqsQueue,
        messages: &[inlet::queue::QueueMessage],
    ) -> (Duration, usize) {
        let event = serde_json::to_value(crate::sqs_event(messages)).unwrap();
        let started = Instant::now();
        let answer = self.invoke(http, "deliver", &event).await;
        let took = started.elapsed();
        let failed: Vec<&str> = answer["batchItemFailures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["itemIdentifier"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for m in messages {
            if !failed.contains(&m.message_id.as_str()) {
                queue
                    .delete(false, m.receipt_handle.as_deref().unwrap())
                    .await
                    .unwrap();
            }
        }
        (took, failed.len())
    }
}

/// Up to 10 messages, as the event source mapping receives them.
pub async fn receive_batch(queue: &inlet::queue::sqs::SqsQueue) -> Vec<inlet::queue::QueueMessage> {
    queue
        .receive(false, 10, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

/// Builds the four functions and the hello-world baseline in release, as `sam build` does
/// (cargo's own compiler, the workspace's release profile); their directory.
pub fn release_binaries() -> PathBuf {
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Each package by name, not `--workspace`: cargo then resolves the library's features for
    // these binaries alone, as `sam build` does, and not with the CLI's.
    build.args(["build", "--release"]);
    for package in [
        "inlet-webhook",
        "inlet-form",
        "inlet-deliver",
        "inlet-email",
        "inlet-reconcile",
    ] {
        build.args(["-p", package]);
    }
    build.args(["-p", "inlet-tests"]);
    for name in FUNCTIONS.iter().chain(&["hello_lambda"]) {
        build.args(["--bin", name]);
    }
    assert!(build.status().unwrap().success(), "the release build");
    workspace().join("target/release")
}
