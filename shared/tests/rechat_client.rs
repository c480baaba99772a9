//! The Rechat client against the test double, one test per answer in CONTRACT.md.

use inlet::lead::{Action, Activity, ActivityListing, Assignee, Lead};
use inlet::rechat::{
    CaptureOutcome, RechatApi, RechatClient, RechatConfig, RechatError, TransientKind,
};
use inlet_testkit::{Fault, RechatDouble, Route};
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

fn client(double: &RechatDouble) -> RechatClient {
    RechatClient::new(&RechatConfig {
        base_url: double.url().to_owned(),
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(800),
    })
    .unwrap()
}

fn lead() -> Lead {
    Lead {
        first_name: Some("Ana".into()),
        email: Some("ana@example.com".into()),
        ..Lead::default()
    }
}

fn viewed() -> Activity {
    Activity::new(
        Action::ContactViewedListing,
        Some(ActivityListing {
            url: Some("https://example.com/l/1".into()),
            ..ActivityListing::default()
        }),
        None,
        None,
    )
    .unwrap()
}

async fn created(c: &RechatClient) -> String {
    match c.capture(CHANNEL, &lead()).await.unwrap() {
        CaptureOutcome::Created { lead_id } => lead_id,
        other => panic!("expected a created lead, got {other:?}"),
    }
}

#[tokio::test]
async fn capture_returns_the_lead_id_and_sends_the_payload_as_json() {
    let double = RechatDouble::start().await;
    let c = client(&double);
    let id = created(&c).await;
    let lead = double.lead(&id).expect("the double created the lead");
    assert_eq!(lead.channel, CHANNEL);
    assert_eq!(
        lead.payload,
        serde_json::json!({"first_name": "Ana", "email": "ana@example.com"})
    );
    let r = &double.requests()[0];
    assert_eq!(r.path, format!("/leads/channels/{CHANNEL}/webhook"));
    assert_eq!(
        r.user_agent.as_deref(),
        Some(concat!("inlet/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn capture_answered_204_is_accepted_without_an_id() {
    let double = RechatDouble::start().await;
    double.fail_next(Some(Route::Capture), Fault::NoContent);
    let outcome = client(&double).capture(CHANNEL, &lead()).await.unwrap();
    assert!(
        matches!(outcome, CaptureOutcome::AcceptedWithoutId { .. }),
        "{outcome:?}"
    );
    assert_eq!(double.leads().len(), 1, "Rechat created it all the same");
}

#[tokio::test]
async fn malformed_or_unknown_channels_are_permanent_failures() {
    let double = RechatDouble::start().await;
    let c = client(&double);
    let e = c.capture("not-a-uuid", &lead()).await.unwrap_err();
    assert!(
        matches!(e, RechatError::Permanent { status: 404, .. }),
        "{e:?}"
    );
    double.only_channels(&[CHANNEL]);
    let e = c
        .capture("00000000-0000-4000-8000-000000000000", &lead())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        RechatError::Permanent {
            status: 404,
            message: "Lead channel not found".into()
        }
    );
    assert!(double.leads().is_empty());
}

#[tokio::test]
async fn server_errors_are_transient() {
    let double = RechatDouble::start().await;
    double.fail_next(None, Fault::Status(502));
    let e = client(&double).capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RechatError::Transient {
                kind: TransientKind::Status,
                status: Some(502),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(double.leads().is_empty());
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let double = RechatDouble::start().await;
    double.fail_next(
        None,
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
    );
    let e = client(&double).capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_slow_answer_times_out_and_creates_nothing() {
    let double = RechatDouble::start().await;
    double.fail_next(None, Fault::Slow(Duration::from_millis(1500)));
    let e = client(&double).capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RechatError::Transient {
                kind: TransientKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        double.leads().is_empty(),
        "the double noticed the client had gone"
    );
}

#[tokio::test]
async fn a_lost_success_times_out_but_the_lead_exists() {
    let double = RechatDouble::start().await;
    double.fail_next(None, Fault::LostSuccess(Duration::from_millis(1500)));
    let e = client(&double).capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RechatError::Transient {
                kind: TransientKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(double.leads().len(), 1);
}

#[tokio::test]
async fn a_connection_reset_is_transient() {
    let double = RechatDouble::start().await;
    double.fail_next(None, Fault::Reset);
    let e = client(&double).capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RechatError::Transient {
                kind: TransientKind::Connection,
                ..
            }
        ),
        "{e:?}"
    );
    // The next call works on a fresh connection.
    created(&client(&double)).await;
}

#[tokio::test]
async fn nothing_listening_is_a_transient_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = RechatClient::new(&RechatConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        ..RechatConfig::default()
    })
    .unwrap();
    let e = c.capture(CHANNEL, &lead()).await.unwrap_err();
    assert!(
        matches!(
            e,
            RechatError::Transient {
                kind: TransientKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        !e.to_string().contains(CHANNEL),
        "the channel is not in the error: {e}"
    );
}

#[tokio::test]
async fn timeline_posts_to_a_known_lead_and_404s_an_unknown_one() {
    let double = RechatDouble::start().await;
    let c = client(&double);
    let id = created(&c).await;
    c.timeline(&id, &viewed()).await.unwrap();
    let lead = double.lead(&id).unwrap();
    assert_eq!(lead.timeline[0]["action"], "ContactViewedListing");
    assert_eq!(
        lead.timeline[0]["listing"]["url"],
        "https://example.com/l/1"
    );

    let e = c
        .timeline("00000000-0000-4000-8000-000000000000", &viewed())
        .await
        .unwrap_err();
    assert!(
        matches!(e, RechatError::Permanent { status: 404, .. }),
        "{e:?}"
    );
    let e = c.timeline("not-a-uuid", &viewed()).await.unwrap_err();
    assert!(
        matches!(e, RechatError::Permanent { status: 400, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn timeline_without_the_object_its_action_needs_is_refused() {
    let double = RechatDouble::start().await;
    let c = client(&double);
    let id = created(&c).await;
    // Built by hand, around Activity::new's check, to see Rechat's own answer.
    let bare = Activity {
        action: Action::ContactFavoritedListing,
        listing: None,
        search: None,
        notes: None,
    };
    let e = c.timeline(&id, &bare).await.unwrap_err();
    assert!(
        matches!(&e, RechatError::Permanent { status: 400, message } if message.contains("requires listing")),
        "{e:?}"
    );
}

#[tokio::test]
async fn assignees_replace_the_lead_assignees() {
    let double = RechatDouble::start().await;
    let c = client(&double);
    let id = created(&c).await;
    let agents = vec![Assignee {
        email: Some("agent@example.com".into()),
        mls_id: Some("123".into()),
        ..Assignee::default()
    }];
    c.assign(&id, &agents).await.unwrap();
    assert_eq!(
        double.lead(&id).unwrap().assignees,
        serde_json::json!([{"email": "agent@example.com", "mls_id": "123"}])
    );
    let e = c.assign(&id, &[Assignee::default()]).await.unwrap_err();
    assert!(
        matches!(e, RechatError::Permanent { status: 400, .. }),
        "{e:?}"
    );
    let e = c
        .assign("00000000-0000-4000-8000-000000000000", &agents)
        .await
        .unwrap_err();
    assert!(
        matches!(e, RechatError::Permanent { status: 404, .. }),
        "{e:?}"
    );
}
