//! Delivery's state as an operator and a load balancer see it: what waits, what moved, and
//! whether delivery is `ok`, `failing` or `stalled`. Plain functions over what the queue
//! counts (`Backlog`), what the ledger recorded (recent records) and the breaker's shared
//! state; `/health`, `inlet status` and `/metrics` all read this one judgement.
//!
//! - **failing**: Rechat is judged down (the breaker is open), or attempts fail now: in the
//!   last `FAILING_WINDOW`, most attempts failed or `FAILURES_IN_A_ROW` failed with no
//!   delivery after them (a bad token fails every lead with a 401 without opening the
//!   breaker). A delivery after the failures clears it at once. A lead Rechat refused for
//!   its content (400, 422) is that lead's fault, not delivery's: it waits for a person as
//!   a dead letter (`Attention`), and is not counted here.
//! - **stalled**: leads wait longer than `stall_after` and nothing was delivered in that
//!   time: no deliverer runs, or one is stuck. Nothing fails, and nothing moves.
//! - **ok** otherwise, an idle system included.

use crate::breaker::RechatState;
use crate::ledger::{Ledger, LedgerRecord, RecordStatus};
use crate::queue::{Backlog, Queue};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// Leads waiting this long with no delivery in the meantime is a stall: longer than the
/// retry delay's cap (five minutes), so a lead waiting out its backoff is not one.
pub const STALL_AFTER: Duration = Duration::from_secs(15 * 60);

/// How far back attempts decide whether delivery is failing: long enough for a small
/// office's few leads to say something, short enough that an old outage is forgotten
/// (a delivery after it forgets it sooner).
pub const FAILING_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Failed attempts with no delivery after them that make delivery failing, whatever the
/// window's majority says (a token revoked in a busy hour).
pub const FAILURES_IN_A_ROW: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Ok,
    Failing,
    Stalled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Ok => "ok",
            DeliveryStatus::Failing => "failing",
            DeliveryStatus::Stalled => "stalled",
        }
    }
}

/// What the ledger's recent records say delivery did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Activity {
    /// Whether the ledger could list its records at all (DynamoDB's is not scanned: on AWS
    /// these figures are CloudWatch's).
    pub known: bool,
    pub last_success_at: Option<DateTime<Utc>>,
    pub delivered_last_hour: u64,
    pub delivered_last_day: u64,
    /// Speed to lead, from acknowledgment to Rechat's answer, over the last day's deliveries.
    pub speed_to_lead_p50_ms: Option<u64>,
    pub speed_to_lead_p99_ms: Option<u64>,
    /// Of the envelopes attempted in the last `FAILING_WINDOW`, how many failed (in retry
    /// after an error, or dead-lettered; a refusal of the lead's content is not counted) and
    /// how many were looked at.
    pub recent_failed: usize,
    pub recent_attempted: usize,
    /// Failed attempts after the last delivery (in the window).
    pub failed_since_success: usize,
    /// Envelopes in retry after an error, now.
    pub in_retry: u64,
}

/// Reads the ledger's records (any order) as of `now`.
pub fn activity(records: &[LedgerRecord], now: DateTime<Utc>) -> Activity {
    let hour = now - chrono::Duration::hours(1);
    let day = now - chrono::Duration::days(1);
    let mut out = Activity {
        known: true,
        ..Activity::default()
    };
    let mut speeds = Vec::new();
    for r in records {
        match r.status {
            RecordStatus::Delivered => {
                out.last_success_at = out.last_success_at.max(Some(r.updated_at));
                if r.updated_at >= day {
                    out.delivered_last_day += 1;
                    speeds.push((r.updated_at - r.received_at).num_milliseconds().max(0) as u64);
                }
                if r.updated_at >= hour {
                    out.delivered_last_hour += 1;
                }
            }
            RecordStatus::InProgress if r.last_error.is_some() => out.in_retry += 1,
            _ => {}
        }
    }
    speeds.sort_unstable();
    out.speed_to_lead_p50_ms = percentile(&speeds, 50);
    out.speed_to_lead_p99_ms = percentile(&speeds, 99);

    let window = now - chrono::Duration::from_std(FAILING_WINDOW).unwrap_or_default();
    let attempted: Vec<&LedgerRecord> = records
        .iter()
        .filter(|r| attempted_once(r) && r.updated_at >= window && !refused_for_content(r))
        .collect();
    out.recent_attempted = attempted.len();
    out.recent_failed = attempted.iter().filter(|r| failed(r)).count();
    out.failed_since_success = attempted
        .iter()
        .filter(|r| failed(r) && out.last_success_at.is_none_or(|at| r.updated_at > at))
        .count();
    out
}

/// Rechat refused the lead for what it holds (400, 422): that lead's fault, which a
/// person corrects; the next lead goes through.
pub fn refused_for_content(r: &LedgerRecord) -> bool {
    r.status == RecordStatus::DeadLettered && matches!(r.rechat_status, Some(400 | 422))
}

/// Finished, or tried and waiting to be tried again: an attempt with an outcome.
fn attempted_once(r: &LedgerRecord) -> bool {
    match r.status {
        RecordStatus::Delivered | RecordStatus::DeadLettered => true,
        RecordStatus::InProgress => r.last_error.is_some(),
        RecordStatus::Queued => false,
    }
}

fn failed(r: &LedgerRecord) -> bool {
    match r.status {
        RecordStatus::DeadLettered => true,
        RecordStatus::InProgress => r.last_error.is_some(),
        _ => false,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// A span for a person: `1 hour`, `15 minutes`, `45 seconds`.
pub fn span(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 3600 && secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("{n} {unit}").replace("1 ", "")
    } else {
        format!("{n} {unit}s")
    }
}

/// The judgement, with what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryView {
    pub status: DeliveryStatus,
    /// Why, for a person: empty when `ok`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
    pub waiting: Option<u64>,
    pub oldest_waiting_secs: Option<u64>,
    pub dead_letters: Option<u64>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub rechat_unavailable_since: Option<DateTime<Utc>>,
}

/// Judges delivery. `backlog` and `rechat` are `None` when they could not be read; what is
/// unknown never makes delivery look failing on its own.
pub fn judge(
    backlog: Option<&Backlog>,
    activity: &Activity,
    rechat: Option<&RechatState>,
    now: DateTime<Utc>,
    stall_after: Duration,
) -> DeliveryView {
    let unavailable_since = rechat.and_then(|r| r.unavailable_since);
    let stall = chrono::Duration::from_std(stall_after).unwrap_or(chrono::Duration::MAX);
    let waiting = backlog.map(|b| b.waiting);
    // Nothing waiting has waited no time (a queue that cannot say its oldest can say that).
    let oldest = backlog.and_then(|b| {
        b.oldest_waiting_secs
            .or_else(|| (b.waiting == 0).then_some(0))
    });
    let (status, why) = if let Some(since) = unavailable_since {
        (
            DeliveryStatus::Failing,
            format!(
                "Rechat unavailable since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )
    } else if activity.failed_since_success > 0
        && (activity.failed_since_success >= FAILURES_IN_A_ROW
            || activity.recent_failed * 2 > activity.recent_attempted)
    {
        (
            DeliveryStatus::Failing,
            format!(
                "{} of {} attempts in the last {} failed, {} of them since the last delivery",
                activity.recent_failed,
                activity.recent_attempted,
                span(FAILING_WINDOW),
                activity.failed_since_success
            ),
        )
    } else if waiting.unwrap_or(0) > 0
        && oldest.is_some_and(|secs| secs as i64 >= stall.num_seconds())
        && activity.last_success_at.is_none_or(|at| now - at >= stall)
    {
        (
            DeliveryStatus::Stalled,
            format!(
                "the oldest lead has waited {}s and nothing was delivered in {}s",
                oldest.unwrap_or(0),
                stall.num_seconds()
            ),
        )
    } else {
        (DeliveryStatus::Ok, String::new())
    };
    DeliveryView {
        status,
        why,
        waiting,
        oldest_waiting_secs: oldest,
        dead_letters: backlog.map(|b| b.dead_letters),
        last_success_at: activity.last_success_at,
        rechat_unavailable_since: unavailable_since,
    }
}

/// What a person must know first: delivery failing or stalled, else whether leads wait for
/// a person (`waiting_for_person`: dead letters that are leads which did not reach the
/// agent, `DeadLetter::waits_for_person`), else ok. The console's header and `inlet
/// status`'s first line; anything but `ok` exits `inlet status` with 1.
pub fn state(view: &DeliveryView, waiting_for_person: usize) -> &'static str {
    match view.status {
        DeliveryStatus::Ok if waiting_for_person > 0 => "needs_attention",
        status => status.as_str(),
    }
}

/// Everything the judgement read, as read now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub view: DeliveryView,
    pub activity: Activity,
    pub backlog: Option<Backlog>,
    pub rechat: Option<RechatState>,
    /// The lead sources whose reads drift (`crate::profile`); none when they cannot be read.
    pub parsing: Option<Vec<crate::profile::Drift>>,
}

/// Reads the queue, the ledger's last day (at most `records` of it) and the breaker's state,
/// and judges. What cannot be read is logged and left unknown.
pub async fn read(queue: &dyn Queue, ledger: &dyn Ledger, records: usize) -> Reading {
    let now = Utc::now();
    let (backlog, recent, rechat, parsing) = tokio::join!(
        queue.backlog(),
        ledger.records_since(now - chrono::Duration::days(1), records),
        ledger.rechat_state(),
        crate::profile::store::drifts(ledger)
    );
    let parsing = parsing
        .inspect_err(|e| tracing::warn!(error = %e, "the lead sources' profiles cannot be read"))
        .ok();
    let backlog = backlog
        .inspect_err(|e| tracing::warn!(error = %e, "the queue's backlog cannot be read"))
        .ok()
        .flatten();
    let activity = match recent {
        Ok(Some(records)) => activity(&records, now),
        Ok(None) => Activity::default(),
        Err(e) => {
            tracing::warn!(error = %e, "the ledger's recent records cannot be read");
            Activity::default()
        }
    };
    let rechat = rechat
        .inspect_err(|e| tracing::warn!(error = %e, "Rechat's availability cannot be read"))
        .ok();
    let view = judge(
        backlog.as_ref(),
        &activity,
        rechat.as_ref(),
        now,
        STALL_AFTER,
    );
    Reading {
        view,
        activity,
        backlog,
        rechat,
        parsing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs_ago: i64) -> DateTime<Utc> {
        now() - chrono::Duration::seconds(secs_ago)
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn record(
        status: RecordStatus,
        error: bool,
        received_ago: i64,
        updated_ago: i64,
    ) -> LedgerRecord {
        LedgerRecord {
            key: format!("k{received_ago}-{updated_ago}-{status:?}"),
            envelope_id: "e".into(),
            received_at: at(received_ago),
            lead_key: "l".into(),
            sender: "s".into(),
            source: None,
            status,
            rechat_lead_id: None,
            steps: vec![],
            attempts: 1,
            capture_calls: 0,
            uncertain_captures: 0,
            last_error: error.then(|| "Rechat answered 401".into()),
            updated_at: at(updated_ago),
            channel: String::new(),
            find: vec![],
            unsure: None,
            pacing: Default::default(),
            person: None,
            rechat_status: None,
            corrects: None,
            version: 1,
        }
    }

    fn backlog(waiting: u64, oldest: Option<u64>) -> Backlog {
        Backlog {
            waiting,
            in_flight: 0,
            oldest_waiting_secs: oldest,
            dead_letters: 2,
        }
    }

    #[test]
    fn deliveries_are_counted_and_timed() {
        let records = vec![
            record(RecordStatus::Delivered, false, 61, 60),
            record(RecordStatus::Delivered, false, 7_205, 7_200),
            record(RecordStatus::Delivered, false, 200_000, 199_000),
            record(RecordStatus::Queued, false, 5, 5),
        ];
        let a = activity(&records, now());
        assert_eq!(a.delivered_last_hour, 1);
        assert_eq!(a.delivered_last_day, 2);
        assert_eq!(a.last_success_at, Some(at(60)));
        assert_eq!(a.speed_to_lead_p50_ms, Some(1_000));
        assert_eq!(a.speed_to_lead_p99_ms, Some(5_000));
        // Attempts in the last hour only.
        assert_eq!((a.recent_failed, a.recent_attempted), (0, 1));
        let view = judge(
            Some(&backlog(1, Some(5))),
            &a,
            Some(&RechatState::default()),
            now(),
            STALL_AFTER,
        );
        assert_eq!(view.status, DeliveryStatus::Ok);
        assert_eq!(view.dead_letters, Some(2));
    }

    #[test]
    fn attempts_failing_now_is_failing_though_rechat_answers() {
        // A revoked token: every lead answered 401, the breaker (which counts only 5xx and
        // timeouts) stays closed.
        let mut records: Vec<LedgerRecord> = (0..15)
            .map(|i| record(RecordStatus::DeadLettered, true, 100 + i, 100 + i))
            .collect();
        records.extend((0..10).map(|i| record(RecordStatus::Delivered, false, 500 + i, 500 + i)));
        let a = activity(&records, now());
        assert_eq!((a.recent_failed, a.recent_attempted), (15, 25));
        assert_eq!(a.failed_since_success, 15);
        let view = judge(None, &a, None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Failing);
        assert!(
            view.why.contains(
                "15 of 25 attempts in the last hour failed, 15 of them since the last delivery"
            ),
            "{}",
            view.why
        );
        // Three in a row after a busy hour of deliveries is failing, though most succeeded.
        let mut busy: Vec<LedgerRecord> = (0..30)
            .map(|i| record(RecordStatus::Delivered, false, 600 + i, 600 + i))
            .collect();
        busy.extend((0..3).map(|i| record(RecordStatus::DeadLettered, true, 10 + i, 10 + i)));
        assert_eq!(
            judge(None, &activity(&busy, now()), None, now(), STALL_AFTER).status,
            DeliveryStatus::Failing
        );
        busy.pop();
        assert_eq!(
            judge(None, &activity(&busy, now()), None, now(), STALL_AFTER).status,
            DeliveryStatus::Ok,
            "two failures among thirty deliveries"
        );
    }

    #[test]
    fn one_delivery_after_an_outage_clears_it_at_once() {
        // 19 failures while Rechat was down, then Rechat came back and one lead went.
        let mut records: Vec<LedgerRecord> = (0..19)
            .map(|i| record(RecordStatus::DeadLettered, true, 120 + i, 120 + i))
            .collect();
        records.push(record(RecordStatus::Delivered, false, 30, 30));
        let a = activity(&records, now());
        assert_eq!(a.failed_since_success, 0);
        assert_eq!(
            judge(None, &a, None, now(), STALL_AFTER).status,
            DeliveryStatus::Ok
        );
        // Failures older than the window are forgotten even with no delivery since (the
        // dead letters they left still wait for a person, as `state` says).
        let old: Vec<LedgerRecord> = (0..19)
            .map(|i| record(RecordStatus::DeadLettered, true, 7_300 + i, 7_300 + i))
            .collect();
        let a = activity(&old, now());
        assert_eq!((a.recent_attempted, a.failed_since_success), (0, 0));
        let view = judge(None, &a, None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Ok);
        assert_eq!(state(&view, 19), "needs_attention");
        assert_eq!(state(&view, 0), "ok");
    }

    #[test]
    fn a_lead_refused_for_its_content_is_not_delivery_failing() {
        let mut refused = record(RecordStatus::DeadLettered, true, 60, 60);
        refused.rechat_status = Some(400);
        let a = activity(std::slice::from_ref(&refused), now());
        assert_eq!((a.recent_attempted, a.recent_failed), (0, 0));
        let view = judge(None, &a, None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Ok);
        assert_eq!(state(&view, 1), "needs_attention");
        // A 401 (a revoked token) is delivery's.
        refused.rechat_status = Some(401);
        let view = judge(None, &activity(&[refused], now()), None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Failing);
        assert_eq!(state(&view, 1), "failing");
    }

    #[test]
    fn an_open_breaker_is_failing_with_since_when() {
        let down = RechatState {
            unavailable_since: Some(at(300)),
            ..RechatState::default()
        };
        let view = judge(
            Some(&backlog(40, Some(300))),
            &Activity::default(),
            Some(&down),
            now(),
            STALL_AFTER,
        );
        assert_eq!(view.status, DeliveryStatus::Failing);
        assert_eq!(view.rechat_unavailable_since, Some(at(300)));
    }

    #[test]
    fn leads_waiting_with_nothing_delivered_is_stalled() {
        let idle = activity(
            &[record(RecordStatus::Delivered, false, 4_000, 3_999)],
            now(),
        );
        let view = judge(
            Some(&backlog(3, Some(1_000))),
            &idle,
            None,
            now(),
            STALL_AFTER,
        );
        assert_eq!(view.status, DeliveryStatus::Stalled);
        // A young backlog, or one that moves, is not.
        let view = judge(Some(&backlog(3, Some(60))), &idle, None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Ok);
        let moving = activity(&[record(RecordStatus::Delivered, false, 31, 30)], now());
        let view = judge(
            Some(&backlog(3, Some(1_000))),
            &moving,
            None,
            now(),
            STALL_AFTER,
        );
        assert_eq!(view.status, DeliveryStatus::Ok);
        // Nothing waiting, nothing delivered for days: idle, ok; nothing waits no time.
        let view = judge(
            Some(&backlog(0, None)),
            &Activity::default(),
            None,
            now(),
            STALL_AFTER,
        );
        assert_eq!(view.status, DeliveryStatus::Ok);
        assert_eq!(view.oldest_waiting_secs, Some(0));
        // A queue that cannot say its oldest (SQS) is never judged stalled from here.
        let view = judge(Some(&backlog(3, None)), &idle, None, now(), STALL_AFTER);
        assert_eq!(view.status, DeliveryStatus::Ok);
    }
}
