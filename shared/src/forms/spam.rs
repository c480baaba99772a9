//! Spam defences for website forms: a honeypot field, a minimum fill time proven by a
//! timestamp the server signed when the page asked for it, and an optional captcha checked
//! server-side. A spam submission gets the answer a person gets and is never queued.

use async_trait::async_trait;
use std::time::Duration;

/// Why a submission was taken for spam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spam {
    Honeypot,
    TooFast { seconds: i64 },
    ForgedTimestamp,
    MissingTimestamp,
    Captcha(String),
}

impl std::fmt::Display for Spam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spam::Honeypot => write!(f, "the honeypot field was filled"),
            Spam::TooFast { seconds } => {
                write!(f, "submitted {seconds} s after the form was shown")
            }
            Spam::ForgedTimestamp => write!(f, "the form's timestamp is not one Inlet signed"),
            Spam::MissingTimestamp => write!(f, "the form's signed timestamp is missing"),
            Spam::Captcha(reason) => write!(f, "captcha: {reason}"),
        }
    }
}

/// A timestamp token: `<unix millis>.<hex HMAC(secret, millis)>`.
pub fn sign_timestamp(secret: &[u8], now_ms: i64) -> String {
    let ms = now_ms.to_string();
    format!(
        "{ms}.{}",
        hex::encode(crate::web::signature::sign(secret, &[ms.as_bytes()]))
    )
}

/// Checks a timestamp token: signed by us, and at least `min_fill` old. A token older
/// than a day is not accepted either (a replayed one).
pub fn check_timestamp(
    secret: &[u8],
    token: Option<&str>,
    min_fill: Duration,
    required: bool,
    now_ms: i64,
) -> Result<(), Spam> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        // Without JavaScript there is no token; a form may insist on one.
        return if required {
            Err(Spam::MissingTimestamp)
        } else {
            Ok(())
        };
    };
    let (ms, _) = token.split_once('.').ok_or(Spam::ForgedTimestamp)?;
    let shown: i64 = ms.parse().map_err(|_| Spam::ForgedTimestamp)?;
    // Compared whole and in constant time against the token Inlet would have signed.
    crate::web::signature::shared_secret(Some(token), &sign_timestamp(secret, shown), "ts")
        .map_err(|_| Spam::ForgedTimestamp)?;
    let age = now_ms - shown;
    if !(-60_000..=86_400_000).contains(&age) {
        return Err(Spam::ForgedTimestamp);
    }
    if age < min_fill.as_millis() as i64 {
        return Err(Spam::TooFast {
            seconds: age / 1000,
        });
    }
    Ok(())
}

/// The captcha services Inlet checks answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaProvider {
    Turnstile,
    Recaptcha,
    Hcaptcha,
}

impl CaptchaProvider {
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "turnstile" | "cloudflare" => Some(Self::Turnstile),
            "recaptcha" | "google" => Some(Self::Recaptcha),
            "hcaptcha" => Some(Self::Hcaptcha),
            _ => None,
        }
    }

    /// The form field the widget fills.
    pub fn name(self) -> &'static str {
        match self {
            Self::Turnstile => "turnstile",
            Self::Recaptcha => "recaptcha",
            Self::Hcaptcha => "hcaptcha",
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            Self::Turnstile => "cf-turnstile-response",
            Self::Recaptcha => "g-recaptcha-response",
            Self::Hcaptcha => "h-captcha-response",
        }
    }

    pub fn default_verify_url(self) -> &'static str {
        match self {
            Self::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            Self::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
            Self::Hcaptcha => "https://api.hcaptcha.com/siteverify",
        }
    }
}

/// A form's captcha settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Captcha {
    pub provider: CaptchaProvider,
    pub secret: String,
    pub verify_url: String,
    /// reCAPTCHA v3: the lowest score taken for a person.
    pub min_score: f64,
}

/// Checks a captcha answer with its provider.
#[async_trait]
pub trait CaptchaVerifier: Send + Sync {
    async fn verify(
        &self,
        captcha: &Captcha,
        response: &str,
        remote_ip: Option<&str>,
    ) -> Result<(), Spam>;
}

/// The providers' `siteverify` over HTTP (all three take the same form and answer
/// `{success, score?}`).
pub struct HttpCaptchaVerifier {
    /// Built on the first verification: a client trusting the system's roots loads them when
    /// built, and few forms use a captcha.
    http: std::sync::OnceLock<reqwest::Client>,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl HttpCaptchaVerifier {
    /// A verifier trusting the system's roots (`inlet serve`).
    pub fn new() -> Self {
        Self::with_tls(None)
    }

    /// A verifier trusting `tls`'s roots when given (the Lambda functions: `crate::tls`).
    pub fn with_tls(tls: Option<std::sync::Arc<rustls::ClientConfig>>) -> Self {
        HttpCaptchaVerifier {
            http: std::sync::OnceLock::new(),
            tls,
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::tls::reqwest_builder(self.tls.as_deref())
                .timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client")
        })
    }
}

impl Default for HttpCaptchaVerifier {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl CaptchaVerifier for HttpCaptchaVerifier {
    async fn verify(
        &self,
        captcha: &Captcha,
        response: &str,
        remote_ip: Option<&str>,
    ) -> Result<(), Spam> {
        // Built whole before the await: the serializer is not Send.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("secret", &captcha.secret)
                .append_pair("response", response);
            if let Some(ip) = remote_ip {
                form.append_pair("remoteip", ip);
            }
            form.finish()
        };
        let answer = self
            .http()
            .post(&captcha.verify_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|_| Spam::Captcha("the verification service did not answer".into()))?;
        let v: serde_json::Value = answer
            .json()
            .await
            .map_err(|_| Spam::Captcha("the verification service answered nonsense".into()))?;
        if v.get("success").and_then(serde_json::Value::as_bool) != Some(true) {
            let codes = v
                .get("error-codes")
                .map(|c| c.to_string())
                .unwrap_or_default();
            return Err(Spam::Captcha(format!("not passed {codes}")));
        }
        if let Some(score) = v.get("score").and_then(serde_json::Value::as_f64)
            && score < captcha.min_score
        {
            return Err(Spam::Captcha(format!(
                "score {score} under {}",
                captcha.min_score
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_timestamp_proves_the_fill_time() {
        let now = 1_800_000_000_000;
        let token = sign_timestamp(b"k", now - 10_000);
        assert_eq!(
            check_timestamp(b"k", Some(&token), Duration::from_secs(3), false, now),
            Ok(())
        );
        assert_eq!(
            check_timestamp(b"k", Some(&token), Duration::from_secs(30), false, now),
            Err(Spam::TooFast { seconds: 10 })
        );
        assert_eq!(
            check_timestamp(b"other", Some(&token), Duration::from_secs(3), false, now),
            Err(Spam::ForgedTimestamp)
        );
        let (ms, sig) = token.split_once('.').unwrap();
        let shifted = format!("{}.{sig}", ms.parse::<i64>().unwrap() - 60_000);
        assert_eq!(
            check_timestamp(b"k", Some(&shifted), Duration::from_secs(3), false, now),
            Err(Spam::ForgedTimestamp)
        );
        assert_eq!(
            check_timestamp(b"k", Some("123.abc"), Duration::from_secs(3), false, now),
            Err(Spam::ForgedTimestamp)
        );
        let old = sign_timestamp(b"k", now - 2 * 86_400_000);
        assert_eq!(
            check_timestamp(b"k", Some(&old), Duration::from_secs(3), false, now),
            Err(Spam::ForgedTimestamp)
        );
        assert_eq!(
            check_timestamp(b"k", None, Duration::from_secs(3), false, now),
            Ok(())
        );
        assert_eq!(
            check_timestamp(b"k", None, Duration::from_secs(3), true, now),
            Err(Spam::MissingTimestamp)
        );
    }
}
