//! Credentials every source checks: sender webhooks' signatures and tokens, forms' signed
//! timestamps, Mailgun's signature. HMAC-SHA256 over the raw body bytes, compared with `hmac`'s
//! `verify_slice` (constant time, and a signature of the wrong length, empty included,
//! fails; the `standardwebhooks` crate's loop once accepted an empty one).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why a signature was refused (each a 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is not in the expected form")]
    Malformed(&'static str),
    #[error("the signature does not match")]
    Mismatch,
    #[error("the signature's timestamp is outside the accepted window")]
    Stale,
    #[error("the configured signing secret is not usable")]
    BadSecret,
}

/// How far a signed timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

fn verify(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> Result<(), SignatureError> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| SignatureError::BadSecret)?;
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The HMAC-SHA256 of the parts, for tests and for senders' fixtures.
pub fn sign(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hex_decode(name: &'static str, s: &str) -> Result<Vec<u8>, SignatureError> {
    hex::decode(s.trim()).map_err(|_| SignatureError::Malformed(name))
}

/// A signature header `prefix<encoded HMAC(secret, body)>`, decoded by `decode`.
fn body_signature(
    header: &'static str,
    value: Option<&str>,
    prefix: &str,
    secret: &[u8],
    body: &[u8],
    decode: fn(&str) -> Option<Vec<u8>>,
) -> Result<(), SignatureError> {
    let value = value.ok_or(SignatureError::Missing(header))?;
    let encoded = value
        .trim()
        .strip_prefix(prefix)
        .ok_or(SignatureError::Malformed(header))?;
    let expected = decode(encoded.trim()).ok_or(SignatureError::Malformed(header))?;
    verify(secret, &[body], &expected)
}

/// `prefix<hex>` of HMAC(secret, body): Meta (`sha256=`), Real Geeks (no prefix).
pub fn hex_body(
    header: &'static str,
    value: Option<&str>,
    prefix: &str,
    secret: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    body_signature(header, value, prefix, secret, body, |s| hex::decode(s).ok())
}

/// `prefix<base64>` of HMAC(secret, body): Typeform (`sha256=`).
pub fn base64_body(
    header: &'static str,
    value: Option<&str>,
    prefix: &str,
    secret: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    body_signature(header, value, prefix, secret, body, |s| B64.decode(s).ok())
}

fn fresh(timestamp_secs: i64, now_secs: i64) -> Result<(), SignatureError> {
    if (now_secs - timestamp_secs).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Webflow v2: hex HMAC(secret, `timestamp + ":" + body`), timestamp in milliseconds.
pub fn webflow(
    timestamp: Option<&str>,
    signature: Option<&str>,
    secret: &[u8],
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let ts = timestamp
        .ok_or(SignatureError::Missing("x-webflow-timestamp"))?
        .trim();
    let millis: i64 = ts
        .parse()
        .map_err(|_| SignatureError::Malformed("x-webflow-timestamp"))?;
    fresh(millis / 1000, now_secs)?;
    let sig = signature.ok_or(SignatureError::Missing("x-webflow-signature"))?;
    verify(
        secret,
        &[ts.as_bytes(), b":", body],
        &hex_decode("x-webflow-signature", sig)?,
    )
}

/// Mailgun's route forwards: hex HMAC-SHA256(signing key, timestamp + token) in
/// `signature`, at most `window_secs` old. The token is random per post; the caller refuses
/// one it has seen (a replay within the window).
pub fn mailgun(
    timestamp: Option<&str>,
    token: Option<&str>,
    signature: Option<&str>,
    key: &[u8],
    now_secs: i64,
    window_secs: i64,
) -> Result<(), SignatureError> {
    let ts = timestamp
        .ok_or(SignatureError::Missing("timestamp"))?
        .trim();
    let token = token.ok_or(SignatureError::Missing("token"))?.trim();
    let sig = signature.ok_or(SignatureError::Missing("signature"))?;
    let secs: i64 = ts
        .parse()
        .map_err(|_| SignatureError::Malformed("timestamp"))?;
    if (now_secs - secs).abs() > window_secs {
        return Err(SignatureError::Stale);
    }
    verify(
        key,
        &[ts.as_bytes(), token.as_bytes()],
        &hex_decode("signature", sig)?,
    )
}

/// Standard Webhooks (and Svix): `webhook-signature: v1,<b64> [v1,<b64> …]` over
/// `id.timestamp.body`, with a `whsec_` base64 secret; any listed signature may match
/// (key rotation); 5-minute window.
pub fn standard_webhooks(
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    secret: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let id = id.ok_or(SignatureError::Missing("webhook-id"))?.trim();
    let ts = timestamp
        .ok_or(SignatureError::Missing("webhook-timestamp"))?
        .trim();
    let secs: i64 = ts
        .parse()
        .map_err(|_| SignatureError::Malformed("webhook-timestamp"))?;
    fresh(secs, now_secs)?;
    let key = B64
        .decode(
            secret
                .trim()
                .strip_prefix("whsec_")
                .unwrap_or(secret.trim()),
        )
        .map_err(|_| SignatureError::BadSecret)?;
    let listed = signatures.ok_or(SignatureError::Missing("webhook-signature"))?;
    let mut any = false;
    for candidate in listed.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        any = true;
        let Ok(expected) = B64.decode(b64) else {
            continue;
        };
        if verify(
            &key,
            &[id.as_bytes(), b".", ts.as_bytes(), b".", body],
            &expected,
        )
        .is_ok()
        {
            return Ok(());
        }
    }
    if any {
        Err(SignatureError::Mismatch)
    } else {
        Err(SignatureError::Malformed("webhook-signature"))
    }
}

/// A shared secret carried in the body or a header (Google's `google_key`, Wufoo's
/// `HandshakeKey`, a token), compared in constant time.
pub fn shared_secret(
    given: Option<&str>,
    expected: &str,
    name: &'static str,
) -> Result<(), SignatureError> {
    let given = given.ok_or(SignatureError::Missing(name))?;
    // HMAC both with a fixed key so the comparison is constant-time whatever the lengths.
    let a = sign(b"inlet-shared-secret", &[given.as_bytes()]);
    verify(b"inlet-shared-secret", &[expected.as_bytes()], &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"lead":1}"#;

    #[test]
    fn hex_and_base64_body_signatures() {
        let sig = sign(b"secret", &[BODY]);
        let header = format!("sha256={}", hex::encode(&sig));
        assert_eq!(
            hex_body(
                "X-Hub-Signature-256",
                Some(&header),
                "sha256=",
                b"secret",
                BODY
            ),
            Ok(())
        );
        assert_eq!(
            hex_body(
                "X-Hub-Signature-256",
                Some(&header),
                "sha256=",
                b"other",
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            hex_body(
                "X-Hub-Signature-256",
                Some(&header),
                "sha256=",
                b"secret",
                b"{}"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            hex_body("X-Hub-Signature-256", None, "sha256=", b"secret", BODY),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        // Empty and short signatures fail, whatever their prefix says.
        for bad in ["sha256=", "sha256=ab", &header[..header.len() - 2]] {
            assert!(
                hex_body("h", Some(bad), "sha256=", b"secret", BODY).is_err(),
                "{bad}"
            );
        }
        let b64 = format!("sha256={}", B64.encode(&sig));
        assert_eq!(
            base64_body("Typeform-Signature", Some(&b64), "sha256=", b"secret", BODY),
            Ok(())
        );
        assert!(
            base64_body(
                "Typeform-Signature",
                Some("sha256="),
                "sha256=",
                b"secret",
                BODY
            )
            .is_err()
        );
    }

    #[test]
    fn standard_webhooks_with_rotation_and_a_window() {
        let key = b"0123456789abcdef0123456789abcdef";
        let secret = format!("whsec_{}", B64.encode(key));
        let now = 1_800_000_000;
        let ts = now.to_string();
        let good = B64.encode(sign(key, &[b"msg_1", b".", ts.as_bytes(), b".", BODY]));
        let rotated = format!(
            "v1,{} v1,{}",
            B64.encode(b"old signature of 32 bytes......."),
            good
        );
        assert_eq!(
            standard_webhooks(Some("msg_1"), Some(&ts), Some(&rotated), &secret, BODY, now),
            Ok(())
        );
        assert_eq!(
            standard_webhooks(Some("msg_2"), Some(&ts), Some(&rotated), &secret, BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            standard_webhooks(
                Some("msg_1"),
                Some(&ts),
                Some(&rotated),
                &secret,
                BODY,
                now + 301
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            standard_webhooks(Some("msg_1"), Some(&ts), Some("v1,"), &secret, BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert!(
            standard_webhooks(Some("msg_1"), Some(&ts), Some("v2,abc"), &secret, BODY, now)
                .is_err()
        );
    }

    #[test]
    fn webflow_signs_timestamp_colon_body() {
        let now = 1_800_000_000;
        let ts = (now * 1000).to_string();
        let sig = hex::encode(sign(b"wf", &[ts.as_bytes(), b":", BODY]));
        assert_eq!(webflow(Some(&ts), Some(&sig), b"wf", BODY, now), Ok(()));
        assert_eq!(
            webflow(Some(&ts), Some(&sig), b"wf", BODY, now + 600),
            Err(SignatureError::Stale)
        );
        assert!(webflow(Some(&ts), Some(""), b"wf", BODY, now).is_err());
    }

    #[test]
    fn shared_secrets_compare_whole() {
        assert_eq!(shared_secret(Some("abc"), "abc", "google_key"), Ok(()));
        assert!(shared_secret(Some("ab"), "abc", "google_key").is_err());
        assert!(shared_secret(Some(""), "abc", "google_key").is_err());
        assert!(shared_secret(None, "abc", "google_key").is_err());
    }
}
