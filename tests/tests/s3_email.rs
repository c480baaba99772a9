//! Mail as SES delivers it on AWS, against moto's S3, SQS and DynamoDB: the message stored
//! in a bucket, the `email` function invoked with the S3 event for it, the lead on the FIFO
//! queue, the `deliver` handler on what the queue holds, and the lead at the Rechat double;
//! and mail read as no lead kept in the ledger's table, then released by a person from the
//! bucket into a channel.

use inlet::deliver::{Breaker, Delivery, DeliveryOptions};
use inlet::email::{EmailContext, EmailSettings};
use inlet::kept::dynamodb::DynamoKept;
use inlet::kept::{Kept, KeptKind};
use inlet::lambda::deliver as lambda;
use inlet::lambda::email::EmailFunction;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::memory::MemoryLedger;
use inlet::objects::s3::S3Objects;
use inlet::objects::{ObjectError, ObjectStore};
use inlet::queue::sqs::SqsQueue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet::web::ChannelPolicy;
use inlet_testkit::{Moto, RechatDouble};
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
const BUCKET: &str = "inlet-inbound-mail";

/// As SES stores it: its own verdicts on top (the realtor.com DMARC pass credits the portal).
const MESSAGE: &str = "Authentication-Results: amazonses.com;\r\n spf=pass (spfCheck: domain of email.realtor.com designates 203.0.113.5 as permitted sender) smtp.mailfrom=bounce@email.realtor.com;\r\n dkim=pass header.i=@email.realtor.com;\r\n dmarc=pass header.from=email.realtor.com;\r\nX-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: realtor@in.example.com\r\nSubject: New realtor.com lead - Diego Alvarez\r\nMessage-ID: <s3-e2e@fixtures.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst Name: Diego\r\nLast Name: Alvarez\r\nEmail: diego.alvarez@example.com\r\nPhone: 303.555.0151\r\nComments: Please send the HOA details.\r\n";

#[tokio::test]
async fn a_message_stored_in_s3_reaches_rechat() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key("inbound/msg 1")
        .body(MESSAGE.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-mail", 3, 30)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs, url, dlq);
    let objects = S3Objects::new(s3);
    let kept = kept_store(&aws, "inlet-mail-kept").await;

    // The object store as the function sees it: a missing key and a size limit are answers.
    assert!(matches!(
        objects.get(BUCKET, "inbound/none", 1024).await,
        Err(ObjectError::NotFound { .. })
    ));
    assert!(matches!(
        objects.get(BUCKET, "inbound/msg 1", 10).await,
        Err(ObjectError::TooLarge { .. })
    ));

    let mut settings = EmailSettings::default();
    settings
        .addresses
        .insert("realtor@in.example.com".into(), CHANNEL.into());
    let function = EmailFunction {
        queue: &queue,
        kept: &kept,
        objects: &objects,
        settings: &settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        ses_bucket: None,
    };
    // S3 encodes the key in its event: the space arrives as `+`.
    let mut event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/s3-email.json"
        ))
        .unwrap(),
    )
    .unwrap();
    event["Records"][0]["s3"]["object"]["key"] = "inbound/msg+1".into();
    let out = function.handle(&event).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");

    let messages: Vec<_> = queue
        .receive(false, 10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(messages.len(), 1);
    let double = RechatDouble::start().await;
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(2000),
    })
    .unwrap();
    let ledger = MemoryLedger::new();
    let breaker = Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: None,
        rechat: &client,
        ledger: &ledger,
        queue: &queue,
        options: DeliveryOptions::default(),
    };
    let response = lambda::handle(&delivery, inlet_tests::sqs_event(&messages)).await;
    assert!(response.batch_item_failures.is_empty());
    let leads = double.leads();
    assert_eq!(leads.len(), 1);
    let body = &leads[0].payload;
    assert_eq!(body["email"], "diego.alvarez@example.com");
    assert_eq!(body["lead_source"], "Realtor.com");
    assert_eq!(leads[0].channel, CHANNEL);
}

async fn kept_store(aws: &aws_config::SdkConfig, table: &str) -> DynamoKept {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    DynamoLedger::create_table(&dynamodb, table).await.unwrap();
    DynamoKept::new(dynamodb, table, Duration::from_secs(30 * 86_400))
}

/// An out-of-office reply from a person who wrote about a house, too large to keep inline
/// (its signature image): SES stored it, the function reads it as no lead.
fn auto_reply() -> String {
    let padding = "x".repeat(200 * 1024);
    format!(
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: Rosa Diaz <rosa.diaz@example.com>\r\nTo: leads@in.example.com\r\nSubject: Automatic reply: 12 Elm St\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo-1@fixtures.example>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nI am away until Monday. I would still like to see 12 Elm St on Saturday.\r\n--B\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=sig.png\r\n\r\n{padding}\r\n--B--\r\n"
    )
}

#[tokio::test]
async fn mail_read_as_no_lead_is_kept_on_dynamodb_and_released_from_the_bucket() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key("inbound/ooo")
        .body(auto_reply().into_bytes().into())
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-kept", 3, 30)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs, url, dlq);
    let objects = S3Objects::new(s3);
    let kept = kept_store(&aws, "inlet-kept").await;
    // No routing rule places leads@: the person must choose the channel.
    let settings = EmailSettings::default();
    let policy = ChannelPolicy::from_list(&[CHANNEL.to_owned()]);
    let function = EmailFunction {
        queue: &queue,
        kept: &kept,
        objects: &objects,
        settings: &settings,
        policy: &policy,
        normalize: Default::default(),
        ses_bucket: None,
    };
    let mut event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/s3-email.json"
        ))
        .unwrap(),
    )
    .unwrap();
    event["Records"][0]["s3"]["object"]["key"] = "inbound/ooo".into();
    let out = function.handle(&event).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "not_a_lead", "{out}");
    // SES retries an invocation: the same message is kept once.
    function.handle(&event).await.unwrap();
    assert!(queue.receive(false, 10, 0).await.unwrap().is_empty());

    assert_eq!(kept.count(KeptKind::NotALead).await.unwrap(), 1);
    assert_eq!(kept.count(KeptKind::Spam).await.unwrap(), 0);
    let listed = kept.newest(KeptKind::NotALead, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let item = &listed[0];
    let mail = item.mail().unwrap();
    assert_eq!(mail.message_id.as_deref(), Some("ooo-1@fixtures.example"));
    assert_eq!(mail.subject.as_deref(), Some("Automatic reply: 12 Elm St"));
    assert!(mail.mime_base64.is_none(), "too large to keep inline");
    assert_eq!(mail.object.as_ref().unwrap().key, "inbound/ooo");
    assert_eq!(kept.find(&item.id).await.unwrap().as_ref(), Some(item));
    assert_eq!(
        kept.find(&item.envelope.id).await.unwrap().as_ref(),
        Some(item)
    );

    let ctx = EmailContext {
        settings: &settings,
        policy: &policy,
        normalize: Default::default(),
        verify_senders: true,
    };
    // No channel: refused with the reason; a channel outside the allowlist too; without the
    // bucket, the message cannot be had.
    let refused = inlet::kept::release(&kept, &queue, Some(&objects), &ctx, &item.id, None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("name the lead channel"),
        "{refused}"
    );
    let other = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
    assert!(matches!(
        inlet::kept::release(&kept, &queue, Some(&objects), &ctx, &item.id, Some(other)).await,
        Err(inlet::kept::ReleaseError::UnknownChannel(_))
    ));
    assert!(matches!(
        inlet::kept::release(&kept, &queue, None, &ctx, &item.id, Some(CHANNEL)).await,
        Err(inlet::kept::ReleaseError::MessageGone(_))
    ));
    assert_eq!(
        kept.count(KeptKind::NotALead).await.unwrap(),
        1,
        "still kept"
    );

    let (_, envelope) =
        inlet::kept::release(&kept, &queue, Some(&objects), &ctx, &item.id, Some(CHANNEL))
            .await
            .unwrap();
    assert_eq!(envelope.channel, CHANNEL);
    let lead = envelope.captured_lead().unwrap();
    assert_eq!(lead.email.as_deref(), Some("rosa.diaz@example.com"));
    assert_eq!(lead.first_name.as_deref(), Some("Rosa"));
    assert!(
        lead.note
            .as_deref()
            .unwrap()
            .contains("see 12 Elm St on Saturday"),
        "{lead:?}"
    );
    let queued = queue.receive(false, 10, 0).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].0.body.contains("rosa.diaz@example.com"));
    assert_eq!(kept.count(KeptKind::NotALead).await.unwrap(), 0);
    assert!(kept.find(&item.id).await.unwrap().is_none());
    assert!(!kept.remove(&item.id).await.unwrap(), "released once");
}
