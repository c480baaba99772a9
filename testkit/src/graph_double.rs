//! A double of Meta's Graph API for the one call Inlet makes: `GET /{leadgen_id}` with an
//! `access_token`, answering the lead objects it was given, 404 for others, and 401 for a
//! wrong token.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub struct GraphDouble {
    url: String,
    leads: Arc<Mutex<HashMap<String, Value>>>,
    calls: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for GraphDouble {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl GraphDouble {
    pub async fn start(token: &str) -> GraphDouble {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Graph double");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let leads: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let (l, c, token) = (leads.clone(), calls.clone(), token.to_owned());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (l, c, token) = (l.clone(), c.clone(), token.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (l, c, token) = (l.clone(), c.clone(), token.clone());
                        async move {
                            let id = req.uri().path().trim_matches('/').to_owned();
                            let query = req.uri().query().unwrap_or("").to_owned();
                            c.lock().unwrap().push(id.clone());
                            let authorized = query
                                .split('&')
                                .any(|p| p == format!("access_token={token}"));
                            let (status, body) = if !authorized {
                                (
                                    401,
                                    serde_json::json!({"error": {"message": "Invalid OAuth access token", "code": 190}}),
                                )
                            } else {
                                match l.lock().unwrap().get(&id) {
                                    Some(v) => (200, v.clone()),
                                    None => (
                                        404,
                                        serde_json::json!({"error": {"message": "Unsupported get request", "code": 100}}),
                                    ),
                                }
                            };
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body.to_string())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        GraphDouble {
            url,
            leads,
            calls,
            accept,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Makes `GET /{id}` answer this lead object.
    pub fn add_lead(&self, id: &str, lead: Value) {
        self.leads.lock().unwrap().insert(id.to_owned(), lead);
    }

    /// The lead ids asked for, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}
