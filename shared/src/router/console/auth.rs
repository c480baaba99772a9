//! Who may use the console and `/metrics`: the console's token (as `Authorization: Bearer`,
//! or through the login form, which sets a session cookie), and for `/metrics` also the
//! scraper's own token, which opens nothing else.
//!
//! The presented credential is checked first: a right one always passes. Wrong ones are
//! counted per client (the address the server saw, never a header), and a client past
//! `MAX_FAILURES` a minute waits, so one guesser holds off only itself. Tokens are compared
//! in constant time (HMAC `verify_slice`).
//!
//! A session is `expires.nonce.signature`, signed with the token: each login makes its own,
//! changing the token ends them all, and logging out ends that one, in this process at once
//! and in others (other Lambda instances) within `REVOKED_CHECK_TTL`: the ended nonce is
//! kept in the ledger until the session would have expired.

use crate::ledger::{Ledger, SenderLink};
use hmac::{KeyInit, Mac};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Wrong credentials a minute from one client before its attempts wait.
pub const MAX_FAILURES: usize = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Clients whose failures are remembered at once; past it the oldest are forgotten.
const CLIENTS_REMEMBERED: usize = 10_000;
pub const SESSION_SECS: i64 = 12 * 3600;
/// How long this process trusts that a session was not ended elsewhere before asking the
/// ledger again.
const REVOKED_CHECK_TTL: Duration = Duration::from_secs(5);

/// What was presented, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// None given: the login page, or 401.
    None,
    Valid,
    Wrong,
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Constant time whatever the lengths: the HMACs of both under a fixed message.
fn same_token(given: &str, expected: &str) -> bool {
    let expected = mac(expected.as_bytes(), &[b"inlet-console-token"])
        .finalize()
        .into_bytes();
    mac(given.as_bytes(), &[b"inlet-console-token"])
        .verify_slice(&expected)
        .is_ok()
}

pub struct Auth {
    token: String,
    metrics_token: Option<String>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Sessions ended here (nonce → when it would expire), and when a session was last
    /// found not ended in the ledger.
    ended: Mutex<HashMap<String, i64>>,
    checked: Mutex<HashMap<String, Instant>>,
}

/// The ledger key under which an ended session's nonce is kept (a digest: no session in keys).
fn ended_key(nonce: &str) -> String {
    format!(
        "console-logout-{}",
        crate::envelope::digest(&[nonce.as_bytes()])
    )
}

impl Auth {
    pub fn new(token: String, metrics_token: Option<String>) -> Auth {
        Auth {
            token,
            metrics_token,
            failures: Mutex::default(),
            ended: Mutex::default(),
            checked: Mutex::default(),
        }
    }

    pub fn with_metrics_token(mut self, token: Option<String>) -> Auth {
        self.metrics_token = token;
        self
    }

    pub fn token_matches(&self, given: &str) -> bool {
        same_token(given, &self.token)
    }

    /// The console's token or the scraper's.
    pub fn metrics_token_matches(&self, given: &str) -> bool {
        self.token_matches(given)
            || self
                .metrics_token
                .as_deref()
                .is_some_and(|t| same_token(given, t))
    }

    fn signature(&self, expires: &str, nonce: &str) -> HmacSha256 {
        mac(
            self.token.as_bytes(),
            &[b"session:", expires.as_bytes(), b".", nonce.as_bytes()],
        )
    }

    /// A new session's cookie value, valid until `expires` (Unix seconds).
    pub fn new_session(&self, expires: i64) -> String {
        let nonce = hex::encode(uuid::Uuid::new_v4().as_bytes());
        let expires = expires.to_string();
        let sig = self.signature(&expires, &nonce).finalize().into_bytes();
        format!("{expires}.{nonce}.{}", hex::encode(sig))
    }

    /// The nonce and expiry of a session this token signed, unexpired at `now`.
    fn signed_session<'a>(&self, value: &'a str, now: i64) -> Option<(&'a str, i64)> {
        let mut parts = value.splitn(3, '.');
        let (expires, nonce, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let at = expires.parse::<i64>().ok()?;
        let sig = hex::decode(sig).ok()?;
        (at > now && self.signature(expires, nonce).verify_slice(&sig).is_ok())
            .then_some((nonce, at))
    }

    /// Whether a session cookie is one this token signed, unexpired and not ended.
    pub async fn session_valid(&self, value: &str, now: i64, ledger: &dyn Ledger) -> bool {
        let Some((nonce, _)) = self.signed_session(value, now) else {
            return false;
        };
        if self.ended.lock().unwrap().contains_key(nonce) {
            return false;
        }
        let fresh = self
            .checked
            .lock()
            .unwrap()
            .get(nonce)
            .is_some_and(|at| at.elapsed() < REVOKED_CHECK_TTL);
        if fresh {
            return true;
        }
        match ledger.sender_lead(&ended_key(nonce)).await {
            Ok(Some(_)) => false,
            Ok(None) => {
                let mut checked = self.checked.lock().unwrap();
                checked.retain(|_, at| at.elapsed() < REVOKED_CHECK_TTL);
                checked.insert(nonce.to_owned(), Instant::now());
                true
            }
            // The ledger cannot say: a session this process has not seen ended still counts
            // (the console would otherwise lock its operator out with the ledger down).
            Err(e) => {
                tracing::warn!(error = %e, "console: whether a session was ended could not be read");
                true
            }
        }
    }

    /// Ends a session: here at once, elsewhere once the ledger has it.
    pub async fn end_session(&self, value: &str, now: i64, ledger: &dyn Ledger) {
        let Some((nonce, expires)) = self.signed_session(value, now) else {
            return;
        };
        {
            let mut ended = self.ended.lock().unwrap();
            ended.retain(|_, at| *at > now);
            ended.insert(nonce.to_owned(), expires);
        }
        self.checked.lock().unwrap().remove(nonce);
        let link = SenderLink {
            envelope_id: String::new(),
            rechat_lead_id: None,
        };
        if let Err(e) = ledger.link_sender_lead(&ended_key(nonce), &link).await {
            tracing::warn!(error = %e, "console: a logout could not be kept; other instances end the session when it expires");
        }
    }

    /// Whether `client` gave wrong credentials too often; if so, how long it waits.
    pub fn limited(&self, client: &str) -> Option<u32> {
        let mut failures = self.failures.lock().unwrap();
        let list = failures.get_mut(client)?;
        while list.front().is_some_and(|at| at.elapsed() > FAILURE_WINDOW) {
            list.pop_front();
        }
        (list.len() >= MAX_FAILURES).then(|| {
            let oldest = list.front().map(|at| at.elapsed()).unwrap_or_default();
            FAILURE_WINDOW.saturating_sub(oldest).as_secs().max(1) as u32
        })
    }

    /// Counts a wrong credential from `client`.
    pub fn failed(&self, client: &str) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() >= CLIENTS_REMEMBERED && !failures.contains_key(client) {
            failures.retain(|_, list| list.back().is_some_and(|at| at.elapsed() < FAILURE_WINDOW));
            if failures.len() >= CLIENTS_REMEMBERED {
                // A flood of addresses: forget the one whose last failure is oldest.
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, list)| list.back().copied())
                    .map(|(k, _)| k.clone())
                {
                    failures.remove(&oldest);
                }
            }
        }
        failures
            .entry(client.to_owned())
            .or_default()
            .push_back(Instant::now());
        tracing::warn!("console: a wrong token was given");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::memory::MemoryLedger;

    #[tokio::test]
    async fn each_login_is_its_own_session_and_logout_ends_it_everywhere() {
        let ledger = MemoryLedger::new();
        let here = Auth::new("t".repeat(32), None);
        let elsewhere = Auth::new("t".repeat(32), None);
        let now = 1_000;
        let a = here.new_session(now + 60);
        let b = here.new_session(now + 60);
        assert_ne!(a, b, "two logins in the same second are two sessions");
        assert!(here.session_valid(&a, now, &ledger).await);
        assert!(elsewhere.session_valid(&b, now, &ledger).await);
        here.end_session(&a, now, &ledger).await;
        assert!(!here.session_valid(&a, now, &ledger).await);
        assert!(here.session_valid(&b, now, &ledger).await, "only that one");
        // Another instance that never saw this session asks the ledger.
        assert!(!elsewhere.session_valid(&a, now, &ledger).await);
        // Expired, forged, or signed with another token: not valid.
        assert!(!here.session_valid(&b, now + 61, &ledger).await);
        let other = Auth::new("u".repeat(32), None);
        assert!(
            !here
                .session_valid(&other.new_session(now + 60), now, &ledger)
                .await
        );
        let (expires, rest) = b.split_once('.').unwrap();
        let stretched = format!("{}.{rest}", expires.parse::<i64>().unwrap() + 3600);
        assert!(!here.session_valid(&stretched, now, &ledger).await);
    }

    #[test]
    fn tokens_match_only_whole() {
        let auth = Auth::new("a-console-token-of-24-chars".into(), None);
        assert!(auth.token_matches("a-console-token-of-24-chars"));
        for wrong in [
            "",
            "a",
            "a-console-token-of-24-char",
            "a-console-token-of-24-chars ",
            "A-CONSOLE-TOKEN-OF-24-CHARS",
        ] {
            assert!(!auth.token_matches(wrong), "{wrong:?}");
            assert!(!auth.metrics_token_matches(wrong), "{wrong:?}");
        }
    }

    #[tokio::test]
    async fn a_session_cookie_must_be_whole_and_signed() {
        let ledger = MemoryLedger::new();
        let auth = Auth::new("a-console-token-of-24-chars".into(), None);
        let now = 1_800_000_000;
        let s = auth.new_session(now + 60);
        let (at, rest) = s.split_once('.').unwrap();
        let (nonce, _) = rest.split_once('.').unwrap();
        for forged in [
            format!("{at}.{nonce}.{}", "0".repeat(64)),
            format!(
                "{at}.{}.{}",
                "1".repeat(32),
                rest.split_once('.').unwrap().1
            ),
            "garbage".to_owned(),
            format!("{at}."),
            format!("{at}.{nonce}."),
            String::new(),
        ] {
            assert!(
                !auth.session_valid(&forged, now, &ledger).await,
                "{forged:?}"
            );
        }
        // Ending a forged session ends nothing.
        auth.end_session("garbage", now, &ledger).await;
        assert!(auth.session_valid(&s, now, &ledger).await);
    }

    #[test]
    fn wrong_tokens_are_limited_per_client() {
        let auth = Auth::new("t".repeat(32), None);
        for _ in 0..MAX_FAILURES - 1 {
            auth.failed("192.0.2.1");
        }
        assert!(auth.limited("192.0.2.1").is_none());
        auth.failed("192.0.2.1");
        let wait = auth.limited("192.0.2.1").unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }

    #[test]
    fn a_guesser_waits_alone_and_a_right_token_is_not_held() {
        let auth = Auth::new("t".repeat(32), Some("m".repeat(32)));
        for _ in 0..MAX_FAILURES {
            auth.failed("192.0.2.1");
        }
        assert!(auth.limited("192.0.2.1").is_some());
        assert!(auth.limited("198.51.100.7").is_none());
        assert!(auth.metrics_token_matches(&"m".repeat(32)));
        assert!(auth.metrics_token_matches(&"t".repeat(32)));
        assert!(
            !auth.token_matches(&"m".repeat(32)),
            "the scraper's token opens no console"
        );
    }

    #[test]
    fn a_flood_of_addresses_is_remembered_within_bounds() {
        let auth = Auth::new("t".repeat(32), None);
        for i in 0..(CLIENTS_REMEMBERED + 50) {
            auth.failed(&format!("client-{i}"));
        }
        assert!(auth.failures.lock().unwrap().len() <= CLIENTS_REMEMBERED);
    }
}
