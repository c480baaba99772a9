//! End to end with the real function binaries under `cargo lambda watch` (bound to
//! 127.0.0.1), moto for SQS, S3, DynamoDB, SSM and Secrets Manager, and the Rechat double:
//! a webhook through the function URL path, a form post, the sample API Gateway event and an
//! email stored in S3 announced by the sample S3 event (both from `events/`, sent with
//! `cargo lambda invoke`), then the `deliver` function invoked with the SQS events built from
//! what is on the queue, as Lambda's event source mapping would, until the double holds every
//! lead.
//!
//! The binaries are those `make test` has just built (`cargo build --workspace --bins`), run
//! by `inlet_tests::watch`. The functions read their settings as deployed: the environment
//! template.yaml sets, the routing file from an SSM parameter and the form secret from Secrets
//! Manager.

use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{Moto, RechatDouble};
use inlet_tests::watch::{
    CHANNEL, FUNCTIONS, MAIL_TOKEN, Watch, deploy, function_binary, function_env, workspace,
};
use serde_json::json;
use std::time::{Duration, Instant};

const MESSAGE: &str = "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: leads+main@in.example.com\r\nSubject: New realtor.com lead - Diego Alvarez\r\nMessage-ID: <watch-e2e@fixtures.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst Name: Diego\r\nLast Name: Alvarez\r\nEmail: diego.alvarez@example.com\r\nPhone: 303.555.0151\r\nComments: Please send the HOA details.\r\n";

#[tokio::test]
async fn every_function_under_cargo_lambda_watch_brings_its_lead_to_rechat() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    // The routing file the deployer uploads (`inlet check` format).
    let routing = format!(
        "[forms.contact]\nchannel = \"{CHANNEL}\"\ntags = [\"Contact page\"]\n\n[email.tags]\nmain = \"{CHANNEL}\"\n"
    );
    let deployed = deploy(&aws, &routing, MESSAGE.as_bytes()).await;
    let double = RechatDouble::start().await;
    let logs = std::env::temp_dir().join(format!("inlet-watch-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    let env = function_env(moto.endpoint(), double.url(), &deployed);
    for name in FUNCTIONS {
        watch.start_function(&function_binary(name), name, 128, &env);
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

    // Mail over HTTP through the webhook function: refused without the token the function
    // read from its own secret; taken with it; and mail no rule routes is kept on the
    // dead-letter queue, answered 202 (a 503 would have the provider retry, then drop it).
    let mail = |to: &str, id: &str| {
        format!(
            "From: Website <no-reply@brokerage.example>\r\nTo: {to}\r\nSubject: New inquiry\r\nMessage-ID: <{id}@fixtures.example>\r\n\r\nName: Ivy Chen\r\nEmail: ivy.chen@example.com\r\nPhone: 415 555 0188\r\n"
        )
    };
    let post_mail = |body: String, token: Option<&str>| {
        let mut request = http
            .post(watch.url("/lambda-url/webhook/email/raw"))
            .header("content-type", "message/rfc822")
            .body(body);
        if let Some(t) = token {
            request = request.basic_auth("inlet", Some(t));
        }
        request.send()
    };
    let routed = mail("leads+main@in.example.com", "watch-mail-1");
    let response = post_mail(routed.clone(), None).await.unwrap();
    assert_eq!(response.status(), 401);
    let response = post_mail(routed.clone(), Some("not-the-token-0000000"))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = post_mail(routed, Some(MAIL_TOKEN)).await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 202, "{body}\n{}", watch.function_log("webhook"));
    let response = post_mail(
        mail("nobody@in.example.com", "watch-mail-2"),
        Some(MAIL_TOKEN),
    )
    .await
    .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 202, "{body}\n{}", watch.function_log("webhook"));
    assert!(body.contains("UNROUTABLE"), "{body}");

    // A form's spam (the honeypot filled): a person's answer, and kept in the ledger's table
    // for review, which the form function may only write.
    let response = http
        .post(watch.url("/lambda-url/form/forms/contact"))
        .header("accept", "application/json")
        .header("origin", "https://www.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Rosa+Diaz&email=rosa.diaz%40example.com&_gotcha=filled")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", watch.function_log("form"));
    let kept = inlet::kept::dynamodb::DynamoKept::new(
        aws_sdk_dynamodb::Client::new(&aws),
        "inlet-ledger",
        Duration::from_secs(86_400),
    );
    use inlet::kept::Kept;
    assert_eq!(
        kept.count(inlet::kept::KeptKind::Spam).await.unwrap(),
        1,
        "{}",
        watch.function_log("form")
    );

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
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url,
        deployed.dlq_url,
    );
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].dead_letter.reason.contains("nobody@in.example.com"),
        "{:?}",
        dead[0].dead_letter
    );
    let started = Instant::now();
    while double.leads().len() < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of 5 leads delivered\n{}",
            double.leads().len(),
            watch.function_log("deliver")
        );
        watch.deliver_once(&http, &queue).await;
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
        "ivy.chen@example.com",
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
    for function in FUNCTIONS {
        let leaks = inlet_testkit::pii::findings(
            &watch.function_log(function),
            &["watch-form-secret", MAIL_TOKEN],
        );
        assert!(leaks.is_empty(), "{function}: {}", leaks.join("\n"));
    }
}

/// The `reconcile` function as the stack's schedule invokes it, with the sample event
/// `events/scheduler-meta-reconcile.json`: the routing file's `[senders.meta.reconcile]` from
/// SSM, the page token from the Meta secret (`meta_page_token:<page id>`), Graph's leads
/// listed from the double, the missing ones queued; then `deliver` fetches each with the same
/// secret and Rechat gets it. A stray event is refused, saying which event the function takes.
// Two threads: the Graph double answers the function while `cargo lambda invoke` is waited on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_function_runs_a_pass_on_its_schedule_s_event() {
    const PAGE: &str = "900000000001";
    const FORM: &str = "800000000001";
    const TOKEN: &str = "watch-page-token-7c1e";
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let routing = format!(
        "[senders.meta]\ntags = [\"Facebook\"]\n[senders.meta.reconcile]\npages = [{{ id = \"{PAGE}\", channel = \"{CHANNEL}\" }}]\n"
    );
    let deployed = deploy(&aws, &routing, MESSAGE.as_bytes()).await;
    let meta_secret = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name("inlet-meta")
        .secret_string(
            json!({"meta_page_token": "", (format!("meta_page_token:{PAGE}")): TOKEN}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let graph = inlet_testkit::GraphDouble::start(TOKEN).await;
    graph.add_form(PAGE, FORM, "Buyers", "ACTIVE");
    let now = chrono::Utc::now();
    for (n, email) in [
        (1, "noor.haddad@example.com"),
        (2, "eli.brandt@example.com"),
    ] {
        graph.add_form_lead(
            FORM,
            &format!("70000000000000{n}"),
            (now - chrono::Duration::minutes(30 * n)).timestamp(),
            json!({"field_data": [
                {"name": "full_name", "values": [format!("Watch Person{n}")]},
                {"name": "email", "values": [email]}
            ]}),
        );
    }
    let double = RechatDouble::start().await;
    let logs = std::env::temp_dir().join(format!("inlet-watch-meta-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    // As template.yaml gives `reconcile` and `deliver`: the Meta secret instead of Secrets.
    let mut env = function_env(moto.endpoint(), double.url(), &deployed);
    env.retain(|(k, _)| *k != "INLET_SECRETS_ARN");
    env.push(("INLET_SECRETS_ARN", meta_secret.arn().unwrap().to_owned()));
    env.push(("INLET_META_GRAPH_URL", graph.url().to_owned()));
    for name in ["reconcile", "deliver"] {
        watch.start_function(&function_binary(name), name, 128, &env);
    }
    let sample = workspace().join("events/scheduler-meta-reconcile.json");
    let started = Instant::now();
    let answer = watch.invoke_file("reconcile", &sample);
    // A figure for the README (printed, never asserted): one run, its cold start included.
    eprintln!(
        "reconcile: one pass over 1 page, 1 form, 2 leads added: {:?}",
        started.elapsed()
    );
    assert_eq!(
        answer["status"],
        "ok",
        "{answer}\n{}",
        watch.function_log("reconcile")
    );
    assert_eq!(answer["added"], 2, "{answer}");
    assert_eq!(answer["graph_calls"], 2, "{answer}");
    // Run again: nothing more to add.
    let answer = watch.invoke_file("reconcile", &sample);
    assert_eq!(answer["added"], 0, "{answer}");
    let http = reqwest::Client::new();
    // A stray event fails the invocation, saying which event the function takes.
    let stray = http
        .post(watch.url("/2015-03-31/functions/reconcile/invocations"))
        .json(&json!({"Records": []}))
        .send()
        .await
        .unwrap();
    assert!(!stray.status().is_success());
    let said = stray.text().await.unwrap();
    assert!(said.contains("meta-reconcile"), "{said}");

    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url,
        deployed.dlq_url,
    );
    let started = Instant::now();
    while double.leads().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of 2 leads delivered\n{}",
            double.leads().len(),
            watch.function_log("deliver")
        );
        watch.deliver_once(&http, &queue).await;
    }
    let mut emails: Vec<String> = double
        .leads()
        .iter()
        .map(|l| l.payload["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        ["eli.brandt@example.com", "noor.haddad@example.com"]
    );
    assert!(
        double
            .leads()
            .iter()
            .all(|l| l.payload["tag"] == json!(["Facebook"]))
    );
    for function in ["reconcile", "deliver"] {
        let leaks = inlet_testkit::pii::findings(&watch.function_log(function), &[TOKEN]);
        assert!(leaks.is_empty(), "{function}: {}", leaks.join("\n"));
    }
}

/// The functions are position-independent executables, as the toolchain links them: they
/// parse hostile mail and JSON and link C code (aws-lc), so their image keeps its random
/// address (ASLR). A fixed address saved about 1 ms of a cold start that Lambda itself makes
/// 100 ms or more.
#[test]
fn function_binaries_are_position_independent_executables() {
    const ET_DYN: u16 = 3;
    for name in FUNCTIONS.iter().chain(&["hello_lambda"]) {
        let bytes = binary_bytes(name);
        assert_eq!(&bytes[..4], b"\x7fELF", "{name} is an ELF file");
        let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
        assert_eq!(e_type, ET_DYN, "{name}: ELF type {e_type}, not ET_DYN");
    }
}

/// The functions link only what they run: the library's `lambda` feature, and none of
/// `inlet serve`'s SQLite store or HTTP server, nor the CLI's CloudFormation client, as
/// cargo resolves each function's dependencies when it is built alone (as `sam build` does).
#[test]
fn function_binaries_depend_only_on_what_they_run() {
    for package in [
        "inlet-webhook",
        "inlet-form",
        "inlet-email",
        "inlet-deliver",
        "inlet-reconcile",
    ] {
        let out = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
            .args([
                "tree",
                "--offline",
                "-e",
                "normal,features",
                "--prefix",
                "none",
            ])
            .args(["-p", package])
            .current_dir(workspace())
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.contains("aws-sdk-sqs"),
            "{package}: the tree is read:\n{tree}"
        );
        for unwanted in [
            "rusqlite ",
            "libsqlite3-sys ",
            "aws-sdk-cloudformation ",
            "hyper feature \"server\"",
            "hyper-util feature \"server\"",
        ] {
            assert!(!tree.contains(unwanted), "{package} depends on {unwanted}");
        }
    }
}

/// A function's (or the hello-world's) debug binary, as `make test` builds it.
fn binary_bytes(name: &str) -> Vec<u8> {
    let path = function_binary(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build the functions first: `cargo build --workspace --bins`)",
            path.display()
        )
    })
}
