//! `inlet email redrive` against moto's S3 and SQS: the mail failure queue's events (as
//! Lambda's on-failure destination writes them) and a time range of stored messages are
//! taken through the email function's path, once each however often they are redriven.

mod common;

use common::{inlet_on_moto, moto_config};
use inlet::envelope::Envelope;
use inlet::queue::sqs::SqsQueue;
use inlet_testkit::Moto;
use serde_json::json;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
const BUCKET: &str = "inlet-mail-test";

fn mail(to: &str, id: &str, who: &str) -> String {
    format!(
        "Authentication-Results: amazonses.com; dkim=pass header.i=@email.realtor.com; dmarc=pass header.from=email.realtor.com\r\nX-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: {to}\r\nSubject: New realtor.com lead - {who}\r\nMessage-ID: <{id}@fixtures.example>\r\n\r\nFirst Name: {who}\r\nLast Name: Example\r\nEmail: {}@example.com\r\n",
        who.to_lowercase()
    )
}

/// What Lambda writes to an SQS on-failure destination for an S3 event it gave up on.
fn failure_record(key: &str) -> String {
    json!({
        "version": "1.0",
        "timestamp": "2026-12-03T10:00:00.000Z",
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:email:$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}]},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "queue unavailable: timeout"}
    })
    .to_string()
}

#[tokio::test]
async fn redrive_takes_failed_and_stored_mail_through_the_same_path_once() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = moto_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (queue_url, dlq_url) = SqsQueue::create_fifo_pair(&sqs, "inlet-redrive", 30, 10)
        .await
        .unwrap();
    let failures = sqs
        .create_queue()
        .queue_name("inlet-mail-failures")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    // Where mail read as no lead is kept for review: the ledger's table.
    inlet::ledger::dynamodb::DynamoLedger::create_table(
        &aws_sdk_dynamodb::Client::new(&aws),
        "inlet-redrive-ledger",
    )
    .await
    .unwrap();
    for (key, body) in [
        (
            "inbound/m-1",
            mail("leads@in.example.com", "redrive-1", "Diego"),
        ),
        (
            "inbound/m-2",
            mail("nobody@in.example.com", "redrive-2", "Ivy"),
        ),
        (
            "inbound/m-3",
            mail("leads@in.example.com", "redrive-3", "Mei"),
        ),
        ("other/not-mail", "x".to_owned()),
    ] {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    // The function gave up on m-1 (the queue was down), and on an object since deleted.
    for key in ["inbound/m-1", "inbound/gone"] {
        sqs.send_message()
            .queue_url(&failures)
            .message_body(failure_record(key))
            .send()
            .await
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("inlet-redrive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let routing = dir.join("inlet.toml");
    std::fs::write(
        &routing,
        format!(
            "channels = [\"{CHANNEL}\"]\n[email.addresses]\n\"leads@in.example.com\" = \"{CHANNEL}\"\n"
        ),
    )
    .unwrap();
    let redrive = |extra: &[&str]| {
        let mut args = vec![
            "email",
            "redrive",
            "--bucket",
            BUCKET,
            "--queue-url",
            &queue_url,
            "--dlq-url",
            &dlq_url,
            "--failure-queue-url",
            &failures,
            "--table",
            "inlet-redrive-ledger",
            "--config",
            routing.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = inlet_on_moto(moto.endpoint(), &args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let queue = SqsQueue::new(sqs.clone(), queue_url.clone(), dlq_url.clone());

    // The failure queue's events: m-1 is queued; the gone object is said, not hidden.
    let (code, said) = redrive(&[]);
    assert!(said.contains("inbound/m-1: queued"), "{said}");
    assert!(said.contains("inbound/gone: not read"), "{said}");
    assert_eq!(code, Some(1), "a message not taken fails the run: {said}");
    // The event whose message is gone stays for the operator; m-1's is removed.
    let left = sqs
        .receive_message()
        .queue_url(&failures)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(left.len(), 1);
    assert!(left[0].body().unwrap().contains("inbound/gone"));

    // Everything stored since a time: m-1 again (one lead all the same), m-2 unroutable and
    // dead-lettered, m-3 queued; the key outside the prefix is not read.
    let (code, said) = redrive(&["--since", "1h"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("inbound/m-2: unroutable"), "{said}");
    assert!(said.contains("inbound/m-3: queued"), "{said}");
    assert!(!said.contains("other/not-mail"), "{said}");
    assert!(said.contains("3 message(s) taken again, 0 not."), "{said}");

    let mut leads = Vec::new();
    loop {
        let got = queue.receive(false, 10, 0).await.unwrap();
        if got.is_empty() {
            break;
        }
        for (m, _) in got {
            let e = Envelope::from_json(&m.body).unwrap();
            let handle = m.receipt_handle.clone().unwrap();
            leads.push(e);
            queue.delete(false, &handle).await.unwrap();
        }
    }
    let mut ids: Vec<&str> = leads.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    // m-1 taken twice is one envelope id: the FIFO queue's deduplication, else delivery's
    // ledger, makes it one lead.
    assert_eq!(ids.len(), 2, "m-1 and m-3: {leads:?}");
    assert!(leads.iter().all(|e| e.channel == CHANNEL));
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].dead_letter.reason.contains("nobody@in.example.com"));
}
