//! A double of the captcha providers' `siteverify` (Turnstile, reCAPTCHA, hCaptcha all take
//! `secret` and `response` form fields). A response `pass` succeeds, `pass-0.3` succeeds
//! with that score (reCAPTCHA v3), anything else fails; a wrong secret fails too.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub struct CaptchaDouble {
    url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    ips: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for CaptchaDouble {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl CaptchaDouble {
    pub async fn start(secret: &str) -> CaptchaDouble {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the captcha double");
        let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let ips: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, secret, i) = (seen.clone(), secret.to_owned(), ips.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s, secret, i) = (s.clone(), secret.clone(), i.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (s, secret, i) = (s.clone(), secret.clone(), i.clone());
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let text = String::from_utf8_lossy(&body).into_owned();
                            let field = |name: &str| {
                                text.split('&')
                                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
                                    .unwrap_or("")
                                    .to_owned()
                            };
                            let (given, response) = (field("secret"), field("response"));
                            s.lock().unwrap().push((given.clone(), response.clone()));
                            let ip = field("remoteip");
                            if !ip.is_empty() {
                                i.lock().unwrap().push(ip);
                            }
                            let answer = if given != secret || !response.starts_with("pass") {
                                serde_json::json!({"success": false, "error-codes": ["invalid-input-response"]})
                            } else if let Some(score) = response
                                .strip_prefix("pass-")
                                .and_then(|s| s.parse::<f64>().ok())
                            {
                                serde_json::json!({"success": true, "score": score})
                            } else {
                                serde_json::json!({"success": true})
                            };
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(answer.to_string()),
                            )))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        CaptchaDouble {
            url,
            seen,
            ips,
            accept,
        }
    }

    /// The verify URL to configure.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// (secret, response) pairs it was asked about.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// The `remoteip`s it was given.
    pub fn remote_ips(&self) -> Vec<String> {
        self.ips.lock().unwrap().clone()
    }
}
