//! The CLI against a deployed stack through the standard credential chain (moto):
//! `inlet leads --table T` reads a person's envelopes from the DynamoDB ledger, and lists
//! the newest through its listing index; `inlet send --stack NAME` posts to the API URL the
//! stack's outputs name; `inlet status --stack NAME` reads the queues, the ledger, the kept
//! items and CloudWatch; `inlet review` and `inlet spam` work the kept items in the table.

mod common;

use common::{Serve, inlet_on_moto, moto_config};
use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
use inlet::lead::Lead;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::{Ledger, LedgerRecord};
use inlet_testkit::{Moto, RechatDouble};

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

#[tokio::test]
async fn a_persons_envelopes_from_the_deployed_ledger() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = moto_config(moto.endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    DynamoLedger::create_table(&dynamo, "inlet-ledger")
        .await
        .unwrap();
    let ledger = DynamoLedger::new(dynamo, "inlet-ledger", std::time::Duration::from_secs(3600));
    let envelope = EnvelopeBuilder::new(OriginKind::Email, "zillow", CHANNEL, b"raw")
        .step(Step::Capture {
            lead: Lead {
                email: Some("mei.tanaka@example.com".into()),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build();
    ledger
        .create(&LedgerRecord::new(envelope.id.clone(), &envelope))
        .await
        .unwrap();

    let run = |args: &[&str]| inlet_on_moto(moto.endpoint(), args);
    let out = run(&[
        "leads",
        "--table",
        "inlet-ledger",
        "--email",
        "Mei.Tanaka@example.com",
        "--channel",
        CHANNEL,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&envelope.id), "{stdout}");
    assert!(stdout.contains("from zillow"), "{stdout}");
    // By email alone (any channel), and the newest of the last days, through the listing
    // index: no scan.
    for args in [
        &[
            "leads",
            "--table",
            "inlet-ledger",
            "--email",
            "mei.tanaka@example.com",
        ][..],
        &["leads", "--table", "inlet-ledger"][..],
        &[
            "leads",
            "--table",
            "inlet-ledger",
            "--sender",
            "zillow",
            "--status",
            "in_progress",
        ][..],
    ] {
        let out = run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {stdout}");
        assert!(stdout.contains(&envelope.id), "{args:?}: {stdout}");
    }
    for args in [
        &[
            "leads",
            "--table",
            "inlet-ledger",
            "--email",
            "someone.else@example.com",
        ][..],
        &[
            "leads",
            "--table",
            "inlet-ledger",
            "--since",
            "2001-01-01",
            "--until",
            "2001-01-02",
        ][..],
    ] {
        let out = run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {stdout}");
        assert!(stdout.contains("no such envelopes"), "{args:?}: {stdout}");
    }
    let out = run(&["leads", "--table", "inlet-ledger", "--status", "lost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--status"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stack stands in for a deployed one: moto's CloudFormation holds its outputs, and its
/// ApiUrl is an `inlet serve` on loopback, so the lead is followed to the Rechat double.
#[tokio::test]
async fn send_posts_to_the_api_a_stack_names() {
    let (moto, _guard) = Moto::exclusive().await;
    let double = RechatDouble::start().await;
    let data = common::data_dir("send-stack");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let aws = moto_config(moto.endpoint()).await;
    let template = serde_json::json!({
        "Resources": {"LeadQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "send-leads.fifo", "FifoQueue": true}}},
        "Outputs": {"ApiUrl": {"Value": serve.url}}
    });
    aws_sdk_cloudformation::Client::new(&aws)
        .create_stack()
        .stack_name("inlet-send")
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    let send = |stack: &str| {
        inlet_on_moto(
            moto.endpoint(),
            &[
                "send",
                "--stack",
                stack,
                "--channel",
                CHANNEL,
                "--email",
                "ruth.okafor@example.com",
                "--first-name",
                "Ruth",
            ],
        )
    };
    let out = send("inlet-send");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("202 "), "{stdout}");
    assert!(
        common::wait_for(std::time::Duration::from_secs(20), || double
            .leads()
            .iter()
            .any(|l| l.payload["email"] == "ruth.okafor@example.com"))
        .await,
        "the lead reached Rechat"
    );
    let out = send("no-such-stack");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-stack"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stack in moto's CloudFormation: its outputs naming queues and a table made beside it,
/// and the parameters it was deployed with (template.yaml's names).
async fn stack_of(
    aws: &aws_config::SdkConfig,
    name: &str,
    outputs: &[(&str, &str)],
    parameters: &[(&str, &str)],
) {
    let outputs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!({"Value": v})))
        .collect();
    let declared: serde_json::Map<String, serde_json::Value> = parameters
        .iter()
        .map(|(k, _)| (k.to_string(), serde_json::json!({"Type": "String"})))
        .collect();
    let template = serde_json::json!({
        "Parameters": declared,
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs
    });
    let mut create = aws_sdk_cloudformation::Client::new(aws)
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string());
    for (k, v) in parameters {
        create = create.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build(),
        );
    }
    create.send().await.unwrap();
}

/// `inlet status --stack`: what waits (SQS), what moved (the ledger, through its listing
/// index), what is kept (the table), and CloudWatch's oldest age and leads by outcome; a
/// lead waiting 20 minutes with nothing delivered is a stall, so it exits 1. Then `inlet
/// review` lists what is kept and releases one into a channel, onto the stack's queue.
#[tokio::test]
async fn status_and_review_read_a_deployed_stack_and_cloudwatch() {
    use inlet::kept::{Kept, KeptItem, KeptKind};
    use inlet::queue::Queue;
    let (moto, _guard) = Moto::exclusive().await;
    let aws = moto_config(moto.endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    DynamoLedger::create_table(&dynamo, "stack-ledger")
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (queue_url, dlq_url) =
        inlet::queue::sqs::SqsQueue::create_fifo_pair(&sqs, "stack-leads", 30, 10)
            .await
            .unwrap();
    stack_of(
        &aws,
        "inlet-prod",
        &[
            ("QueueUrl", &queue_url),
            ("DeadLetterQueueUrl", &dlq_url),
            ("LedgerTable", "stack-ledger"),
        ],
        &[
            (
                "AllowedChannels",
                &format!("{CHANNEL},6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f"),
            ),
            ("RoutingParameter", "/inlet-prod/routing"),
        ],
    )
    .await;
    // The stack's routing file, where its functions read it.
    aws_sdk_ssm::Client::new(&aws)
        .put_parameter()
        .name("/inlet-prod/routing")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value("[email]\nrequire_dmarc = true\n")
        .send()
        .await
        .unwrap();
    let queue = inlet::queue::sqs::SqsQueue::new(sqs, queue_url.clone(), dlq_url);
    let waiting = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"w")
        .step(Step::Capture {
            lead: Lead {
                email: Some("waiting@example.com".into()),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build();
    queue.send(&waiting).await.unwrap();
    let kept = inlet::kept::dynamodb::DynamoKept::new(
        dynamo,
        "stack-ledger",
        std::time::Duration::from_secs(30 * 86_400),
    );
    let unsure = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"u")
        .step(Step::Capture {
            lead: Lead {
                first_name: Some("Nadia".into()),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build();
    let item = KeptItem::new(KeptKind::Unsure, "no email or phone", unsure);
    kept.keep(&item).await.unwrap();
    kept.keep(&KeptItem::new(
        KeptKind::Spam,
        "the honeypot field was filled",
        EnvelopeBuilder::new(OriginKind::Form, "website-form", CHANNEL, b"s").build(),
    ))
    .await
    .unwrap();
    // What CloudWatch would hold: SQS's oldest age, and the EMF counts by outcome.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws);
    let now =
        aws_sdk_cloudwatch::primitives::DateTime::from_secs(chrono::Utc::now().timestamp() - 120);
    let datum = |namespace: &str, name: &str, dim: (&str, &str), value: f64| {
        let cloudwatch = cloudwatch.clone();
        let (namespace, name, dim) = (
            namespace.to_owned(),
            name.to_owned(),
            (dim.0.to_owned(), dim.1.to_owned()),
        );
        async move {
            cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .metric_data(
                    aws_sdk_cloudwatch::types::MetricDatum::builder()
                        .metric_name(name)
                        .dimensions(
                            aws_sdk_cloudwatch::types::Dimension::builder()
                                .name(dim.0)
                                .value(dim.1)
                                .build(),
                        )
                        .timestamp(now)
                        .value(value)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    datum(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        ("QueueName", "stack-leads.fifo"),
        1_200.0,
    )
    .await;
    datum("Inlet", "Leads", ("Outcome", "received"), 5.0).await;
    datum("Inlet", "Leads", ("Outcome", "delivered"), 3.0).await;
    datum("Inlet", "Leads", ("Outcome", "not_a_lead"), 2.0).await;

    let run = |args: &[&str]| {
        let out = inlet_on_moto(moto.endpoint(), args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, said) = run(&["status", "--stack", "inlet-prod"]);
    for want in [
        "inlet status (stack inlet-prod)",
        "delivery             stalled",
        "waiting to deliver   1",
        "oldest waiting       1200s",
        "last day, CloudWatch received 5 (5), delivered 3 (3), not a lead 2 (2)",
        "spam kept            1",
        "mail held for review 0",
        "unsure readings      1",
    ] {
        assert!(said.contains(want), "{want:?} in\n{said}");
    }
    assert_eq!(code, Some(1), "a stall fails the status: {said}");

    let (code, said) = run(&["review", "list", "--stack", "inlet-prod"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains(&item.id) && said.contains("Nadia"), "{said}");
    assert!(!said.contains("honeypot"), "spam is `inlet spam`'s: {said}");
    let (code, said) = run(&["spam", "list", "--stack", "inlet-prod", "--json"]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    // An unsure reading went to its channel already: only another takes it again.
    let (code, said) = run(&[
        "review",
        "release",
        "--stack",
        "inlet-prod",
        "--id",
        &item.id,
    ]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("already delivered"), "{said}");
    let (code, said) = run(&["spam", "release", "--stack", "inlet-prod", "--id", &item.id]);
    assert_eq!(code, Some(2), "not spam: {said}");
    // The stack's allowlist holds, not this shell's (which names none: any UUID).
    let (code, said) = run(&[
        "review",
        "release",
        "--stack",
        "inlet-prod",
        "--id",
        &item.id,
        "--channel",
        "7a1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f",
    ]);
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("not a lead channel this Inlet accepts"),
        "{said}"
    );
    let other = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
    let (code, said) = run(&[
        "review",
        "release",
        "--stack",
        "inlet-prod",
        "--id",
        &item.id,
        "--channel",
        other,
    ]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("queued as a lead"), "{said}");
    let queued = queue.receive(false, 10, 0).await.unwrap();
    assert!(
        queued
            .iter()
            .any(|(m, _)| m.body.contains("Nadia") && m.body.contains(other)),
        "{queued:?}"
    );
    let (_, said) = run(&["review", "list", "--stack", "inlet-prod"]);
    assert!(said.contains("Nothing is kept"), "{said}");
}
