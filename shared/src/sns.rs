//! The SNS port: what receiving leads through Amazon SNS needs from the network, the
//! signing certificate (fetched once per URL and kept) and the GET that confirms a
//! subscription. The URLs come already checked (`web::sns`): https on an SNS host.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why the network step failed (the sender is told to retry: SNS does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SnsFetchError(pub String);

#[async_trait]
pub trait SnsEndpoint: Send + Sync {
    /// The PEM certificate at `url`.
    async fn certificate(&self, url: &url::Url) -> Result<Arc<Vec<u8>>, SnsFetchError>;
    /// Confirms a subscription by a GET of its `SubscribeURL`.
    async fn confirm(&self, subscribe_url: &url::Url) -> Result<(), SnsFetchError>;
}

/// How long a certificate is kept: SNS names a new certificate by a new URL, so this only
/// bounds how long a revoked one could still be trusted.
const CERTIFICATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// SNS signs with one or two certificates per region: a handful is all a cache needs.
const CACHED_CERTIFICATES: usize = 16;
/// A PEM certificate is 2 KB; nothing larger is read.
const CERTIFICATE_LIMIT: usize = 16 * 1024;

/// Certificates by URL, with when each was fetched.
type CertificateCache = HashMap<String, (Arc<Vec<u8>>, Instant)>;

/// SNS over HTTPS with reqwest: no redirects followed (a redirect could lead off the SNS
/// host), five seconds per call.
pub struct HttpsSns {
    http: std::sync::OnceLock<reqwest::Client>,
    tls: Option<Arc<rustls::ClientConfig>>,
    cache: Mutex<CertificateCache>,
    #[cfg(test)]
    test_client: Option<(reqwest::Client, u16)>,
}

impl HttpsSns {
    /// Trusting `tls`'s roots when given (the Lambda functions), the system's otherwise.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        HttpsSns {
            http: std::sync::OnceLock::new(),
            tls,
            cache: Mutex::new(HashMap::new()),
            #[cfg(test)]
            test_client: None,
        }
    }

    fn http(&self) -> &reqwest::Client {
        #[cfg(test)]
        if let Some((client, _)) = &self.test_client {
            return client;
        }
        self.http.get_or_init(|| {
            crate::tls::reqwest_builder(self.tls.as_deref())
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client")
        })
    }

    /// The URL as called: the tests' server listens on a port of its own.
    fn target(&self, url: &url::Url) -> url::Url {
        #[cfg(test)]
        if let Some((_, port)) = &self.test_client {
            let mut url = url.clone();
            url.set_port(Some(*port)).expect("an https URL");
            return url;
        }
        url.clone()
    }

    async fn get(&self, url: &url::Url, limit: usize) -> Result<Vec<u8>, SnsFetchError> {
        let host = url.host_str().unwrap_or("");
        let fail =
            |what: String| SnsFetchError(format!("GET https://{host}{}: {what}", url.path()));
        let mut response = self
            .http()
            .get(self.target(url))
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(fail(format!("answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > limit {
                return Err(fail(format!("more than {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl SnsEndpoint for HttpsSns {
    async fn certificate(&self, url: &url::Url) -> Result<Arc<Vec<u8>>, SnsFetchError> {
        let key = url.as_str().to_owned();
        if let Some((pem, at)) = self.cache.lock().expect("cache").get(&key)
            && at.elapsed() < CERTIFICATE_TTL
        {
            return Ok(pem.clone());
        }
        let pem = Arc::new(self.get(url, CERTIFICATE_LIMIT).await?);
        let mut cache = self.cache.lock().expect("cache");
        if cache.len() >= CACHED_CERTIFICATES {
            cache.clear();
        }
        cache.insert(key, (pem.clone(), Instant::now()));
        Ok(pem)
    }

    async fn confirm(&self, subscribe_url: &url::Url) -> Result<(), SnsFetchError> {
        self.get(subscribe_url, 64 * 1024).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_server::{Behaviour, start_for};

    const HOST: &str = "sns.us-west-2.amazonaws.com";

    async fn sns_against(behaviour: Behaviour) -> (HttpsSns, crate::tls::test_server::Server) {
        let server = start_for(&[HOST], behaviour).await;
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(server.ca_pem.as_bytes()).unwrap()])
            .resolve(HOST, ([127, 0, 0, 1], server.port).into())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let mut sns = HttpsSns::new(None);
        sns.test_client = Some((client, server.port));
        (sns, server)
    }

    fn url(path: &str) -> url::Url {
        url::Url::parse(&format!("https://{HOST}{path}")).unwrap()
    }

    #[tokio::test]
    async fn a_certificate_is_fetched_once_and_kept() {
        let (sns, server) = sns_against(Behaviour::Answer("-----BEGIN CERTIFICATE-----")).await;
        let cert = url("/SimpleNotificationService-1.pem");
        for _ in 0..3 {
            let pem = sns.certificate(&cert).await.unwrap();
            assert_eq!(pem.as_slice(), b"-----BEGIN CERTIFICATE-----");
        }
        assert_eq!(server.requests(), 1, "one fetch for three messages");
        sns.certificate(&url("/SimpleNotificationService-2.pem"))
            .await
            .unwrap();
        assert_eq!(server.requests(), 2, "a new certificate is a new URL");
        sns.confirm(&url("/?Action=ConfirmSubscription&Token=t"))
            .await
            .unwrap();
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn redirects_errors_and_oversized_answers_are_failures() {
        let (sns, _s) = sns_against(Behaviour::Status(
            "302 Found\r\nlocation: https://evil.example/cert.pem",
        ))
        .await;
        let e = sns.certificate(&url("/a.pem")).await.unwrap_err();
        assert!(e.0.contains("302"), "{e}");
        let (sns, _s) = sns_against(Behaviour::Status("500 Internal Server Error")).await;
        assert!(
            sns.confirm(&url("/?Action=ConfirmSubscription"))
                .await
                .is_err()
        );
        let big: &'static str = Box::leak("A".repeat(CERTIFICATE_LIMIT + 1).into_boxed_str());
        let (sns, _s) = sns_against(Behaviour::Answer(big)).await;
        let e = sns.certificate(&url("/big.pem")).await.unwrap_err();
        assert!(e.0.contains("more than"), "{e}");
        let (sns, _s) = sns_against(Behaviour::Silent).await;
        assert!(sns.certificate(&url("/slow.pem")).await.is_err());
    }
}
