//! The small self-contained pages plain HTML forms get back, and `inlet serve`'s demo form.

use bytes::Bytes;
use http::{Response, header};

/// The example page and script from `examples/form/`, served at `/forms/demo`.
pub const DEMO_PAGE: &str = include_str!("../../../examples/form/index.html");
pub const DEMO_SCRIPT: &str = include_str!("../../../examples/form/inlet-form.js");

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: u16, title: &str, body: &str) -> Response<Bytes> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.5rem}}.field{{font-weight:600}}a{{color:#0a58ca}}</style></head><body>{body}</body></html>",
        title = escape(title),
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        )
        .body(Bytes::from(html))
        .expect("a valid response")
}

pub fn thank_you() -> Response<Bytes> {
    page(
        200,
        "Thank you",
        "<h1 id=\"thank-you\">Thank you!</h1><p>We have your message and will be in touch soon.</p><p>You can close this page, or use your browser's Back button to return.</p>",
    )
}

pub fn error(status: u16, message: &str, field: Option<&str>) -> Response<Bytes> {
    let field = field
        .map(|f| format!("<p>Field: <span class=\"field\">{}</span></p>", escape(f)))
        .unwrap_or_default();
    page(
        status,
        "Please check the form",
        &format!(
            "<h1>Please check the form</h1><p id=\"error\">{}</p>{field}<p>Go back to the form (your browser's Back button) and try again.</p>",
            escape(message)
        ),
    )
}

pub fn demo(path: &str) -> Option<Response<Bytes>> {
    let (body, kind) = match path {
        "" | "/" | "/index.html" => (DEMO_PAGE, "text/html; charset=utf-8"),
        "/inlet-form.js" => (DEMO_SCRIPT, "text/javascript; charset=utf-8"),
        _ => return None,
    };
    Some(
        Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, kind)
            .body(Bytes::from_static(body.as_bytes()))
            .expect("a valid response"),
    )
}
