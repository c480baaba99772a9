//! Meta's rate-limit headers, read so that reconciliation slows down before Meta refuses it:
//! `X-App-Usage` and `X-Page-Usage` (`{"call_count", "total_cputime", "total_time"}`, each a
//! percentage of the allowance), and `X-Business-Use-Case-Usage` (per business id, a list of
//! the same with `type` and `estimated_time_to_regain_access` in minutes). The highest
//! percentage is what counts.

use serde_json::Value;
use std::time::Duration;

/// How much of its allowance the caller has used, as Meta last said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The highest percentage any header gave (0 when none was sent).
    pub percent: u32,
    /// Meta's estimate of when a throttled caller may call again.
    pub regain_after: Option<Duration>,
}

const HEADERS: [&str; 3] = ["x-app-usage", "x-page-usage", "x-business-use-case-usage"];

impl Usage {
    /// Reads the usage headers of an answer; ones that do not parse are left out.
    pub fn of(headers: &http::HeaderMap) -> Usage {
        let mut usage = Usage::default();
        for name in HEADERS {
            for value in headers.get_all(name) {
                if let Some(v) = value
                    .to_str()
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                {
                    usage.read(&v);
                }
            }
        }
        usage
    }

    /// One header's JSON: an object of percentages, or business ids to lists of them.
    fn read(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::Array(items) => items.iter().for_each(|i| self.read(i)),
                        Value::Object(_) => self.read(value),
                        _ if key == "estimated_time_to_regain_access" => {
                            if let Some(minutes) = number(value).filter(|m| *m > 0) {
                                let wait = Duration::from_secs(u64::from(minutes) * 60);
                                self.regain_after =
                                    Some(self.regain_after.map_or(wait, |w| w.max(wait)));
                            }
                        }
                        _ if matches!(
                            key.as_str(),
                            "call_count" | "total_cputime" | "total_time" | "acc_id_util_pct"
                        ) =>
                        {
                            if let Some(p) = number(value) {
                                self.percent = self.percent.max(p);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.read(i)),
            _ => {}
        }
    }

    /// The more used of two readings.
    pub fn max(self, other: Usage) -> Usage {
        Usage {
            percent: self.percent.max(other.percent),
            regain_after: match (self.regain_after, other.regain_after) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

fn number(v: &Value) -> Option<u32> {
    v.as_f64()
        .or_else(|| v.as_str()?.parse().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n.ceil().min(f64::from(u32::MAX)) as u32)
}

/// How a caller paces itself by its usage: calls go at once below `slow_at` percent, wait
/// longer the closer it is to `stop_at` (up to `longest_wait`), and stop at `stop_at`, to go
/// on at the next run, before Meta throttles the page for everyone who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub slow_at: u32,
    pub stop_at: u32,
    pub longest_wait: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            slow_at: 50,
            stop_at: 90,
            longest_wait: Duration::from_secs(30),
        }
    }
}

/// What to do before the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Go,
    Wait(Duration),
    /// Stop for now; the next run goes on from here.
    Stop,
}

impl Pace {
    pub fn next(&self, usage: Usage) -> Step {
        if usage.percent >= self.stop_at || usage.regain_after.is_some() {
            return Step::Stop;
        }
        if usage.percent < self.slow_at {
            return Step::Go;
        }
        let span = self.stop_at.saturating_sub(self.slow_at).max(1);
        let over = usage.percent - self.slow_at;
        Step::Wait(self.longest_wait.mul_f64(f64::from(over) / f64::from(span)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_highest_percentage_of_any_usage_header_counts() {
        let u = Usage::of(&headers(&[
            (
                "x-app-usage",
                r#"{"call_count":28,"total_time":25,"total_cputime":25}"#,
            ),
            (
                "x-business-use-case-usage",
                r#"{"112233":[{"type":"pages","call_count":71,"total_cputime":9,"total_time":12,"estimated_time_to_regain_access":0}]}"#,
            ),
        ]));
        assert_eq!(
            u,
            Usage {
                percent: 71,
                regain_after: None
            }
        );
        let throttled = Usage::of(&headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":7}]}"#,
        )]));
        assert_eq!(throttled.regain_after, Some(Duration::from_secs(420)));
        assert_eq!(
            Usage::of(&headers(&[("x-app-usage", "not json")])),
            Usage::default()
        );
        assert_eq!(Usage::of(&http::HeaderMap::new()).percent, 0);
    }

    #[test]
    fn pacing_goes_then_slows_then_stops() {
        let pace = Pace::default();
        let at = |percent| {
            pace.next(Usage {
                percent,
                regain_after: None,
            })
        };
        assert_eq!(at(10), Step::Go);
        assert_eq!(at(49), Step::Go);
        assert_eq!(at(70), Step::Wait(Duration::from_secs(15)));
        assert!(matches!(at(89), Step::Wait(w) if w < Duration::from_secs(30)));
        assert_eq!(at(90), Step::Stop);
        assert_eq!(
            pace.next(Usage {
                percent: 5,
                regain_after: Some(Duration::from_secs(60))
            }),
            Step::Stop
        );
    }
}
