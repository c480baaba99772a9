//! What the Lambda functions' outbound HTTPS trusts: AWS through the SDK, Rechat, Meta's
//! Graph API and captcha services alike.
//!
//! The usual source, the system's roots, is read from its bundle file and its PEM decoded
//! with pki-types' constant-time base64 whenever a client is built: about 1.3 ms of a cold
//! start each time on the `lambda_init` bench, more than the rest of Inlet's init. So on
//! Lambda the roots are Mozilla's, compiled into the binary (webpki-roots: nothing read,
//! nothing decoded), unless `SSL_CERT_FILE` names a PEM file, which then replaces them, as
//! it replaces the system's for OpenSSL (a private CA in front of an endpoint). Lambda sets
//! no `SSL_CERT_FILE`. `inlet serve` keeps the system's roots, where an administrator
//! may have added a CA of their own.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// Why the trust store could not be built.
#[derive(Debug, thiserror::Error)]
#[error("SSL_CERT_FILE {path}: {reason}")]
pub struct RootsError {
    pub path: String,
    pub reason: String,
}

/// The roots to trust: the PEM certificates of `cert_file` when one is given, Mozilla's
/// compiled in otherwise.
pub fn trust_store(cert_file: Option<&Path>) -> Result<RootCertStore, RootsError> {
    let Some(path) = cert_file else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let error = |reason: String| RootsError {
        path: path.display().to_string(),
        reason,
    };
    let mut store = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))? {
        let certificate = certificate.map_err(|e| error(e.to_string()))?;
        store
            .add(certificate)
            .map_err(|e| error(format!("not a usable root certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err(error("no certificate in the file".into()));
    }
    Ok(store)
}

/// A TLS client configuration trusting `roots`: TLS 1.2 and 1.3 on aws-lc-rs, as the AWS
/// SDK's and reqwest's own are.
pub fn client_config(roots: RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// The Lambda functions' TLS configuration, from the environment (`SSL_CERT_FILE`, or
/// Mozilla's roots).
pub fn lambda_client_config() -> Result<Arc<rustls::ClientConfig>, RootsError> {
    lambda_client_config_from(std::env::var_os("SSL_CERT_FILE").as_deref())
}

/// [`lambda_client_config`] with the value of `SSL_CERT_FILE` given (empty counts as unset).
pub fn lambda_client_config_from(
    cert_file: Option<&std::ffi::OsStr>,
) -> Result<Arc<rustls::ClientConfig>, RootsError> {
    let file = cert_file.filter(|f| !f.is_empty()).map(Path::new);
    Ok(Arc::new(client_config(trust_store(file)?)))
}

/// A reqwest client builder trusting `tls`'s roots when given, the system's otherwise.
pub fn reqwest_builder(tls: Option<&rustls::ClientConfig>) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match tls {
        // reqwest takes a rustls configuration of the version it links; were they ever to
        // differ, `build` fails rather than fall back (tested below).
        Some(tls) => builder.tls_backend_preconfigured(tls.clone()),
        None => builder,
    }
}

#[cfg(test)]
pub(crate) mod test_server {
    //! A private CA and an HTTPS server on loopback that behaves as a test asks.

    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the server does with a connection.
    #[derive(Clone, Copy)]
    pub enum Behaviour {
        /// Completes the handshake and answers every request with `answer`.
        Answer(&'static str),
        /// Accepts TCP and never says anything: the handshake never ends.
        NoHandshake,
        /// Completes the handshake, reads the request and never answers.
        Silent,
        /// Answers every request with this status line (and any headers after it, each
        /// line ending `\r\n`), and no body.
        Status(&'static str),
    }

    pub struct Server {
        pub port: u16,
        /// The CA that signed the server's certificate for `localhost`, as PEM.
        pub ca_pem: String,
        requests: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Server {
        /// The requests the server has read.
        pub fn requests(&self) -> usize {
            self.requests.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    pub async fn start(behaviour: Behaviour) -> Server {
        start_for(&["localhost"], behaviour).await
    }

    /// A server whose certificate names `hosts` (a client reaches it by resolving them to
    /// 127.0.0.1).
    pub async fn start_for(hosts: &[&str], behaviour: Behaviour) -> Server {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Inlet test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    if let Behaviour::NoHandshake = behaviour {
                        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                        drop(tcp);
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok(n) = tls.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        if request.windows(4).any(|w| w == b"\r\n\r\n") {
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            match behaviour {
                                Behaviour::Status(status) => {
                                    let response =
                                        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                                    if tls.write_all(response.as_bytes()).await.is_err() {
                                        return;
                                    }
                                    request.clear();
                                }
                                Behaviour::Answer(answer) => {
                                    let response = format!(
                                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
                                        answer.len()
                                    );
                                    if tls.write_all(response.as_bytes()).await.is_err() {
                                        return;
                                    }
                                    request.clear();
                                }
                                _ => {
                                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Server {
            port,
            ca_pem: ca.pem(),
            requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("inlet-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn without_a_file_the_roots_are_mozillas() {
        let store = trust_store(None).unwrap();
        assert_eq!(store.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(store.len() > 100, "{}", store.len());
    }

    #[tokio::test]
    async fn a_file_replaces_them_with_its_certificates() {
        let server = test_server::start(test_server::Behaviour::NoHandshake).await;
        let file = pem_file("one.pem", &server.ca_pem);
        assert_eq!(trust_store(Some(&file)).unwrap().len(), 1);
    }

    #[test]
    fn a_file_that_gives_no_root_is_an_error_naming_it() {
        let empty = pem_file("empty.pem", "# nothing here\n");
        let e = trust_store(Some(&empty)).unwrap_err();
        assert_eq!(e.path, empty.display().to_string());
        assert!(e.reason.contains("no certificate"), "{e}");
        let missing = std::path::Path::new("/nonexistent/inlet/roots.pem");
        let e = trust_store(Some(missing)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SSL_CERT_FILE /nonexistent/inlet/roots.pem: "),
            "{e}"
        );
        let garbage = pem_file(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        );
        let e = trust_store(Some(&garbage)).unwrap_err();
        assert!(e.reason.contains("not a usable root"), "{e}");
    }

    /// reqwest accepts the configuration as its TLS backend (it would fail `build` if its
    /// rustls were another version) and verifies with its roots: the private CA's server is
    /// reached when the CA is trusted and refused with Mozilla's roots.
    #[tokio::test]
    async fn reqwest_clients_trust_the_configured_roots() {
        let server = test_server::start(test_server::Behaviour::Answer("{}")).await;
        let url = format!("https://localhost:{}/", server.port);
        let file = pem_file("ca.pem", &server.ca_pem);
        let private = client_config(trust_store(Some(&file)).unwrap());
        let client = reqwest_builder(Some(&private)).build().unwrap();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "{}");

        let mozilla = client_config(trust_store(None).unwrap());
        let client = reqwest_builder(Some(&mozilla)).build().unwrap();
        let e = client.get(&url).send().await.unwrap_err();
        assert!(e.is_connect(), "{e:?}");
    }
}
