//! `inlet dlq list | replay` against a deployed stack's queues, on moto's SQS FIFO: dead
//! letters are listed with their reasons and left in place, and replayed into their lead's
//! group on the main queue.

use inlet::queue::sqs::SqsQueue;
use inlet::queue::{DeadLetter, Queue};
use inlet_testkit::Moto;

fn dead(reason: &str, envelope: &str, group: &str) -> DeadLetter {
    DeadLetter {
        reason: reason.into(),
        envelope_id: Some(envelope.into()),
        group_id: group.into(),
        failed_step: Some("capture".into()),
        status: Some(400),
        cause: None,
    }
}

#[tokio::test]
async fn dead_letters_are_listed_then_replayed() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-dlq-ops", 3, 30)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs, url, dlq);
    queue
        .dead_letter(
            r#"{"v":1,"id":"e-1"}"#,
            &dead("Rechat refused: 400", "e-1", "l-a"),
        )
        .await
        .unwrap();
    queue
        .dead_letter(
            r#"{"v":1,"id":"e-2"}"#,
            &dead("unroutable: no rule", "e-2", "l-b"),
        )
        .await
        .unwrap();

    let listed = queue.dead_letters().await.unwrap();
    let mut reasons: Vec<_> = listed
        .iter()
        .map(|d| d.dead_letter.reason.clone())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["Rechat refused: 400", "unroutable: no rule"]);
    // Listing leaves them there.
    assert_eq!(queue.dead_letters().await.unwrap().len(), 2);

    // Both were refused for their content (400): a plain replay leaves them (they would fail
    // the same way); as they are, when a person says so.
    assert_eq!(queue.replay(Some("e-2"), false).await.unwrap(), 0);
    assert_eq!(
        queue.dead_letters().await.unwrap().len(),
        2,
        "left as they were"
    );
    assert_eq!(queue.replay(Some("e-2"), true).await.unwrap(), 1);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
    let main = queue.receive(false, 10, 0).await.unwrap();
    assert_eq!(main.len(), 1);
    assert_eq!(main[0].0.body, r#"{"v":1,"id":"e-2"}"#);
    assert_eq!(
        main[0].0.group_id.as_deref(),
        Some("l-b"),
        "back in its lead's group"
    );

    assert_eq!(queue.replay(None, false).await.unwrap(), 0);
    assert_eq!(queue.replay(None, true).await.unwrap(), 1);
    assert!(queue.dead_letters().await.unwrap().is_empty());
}

/// `--stack NAME`: the queues come from the stack's outputs (moto's CloudFormation creates
/// the queues from a template with template.yaml's output names).
#[tokio::test]
async fn a_stack_name_finds_its_queues() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let template = r#"{
      "Resources": {
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-dlq.fifo", "FifoQueue": true}},
        "LeadQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-leads.fifo", "FifoQueue": true}}
      },
      "Outputs": {
        "QueueUrl": {"Value": {"Ref": "LeadQueue"}},
        "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}}
      }
    }"#;
    cfn.create_stack()
        .stack_name("inlet-test")
        .template_body(template)
        .send()
        .await
        .unwrap();
    let outputs = inlet::stack::outputs(&cfn, "inlet-test").await.unwrap();
    let queue_url = inlet::stack::output(&outputs, "inlet-test", "QueueUrl").unwrap();
    let dlq_url = inlet::stack::output(&outputs, "inlet-test", "DeadLetterQueueUrl").unwrap();
    assert!(dlq_url.ends_with("stack-dlq.fifo"), "{dlq_url}");
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url, dlq_url);
    queue
        .dead_letter("{}", &dead("Rechat refused: 400", "e-9", "l-z"))
        .await
        .unwrap();
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
    assert!(matches!(
        inlet::stack::outputs(&cfn, "no-such-stack").await,
        Err(inlet::stack::StackError::NotFound(_))
    ));
    assert!(inlet::stack::output(&outputs, "inlet-test", "LedgerTable").is_err());
}

/// What SQS itself will never take is refused for good, not reported as "unavailable" (a 503
/// a sender would retry forever); a dead letter keeps its cause as an attribute. (Characters
/// SQS refuses are escaped before any send, and moto takes them anyway: the classification
/// of SQS's `InvalidMessageContents` is tested in `queue::sqs`.)
#[tokio::test]
async fn what_sqs_will_never_take_is_refused_not_unavailable() {
    use inlet::queue::QueueError;
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-refusals", 3, 30)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs, url, dlq);
    let too_large = "x".repeat(300 * 1024);
    let e = queue
        .dead_letter(&too_large, &dead("too large", "e-3", "l-c"))
        .await
        .unwrap_err();
    assert!(matches!(e, QueueError::TooLarge { .. }), "{e:?}");

    let mut unknown = dead("unknown lead: Rechat has no such lead", "e-5", "l-e");
    unknown.cause = Some(inlet::queue::UNKNOWN_LEAD.into());
    queue.dead_letter(r#"{"v":1}"#, &unknown).await.unwrap();
    let listed = queue.dead_letters().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].dead_letter.cause.as_deref(),
        Some(inlet::queue::UNKNOWN_LEAD)
    );
}
