//! A test double of Rechat's lead API that behaves like the real one on every point of
//! `../shared/rechat/CONTRACT.md` (§5): it validates channel and lead UUIDs, payload shapes
//! and action names, issues lead ids, 404s unknown leads, records every request, and injects
//! faults on demand.
//!
//! Faults, scripted per route or drawn at random:
//! - `Status(5xx)`: an error answer; nothing is created.
//! - `TooManyRequests`: 429 with `Retry-After`.
//! - `Slow(d)`: waits `d` *before* handling; a client that gives up first creates nothing.
//! - `Reset`: the TCP connection is reset (RST) once the request has arrived.
//! - `NoContent`: the lead is created and the answer is 204 with no body (no lead id).
//! - `LostSuccess(d)`: the lead is created, then the answer waits `d`, past the client's
//!   timeout: the client sees a failure for a request that succeeded.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Which API call a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Capture,
    Timeline,
    Assignees,
}

/// A misbehaviour the double can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    TooManyRequests { retry_after_secs: u64 },
    Slow(Duration),
    Reset,
    NoContent,
    LostSuccess(Duration),
}

impl FaultRates {
    /// Issue 8's mix for the proof runs: 20% 5xx, 5% 429 (Retry-After 1 s), 5% past the
    /// client's timeout, 2% lost successes, 1% 204 without an id; `hold` must exceed the
    /// client's timeout.
    pub fn proof_mix(hold: Duration) -> FaultRates {
        FaultRates {
            server_error: 0.20,
            too_many_requests: 0.05,
            retry_after_secs: 1,
            slow: 0.05,
            lost_success: 0.02,
            no_content: 0.01,
            hold,
            ..FaultRates::default()
        }
    }
}

/// Fault rates for random injection, each a fraction of requests (0.0–1.0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    pub server_error: f64,
    pub too_many_requests: f64,
    pub slow: f64,
    pub lost_success: f64,
    pub no_content: f64,
    pub reset: f64,
    /// How long `slow` and `lost_success` hold the answer (past the client's timeout).
    pub hold: Duration,
    pub retry_after_secs: u64,
}

/// One request as the double saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub route: Option<Route>,
    pub body: String,
    pub user_agent: Option<String>,
    pub fault: Option<Fault>,
    /// The status answered; `None` if the connection was reset or the client gave up first.
    pub status: Option<u16>,
    /// The lead this request created (captures), or acted on (timeline, assignees).
    pub lead_id: Option<String>,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A lead the double created.
#[derive(Debug, Clone)]
pub struct CreatedLead {
    pub id: String,
    pub channel: String,
    pub payload: Value,
    pub timeline: Vec<Value>,
    pub assignees: Value,
    /// Index into the request log of the capture that created it.
    pub request_index: usize,
}

#[derive(Default)]
struct State {
    leads: HashMap<String, CreatedLead>,
    lead_order: Vec<String>,
    requests: Vec<Recorded>,
    scripted: VecDeque<(Option<Route>, Fault)>,
    rates: FaultRates,
    rng: Option<fastrand::Rng>,
    latency: Duration,
    allowed_channels: Option<HashSet<String>>,
    in_flight: usize,
    max_in_flight: usize,
    /// An outage: every request gets this fault until `come_back`.
    down: Option<Fault>,
    /// One lead's own trouble: requests whose body contains the text get the fault.
    failing_bodies: Vec<(String, Fault)>,
}

impl State {
    fn next_fault(&mut self, route: Route, body: &str) -> Option<Fault> {
        if let Some(fault) = self.down {
            return Some(fault);
        }
        if let Some((_, fault)) = self
            .failing_bodies
            .iter()
            .find(|(needle, _)| body.contains(needle.as_str()))
        {
            return Some(*fault);
        }
        if let Some(pos) = self
            .scripted
            .iter()
            .position(|(r, _)| r.is_none_or(|r| r == route))
        {
            return self.scripted.remove(pos).map(|(_, f)| f);
        }
        let rates = self.rates;
        let rng = self.rng.as_mut()?;
        let draw = rng.f64();
        let hold = rates.hold;
        let mut edge = 0.0;
        let table = [
            (rates.server_error, Fault::Status(503)),
            (
                rates.too_many_requests,
                Fault::TooManyRequests {
                    retry_after_secs: rates.retry_after_secs,
                },
            ),
            (rates.slow, Fault::Slow(hold)),
            (rates.lost_success, Fault::LostSuccess(hold)),
            (rates.reset, Fault::Reset),
        ];
        for (rate, fault) in table {
            edge += rate;
            if draw < edge {
                return Some(fault);
            }
        }
        // 204 only means something for captures.
        if route == Route::Capture && draw < edge + rates.no_content {
            return Some(Fault::NoContent);
        }
        None
    }
}

/// The running double. Dropping it stops it.
pub struct RechatDouble {
    url: String,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl Drop for RechatDouble {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl RechatDouble {
    /// Starts the double on a free 127.0.0.1 port.
    pub async fn start() -> RechatDouble {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Rechat double");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let fd = stream.as_raw_fd();
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), fd, req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RechatDouble { url, state, accept }
    }

    /// The base URL to give the client (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next request to `route` (or to any route) gets `fault`.
    pub fn fail_next(&self, route: Option<Route>, fault: Fault) {
        self.fail_next_n(route, fault, 1);
    }

    pub fn fail_next_n(&self, route: Option<Route>, fault: Fault, n: usize) {
        let mut s = self.state.lock().unwrap();
        for _ in 0..n {
            s.scripted.push_back((route, fault));
        }
    }

    /// Draws a fault for every request that no scripted fault claims.
    pub fn random_faults(&self, rates: FaultRates, seed: u64) {
        let mut s = self.state.lock().unwrap();
        s.rates = rates;
        s.rng = Some(fastrand::Rng::with_seed(seed));
    }

    /// How long after `at` the first and the last answered capture came (zero if none):
    /// the time from an outage's end to its first and last lead.
    pub fn captures_after(&self, at: Instant) -> (Duration, Duration) {
        let since: Vec<Duration> = self
            .requests()
            .iter()
            .filter(|r| r.route == Some(Route::Capture) && r.fault.is_none() && r.at >= at)
            .map(|r| r.at.saturating_duration_since(at))
            .collect();
        (
            since.iter().min().copied().unwrap_or_default(),
            since.iter().max().copied().unwrap_or_default(),
        )
    }

    /// An outage: every request answers with `fault` (a 503, a reset…) until `come_back`.
    pub fn go_down(&self, fault: Fault) {
        self.state.lock().unwrap().down = Some(fault);
    }

    /// The outage ends: requests are answered again (scripted and random faults still apply).
    pub fn come_back(&self) {
        self.state.lock().unwrap().down = None;
    }

    /// Every request whose body contains `needle` (one lead's email) gets `fault`: a lead's
    /// own trouble while the others are answered.
    pub fn fail_bodies_containing(&self, needle: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .failing_bodies
            .push((needle.to_owned(), fault));
    }

    pub fn clear_faults(&self) {
        let mut s = self.state.lock().unwrap();
        s.scripted.clear();
        s.rng = None;
        s.down = None;
        s.failing_bodies.clear();
    }

    /// Every answer waits this long first (a real server's latency).
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Only these channels exist; any other UUID is unknown (404), as in a real account.
    pub fn only_channels(&self, channels: &[&str]) {
        self.state.lock().unwrap().allowed_channels =
            Some(channels.iter().map(|c| c.to_string()).collect());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Leads created, in creation order.
    pub fn leads(&self) -> Vec<CreatedLead> {
        let s = self.state.lock().unwrap();
        s.lead_order
            .iter()
            .filter_map(|id| s.leads.get(id).cloned())
            .collect()
    }

    pub fn lead(&self, id: &str) -> Option<CreatedLead> {
        self.state.lock().unwrap().leads.get(id).cloned()
    }

    /// Leads whose steps arrived out of order: a lead with an activity must have been
    /// created before its first accepted activity, and that activity accepted before its
    /// first accepted reassignment. Each with the requests that touched the lead.
    pub fn order_violations(&self) -> Vec<String> {
        let requests = self.requests();
        self.leads()
            .iter()
            .filter(|l| !l.timeline.is_empty())
            .filter_map(|l| {
                let first_ok = |route: Route| {
                    requests.iter().position(|r| {
                        r.route == Some(route)
                            && r.status == Some(200)
                            && r.lead_id.as_deref() == Some(l.id.as_str())
                    })
                };
                let (t, a) = (first_ok(Route::Timeline), first_ok(Route::Assignees));
                if Some(l.request_index) < t && t < a {
                    return None;
                }
                let touched: Vec<String> = requests
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.lead_id.as_deref() == Some(l.id.as_str()))
                    .map(|(i, r)| format!("#{i} {:?} {:?} {:?}", r.route, r.status, r.fault))
                    .collect();
                Some(format!(
                    "lead created by #{}: {}",
                    l.request_index,
                    touched.join(", ")
                ))
            })
            .collect()
    }

    /// Of the leads whose token `wants_follow_ups` names: how many received their activity
    /// and reassignment, and how many cannot, because Rechat answered their capture 204
    /// without an id (the contract: follow-ups that need the id are recorded, not run).
    pub fn follow_ups(&self, wants_follow_ups: impl Fn(&str) -> bool) -> (usize, usize) {
        let requests = self.requests();
        let (mut applied, mut without_id) = (0, 0);
        let mut tokens_applied = HashSet::new();
        let leads = self.leads();
        for l in &leads {
            let Some(t) = token_in(&l.payload).filter(|t| wants_follow_ups(t)) else {
                continue;
            };
            if !l.timeline.is_empty() && l.assignees.as_array().is_some_and(|a| !a.is_empty()) {
                applied += 1;
                tokens_applied.insert(t);
            }
        }
        let mut tokens_without_id = HashSet::new();
        for l in &leads {
            let Some(t) = token_in(&l.payload).filter(|t| wants_follow_ups(t)) else {
                continue;
            };
            let answered_204 = requests.iter().any(|r| {
                r.route == Some(Route::Capture)
                    && r.fault == Some(Fault::NoContent)
                    && r.lead_id.as_deref() == Some(l.id.as_str())
            });
            if answered_204 && !tokens_applied.contains(&t) && tokens_without_id.insert(t) {
                without_id += 1;
            }
        }
        (applied, without_id)
    }

    /// How many leads carry each token (`lead-…`, a test's marker in the lead's payload).
    pub fn captures_by_token(&self) -> std::collections::HashMap<String, usize> {
        let mut captures = std::collections::HashMap::new();
        for l in self.leads() {
            if let Some(t) = token_in(&l.payload) {
                *captures.entry(t).or_default() += 1;
            }
        }
        captures
    }

    /// The most requests the double was handling at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Forgets everything: leads, requests, faults.
    pub fn reset(&self) {
        let mut s = self.state.lock().unwrap();
        let latency = s.latency;
        *s = State {
            latency,
            ..State::default()
        };
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: u16, body: Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    answer(
        status,
        json!({"http": status, "message": message, "code": code, "retry": status >= 500 || status == 429}),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    fd: RawFd,
    req: Request<Incoming>,
) -> Result<Answer, std::io::Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match req.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match (&method, segments.as_slice()) {
        (&Method::POST, ["leads", "channels", _, "webhook"]) => Some(Route::Capture),
        (&Method::POST, ["leads", _, "timeline"]) => Some(Route::Timeline),
        (&Method::PUT, ["leads", _, "assignees"]) => Some(Route::Assignees),
        _ => None,
    };
    let (index, fault, latency) = {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        let fault = route.and_then(|r| s.next_fault(r, &body));
        s.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            route,
            body: body.clone(),
            user_agent,
            fault,
            status: None,
            lead_id: None,
            at: Instant::now(),
        });
        (s.requests.len() - 1, fault, s.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(route) = route else {
        return Ok(finish(
            &state,
            index,
            None,
            error(404, "ResourceNotFound", "Not found"),
        ));
    };
    match fault {
        Some(Fault::Status(code)) => {
            return Ok(finish(
                &state,
                index,
                None,
                answer(code, json!({"message": "Internal Error"})),
            ));
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut a = error(429, "TooManyRequests", "Too many requests");
            a.headers_mut().insert(
                "retry-after",
                retry_after_secs
                    .to_string()
                    .parse()
                    .expect("a header value"),
            );
            return Ok(finish(&state, index, None, a));
        }
        Some(Fault::Reset) => {
            // SAFETY: the connection this fd belongs to is being served by this very call,
            // so it is open; SO_LINGER 0 makes hyper's close send RST instead of FIN.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let _ = socket2::SockRef::from(&borrowed).set_linger(Some(Duration::ZERO));
            {
                let mut s = state.lock().unwrap();
                s.in_flight = s.in_flight.saturating_sub(1);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ));
        }
        Some(Fault::Slow(hold)) => {
            tokio::time::sleep(hold).await;
            if client_gone(fd) {
                // Like a server that notices the hang-up before doing the work.
                {
                    let mut s = state.lock().unwrap();
                    s.in_flight = s.in_flight.saturating_sub(1);
                }
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "client gave up",
                ));
            }
        }
        _ => {}
    }
    let (lead_id, mut response) = {
        let mut s = state.lock().unwrap();
        match route {
            Route::Capture => capture(&mut s, index, segments[2], &body),
            Route::Timeline => timeline(&mut s, segments[1], &body),
            Route::Assignees => assignees(&mut s, segments[1], &body),
        }
    };
    if route == Route::Capture
        && fault == Some(Fault::NoContent)
        && response.status() == StatusCode::OK
    {
        response = Response::builder()
            .status(204)
            .body(Full::new(Bytes::new()))
            .expect("a valid response");
    }
    if let Some(Fault::LostSuccess(hold)) = fault {
        // The work is done; the answer is held past the client's patience.
        {
            let mut s = state.lock().unwrap();
            s.requests[index].lead_id = lead_id.clone();
        }
        tokio::time::sleep(hold).await;
    }
    Ok(finish(&state, index, lead_id, response))
}

fn finish(state: &Mutex<State>, index: usize, lead_id: Option<String>, response: Answer) -> Answer {
    let mut s = state.lock().unwrap();
    s.in_flight = s.in_flight.saturating_sub(1);
    let r = &mut s.requests[index];
    r.status = Some(response.status().as_u16());
    if lead_id.is_some() {
        r.lead_id = lead_id;
    }
    response
}

/// Whether the client has closed its end (a read would return end-of-file).
fn client_gone(fd: RawFd) -> bool {
    // SAFETY: called while serving this connection, so the fd is open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    // The socket is non-blocking (tokio's): WouldBlock means alive and quiet.
    matches!(socket2::SockRef::from(&borrowed).peek(&mut buf), Ok(0))
}

fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

fn capture(s: &mut State, index: usize, channel: &str, body: &str) -> (Option<String>, Answer) {
    let Some(channel) = parse_uuid(channel) else {
        return (
            None,
            error(404, "ResourceNotFound", "Lead channel not found"),
        );
    };
    if s.allowed_channels
        .as_ref()
        .is_some_and(|allowed| !allowed.contains(&channel))
    {
        return (
            None,
            error(404, "ResourceNotFound", "Lead channel not found"),
        );
    }
    let payload: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return (
                None,
                error(400, "Validation", &format!("Malformed JSON: {e}")),
            );
        }
    };
    if let Err(message) = validate_capture(&payload) {
        return (None, error(400, "Validation", &message));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let contact = uuid::Uuid::new_v4().to_string();
    let assignees = payload.get("assignees").cloned().unwrap_or(json!([]));
    s.leads.insert(
        id.clone(),
        CreatedLead {
            id: id.clone(),
            channel: channel.clone(),
            payload: payload.clone(),
            timeline: Vec::new(),
            assignees,
            request_index: index,
        },
    );
    s.lead_order.push(id.clone());
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let data = json!({
        "id": id, "contact": contact, "lead_channel": channel,
        "raw_payload": payload, "parsed_payload": payload, "created_at": created_at,
    });
    (Some(id), answer(200, json!({"code": "OK", "data": data})))
}

const STRING_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "lead_source",
    "note",
    "referer_url",
    "source_type",
    "address",
    "mlsid",
    "agent_mlsid",
    "listing_id",
];
const ADDRESS_FIELDS: &[&str] = &[
    "street_number",
    "street_dir_prefix",
    "street_name",
    "street_suffix",
    "street_dir_suffix",
    "unit_number",
    "city",
    "state_code",
    "postal_code",
    "country",
    "direction",
    "street_address",
    "full_address",
];
const ASSIGNEE_FIELDS: &[&str] = &[
    "email",
    "phone_number",
    "first_name",
    "last_name",
    "mls",
    "mls_id",
    "mlsid",
];
const LISTING_ACTIONS: &[&str] = &[
    "ContactViewedListing",
    "ContactSharedListing",
    "ContactFavoritedListing",
    "ContactRemovedFavoriteListing",
    "ContactValuedListing",
];
const SEARCH_ACTIONS: &[&str] = &[
    "ContactCreatedSearch",
    "ContactRemovedSearch",
    "ContactSearchedListings",
];
const PLAIN_ACTIONS: &[&str] = &["ContactSignedUp", "ContactLoggedIn"];

fn validate_capture(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("The payload must be an object")?;
    for f in STRING_FIELDS {
        if obj.get(*f).is_some_and(|x| !x.is_string()) {
            return Err(format!("{f} must be a string"));
        }
    }
    for f in ["tag", "tags"] {
        match obj.get(f) {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => return Err(format!("{f} must be an array of strings")),
        }
    }
    if let Some(listing) = obj.get("listing") {
        let l = listing.as_object().ok_or("listing must be an object")?;
        if l.get("price").is_some_and(|p| !p.is_number()) {
            return Err("listing.price must be a number".into());
        }
        for f in ["mls_number", "cover_image_url"] {
            if l.get(f).is_some_and(|x| !x.is_string()) {
                return Err(format!("listing.{f} must be a string"));
            }
        }
        if let Some(address) = l.get("property").and_then(|p| p.get("address")) {
            let a = address
                .as_object()
                .ok_or("listing.property.address must be an object")?;
            for (k, x) in a {
                if !ADDRESS_FIELDS.contains(&k.as_str()) || !x.is_string() {
                    return Err(format!(
                        "listing.property.address.{k} is not a known string field"
                    ));
                }
            }
        }
    }
    if let Some(a) = obj.get("assignees") {
        validate_assignees(a)?;
    }
    Ok(())
}

fn validate_assignees(v: &Value) -> Result<(), String> {
    let items = v.as_array().ok_or("assignees must be an array")?;
    for (i, item) in items.iter().enumerate() {
        let a = item
            .as_object()
            .ok_or(format!("assignees[{i}] must be an object"))?;
        let mut any = false;
        for (k, x) in a {
            if !ASSIGNEE_FIELDS.contains(&k.as_str()) {
                continue;
            }
            let s = x
                .as_str()
                .ok_or(format!("assignees[{i}].{k} must be a string"))?;
            any |= !s.trim().is_empty();
        }
        if !any {
            return Err(format!("assignees[{i}] has no field to match an agent by"));
        }
    }
    Ok(())
}

fn known_lead<'a>(s: &'a mut State, lead: &str) -> Result<&'a mut CreatedLead, Box<Answer>> {
    let Some(id) = parse_uuid(lead) else {
        return Err(Box::new(error(400, "Validation", "lead_id must be a UUID")));
    };
    s.leads
        .get_mut(&id)
        .ok_or_else(|| Box::new(error(404, "ResourceNotFound", "Lead not found")))
}

fn timeline(s: &mut State, lead: &str, body: &str) -> (Option<String>, Answer) {
    let lead = match known_lead(s, lead) {
        Ok(l) => l,
        Err(a) => return (None, *a),
    };
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return (
                None,
                error(400, "Validation", &format!("Malformed JSON: {e}")),
            );
        }
    };
    let action = v.get("action").and_then(Value::as_str).unwrap_or_default();
    let needs = if LISTING_ACTIONS.contains(&action) {
        Some("listing")
    } else if SEARCH_ACTIONS.contains(&action) {
        Some("search")
    } else if PLAIN_ACTIONS.contains(&action) {
        None
    } else {
        return (
            None,
            error(
                400,
                "Validation",
                &format!("Invalid activity type: {action:?}"),
            ),
        );
    };
    if let Some(object) = needs
        && !v.get(object).is_some_and(Value::is_object)
    {
        return (
            None,
            error(400, "Validation", &format!("{action} requires {object}")),
        );
    }
    if v.get("notes").is_some_and(|n| !n.is_string()) {
        return (None, error(400, "Validation", "notes must be a string"));
    }
    lead.timeline.push(v);
    (Some(lead.id.clone()), answer(200, json!({"success": true})))
}

fn assignees(s: &mut State, lead: &str, body: &str) -> (Option<String>, Answer) {
    let lead = match known_lead(s, lead) {
        Ok(l) => l,
        Err(a) => return (None, *a),
    };
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return (
                None,
                error(400, "Validation", &format!("Malformed JSON: {e}")),
            );
        }
    };
    if let Err(message) = validate_assignees(&v) {
        return (None, error(400, "Validation", &message));
    }
    lead.assignees = v;
    (
        Some(lead.id.clone()),
        answer(
            200,
            json!({"success": true, "message": "Lead reassigned successfully"}),
        ),
    )
}

/// The first `lead-…` token anywhere in a payload (a note, or a message folded into one).
pub fn token_in(payload: &Value) -> Option<String> {
    let text = payload.to_string();
    let rest = &text[text.find("lead-")?..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}
