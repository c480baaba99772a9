//! End to end with the real function binaries under `cargo lambda watch` (bound to
//! 127.0.0.1), moto for SQS, S3, DynamoDB, SSM and Secrets Manager, and the Rechat double:
//! a webhook through the function URL path, a form post, the sample API Gateway event and an
//! email stored in S3 announced by the sample S3 event (both from `events/`, sent with
//! `cargo lambda invoke`), then the `deliver` function invoked with the SQS events built from
//! what is on the queue, as Lambda's event source mapping would, until the double holds every
//! lead.
//!
//! `cargo lambda watch` runs with `--only-lambda-apis` and this test starts the binaries
//! `make test` has just built (`cargo build --workspace --bins`), pointed at the watch's runtime API: letting the
//! watch compile them itself would wait on the build directory cargo holds locked while the
//! tests run. The functions read their settings as deployed: the environment template.yaml
//! sets, the routing file from an SSM parameter and the form secret from Secrets Manager.

use inlet::queue::QueueMessage;
use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{Moto, RechatDouble};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The lead channel the samples in `events/` post to.
const CHANNEL: &str = "00000000-0000-4000-8000-000000000001";
const BUCKET: &str = "inlet-inbound-mail";
/// The key `events/s3-email.json` names.
const MAIL_KEY: &str = "inbound/0a1b2c3d4e5f";
const FUNCTIONS: [&str; 4] = ["webhook", "form", "email", "deliver"];

const MESSAGE: &str = "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: leads+main@in.example.com\r\nSubject: New realtor.com lead - Diego Alvarez\r\nMessage-ID: <watch-e2e@fixtures.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst Name: Diego\r\nLast Name: Alvarez\r\nEmail: diego.alvarez@example.com\r\nPhone: 303.555.0151\r\nComments: Please send the HOA details.\r\n";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `INLET_CARGO_LAMBDA` (the Makefile sets it), else the virtualenv `make test` fills.
fn cargo_lambda() -> PathBuf {
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

/// A function binary from the same build as this test (target/<profile>/<name>).
fn function_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the functions first with `cargo build --workspace --bins` (`make test` does)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Child processes killed when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Watch {
    port: u16,
    logs: PathBuf,
}

impl Watch {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `cargo lambda invoke NAME --data-file FILE` against this watch; the function's answer.
    fn invoke_file(&self, name: &str, file: &Path) -> Value {
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

    /// An invocation through the runtime emulator's Invoke API, as the event source mapping
    /// makes it.
    async fn invoke(&self, http: &reqwest::Client, name: &str, event: &Value) -> Value {
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

    fn function_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// moto's resources as the stack would create them; returns the queue and dead-letter URLs.
async fn resources(aws: &aws_config::SdkConfig) -> (String, String, String) {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let (queue, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-watch", 5, 30)
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
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key(MAIL_KEY)
        .body(MESSAGE.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    // The routing file the deployer uploads (`inlet check` format).
    let routing = format!(
        "[forms.contact]\nchannel = \"{CHANNEL}\"\ntags = [\"Contact page\"]\n\n[email.tags]\nmain = \"{CHANNEL}\"\n"
    );
    aws_sdk_ssm::Client::new(aws)
        .put_parameter()
        .name("/inlet/routing")
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
    (queue, dlq, secret.arn().unwrap().to_owned())
}

fn start_watch(processes: &mut Processes, logs: &Path) -> Watch {
    let port = free_port();
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
    processes.0.push(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "cargo lambda watch did not listen: {}",
            std::fs::read_to_string(logs.join("watch.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Watch {
        port,
        logs: logs.to_owned(),
    }
}

fn start_function(processes: &mut Processes, watch: &Watch, name: &str, env: &[(&str, String)]) {
    let child = Command::new(function_binary(name))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", watch.url(&format!("/.rt/{name}")))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(watch.logs.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    processes.0.push(child);
}

#[tokio::test]
async fn every_function_under_cargo_lambda_watch_brings_its_lead_to_rechat() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let (queue_url, dlq_url, secrets_arn) = resources(&aws).await;
    let double = RechatDouble::start().await;
    let logs = std::env::temp_dir().join(format!("inlet-watch-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();

    let mut processes = Processes(Vec::new());
    let watch = start_watch(&mut processes, &logs);
    // template.yaml's Globals and per-function variables; AWS_ENDPOINT_URL and the dummy
    // credentials stand in for the execution role.
    let env = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "info".to_owned()),
        ("INLET_RECHAT_URL", double.url().to_owned()),
        ("INLET_CHANNELS", CHANNEL.to_owned()),
        ("INLET_DEFAULT_CHANNEL", String::new()),
        ("INLET_ROUTING_PARAMETER", "/inlet/routing".to_owned()),
        ("INLET_QUEUE_URL", queue_url.clone()),
        ("INLET_DLQ_URL", dlq_url.clone()),
        ("INLET_LEDGER_TABLE", "inlet-ledger".to_owned()),
        ("INLET_SECRETS_ARN", secrets_arn),
        ("INLET_FORM_ORIGINS", "https://www.example.com".to_owned()),
        ("INLET_EMAIL_PREFIX", "inbound/".to_owned()),
    ];
    for name in FUNCTIONS {
        start_function(&mut processes, &watch, name, &env);
    }
    let http = reqwest::Client::new();

    // A Zapier-style webhook through the webhook function's URL.
    let response = http
        .post(watch.url(&format!("/lambda-url/webhook/webhooks/{CHANNEL}")))
        .json(&json!({"first_name": "Mei", "last_name": "Tanaka", "email": "mei.tanaka@example.com", "phone": "512-555-0100"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 202, "{body}\n{}", watch.function_log("webhook"));

    // A website form, configured in the routing file the function read from SSM.
    let response = http
        .post(watch.url("/lambda-url/form/forms/contact"))
        .header("accept", "application/json")
        .header("origin", "https://www.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Ana+Silva&email=ana.form%40example.com&message=Is+the+open+house+still+on%3F")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 202, "{body}\n{}", watch.function_log("form"));

    // The samples `cargo lambda invoke` sends: an API Gateway webhook event and the S3
    // event SES's stored message raises.
    let events = workspace().join("events");
    let answer = watch.invoke_file("webhook", &events.join("apigw-webhook.json"));
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let answer = watch.invoke_file("email", &events.join("s3-email.json"));
    assert_eq!(
        answer["messages"][0]["outcome"],
        "queued",
        "{answer}\n{}",
        watch.function_log("email")
    );

    // The event source mapping: receive, invoke deliver with the batch, delete all but the
    // failures it reports, until the double holds the four leads.
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url, dlq_url);
    let started = Instant::now();
    while double.leads().len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of 4 leads delivered\n{}",
            double.leads().len(),
            watch.function_log("deliver")
        );
        let messages: Vec<QueueMessage> = queue
            .receive(false, 10, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        if messages.is_empty() {
            continue;
        }
        let event = serde_json::to_value(inlet_tests::sqs_event(&messages)).unwrap();
        let answer = watch.invoke(&http, "deliver", &event).await;
        let failed: Vec<&str> = answer["batchItemFailures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["itemIdentifier"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for m in &messages {
            if !failed.contains(&m.message_id.as_str()) {
                queue
                    .delete(false, m.receipt_handle.as_deref().unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    let leads = double.leads();
    let emails: Vec<&str> = leads
        .iter()
        .filter_map(|l| l.payload["email"].as_str())
        .collect();
    for expected in [
        "mei.tanaka@example.com",
        "ana.form@example.com",
        "ana.silva@example.com",
        "diego.alvarez@example.com",
    ] {
        assert!(emails.contains(&expected), "{expected} missing: {emails:?}");
    }
    assert!(leads.iter().all(|l| l.channel == CHANNEL));
    let form_lead = leads
        .iter()
        .find(|l| l.payload["email"] == "ana.form@example.com")
        .unwrap();
    assert_eq!(
        form_lead.payload["tag"],
        json!(["Contact page"]),
        "the form's routing came from SSM"
    );
    assert!(
        !watch.function_log("deliver").contains(CHANNEL),
        "a full channel id in the deliver log"
    );
}
