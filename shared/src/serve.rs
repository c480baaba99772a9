//! `inlet serve`'s two halves: the intake router on an HTTP listener (the same router the
//! `webhook` Lambda function serves), and delivery loops over the embedded queue (the same
//! delivery logic the `deliver` function runs).

use crate::deliver::{Delivery, DeliveryOptions};
use crate::embedded::EmbeddedStore;
use crate::rechat::RechatApi;
use crate::router::Intake;
use crate::web::IntakeError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a client may take to send its headers, and then its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of a body over the limit is read and thrown away before the 413 is sent, so that
/// a client still sending reads the answer instead of a reset connection. Past it the
/// connection is closed (a client that keeps sending gigabytes gets no answer).
const DISCARD_LIMIT: usize = 64 * 1024 * 1024;

/// What reading a body came to.
enum Read {
    Whole(Bytes),
    /// Over the limit: the rest was read and thrown away (up to `DISCARD_LIMIT`).
    TooLarge,
    Failed(String),
}

/// Reads a body up to `limit` bytes; past it, reads on without keeping anything.
async fn read_body(mut body: Incoming, limit: usize, discard_only: bool) -> Read {
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    let mut over = discard_only;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) if over => {
                tracing::debug!(error = %e, "an oversized body stopped arriving");
                return Read::TooLarge;
            }
            Err(e) => return Read::Failed(e.to_string()),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen > limit {
            over = true;
            kept = bytes::BytesMut::new();
        }
        if over {
            if seen > DISCARD_LIMIT {
                return Read::TooLarge;
            }
        } else {
            kept.extend_from_slice(&data);
        }
    }
    if over {
        Read::TooLarge
    } else {
        Read::Whole(kept.freeze())
    }
}

/// The 413, on a connection that closes after it.
fn too_large(limit: usize, mail: bool) -> http::Response<Bytes> {
    let error = if mail {
        crate::router::email::mail_too_large(limit)
    } else {
        IntakeError::too_large(limit)
    };
    let mut response = error.response();
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// Reads a request's body within the intake's limit and time, and hands it to the router. A
/// body over the limit is answered 413 in a way the client can read: at once when it waits
/// for `100 Continue` (nothing is sent, so nothing needs reading), else after reading what it
/// sends, up to a bound.
async fn answer(
    intake: Arc<Intake>,
    client: crate::web::ClientAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(client);
    // Mail posts carry whole messages with their attachments.
    let mail = parts.uri.path().starts_with("/email/");
    let limit = if mail {
        intake.settings.email_body_limit
    } else {
        intake.settings.body_limit
    };
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let declared_too_large = declared.is_some_and(|n| n > limit);
    let expects_continue = parts
        .headers
        .get(hyper::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if declared_too_large && (expects_continue || declared.is_some_and(|n| n > DISCARD_LIMIT)) {
        return Ok(too_large(limit, mail).map(Full::new));
    }
    let response = match tokio::time::timeout(
        BODY_TIMEOUT,
        read_body(body, limit, declared_too_large),
    )
    .await
    {
        Err(_) => timeout_response(),
        Ok(Read::TooLarge) => too_large(limit, mail),
        Ok(Read::Failed(e)) => {
            IntakeError::malformed(format!("the body could not be read: {e}")).response()
        }
        Ok(Read::Whole(body)) => {
            let req = http::Request::from_parts(parts, body);
            intake.handle(req).await
        }
    };
    Ok(response.map(Full::new))
}

fn timeout_response() -> http::Response<Bytes> {
    IntakeError::timeout("the body did not arrive in time").response()
}

/// Serves the router on `listener` until `stop` turns true, then drains requests in flight.
pub async fn serve_http(
    listener: TcpListener,
    intake: Arc<Intake>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let intake = intake.clone();
                let client = crate::web::ClientAddr(peer.ip());
                let service = service_fn(move |req| answer(intake.clone(), client, req));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

/// Delivers from the embedded queue until `stop` turns true; the batches in hand are
/// finished first. What was delivered (or dead-lettered) is deleted; what stays queued keeps
/// the visibility delivery gave it.
///
/// Leads overlap: each lead of a batch is delivered on its own, and more are received
/// whenever fewer than `options.concurrency` messages are in hand, so one slow Rechat answer
/// (a timeout) holds up only its own lead, never the rest of the queue. Order within a lead
/// holds because the queue yields nothing of a group that has a message in hand.
pub async fn deliver_loop(
    store: EmbeddedStore,
    rechat: Arc<dyn RechatApi>,
    meta: Option<Arc<dyn crate::meta_graph::MetaLeads>>,
    options: DeliveryOptions,
    stop: watch::Receiver<bool>,
) {
    use futures::StreamExt;
    let breaker = crate::deliver::Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: meta.as_deref(),
        rechat: rechat.as_ref(),
        ledger: &store,
        queue: &store,
        options,
    };
    let limit = options.concurrency.max(1);
    let mut in_hand = 0usize;
    let mut batches = futures::stream::FuturesUnordered::new();
    let mut last_sweep = std::time::Instant::now();
    loop {
        let stopping = *stop.borrow();
        if stopping && batches.is_empty() {
            break;
        }
        if !stopping && last_sweep.elapsed() > Duration::from_secs(60) {
            if let Err(e) = store.sweep().await {
                tracing::warn!(error = %e, "sweeping the embedded store failed");
            }
            last_sweep = std::time::Instant::now();
        }
        let mut received = 0;
        if !stopping && in_hand < limit {
            match store.receive((limit - in_hand).min(10)).await {
                Ok(batch) if !batch.is_empty() => {
                    received = batch.len();
                    in_hand += received;
                    // Each lead on its own: its slot frees as soon as it is done.
                    let batch = batch.into_iter().enumerate().collect();
                    for group in crate::deliver::by_group(batch) {
                        let group = group.into_iter().map(|(_, m)| m).collect();
                        batches.push(deliver_and_delete(&delivery, &store, group));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the embedded queue");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if received > 0 && in_hand < limit {
            // More may be waiting: receive again before waiting on anything.
            continue;
        }
        let mut stop_changed = stop.clone();
        tokio::select! {
            Some(done) = batches.next(), if !batches.is_empty() => in_hand -= done,
            _ = store.wait_for_messages(Duration::from_millis(500)), if in_hand < limit && !stopping => {}
            _ = stop_changed.changed(), if !stopping => {}
            else => {}
        }
    }
}

/// Delivers one batch and deletes what is done with; returns the batch's size.
async fn deliver_and_delete(
    delivery: &Delivery<'_>,
    store: &EmbeddedStore,
    batch: Vec<crate::queue::QueueMessage>,
) -> usize {
    let size = batch.len();
    let receipts: Vec<Option<String>> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
    let report = delivery.deliver_batch(batch).await;
    let done: Vec<String> = report
        .outcomes
        .iter()
        .zip(receipts)
        .filter(|((_, outcome), _)| !outcome.stays_queued())
        .filter_map(|(_, receipt)| receipt)
        .collect();
    if let Err(e) = store.delete(done).await {
        // The ledger keeps these from being delivered twice when they come back.
        tracing::error!(error = %e, "could not delete delivered messages");
    }
    size
}

/// What `inlet serve`'s Meta reconciliation runs with.
pub struct ReconcileSettings {
    pub graph: crate::meta_graph::GraphClient,
    pub webhooks: crate::webhook::WebhookSettings,
    pub normalize: crate::normalize::NormalizeOptions,
    /// The allowlist: channels a lead may have reached by webhook.
    pub other_channels: Vec<String>,
}

/// Runs a Meta reconciliation pass at once and then every `every_minutes`
/// (`[senders.meta.reconcile]`) until `stop` turns true. A pass in progress is finished
/// first: it is seconds of Graph calls, and a pass cut short would hold the lease for ten
/// minutes after a restart.
pub async fn reconcile_loop(
    store: EmbeddedStore,
    settings: ReconcileSettings,
    mut stop: watch::Receiver<bool>,
) {
    let Some(every) = crate::meta_reconcile::configured(&settings.webhooks).map(|r| r.every) else {
        return;
    };
    let reconciler = crate::meta_reconcile::Reconciler {
        graph: &settings.graph,
        ledger: &store,
        queue: &store,
        webhooks: &settings.webhooks,
        normalize: settings.normalize,
        other_channels: settings.other_channels.clone(),
        options: Default::default(),
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let pass = crate::meta_reconcile::Pass {
            now: chrono::Utc::now(),
            since: None,
            dry_run: false,
        };
        if let Err(e) = reconciler.run(pass).await {
            tracing::error!(error = %e, "Meta reconciliation could not run");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
    }
}
