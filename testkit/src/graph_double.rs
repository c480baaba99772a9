//! A double of Meta's Graph API for the calls Inlet makes with a page token, as Graph answers
//! them:
//!
//! - `GET /{leadgen_id}`: the lead object it was given, 404 (code 100) for others;
//! - `GET /{page_id}/leadgen_forms`: the page's forms (`{id, name, status}`);
//! - `GET /{form_id}/leads?filtering=[{"field":"time_created","operator":"GREATER_THAN",
//!   "value":<unix>}]`: the form's leads created after that time, newest first, with the
//!   fields asked (`id,created_time,is_organic`; `field_data` only when asked);
//! - listings paged by `limit` (25 by default, 100 at most) with `paging.cursors.after` and a
//!   `paging.next` URL (carrying the token, as Graph's does) while more remain;
//! - `access_token` checked on every call: 400 with code 190 for a token it does not know,
//!   190/463 for one expired;
//! - the usage headers it is told to send (`X-App-Usage`, `X-Business-Use-Case-Usage`), and
//!   faults queued for the next calls (a transient 500 with code 2, a rate limit with 32).

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A form's lead: its object (served by id) and when it was created (unix seconds).
#[derive(Clone)]
struct FormLead {
    id: String,
    created: i64,
}

#[derive(Default)]
struct State {
    tokens: HashSet<String>,
    expired: HashSet<String>,
    leads: HashMap<String, Value>,
    /// Forms by page, in the order added.
    forms: BTreeMap<String, Vec<Value>>,
    form_leads: HashMap<String, Vec<FormLead>>,
    headers: Vec<(String, String)>,
    faults: VecDeque<(u16, Value)>,
    calls: Vec<String>,
    queries: Vec<String>,
}

pub struct GraphDouble {
    url: String,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for GraphDouble {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Meta's time format.
pub fn meta_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("a time Meta could give")
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

/// Meta's `leadgen` notification of these leads of a page's form, as Meta posts it to the
/// webhook.
pub fn leadgen_notification(page_id: &str, form_id: &str, lead_ids: &[String]) -> Value {
    let changes: Vec<Value> = lead_ids
        .iter()
        .map(|id| json!({"field": "leadgen", "value": {"leadgen_id": id, "page_id": page_id, "form_id": form_id, "created_time": 1_795_255_200}}))
        .collect();
    json!({"object": "page", "entry": [{"id": page_id, "time": 1_795_255_200, "changes": changes}]})
}

fn error(code: u32, subcode: Option<u32>, message: &str) -> Value {
    let mut e = json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}});
    if let Some(s) = subcode {
        e["error"]["error_subcode"] = s.into();
    }
    e
}

fn answer(state: &Mutex<State>, base: &str, path: &str, query: &str) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    s.calls.push(path.to_owned());
    s.queries.push(query.to_owned());
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let token = params.get("access_token").cloned().unwrap_or_default();
    if let Some(fault) = s.faults.pop_front() {
        return fault;
    }
    if s.expired.contains(&token) {
        return (
            400,
            error(
                190,
                Some(463),
                "Error validating access token: Session has expired.",
            ),
        );
    }
    if !s.tokens.contains(&token) {
        return (400, error(190, None, "Invalid OAuth access token."));
    }
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset = params
        .get("after")
        .and_then(|a| a.strip_prefix("cursor-"))
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let page = |items: Vec<Value>| -> Value {
        let end = (offset + limit).min(items.len());
        let data: Vec<Value> = items.get(offset..end).unwrap_or_default().to_vec();
        let mut paging = json!({"cursors": {"before": format!("cursor-{offset}"), "after": format!("cursor-{end}")}});
        if end < items.len() {
            let mut next = params.clone();
            next.insert("after".into(), format!("cursor-{end}"));
            let q: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(next.iter())
                .finish();
            paging["next"] = format!("{base}/{path}?{q}").into();
        }
        json!({"data": data, "paging": paging})
    };
    match path.split('/').collect::<Vec<_>>()[..] {
        [id] => match s.leads.get(id) {
            Some(v) => (200, v.clone()),
            None => (
                400,
                error(
                    100,
                    Some(33),
                    "Unsupported get request. Object does not exist.",
                ),
            ),
        },
        [page_id, "leadgen_forms"] => match s.forms.get(page_id) {
            Some(forms) => (200, page(forms.clone())),
            None => (
                400,
                error(100, None, "Unsupported get request. Object does not exist."),
            ),
        },
        [form_id, "leads"] => {
            let Some(leads) = s.form_leads.get(form_id) else {
                return (
                    400,
                    error(100, None, "Unsupported get request. Object does not exist."),
                );
            };
            let after = match params.get("filtering") {
                None => i64::MIN,
                Some(f) => {
                    let parsed: Option<i64> = serde_json::from_str::<Value>(f)
                        .ok()
                        .and_then(|v| v.as_array().cloned())
                        .and_then(|filters| {
                            filters.into_iter().find(|x| {
                                x["field"] == "time_created" && x["operator"] == "GREATER_THAN"
                            })
                        })
                        .and_then(|x| x["value"].as_i64());
                    match parsed {
                        Some(v) => v,
                        None => {
                            return (
                                400,
                                error(100, None, "(#100) Filtering field time_created is invalid"),
                            );
                        }
                    }
                }
            };
            let fields = params.get("fields").cloned().unwrap_or_default();
            let mut matching: Vec<&FormLead> = leads.iter().filter(|l| l.created > after).collect();
            matching.sort_by_key(|l| std::cmp::Reverse(l.created));
            let items = matching
                .into_iter()
                .map(|l| {
                    let full = &s.leads[&l.id];
                    let mut item = json!({"id": l.id, "created_time": meta_time(l.created)});
                    for f in fields
                        .split(',')
                        .filter(|f| !["id", "created_time"].contains(f))
                    {
                        if let Some(v) = full.get(f) {
                            item[f] = v.clone();
                        }
                    }
                    item
                })
                .collect();
            (200, page(items))
        }
        _ => (400, error(100, None, "Unknown path components")),
    }
}

impl GraphDouble {
    /// A double that takes `token` (and any added later) for every page.
    pub async fn start(token: &str) -> GraphDouble {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Graph double");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        state.lock().unwrap().tokens.insert(token.to_owned());
        let (st, base) = (state.clone(), url.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (st, base) = (st.clone(), base.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (st, base) = (st.clone(), base.clone());
                        async move {
                            let path = req.uri().path().trim_matches('/').to_owned();
                            let query = req.uri().query().unwrap_or("").to_owned();
                            let (status, body) = answer(&st, &base, &path, &query);
                            let mut response = Response::builder().status(status);
                            for (k, v) in st.lock().unwrap().headers.iter() {
                                response = response.header(k.as_str(), v.as_str());
                            }
                            Ok::<_, std::convert::Infallible>(
                                response
                                    .header("content-type", "application/json")
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
        GraphDouble { url, state, accept }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Makes `GET /{id}` answer this lead object.
    pub fn add_lead(&self, id: &str, lead: Value) {
        self.state.lock().unwrap().leads.insert(id.to_owned(), lead);
    }

    /// Another token the double takes (one expired before is taken again: made anew).
    pub fn add_token(&self, token: &str) {
        let mut s = self.state.lock().unwrap();
        s.expired.remove(token);
        s.tokens.insert(token.to_owned());
    }

    /// Makes `token` answer 190/463 (expired) from now on.
    pub fn expire_token(&self, token: &str) {
        let mut s = self.state.lock().unwrap();
        s.tokens.remove(token);
        s.expired.insert(token.to_owned());
    }

    /// A lead form of `page_id`.
    pub fn add_form(&self, page_id: &str, form_id: &str, name: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        s.forms
            .entry(page_id.to_owned())
            .or_default()
            .push(json!({"id": form_id, "name": name, "status": status}));
        s.form_leads.entry(form_id.to_owned()).or_default();
    }

    /// A lead of `form_id`, created at `created` (unix seconds): listed by the form and
    /// served by id (the object gets its `id`, `created_time` and `form_id`).
    pub fn add_form_lead(&self, form_id: &str, id: &str, created: i64, mut lead: Value) {
        lead["id"] = id.into();
        lead["created_time"] = meta_time(created).into();
        lead["form_id"] = form_id.into();
        if lead.get("is_organic").is_none() {
            lead["is_organic"] = false.into();
        }
        let mut s = self.state.lock().unwrap();
        s.leads.insert(id.to_owned(), lead);
        s.form_leads
            .entry(form_id.to_owned())
            .or_default()
            .push(FormLead {
                id: id.to_owned(),
                created,
            });
    }

    /// Sends this header with every answer from now on (`X-App-Usage` and the like).
    pub fn set_header(&self, name: &str, value: &str) {
        let mut s = self.state.lock().unwrap();
        s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        s.headers.push((name.to_owned(), value.to_owned()));
    }

    pub fn clear_headers(&self) {
        self.state.lock().unwrap().headers.clear();
    }

    /// The next call answers `status` with `body`, whatever it asks.
    pub fn fail_next(&self, status: u16, body: Value) {
        self.state.lock().unwrap().faults.push_back((status, body));
    }

    /// A transient failure as Graph answers one (500, code 2).
    pub fn fail_transiently(&self, times: usize) {
        for _ in 0..times {
            let mut e = error(
                2,
                None,
                "An unexpected error has occurred. Please retry your request later.",
            );
            e["error"]["is_transient"] = true.into();
            self.fail_next(500, e);
        }
    }

    /// A page rate limit as Graph answers one (400, code 32).
    pub fn rate_limit_next(&self) {
        self.fail_next(400, error(32, None, "Page request limit reached"));
    }

    /// The paths asked for (`{id}`, `{page}/leadgen_forms`, `{form}/leads`), in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The query strings of the calls, in order (they carry the token, as Graph's do).
    pub fn queries(&self) -> Vec<String> {
        self.state.lock().unwrap().queries.clone()
    }
}
