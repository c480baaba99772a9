//! Mail as SES delivers it on AWS, against moto's S3 and SQS: the message stored in a
//! bucket, the `email` function invoked with the S3 event for it, the lead on the FIFO
//! queue, the `deliver` handler on what the queue holds, and the lead at the Rechat double.

use inlet::deliver::{Breaker, Delivery, DeliveryOptions};
use inlet::email::EmailSettings;
use inlet::lambda::deliver as lambda;
use inlet::lambda::email::EmailFunction;
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
