//! The router on Lambda: API Gateway HTTP API (payload 2.0) and function URL events.
//! lambda_http has already decoded a base64 body; signatures and parsers see the raw bytes.

use super::Intake;
use bytes::Bytes;
use lambda_http::{Body, Request, Response};

/// An API Gateway request as the plain request the router takes.
pub fn request(req: Request) -> http::Request<Bytes> {
    req.map(|body| match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    })
}

/// The router's answer as an API Gateway response (JSON text, or binary when not UTF-8).
pub fn response(resp: http::Response<Bytes>) -> Response<Body> {
    resp.map(|bytes| match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    })
}

/// The whole handler of the `webhook` function.
pub async fn handle(intake: &Intake, req: Request) -> Response<Body> {
    response(intake.handle(request(req)).await)
}
