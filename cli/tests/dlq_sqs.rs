//! `inlet dlq replay` against a deployed stack's SQS queues (moto): mail no rule routed is
//! read again with the routing in force and queued on its channel; mail still unroutable and
//! a forwarding confirmation stay.

mod common;

use common::{inlet_on_moto, moto_config};
use inlet::email::{EmailContext, EmailSettings, Outcome, ingress};
use inlet::envelope::Envelope;
use inlet::queue::sqs::SqsQueue;
use inlet::web::ChannelPolicy;
use inlet_testkit::Moto;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

fn mail(to: &str, id: &str) -> String {
    format!(
        "Authentication-Results: amazonses.com; dkim=pass header.i=@email.realtor.com; dmarc=pass header.from=email.realtor.com\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: {to}\r\nSubject: New realtor.com lead - Diego Alvarez\r\nMessage-ID: <{id}@fixtures.example>\r\n\r\nFirst Name: Diego\r\nLast Name: Alvarez\r\nEmail: diego.alvarez@example.com\r\n"
    )
}

#[tokio::test]
async fn replay_reads_unroutable_mail_again_on_the_stacks_queues() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = moto_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (queue_url, dlq_url) = SqsQueue::create_fifo_pair(&sqs, "inlet-replay", 30, 10)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs.clone(), queue_url.clone(), dlq_url.clone());

    // Dead-lettered as the webhook and email functions do: two unroutable messages and a
    // Gmail forwarding confirmation.
    let settings = EmailSettings::default();
    let ctx = EmailContext {
        settings: &settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        verify_senders: true,
    };
    for raw in [
        mail("zillow@in.example.com", "replay-1"),
        mail("other@in.example.com", "replay-2"),
        "From: Gmail Team <forwarding-noreply@google.com>\r\nTo: zillow@in.example.com\r\nSubject: (#301122334) Gmail Forwarding Confirmation - Receive Mail from ana@gmail.com\r\nMessage-ID: <c-1@google.com>\r\n\r\nhttps://mail-settings.google.com/mail/vf-x\r\n".to_owned(),
    ] {
        let inbound = ingress::from_raw("ses", raw.into_bytes()).unwrap();
        let outcome = inlet::router::email::accept(
            &queue,
            &inlet::kept::NothingKept,
            &inbound,
            &ctx,
        )
            .await
            .unwrap();
        assert!(
            matches!(outcome, Outcome::Unroutable { .. } | Outcome::Confirmation { .. }),
            "{outcome:?}"
        );
    }
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3);

    let dir = std::env::temp_dir().join(format!("inlet-dlq-sqs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let routing = dir.join("inlet.toml");
    std::fs::write(
        &routing,
        format!("[email.addresses]\n\"zillow@in.example.com\" = \"{CHANNEL}\"\n"),
    )
    .unwrap();
    let replay = || {
        inlet_on_moto(
            moto.endpoint(),
            &[
                "dlq",
                "replay",
                "--queue-url",
                &queue_url,
                "--dlq-url",
                &dlq_url,
                "--config",
                routing.to_str().unwrap(),
            ],
        )
    };
    // A routing file that names no channels, and no inlet serve's record: no allowlist is
    // known, so nothing is read again into whatever channel it names.
    let out = replay();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("no lead channel allowlist is known"),
        "{said}"
    );
    assert_eq!(
        queue.dead_letters().await.unwrap().len(),
        3,
        "nothing moved"
    );
    std::fs::write(
        &routing,
        format!(
            "channels = [\"{CHANNEL}\"]\n[email.addresses]\n\"zillow@in.example.com\" = \"{CHANNEL}\"\n"
        ),
    )
    .unwrap();
    let out = replay();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("1 read again and queued"), "{said}");
    assert!(
        said.contains("kept: unroutable: no routing rule for other@in.example.com"),
        "{said}"
    );

    // The routed one is on the main queue (what `inlet status --stack` counts), on its
    // channel, with the first reason.
    assert_eq!(queue.waiting().await.unwrap(), 1);
    let received = queue.receive(false, 10, 0).await.unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope = Envelope::from_json(&received[0].0.body).unwrap();
    assert_eq!(envelope.channel, CHANNEL);
    assert_eq!(envelope.origin.sender, "realtor.com");
    assert!(
        serde_json::to_string(&envelope.notices)
            .unwrap()
            .contains("read_again")
    );
    // The still-unroutable mail and the confirmation stay.
    let left = queue.dead_letters().await.unwrap();
    let causes: Vec<_> = left
        .iter()
        .map(|d| d.dead_letter.cause.clone().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(causes.contains(&"unroutable".to_owned()));
    assert!(causes.contains(&"forwarding_confirmation".to_owned()));
}
