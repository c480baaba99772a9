//! What a lead costs on AWS, from measured durations and memory: the four release binaries
//! under `cargo lambda watch` at 128 MB, moto behind them and the Rechat double in front of
//! `deliver` (answering after `RECHAT_MS`, a real server's latency). Every function gets
//! `LEADS` leads (webhooks and forms through the function URL, emails as S3 events of stored
//! messages); `deliver` drains the queue in the event source mapping's batches of 10. Prints
//! each function's duration and peak memory, then the cost per lead, per 1,000 and per
//! 1,000,000 leads with the list prices below.
//!
//! `cargo bench -p inlet-tests --bench lambda_cost` (builds the release binaries first).
//!
//! Durations are measured at the caller, so they include the emulator's loopback hop; moto
//! answers in place of SQS, DynamoDB and S3 (in-region calls take a few ms, moto ~1-5).

use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{Moto, RechatDouble};
use inlet_tests::watch::{
    CHANNEL, FUNCTIONS, MAIL_BUCKET, Watch, deploy, function_env, release_binaries, workspace,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LEADS: usize = 200;
const RECHAT_MS: u64 = 150;
const MEMORY_MB: u32 = 128;

/// US East (N. Virginia) list prices as published on aws.amazon.com/{lambda,api-gateway,sqs,
/// dynamodb,ses,s3,cloudwatch}/pricing, read 2026-11-21; free tiers left out.
mod price {
    /// Lambda, Arm (the template's default), per GB-second and per request.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// HTTP API, per request (first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// SQS FIFO, per request (each 64 KB chunk of a message is one).
    pub const SQS_FIFO_REQUEST: f64 = 0.50 / 1e6;
    /// DynamoDB on-demand, per write request unit (1 KB).
    pub const DYNAMODB_WRITE: f64 = 0.625 / 1e6;
    /// SES receiving: per message and per 256 KB chunk.
    pub const SES_MESSAGE: f64 = 0.10 / 1e3;
    pub const SES_CHUNK: f64 = 0.09 / 1e3;
    /// S3 Standard: the PUT SES makes, the GET the email function makes.
    pub const S3_PUT: f64 = 0.005 / 1e3;
    pub const S3_GET: f64 = 0.0004 / 1e3;
    /// CloudWatch Logs ingestion, per GB.
    pub const LOGS_GB: f64 = 0.50;
}

struct Measured {
    name: &'static str,
    invocations: usize,
    leads: usize,
    millis: Vec<f64>,
    peak_mib: f64,
    log_bytes: u64,
}

impl Measured {
    fn p(&self, q: f64) -> f64 {
        let mut v = self.millis.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    }
    /// Lambda's bill for one lead's share: duration rounded up to the ms, per invocation.
    fn lambda_per_lead(&self) -> f64 {
        let gb = f64::from(MEMORY_MB) / 1024.0;
        let compute: f64 = self
            .millis
            .iter()
            .map(|ms| ms.ceil() / 1e3 * gb * price::LAMBDA_GB_S)
            .sum();
        (compute + self.invocations as f64 * price::LAMBDA_REQUEST) / self.leads as f64
    }
    fn logs_per_lead(&self) -> f64 {
        self.log_bytes as f64 / self.leads as f64 / 1e9 * price::LOGS_GB
    }
}

fn mail(i: usize) -> String {
    format!(
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: leads+main@in.example.com\r\nSubject: New realtor.com lead - Buyer {i}\r\nMessage-ID: <cost-{i}@fixtures.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst Name: Buyer\r\nLast Name: Number{i}\r\nEmail: mail.{i}@example.com\r\nPhone: 303.555.{:04}\r\nComments: Please send the HOA details for 12 Elm St.\r\n",
        i % 10_000
    )
}

async fn timed<F: std::future::Future<Output = T>, T>(f: F) -> (T, f64) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed().as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let dir = release_binaries();
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let routing =
        format!("[forms.contact]\nchannel = \"{CHANNEL}\"\n\n[email.tags]\nmain = \"{CHANNEL}\"\n");
    let deployed = deploy(&aws, &routing, mail(0).as_bytes()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    for i in 0..LEADS {
        s3.put_object()
            .bucket(MAIL_BUCKET)
            .key(format!("inbound/cost-{i}"))
            .body(mail(i).into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let double = RechatDouble::start().await;
    double.set_latency(Duration::from_millis(RECHAT_MS));
    let logs = std::env::temp_dir().join(format!("inlet-cost-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    let env = function_env(moto.endpoint(), double.url(), &deployed);
    for name in FUNCTIONS {
        watch.start_function(&dir.join(name), name, MEMORY_MB, &env);
    }
    let http = reqwest::Client::new();
    let sample: Value =
        serde_json::from_slice(&std::fs::read(workspace().join("events/s3-email.json")).unwrap())
            .unwrap();

    let mut webhook = Vec::new();
    let mut form = Vec::new();
    let mut email = Vec::new();
    for i in 0..LEADS {
        let (response, ms) = timed(
            http.post(watch.url(&format!("/lambda-url/webhook/webhooks/{CHANNEL}")))
                .json(&json!({"first_name": "Hook", "last_name": format!("N{i}"), "email": format!("hook.{i}@example.com"), "phone": "512-555-0100", "message": "Zapier lead"}))
                .send(),
        )
        .await;
        assert_eq!(response.unwrap().status(), 202);
        webhook.push(ms);
        let (response, ms) = timed(
            http.post(watch.url("/lambda-url/form/forms/contact"))
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "name=Form+N{i}&email=form.{i}%40example.com&message=Open+house%3F"
                ))
                .send(),
        )
        .await;
        assert_eq!(response.unwrap().status(), 202);
        form.push(ms);
        let mut event = sample.clone();
        event["Records"][0]["s3"]["object"]["key"] = json!(format!("inbound/cost-{i}"));
        let (answer, ms) = timed(watch.invoke(&http, "email", &event)).await;
        assert_eq!(answer["messages"][0]["outcome"], "queued", "{answer}");
        email.push(ms);
    }

    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url.clone(),
        deployed.dlq_url.clone(),
    );
    let mut deliver = Vec::new();
    let mut batches = 0;
    let drain_started = Instant::now();
    while double.leads().len() < 3 * LEADS {
        assert!(drain_started.elapsed() < Duration::from_secs(600), "drain");
        let (received, took) = watch.deliver_once(&http, &queue).await;
        if received > 0 {
            deliver.push(took.as_secs_f64() * 1e3);
            batches += 1;
        }
    }

    let log_bytes = |name: &str| watch.function_log(name).len() as u64;
    let measured: Vec<Measured> = [
        ("webhook", webhook, LEADS),
        ("form", form, LEADS),
        ("email", email, LEADS),
        ("deliver", deliver, 3 * LEADS),
    ]
    .into_iter()
    .map(|(name, millis, leads)| Measured {
        name,
        invocations: millis.len(),
        leads,
        peak_mib: watch.peak_mib(name),
        log_bytes: log_bytes(name),
        millis,
    })
    .collect();

    println!(
        "{:<8} {:>6} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "function", "calls", "p50 ms", "p90 ms", "mean ms", "peak MiB", "log B/lead"
    );
    for m in &measured {
        println!(
            "{:<8} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>10.1} {:>10.0}",
            m.name,
            m.invocations,
            m.p(0.5),
            m.p(0.9),
            m.millis.iter().sum::<f64>() / m.millis.len() as f64,
            m.peak_mib,
            m.log_bytes as f64 / m.leads as f64
        );
    }
    println!(
        "deliver: {batches} batches for {} leads, Rechat answering after {RECHAT_MS} ms",
        3 * LEADS
    );

    let [hook, form, email, deliver] = &measured[..] else {
        unreachable!()
    };
    // Per lead after intake: the deliver share; one SQS send; receive + delete per batch; the
    // ledger's writes (intake's create, deliver's claim and its record of the outcome), each
    // under 1 KB here.
    let per_batch = 3.0 * LEADS as f64 / batches as f64;
    let downstream = deliver.lambda_per_lead()
        + deliver.logs_per_lead()
        + price::SQS_FIFO_REQUEST * (1.0 + 2.0 / per_batch)
        + 3.0 * price::DYNAMODB_WRITE;
    let rows = [
        (
            "webhook",
            price::HTTP_API_REQUEST + hook.lambda_per_lead() + hook.logs_per_lead() + downstream,
        ),
        (
            "form",
            price::HTTP_API_REQUEST + form.lambda_per_lead() + form.logs_per_lead() + downstream,
        ),
        (
            "email",
            price::SES_MESSAGE
                + price::SES_CHUNK
                + price::S3_PUT
                + price::S3_GET
                + email.lambda_per_lead()
                + email.logs_per_lead()
                + downstream,
        ),
    ];
    println!(
        "\n{:<8} {:>14} {:>14} {:>16}",
        "lead by", "per lead $", "per 1,000 $", "per 1,000,000 $"
    );
    for (name, dollars) in rows {
        println!(
            "{name:<8} {dollars:>14.8} {:>14.4} {:>16.2}",
            dollars * 1e3,
            dollars * 1e6
        );
    }
}
