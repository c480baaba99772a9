//! The breaker as delivery runs it: `crate::breaker`'s decisions, this process's window of
//! recent calls, and the shared state kept in the ledger, where every deliverer sees it (all
//! of `inlet serve`'s leads, every concurrent Lambda invocation). Writes are conditional on
//! the version read, so two deliverers never both take a probe.

use crate::breaker::{
    self, Admission, BreakerOptions, CallResult, CallWindow, RechatState, Transition,
};
use crate::ledger::{Ledger, LedgerError};
use crate::rechat::RechatError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How stale this process's copy of the shared state may be before it reads the ledger again:
/// a deliverer that has not heard of an outage makes at most a second of calls into it.
const REFRESH: Duration = Duration::from_secs(1);

/// One per process, shared by every lead it delivers. Its thresholds come with each call
/// (`DeliveryOptions::breaker`), so there is one place that sets them.
#[derive(Debug, Default)]
pub struct Breaker {
    window: Mutex<CallWindow>,
    cached: Mutex<Option<(RechatState, Instant)>>,
}

impl Breaker {
    /// This process's view of the shared state, read again when older than a second.
    async fn state(&self, ledger: &dyn Ledger) -> Result<RechatState, LedgerError> {
        if let Some((state, at)) = self.cached.lock().unwrap().as_ref()
            && at.elapsed() < REFRESH
        {
            return Ok(state.clone());
        }
        self.reload(ledger).await
    }

    async fn reload(&self, ledger: &dyn Ledger) -> Result<RechatState, LedgerError> {
        let state = ledger.rechat_state().await?;
        self.remember(&state);
        Ok(state)
    }

    fn remember(&self, state: &RechatState) {
        *self.cached.lock().unwrap() = Some((state.clone(), Instant::now()));
    }

    /// How long a lead is held now, if this process last saw Rechat down (not only pacing).
    pub fn down_hold(&self, options: &BreakerOptions) -> Option<Duration> {
        let cached = self.cached.lock().unwrap();
        let since = cached.as_ref()?.0.unavailable_since?;
        Some(options.hold(since, chrono::Utc::now()))
    }

    /// How long a lead is held now, if this process last saw Rechat down or pacing
    /// everyone (its cached view, no ledger read).
    pub fn holding(&self, options: &BreakerOptions) -> Option<Duration> {
        let cached = self.cached.lock().unwrap();
        let (state, _) = cached.as_ref()?;
        let now = chrono::Utc::now();
        if let Some(since) = state.unavailable_since {
            return Some(options.hold(since, now));
        }
        let until = state.paced_until.filter(|at| *at > now)?;
        Some(
            (until - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_secs(1)),
        )
    }

    /// Whether a lead may call Rechat now. A ledger that cannot be read does not stop
    /// delivery here (the lead's own ledger writes will fail it and it is retried).
    pub async fn admit(&self, ledger: &dyn Ledger, options: &BreakerOptions) -> Admission {
        let state = match self.state(ledger).await {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read Rechat's availability from the ledger");
                return Admission::Call;
            }
        };
        let (admission, write) = breaker::admit(&state, options, chrono::Utc::now());
        let Some(taken) = write else {
            return admission;
        };
        match ledger.put_rechat_state(&taken).await {
            Ok(()) => {
                self.remember(&taken);
                tracing::info!(probe = taken.probes, "probing whether Rechat answers again");
                admission
            }
            // Another deliverer took this probe: this lead waits like the rest.
            Err(e) => {
                if matches!(e, LedgerError::Conflict { .. }) {
                    let _ = self.reload(ledger).await;
                } else {
                    tracing::warn!(error = %e, "cannot take the probe");
                }
                let since = state.unavailable_since.unwrap_or_else(chrono::Utc::now);
                Admission::Hold {
                    retry_in: options
                        .hold(since, chrono::Utc::now())
                        .max(Duration::from_secs(1)),
                    why: state.describe().unwrap_or_default(),
                }
            }
        }
    }

    /// Records what a Rechat call answered for a lead, and writes the shared state when the
    /// answer changes it. Returns the transition (`Closed`: release what is held).
    pub async fn record<T>(
        &self,
        ledger: &dyn Ledger,
        options: &BreakerOptions,
        lead_key: &str,
        result: &Result<T, RechatError>,
    ) -> Transition {
        let call = match result {
            Ok(_) | Err(RechatError::Permanent { .. }) => CallResult::Answered,
            Err(RechatError::Transient {
                status: Some(429),
                retry_after,
                ..
            }) => CallResult::TooMany {
                retry_after: retry_after.unwrap_or(options.min_hold),
            },
            Err(e) => CallResult::Failed { error: short(e) },
        };
        let lead = breaker::lead_digest(lead_key);
        let now = chrono::Utc::now();
        let Ok(state) = self.state(ledger).await else {
            return Transition::Unchanged;
        };
        let decided = {
            let mut window = self.window.lock().unwrap();
            breaker::after_call(&state, &mut window, options, lead, &call, now)
        };
        let Some((mut next, mut transition)) = decided else {
            return Transition::Unchanged;
        };
        // A conflict: another deliverer wrote first; decide again on what it wrote.
        for _ in 0..3 {
            match ledger.put_rechat_state(&next).await {
                Ok(()) => {
                    self.remember(&next);
                    log(transition, &next, &state);
                    return transition;
                }
                Err(LedgerError::Conflict { .. }) => {
                    let Ok(fresh) = self.reload(ledger).await else {
                        return Transition::Unchanged;
                    };
                    let window = self.window.lock().unwrap().clone();
                    match breaker::decide(&fresh, &window, options, &call, now) {
                        Some((n, t)) => (next, transition) = (n, t),
                        None => return Transition::Unchanged,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record Rechat's availability");
                    return Transition::Unchanged;
                }
            }
        }
        Transition::Unchanged
    }
}

/// The failure as the state keeps it: Rechat's status and message, no lead data.
fn short(e: &RechatError) -> String {
    let text = match e {
        RechatError::Transient { detail, .. } => detail.clone(),
        other => other.to_string(),
    };
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn log(transition: Transition, next: &RechatState, before: &RechatState) {
    match transition {
        Transition::Opened => tracing::error!(
            since = ?next.unavailable_since, error = next.last_error.as_deref().unwrap_or(""),
            "Rechat is unavailable: every lead is held, and one probe at a time tests it"
        ),
        Transition::Closed => {
            let down_secs = before
                .unavailable_since
                .map(|since| (chrono::Utc::now() - since).num_seconds())
                .unwrap_or(0);
            tracing::warn!(
                down_secs,
                probes = next.probes,
                "Rechat answers again: every held lead is released"
            )
        }
        Transition::Unchanged => {}
    }
}
