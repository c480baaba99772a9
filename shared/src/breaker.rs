//! Rechat's availability as delivery sees it: the circuit breaker's decisions, as plain
//! functions over plain data (the clock is an argument). `deliver::breaker` keeps the state
//! where every deliverer sees it, and calls these.
//!
//! Why a breaker: retries are per message, so during an outage every waiting lead keeps
//! calling the failing API, and after it each lead waits out its own doubled backoff (up
//! to five minutes). A breaker tells an outage from one lead's trouble and then holds every
//! lead at once, lets one probe at a time test Rechat, and releases them all when it answers.
//!
//! - **Open** when, in the last `window` (60 s), at least `min_failures` calls failed (5xx,
//!   timeout, connection error), from at least `min_leads` different leads, and they are at
//!   least `failure_ratio` of the calls. One lead's repeated 5xx among others' successes
//!   stays below the ratio; two failures of one lead are not an outage. A minute is long
//!   enough to see several leads at a quiet office's rate, short enough that an outage is
//!   seen within a few calls.
//! - **While open** no lead calls Rechat except one probe every `probe_every` (5 s); the
//!   others are held (returned to the queue) for a time that grows with the outage, a
//!   fortieth of its age between 5 s and 10 min: seconds for a short outage, and a long one
//!   spends few queue receives (a 72-hour outage costs ~630, under the queue's limit of
//!   1,000). A failed probe's lead comes back when the next probe is due, and is that probe.
//! - **Closed** by any answer from Rechat (a success or a 4xx: it is up, and a 4xx belongs
//!   to the lead). Calls before the close are forgotten.
//! - **429** paces everyone: no call until its `Retry-After` has passed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// The state every deliverer shares (the ledger holds it; writes are conditional on
/// `version`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RechatState {
    /// Set while the breaker is open: since when delivery judges Rechat down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_since: Option<DateTime<Utc>>,
    /// While open: the earliest time of the next probe. Taking the probe moves it by the
    /// lease, so that one probe runs at a time even if its taker dies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_probe_at: Option<DateTime<Utc>>,
    /// Rechat's `Retry-After` on a 429: no lead calls before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paced_until: Option<DateTime<Utc>>,
    /// When the breaker last closed: calls made before it no longer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<DateTime<Utc>>,
    /// What the last failing call said (no personal data: Rechat's status and message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Probes made during the current (or last) outage.
    #[serde(default)]
    pub probes: u32,
    #[serde(default)]
    pub version: u64,
}

impl RechatState {
    pub fn is_open(&self) -> bool {
        self.unavailable_since.is_some()
    }

    /// For people: "Rechat unavailable since T", or `None` while it answers.
    pub fn describe(&self) -> Option<String> {
        self.unavailable_since.map(|since| {
            format!(
                "Rechat unavailable since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
    }
}

/// The breaker's thresholds and intervals (see the module's comment for why these).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerOptions {
    pub window: Duration,
    pub min_failures: usize,
    pub min_leads: usize,
    pub failure_ratio: f64,
    pub probe_every: Duration,
    /// How long a taken probe keeps others from probing: longer than a Rechat call can
    /// take (the client's timeout), so that a slow probe is not joined by a second.
    pub probe_lease: Duration,
    pub min_hold: Duration,
    pub max_hold: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            window: Duration::from_secs(60),
            min_failures: 3,
            min_leads: 2,
            failure_ratio: 0.8,
            probe_every: Duration::from_secs(5),
            probe_lease: Duration::from_secs(30),
            min_hold: Duration::from_secs(5),
            max_hold: Duration::from_secs(600),
        }
    }
}

impl BreakerOptions {
    /// How long a lead is held while Rechat has been down since `since`.
    pub fn hold(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
        let age = (now - since).to_std().unwrap_or_default();
        (age / 40).clamp(self.min_hold, self.max_hold)
    }
}

/// What a Rechat call's answer says of Rechat (not of the lead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// Rechat answered: a success or a 4xx other than 429.
    Answered,
    /// 5xx, 408, 425, a timeout or a connection error.
    Failed { error: String },
    /// 429: everyone waits `retry_after`.
    TooMany { retry_after: Duration },
}

/// One call this process made recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Call {
    at: DateTime<Utc>,
    /// A digest of the lead (its queue group), to count different leads.
    lead: u64,
    failed: bool,
}

/// The calls this process made in the last window.
#[derive(Debug, Clone, Default)]
pub struct CallWindow {
    calls: VecDeque<Call>,
}

/// Enough to judge a window of a busy minute; older calls are dropped first.
const WINDOW_CALLS: usize = 1000;

impl CallWindow {
    fn record(&mut self, call: Call, options: &BreakerOptions) {
        let horizon = call.at - chrono::Duration::from_std(options.window).unwrap_or_default();
        while self.calls.front().is_some_and(|c| c.at < horizon) {
            self.calls.pop_front();
        }
        if self.calls.len() >= WINDOW_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }

    /// Whether the calls since `after` look like Rechat down for everyone.
    fn says_down(&self, options: &BreakerOptions, after: Option<DateTime<Utc>>) -> bool {
        let counted = || {
            self.calls
                .iter()
                .filter(move |c| after.is_none_or(|after| c.at > after))
        };
        let total = counted().count();
        let failed: Vec<&Call> = counted().filter(|c| c.failed).collect();
        let mut leads: Vec<u64> = failed.iter().map(|c| c.lead).collect();
        leads.sort_unstable();
        leads.dedup();
        failed.len() >= options.min_failures
            && leads.len() >= options.min_leads
            && failed.len() as f64 >= options.failure_ratio * total as f64
    }
}

/// Whether a lead may call Rechat now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Call,
    /// Rechat is judged down and this lead's call is the probe.
    Probe,
    /// No call: back on the queue for `retry_in`.
    Hold {
        retry_in: Duration,
        why: String,
    },
}

/// Whether a lead may call Rechat at `now`, and the state to write when it takes the probe
/// (the write must succeed for the probe to be this lead's).
pub fn admit(
    state: &RechatState,
    options: &BreakerOptions,
    now: DateTime<Utc>,
) -> (Admission, Option<RechatState>) {
    if let Some(until) = state.paced_until.filter(|until| *until > now) {
        let wait = (until - now).to_std().unwrap_or_default();
        let admission = Admission::Hold {
            retry_in: round_up_to_secs(wait),
            why: format!(
                "Rechat asked to wait (429) until {}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        };
        return (admission, None);
    }
    let Some(since) = state.unavailable_since else {
        return (Admission::Call, None);
    };
    if state.next_probe_at.is_none_or(|at| at <= now) {
        let mut taken = state.clone();
        taken.next_probe_at = Some(now + chrono_of(options.probe_lease));
        taken.probes += 1;
        taken.version += 1;
        return (Admission::Probe, Some(taken));
    }
    let why = state.describe().unwrap_or_default();
    let why = match &state.last_error {
        Some(error) => format!("{why} ({error})"),
        None => why,
    };
    (
        Admission::Hold {
            retry_in: round_up_to_secs(options.hold(since, now)),
            why,
        },
        None,
    )
}

/// How a call changed the shared state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Rechat is judged down from now.
    Opened,
    /// Rechat answered again: every held lead may go.
    Closed,
    Unchanged,
}

/// Records a call's result in this process's window and says what the shared state becomes
/// (`None`: unchanged, nothing to write).
pub fn after_call(
    state: &RechatState,
    window: &mut CallWindow,
    options: &BreakerOptions,
    lead: u64,
    result: &CallResult,
    now: DateTime<Utc>,
) -> Option<(RechatState, Transition)> {
    let failed = matches!(result, CallResult::Failed { .. });
    window.record(
        Call {
            at: now,
            lead,
            failed,
        },
        options,
    );
    decide(state, window, options, result, now)
}

/// The state after `result`, given the calls already in `window` (also used to apply a
/// result again to a state another deliverer wrote meanwhile).
pub fn decide(
    state: &RechatState,
    window: &CallWindow,
    options: &BreakerOptions,
    result: &CallResult,
    now: DateTime<Utc>,
) -> Option<(RechatState, Transition)> {
    let mut next = state.clone();
    let mut transition = Transition::Unchanged;
    match result {
        CallResult::Answered | CallResult::TooMany { .. } if state.is_open() => {
            next.unavailable_since = None;
            next.next_probe_at = None;
            next.recovered_at = Some(now);
            transition = Transition::Closed;
        }
        CallResult::Answered | CallResult::TooMany { .. } => {}
        CallResult::Failed { error } if state.is_open() => {
            // A failed probe (or a call made on a stale view): the next probe in
            // `probe_every`, not when the lease runs out.
            let next_probe = now + chrono_of(options.probe_every);
            if state.next_probe_at.is_none_or(|at| at > next_probe) {
                next.next_probe_at = Some(next_probe);
            }
            next.last_error = Some(error.clone());
        }
        CallResult::Failed { error } => {
            if window.says_down(options, state.recovered_at) {
                next.unavailable_since = Some(now);
                next.next_probe_at = Some(now + chrono_of(options.probe_every));
                next.last_error = Some(error.clone());
                next.probes = 0;
                transition = Transition::Opened;
            }
        }
    }
    if let CallResult::TooMany { retry_after } = result {
        // Everyone waits at most the longest hold: a Retry-After of a day (or garbage) must
        // not stop every lead for a day. The lead it answered keeps the whole wait.
        let until = now + chrono_of((*retry_after).min(options.max_hold));
        if state.paced_until.is_none_or(|at| at < until) {
            next.paced_until = Some(until);
        }
    }
    if next == *state {
        return None;
    }
    next.version = state.version + 1;
    Some((next, transition))
}

/// Capped at a day, so that adding it to a time never overflows.
fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d.min(Duration::from_secs(86_400)))
        .unwrap_or(chrono::Duration::days(1))
}

/// Queue visibility is set in whole seconds; a wait is never shortened to zero.
fn round_up_to_secs(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// A lead's digest for the window (its queue group id).
pub fn lead_digest(lead_key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lead_key.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn failed() -> CallResult {
        CallResult::Failed {
            error: "503: Internal Error".into(),
        }
    }

    /// Applies each (second, lead, result) and returns the state and the transitions.
    fn run(calls: &[(i64, u64, CallResult)]) -> (RechatState, Vec<Transition>) {
        let options = BreakerOptions::default();
        let mut state = RechatState::default();
        let mut window = CallWindow::default();
        let mut transitions = Vec::new();
        for (at, lead, result) in calls {
            if let Some((next, transition)) =
                after_call(&state, &mut window, &options, *lead, result, t(*at))
            {
                assert_eq!(next.version, state.version + 1);
                state = next;
                transitions.push(transition);
            }
        }
        (state, transitions)
    }

    #[test]
    fn failures_across_leads_open_it() {
        let (state, transitions) = run(&[(0, 1, failed()), (1, 2, failed()), (2, 3, failed())]);
        assert_eq!(state.unavailable_since, Some(t(2)));
        assert_eq!(state.next_probe_at, Some(t(7)));
        assert_eq!(transitions, vec![Transition::Opened]);
        assert_eq!(
            state.describe().as_deref(),
            Some("Rechat unavailable since 2027-01-15T08:00:02Z")
        );
    }

    #[test]
    fn one_leads_failures_among_successes_do_not() {
        let mut calls = Vec::new();
        for i in 0..20 {
            calls.push((i, 1, failed()));
            calls.push((i, 100 + i as u64, CallResult::Answered));
        }
        let (state, transitions) = run(&calls);
        assert!(!state.is_open(), "{state:?}");
        assert!(transitions.is_empty());
    }

    #[test]
    fn one_lead_alone_failing_is_its_own_trouble() {
        let calls: Vec<_> = (0..10).map(|i| (i, 7, failed())).collect();
        assert!(!run(&calls).0.is_open());
    }

    #[test]
    fn old_failures_leave_the_window() {
        // Two failures a minute before the third are not an outage now.
        let (state, _) = run(&[(0, 1, failed()), (1, 2, failed()), (70, 3, failed())]);
        assert!(!state.is_open());
    }

    #[test]
    fn a_mostly_failing_window_opens_even_with_some_successes() {
        // Two answers, then failures of different leads: open once they are 80% of the calls.
        let mut calls = vec![(0, 50, CallResult::Answered), (0, 51, CallResult::Answered)];
        calls.extend((1..8).map(|i| (i, i as u64, failed())));
        assert!(!run(&calls).0.is_open(), "7 of 9 failed");
        calls.push((8, 8, failed()));
        assert_eq!(
            run(&calls).0.unavailable_since,
            Some(t(8)),
            "8 of 10 failed"
        );
    }

    #[test]
    fn an_answer_closes_it_and_earlier_failures_are_forgotten() {
        let mut calls = vec![(0, 1, failed()), (1, 2, failed()), (2, 3, failed())];
        calls.push((30, 4, CallResult::Answered));
        // One more failure right after recovery is not an outage again.
        calls.push((31, 5, failed()));
        let (state, transitions) = run(&calls);
        assert!(!state.is_open());
        assert_eq!(state.recovered_at, Some(t(30)));
        assert_eq!(transitions, vec![Transition::Opened, Transition::Closed]);
    }

    #[test]
    fn one_probe_at_a_time_and_holds_grow_with_the_outage() {
        let options = BreakerOptions::default();
        let (open, _) = run(&[(0, 1, failed()), (1, 2, failed()), (2, 3, failed())]);
        // Before the probe is due: held.
        let (held, write) = admit(&open, &options, t(3));
        assert!(write.is_none());
        assert!(
            matches!(&held, Admission::Hold { retry_in, why }
                if *retry_in == Duration::from_secs(5) && why.contains("Rechat unavailable since")),
            "{held:?}"
        );
        // Due: one lead takes it, and the write moves the next probe by the lease.
        let (probe, taken) = admit(&open, &options, t(7));
        assert_eq!(probe, Admission::Probe);
        let taken = taken.unwrap();
        assert_eq!(taken.next_probe_at, Some(t(37)));
        assert_eq!(taken.version, open.version + 1);
        assert!(matches!(
            admit(&taken, &options, t(8)).0,
            Admission::Hold { .. }
        ));
        // The probe fails: the next one in 5 s, not at the lease's end.
        let mut window = CallWindow::default();
        let (after, transition) =
            after_call(&taken, &mut window, &options, 4, &failed(), t(9)).unwrap();
        assert_eq!(transition, Transition::Unchanged);
        assert_eq!(after.next_probe_at, Some(t(14)));
        // Holds: 5 s at first, a fortieth of the outage later, ten minutes at most.
        assert_eq!(options.hold(t(0), t(120)), Duration::from_secs(5));
        assert_eq!(options.hold(t(0), t(600)), Duration::from_secs(15));
        assert_eq!(options.hold(t(0), t(72 * 3600)), Duration::from_secs(600));
    }

    #[test]
    fn a_72_hour_outage_stays_under_the_queues_receive_limit() {
        let options = BreakerOptions::default();
        let (mut at, mut receives) = (0i64, 0u32);
        while at < 72 * 3600 {
            at += options.hold(t(0), t(at)).as_secs() as i64;
            receives += 1;
        }
        assert!(receives < 700, "{receives} receives");
    }

    #[test]
    fn a_429_paces_everyone_and_does_not_open_it() {
        let options = BreakerOptions::default();
        let many = CallResult::TooMany {
            retry_after: Duration::from_millis(2500),
        };
        let (state, transitions) = run(&[(0, 1, many.clone()), (0, 2, many.clone()), (0, 3, many)]);
        assert!(!state.is_open());
        assert_eq!(transitions, vec![Transition::Unchanged]);
        assert_eq!(
            state.paced_until,
            Some(t(0) + chrono::Duration::milliseconds(2500))
        );
        match admit(&state, &options, t(1)).0 {
            Admission::Hold { retry_in, why } => {
                assert_eq!(retry_in, Duration::from_secs(2));
                assert!(why.contains("429"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(admit(&state, &options, t(3)).0, Admission::Call);
    }

    #[test]
    fn a_retry_after_of_a_year_paces_everyone_ten_minutes_at_most() {
        let year = CallResult::TooMany {
            retry_after: Duration::from_secs(365 * 86_400),
        };
        let (state, _) = run(&[(0, 1, year)]);
        assert_eq!(state.paced_until, Some(t(600)));
        let huge = CallResult::TooMany {
            retry_after: Duration::MAX,
        };
        assert_eq!(run(&[(0, 1, huge)]).0.paced_until, Some(t(600)));
    }

    #[test]
    fn the_state_reads_back_from_older_and_newer_writers() {
        let (state, _) = run(&[(0, 1, failed()), (1, 2, failed()), (2, 3, failed())]);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<RechatState>(&json).unwrap(), state);
        let bare: RechatState = serde_json::from_str("{}").unwrap();
        assert_eq!(bare, RechatState::default());
    }
}
