//! Amazon SNS's HTTPS deliveries, as Zillow Tech Connect sends leads through them: the
//! envelope (`Type`, `Message` as a JSON string, sent as `text/plain`), the checks on the URLs
//! it names, and its signature. Plain functions: the certificate is fetched, and the
//! subscription confirmed, by the `sns` port (`crate::sns`), which calls these.
//!
//! The signature (AWS's "Verifying the signatures of Amazon SNS messages"): RSA PKCS #1 v1.5
//! over "Key\nValue\n" lines of fixed fields in a fixed order, SHA1 for `SignatureVersion`
//! 1 and SHA256 for 2, with the key of the X.509 certificate at `SigningCertURL`. That URL,
//! and a `SubscribeURL`, must be https on an `sns.<region>.amazonaws.com` host, or anyone
//! could sign with a certificate of their own, or make Inlet fetch any address. A valid
//! signature proves only that SNS sent it, from any AWS account's topic; who may send leads
//! is decided by the Basic auth partners configure and, optionally, the topics allowed.

use serde::Deserialize;

/// An SNS message as delivered over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    #[serde(default)]
    pub token: Option<String>,
    pub topic_arn: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    #[serde(default, rename = "SubscribeURL", alias = "SubscribeUrl")]
    pub subscribe_url: Option<String>,
}

/// What an SNS message asks of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsKind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

/// Why an SNS message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    #[error("the SNS message type {0:?} is not one SNS sends")]
    UnknownType(String),
    #[error("the SNS {field} is not an https URL on an sns.<region>.amazonaws.com host")]
    UntrustedUrl { field: &'static str },
    #[error("the SNS signature version {0:?} is not 1 or 2")]
    UnknownVersion(String),
    #[error("a {0} needs its {1}")]
    Missing(&'static str, &'static str),
    #[error("the signing certificate is not a usable X.509 RSA certificate: {0}")]
    BadCertificate(String),
    #[error("the SNS signature does not match the message")]
    Mismatch,
}

/// The SNS envelope in a body, when the body is one: the fields every SNS message carries.
pub fn envelope(body: &[u8]) -> Option<SnsMessage> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(body).ok()
}

impl SnsMessage {
    pub fn kind(&self) -> Result<SnsKind, SnsError> {
        match self.kind.as_str() {
            "Notification" => Ok(SnsKind::Notification),
            "SubscriptionConfirmation" => Ok(SnsKind::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Ok(SnsKind::UnsubscribeConfirmation),
            other => Err(SnsError::UnknownType(other.to_owned())),
        }
    }

    /// The text SNS signed: "Key\nValue\n" for each field of the message's type, in order.
    pub fn string_to_sign(&self) -> Result<String, SnsError> {
        let kind = self.kind()?;
        let mut fields: Vec<(&str, &str)> = vec![("Message", &self.message)];
        fields.push(("MessageId", &self.message_id));
        match kind {
            SnsKind::Notification => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp));
            }
            SnsKind::SubscriptionConfirmation | SnsKind::UnsubscribeConfirmation => {
                let url = self
                    .subscribe_url
                    .as_deref()
                    .ok_or(SnsError::Missing("subscription message", "SubscribeURL"))?;
                let token = self
                    .token
                    .as_deref()
                    .ok_or(SnsError::Missing("subscription message", "Token"))?;
                fields.push(("SubscribeURL", url));
                fields.push(("Timestamp", &self.timestamp));
                fields.push(("Token", token));
            }
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        Ok(fields
            .into_iter()
            .map(|(k, v)| format!("{k}\n{v}\n"))
            .collect())
    }

    /// The certificate's URL, once checked.
    pub fn certificate_url(&self) -> Result<url::Url, SnsError> {
        let url = aws_url(&self.signing_cert_url, "SigningCertURL")?;
        if !url.path().ends_with(".pem") {
            return Err(SnsError::UntrustedUrl {
                field: "SigningCertURL",
            });
        }
        Ok(url)
    }

    /// The URL that confirms a subscription, once checked.
    pub fn confirmation_url(&self) -> Result<url::Url, SnsError> {
        let given = self.subscribe_url.as_deref().ok_or(SnsError::Missing(
            "SubscriptionConfirmation",
            "SubscribeURL",
        ))?;
        aws_url(given, "SubscribeURL")
    }

    /// Checks the signature with the certificate fetched from `certificate_url` (PEM).
    pub fn verify(&self, certificate_pem: &[u8], now_unix: i64) -> Result<(), SnsError> {
        use aws_lc_rs::signature;
        use base64::Engine;
        let algorithm = match self.signature_version.as_str() {
            "1" => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &signature::RSA_PKCS1_2048_8192_SHA256,
            other => return Err(SnsError::UnknownVersion(other.to_owned())),
        };
        let bad = |m: &str| SnsError::BadCertificate(m.to_owned());
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(certificate_pem).map_err(|_| bad("not PEM"))?;
        let cert = pem.parse_x509().map_err(|_| bad("not X.509 DER"))?;
        if !cert.validity().is_valid_at(
            x509_parser::time::ASN1Time::from_timestamp(now_unix).map_err(|_| bad("the clock"))?,
        ) {
            return Err(bad("outside its validity"));
        }
        let spki = cert.public_key();
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            return Err(bad("not an RSA key"));
        }
        let sig = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .map_err(|_| SnsError::Mismatch)?;
        let text = self.string_to_sign()?;
        signature::UnparsedPublicKey::new(algorithm, &spki.subject_public_key.data)
            .verify(text.as_bytes(), &sig)
            .map_err(|_| SnsError::Mismatch)
    }
}

/// An https URL on an SNS host (`sns.us-east-1.amazonaws.com`, `sns.cn-north-1.amazonaws.com.cn`),
/// with no credentials and no port but https's: parsed as a browser parses it, so that
/// `https://sns.us-east-1.amazonaws.com@evil.example/` is evil.example, and refused.
fn aws_url(given: &str, field: &'static str) -> Result<url::Url, SnsError> {
    let refuse = || SnsError::UntrustedUrl { field };
    let url = url::Url::parse(given).map_err(|_| refuse())?;
    if url.scheme() != "https"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port().is_some_and(|p| p != 443)
    {
        return Err(refuse());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(refuse());
    };
    let region = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .and_then(|h| h.strip_prefix("sns."))
        .ok_or_else(refuse)?;
    let region_like = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-');
    if !region_like {
        return Err(refuse());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: &str) -> SnsMessage {
        SnsMessage {
            kind: kind.into(),
            message_id: "m-1".into(),
            token: Some("tok".into()),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:leads".into(),
            subject: None,
            message: "{\"a\":1}".into(),
            timestamp: "2026-12-03T10:00:00.000Z".into(),
            signature_version: "1".into(),
            signature: String::new(),
            signing_cert_url:
                "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem".into(),
            subscribe_url: Some(
                "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=tok".into(),
            ),
        }
    }

    #[test]
    fn the_string_to_sign_follows_the_type() {
        let n = message("Notification");
        assert_eq!(
            n.string_to_sign().unwrap(),
            "Message\n{\"a\":1}\nMessageId\nm-1\nTimestamp\n2026-12-03T10:00:00.000Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:leads\nType\nNotification\n"
        );
        let with_subject = SnsMessage {
            subject: Some("New lead".into()),
            ..n
        };
        assert!(
            with_subject
                .string_to_sign()
                .unwrap()
                .contains("MessageId\nm-1\nSubject\nNew lead\nTimestamp\n")
        );
        let c = message("SubscriptionConfirmation");
        assert_eq!(
            c.string_to_sign().unwrap(),
            "Message\n{\"a\":1}\nMessageId\nm-1\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=tok\nTimestamp\n2026-12-03T10:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-west-2:123456789012:leads\nType\nSubscriptionConfirmation\n"
        );
        assert!(matches!(
            message("Nonsense").string_to_sign(),
            Err(SnsError::UnknownType(_))
        ));
    }

    #[test]
    fn only_https_sns_hosts_are_trusted() {
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
            "https://sns.us-gov-west-1.amazonaws.com:443/x.pem",
        ] {
            assert!(aws_url(good, "f").is_ok(), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
            "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://s3.us-east-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://sns.us_east.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://xsns.us-east-1.amazonaws.com/x.pem",
            "https://54.239.0.1/x.pem",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(aws_url(bad, "f").is_err(), "{bad}");
        }
        let mut m = message("Notification");
        m.signing_cert_url = "https://sns.us-east-1.amazonaws.com/?Action=Anything".into();
        assert!(m.certificate_url().is_err(), "a certificate is a .pem");
    }

    #[test]
    fn an_envelope_is_recognized_only_with_every_field() {
        let body = br#"{"Type":"Notification","MessageId":"1","TopicArn":"arn:x","Message":"{}","Timestamp":"t","SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"https://sns.us-east-1.amazonaws.com/a.pem"}"#;
        assert!(envelope(body).is_some());
        assert!(envelope(br#"{"Type":"Notification","Message":"{}"}"#).is_none());
        assert!(envelope(b"name=Ana").is_none());
    }

    const CERT: &[u8] = include_bytes!("../../tests/fixtures/webhooks/sns/cert.pem");

    fn fixture(name: &str) -> SnsMessage {
        let path = format!(
            "{}/tests/fixtures/webhooks/sns/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        envelope(&std::fs::read(path).unwrap()).unwrap()
    }

    /// The fixtures' certificate is valid for ten years from when make.py last ran.
    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn signatures_of_both_versions_verify_and_any_change_breaks_them() {
        for name in [
            "notification-v1.json",
            "notification-v2.json",
            "subscription.json",
        ] {
            let m = fixture(name);
            assert_eq!(m.verify(CERT, now()), Ok(()), "{name}");
            let changed = SnsMessage {
                message: m
                    .message
                    .replace("Rosa", "Rosie")
                    .replace("subscribe", "Subscribe"),
                ..m.clone()
            };
            assert_eq!(
                changed.verify(CERT, now()),
                Err(SnsError::Mismatch),
                "{name}"
            );
            let other_topic = SnsMessage {
                topic_arn: "arn:aws:sns:us-west-2:999999999999:other".into(),
                ..m.clone()
            };
            assert_eq!(other_topic.verify(CERT, now()), Err(SnsError::Mismatch));
            // A v1 signature claimed as v2 (or the reverse) is not the same signature.
            let swapped = SnsMessage {
                signature_version: if m.signature_version == "1" { "2" } else { "1" }.into(),
                ..m.clone()
            };
            assert_eq!(swapped.verify(CERT, now()), Err(SnsError::Mismatch));
            let garbled = SnsMessage {
                signature: "not base64!".into(),
                ..m.clone()
            };
            assert_eq!(garbled.verify(CERT, now()), Err(SnsError::Mismatch));
        }
        let m = fixture("notification-v1.json");
        assert!(matches!(
            SnsMessage {
                signature_version: "3".into(),
                ..m.clone()
            }
            .verify(CERT, now()),
            Err(SnsError::UnknownVersion(_))
        ));
        assert!(matches!(
            m.verify(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                now()
            ),
            Err(SnsError::BadCertificate(_))
        ));
        assert!(matches!(
            m.verify(b"<html>", now()),
            Err(SnsError::BadCertificate(_))
        ));
        let in_twenty_years = now() + 20 * 365 * 86400;
        assert!(matches!(
            m.verify(CERT, in_twenty_years),
            Err(SnsError::BadCertificate(_))
        ));
    }
}
