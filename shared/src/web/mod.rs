//! The HTTP layer every source shares: the request and response types, the error a refused
//! request gets (its status, code and message), body decoding (`body`), credentials
//! (`signature`: HMAC signatures and shared tokens), CORS, and which lead channels a route
//! admits. It knows nothing of senders, forms or mail; they build on it.

pub mod body;
pub mod signature;
pub mod sns;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashSet;

/// A request as every route sees it: its body read whole, within the route's limit.
pub type Request = http::Request<Bytes>;
/// An answer.
pub type Response = http::Response<Bytes>;

/// The address the request came from, as the server that accepted it saw it (the TCP peer
/// on `inlet serve`, API Gateway's `sourceIp` on Lambda), carried as a request extension.
/// Never read from a header: a client writes its own `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// Who a request is from, for limits kept per client: its address, or `unknown`.
pub fn client_of(req: &Request) -> String {
    req.extensions()
        .get::<ClientAddr>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string())
}

/// An answer that refuses a request, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u32>,
    pub allow: Option<&'static str>,
    /// The `WWW-Authenticate` challenge of a 401 that takes HTTP credentials.
    pub authenticate: Option<&'static str>,
}

impl IntakeError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        IntakeError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            allow: None,
            authenticate: None,
        }
    }

    pub fn malformed(message: String) -> Self {
        Self::new(400, "malformed_body", message)
    }

    /// 400 for a parameter that is not what it must be, naming it.
    pub fn invalid(field: &str, message: &str) -> Self {
        IntakeError {
            field: Some(field.to_owned()),
            ..Self::new(400, "invalid_parameter", message)
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    pub fn not_found(message: &str) -> Self {
        Self::new(404, "not_found", message)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        IntakeError {
            allow: Some(allow),
            ..Self::new(
                405,
                "method_not_allowed",
                format!("this route takes {allow}"),
            )
        }
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(408, "request_timeout", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "body_too_large",
            format!("the body is over the {limit}-byte limit"),
        )
    }

    pub fn unsupported_type(content_type: &str) -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            format!(
                "{content_type} is not read here; send application/json or application/x-www-form-urlencoded"
            ),
        )
    }

    pub fn unprocessable(message: String, field: Option<&str>) -> Self {
        IntakeError {
            field: field.map(str::to_owned),
            ..Self::new(422, "unprocessable", message)
        }
    }

    pub fn unavailable(retry_after: u32) -> Self {
        IntakeError {
            retry_after: Some(retry_after),
            ..Self::new(
                503,
                "queue_unavailable",
                "the lead could not be queued; retry later",
            )
        }
    }

    pub fn response(&self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(challenge) = self.authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A JSON answer.
pub fn json_response(status: u16, body: &Value) -> Response {
    let mut response = http::Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An answer with no body.
pub fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

/// A header's value, when it is text.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The user name and password of an `Authorization: Basic …` value (RFC 7617), when it is
/// one; a value without `:` is all user name.
pub fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    use base64::Engine;
    let v = authorization.trim();
    let (scheme, encoded) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    Some(match pair.split_once(':') {
        Some((user, password)) => (user.to_owned(), password.to_owned()),
        None => (pair, String::new()),
    })
}

/// Which lead channels intake accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelPolicy {
    /// Any well-formed UUID (`inlet serve` with no channels configured).
    AnyUuid,
    Only(HashSet<String>),
}

impl ChannelPolicy {
    pub fn from_list(channels: &[String]) -> Self {
        if channels.is_empty() {
            ChannelPolicy::AnyUuid
        } else {
            ChannelPolicy::Only(channels.iter().cloned().collect())
        }
    }

    /// The channel in canonical form, if it is allowed.
    pub fn admit(&self, given: &str) -> Option<String> {
        let canonical = uuid::Uuid::parse_str(given).ok()?.hyphenated().to_string();
        match self {
            ChannelPolicy::AnyUuid => Some(canonical),
            ChannelPolicy::Only(allowed) => allowed.contains(&canonical).then_some(canonical),
        }
    }
}

/// Which pages may call a route from a script, and how a preflight is answered.
#[derive(Debug, Clone, Copy)]
pub struct Cors<'a> {
    /// `None`: any origin (`*`), as Rechat's own API grants; otherwise only those listed.
    pub origins: Option<&'a [String]>,
    pub methods: &'static str,
    /// The headers a preflight allows; `None` echoes what the page asked for.
    pub headers: Option<&'static str>,
    pub max_age_secs: u32,
}

impl Cors<'_> {
    /// Whether a page of `origin` may call the route.
    pub fn allows(&self, origin: &str) -> bool {
        match self.origins {
            None => true,
            Some(list) => {
                let origin = origin.trim_end_matches('/');
                list.iter()
                    .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
            }
        }
    }

    /// The answer with the grant for the calling page, when it may call the route.
    pub fn grant(&self, mut response: Response, req: &Request) -> Response {
        let headers = response.headers_mut();
        match self.origins {
            None => {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            Some(_) => {
                if let Some(origin) = header_str(req, "origin")
                    && self.allows(origin)
                    && let Ok(v) = HeaderValue::from_str(origin)
                {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                }
                headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        response
    }

    /// `OPTIONS`: 204 with the grant for a page that may call the route, 403 otherwise.
    pub fn preflight(&self, req: &Request) -> Response {
        let granted = match self.origins {
            None => true,
            Some(_) => header_str(req, "origin").is_some_and(|o| self.allows(o)),
        };
        if !granted {
            return empty(StatusCode::FORBIDDEN);
        }
        let mut response = empty(StatusCode::NO_CONTENT);
        let allow_headers = match self.headers {
            Some(fixed) => HeaderValue::from_static(fixed),
            None => req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("content-type, idempotency-key")),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(self.methods),
        );
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age_secs),
        );
        self.grant(response, req)
    }
}
