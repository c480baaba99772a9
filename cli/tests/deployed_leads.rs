//! `inlet leads --table T` against a deployed ledger (moto's DynamoDB through the standard
//! credential chain): a person's envelopes by email and channel.

use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
use inlet::lead::Lead;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::{Ledger, LedgerRecord};
use inlet_testkit::Moto;
use std::process::Command;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

#[tokio::test]
async fn a_persons_envelopes_from_the_deployed_ledger() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await;
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

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(args)
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
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
