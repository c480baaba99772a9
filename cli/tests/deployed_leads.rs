//! The CLI against a deployed stack through the standard credential chain (moto):
//! `inlet leads --table T` reads a person's envelopes from the DynamoDB ledger, and
//! `inlet send --stack NAME` posts to the API URL the stack's outputs name.

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
    let out = run(&["leads", "--table", "inlet-ledger"]);
    assert!(
        !out.status.success(),
        "a deployed ledger needs a person to look up"
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
