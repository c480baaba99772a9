//! The HTTPS client the Lambda functions give the AWS SDK.
//!
//! The SDK's default client trusts the system's roots, decoded from the bundle file at init
//! (about 1.3 ms of a cold start), and each service client's configuration check then builds
//! a connector that parses all ~140 roots again. This client takes its TLS configuration from
//! `crate::tls` (roots compiled in, nothing read or decoded) and builds connectors only when
//! a call needs one. Otherwise it is the stack the SDK's default client is built from
//! (hyper 1, hyper-rustls, rustls on aws-lc-rs, HTTP/1.1, TCP_NODELAY, no proxy), with the
//! SDK's connect timeout around TCP and TLS, its read timeout around the whole call, and its
//! errors classified as the SDK classifies them, so that its retries behave the same. The
//! SDK's builder cannot take a TLS connector of one's own (`wrap_connector` is
//! crate-private), hence this adapter.

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use http::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::borrow::Cow;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The SDK's HTTP client for the Lambda functions (see the module's comment). One per
/// process, shared by every service client; a connector per distinct pair of timeouts.
#[derive(Debug, Clone)]
pub struct LambdaHttpsClient {
    tls: Arc<rustls::ClientConfig>,
    connectors: Arc<Mutex<Vec<(Timeouts, SharedHttpConnector)>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl LambdaHttpsClient {
    /// A client speaking TLS as `tls` says (`crate::tls::lambda_client_config`).
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            tls,
            connectors: Arc::default(),
        }
    }

    fn connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never expires idle connections.
            .pool_timer(TokioTimer::new())
            .build(ConnectWithin {
                inner: https,
                limit: timeouts.connect,
            });
        let connector = SharedHttpConnector::new(Connector {
            client,
            read_timeout: timeouts.read,
        });
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

impl HttpClient for LambdaHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

#[derive(Debug)]
struct Connector {
    client: Client<ConnectWithin<HttpsConnector<TcpConnector>>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(response) => response,
                    Err(_) => {
                        return Err(ConnectorError::timeout(Box::new(TimedOut::Read(limit))));
                    }
                },
                None => response.await,
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(classify(e)),
            }
        })
    }
}

/// A connect or read that took longer than the SDK's setting.
#[derive(Debug, thiserror::Error)]
enum TimedOut {
    #[error("connecting took longer than {0:?}")]
    Connect(Duration),
    #[error("no response within {0:?}")]
    Read(Duration),
}

/// The TLS connector with the connect timeout around TCP and the handshake both, as the SDK's
/// own connector has it.
#[derive(Debug, Clone)]
struct ConnectWithin<C> {
    inner: C,
    limit: Option<Duration>,
}

impl<C> tower_service::Service<Uri> for ConnectWithin<C>
where
    C: tower_service::Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected.map_err(Into::into),
                    Err(_) => Err(Box::new(TimedOut::Connect(limit)) as BoxError),
                },
                None => connecting.await.map_err(Into::into),
            }
        })
    }
}

/// The SDK's reading of a failed call, which its retry strategy acts on: timeouts and I/O
/// (refused, reset, closed) are transient, a request the client could not send is the
/// caller's, an incomplete answer is transient, anything else is not retried.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let first: &(dyn StdError + 'static) = &error;
    let chain = || std::iter::successors(Some(first), |&e| e.source());
    if chain().any(|e| e.is::<TimedOut>()) {
        return ConnectorError::timeout(error.into());
    }
    if let Some(hyper_error) = chain().find_map(|e| e.downcast_ref::<hyper::Error>()) {
        if hyper_error.is_timeout() {
            return ConnectorError::timeout(error.into());
        }
        if hyper_error.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper_error.is_closed()
            || hyper_error.is_canceled()
            || chain().any(|e| e.is::<std::io::Error>())
        {
            return ConnectorError::io(error.into());
        }
        if hyper_error.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
        return ConnectorError::other(error.into(), None);
    }
    if error.is_connect() || chain().any(|e| e.is::<std::io::Error>()) {
        return ConnectorError::io(error.into());
    }
    ConnectorError::other(error.into(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_server::{self, Behaviour};

    fn trusting(server: &test_server::Server) -> LambdaHttpsClient {
        let file = std::env::temp_dir().join(format!(
            "inlet-https-{}-{}.pem",
            std::process::id(),
            server.port
        ));
        let ca_pem = &server.ca_pem;
        std::fs::write(&file, ca_pem).unwrap();
        let roots = crate::tls::trust_store(Some(&file)).unwrap();
        LambdaHttpsClient::new(Arc::new(crate::tls::client_config(roots)))
    }

    fn mozillas() -> LambdaHttpsClient {
        LambdaHttpsClient::new(crate::tls::lambda_client_config_from(None).unwrap())
    }

    /// Whether an error in `e`'s chain says `text`.
    fn says(e: &ConnectorError, text: &str) -> bool {
        let first: &(dyn StdError + 'static) = e;
        std::iter::successors(Some(first), |&e| e.source()).any(|e| e.to_string() == text)
    }

    async fn get(
        client: &LambdaHttpsClient,
        url: &str,
        connect: Option<Duration>,
        read: Option<Duration>,
    ) -> Result<HttpResponse, ConnectorError> {
        let request = HttpRequest::try_from(
            http::Request::builder()
                .uri(url)
                .body(SdkBody::empty())
                .unwrap(),
        )
        .unwrap();
        client
            .connector(Timeouts { connect, read })
            .call(request)
            .await
    }

    #[tokio::test]
    async fn answers_over_tls_from_a_trusted_server() {
        let server = test_server::start(Behaviour::Answer(r#"{"ok":true}"#)).await;
        let client = trusting(&server);
        let url = format!("https://localhost:{}/", server.port);
        for _ in 0..2 {
            let response = get(&client, &url, None, None).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            use http_body_util::BodyExt;
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], br#"{"ok":true}"#);
        }
    }

    /// A certificate the roots do not vouch for fails the call, as I/O (what the SDK's own
    /// client reports, and retries).
    #[tokio::test]
    async fn an_untrusted_certificate_is_refused() {
        let server = test_server::start(Behaviour::Answer("{}")).await;
        let url = format!("https://localhost:{}/", server.port);
        let e = get(&mozillas(), &url, None, None).await.unwrap_err();
        assert!(e.is_io(), "{e:?}");
        assert!(format!("{e:?}").contains("UnknownIssuer"), "{e:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_io() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("https://127.0.0.1:{port}/");
        let e = get(&mozillas(), &url, None, None).await.unwrap_err();
        assert!(e.is_io(), "{e:?}");
    }

    /// The connect timeout covers the TLS handshake, not only TCP.
    #[tokio::test]
    async fn a_handshake_that_never_ends_is_a_connect_timeout() {
        let server = test_server::start(Behaviour::NoHandshake).await;
        let client = trusting(&server);
        let url = format!("https://localhost:{}/", server.port);
        let started = std::time::Instant::now();
        let e = get(&client, &url, Some(Duration::from_millis(200)), None)
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(says(&e, "connecting took longer than 200ms"), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_read_timeout() {
        let server = test_server::start(Behaviour::Silent).await;
        let client = trusting(&server);
        let url = format!("https://localhost:{}/", server.port);
        let e = get(&client, &url, None, Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(says(&e, "no response within 200ms"), "{e:?}");
    }

    #[test]
    fn one_connector_per_pair_of_timeouts() {
        let client = mozillas();
        let a = Timeouts {
            connect: Some(Duration::from_secs(3)),
            read: None,
        };
        let b = Timeouts {
            connect: Some(Duration::from_secs(3)),
            read: Some(Duration::from_secs(1)),
        };
        client.connector(a);
        client.connector(a);
        client.connector(b);
        assert_eq!(client.connectors.lock().unwrap().len(), 2);
    }

    /// The SDK itself, signing and all, over this client and TLS: an SQS call to a server
    /// with a private CA's certificate.
    #[tokio::test]
    async fn the_sdk_calls_through_it() {
        let server = test_server::start(Behaviour::Answer(
            r#"{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/inlet.fifo"}"#,
        ))
        .await;
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(format!("https://localhost:{}", server.port))
            .http_client(trusting(&server))
            .build();
        let out = aws_sdk_sqs::Client::from_conf(config)
            .get_queue_url()
            .queue_name("inlet.fifo")
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.queue_url(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/inlet.fifo")
        );
    }
}
