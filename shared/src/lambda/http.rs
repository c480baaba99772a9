//! The router on Lambda: API Gateway HTTP API (payload 2.0) and function URL events.
//! lambda_http has already decoded a base64 body; signatures and parsers see the raw bytes.

use crate::router::Intake;

use bytes::Bytes;
/// What the HTTP functions fail with.
pub use lambda_http::Error;
use lambda_http::{Body, Request, Response};

/// An API Gateway request as the plain request the router takes, with the client's address
/// as API Gateway saw it (`requestContext.http.sourceIp`, which a client cannot write).
pub fn request(req: Request) -> http::Request<Bytes> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        _ => None,
    };
    let mut req = req.map(|body| match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    });
    if let Some(ip) = source_ip.and_then(|ip| ip.parse().ok()) {
        req.extensions_mut().insert(crate::web::ClientAddr(ip));
    }
    req
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

/// Which of the two HTTP functions this process is. API Gateway routes `/forms/…` to `form`
/// and the rest to `webhook`, so each has its own concurrency, logs, alarms and grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Sender webhooks, Rechat's own routes, mail over HTTP: the queue, the dead-letter queue
    /// (unroutable mail), the ledger and the kept items.
    Webhook,
    /// Website forms: the queue, and the kept items (spam).
    Form,
}

/// Starts the intake router on Lambda from the environment.
pub async fn run(function: Function) -> Result<(), lambda_http::Error> {
    use crate::config::Config;
    use crate::ledger::Ledger;
    use crate::ledger::dynamodb::DynamoLedger;
    use crate::queue::sqs::SqsQueue;
    use std::sync::Arc;

    crate::telemetry::init();
    let tls = crate::tls::lambda_client_config()?;
    let aws = crate::sdk::lambda_config(tls.clone()).await;
    let config = Config::load_lambda(&aws, true).await?;
    let needs = match function {
        Function::Webhook => config.require_webhook()?,
        Function::Form => config.require_form()?,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        needs.queue_url,
        needs.dead_letter_url,
    );
    let ledger: Arc<dyn Ledger> = match function {
        Function::Webhook => Arc::new(DynamoLedger::new(
            dynamodb.clone(),
            needs.ledger_table,
            config.ledger_ttl,
        )),
        Function::Form => Arc::new(crate::ledger::NoLedger),
    };
    // Spam, mail read as no lead and unsure readings, kept in the ledger's table: the form
    // function may only put items there (its grant), the webhook function read them too.
    let kept = Arc::new(crate::kept::dynamodb::DynamoKept::new(
        dynamodb,
        needs.ledger_table,
        config.kept_retention,
    ));
    let mut settings = config.intake_settings();
    settings.email_body_limit = crate::router::email::LAMBDA_EMAIL_BODY_LIMIT;
    if settings.forms.secret.is_empty() {
        // Timestamps then hold for this instance only; set INLET_FORM_SECRET to share one.
        tracing::warn!(
            "INLET_FORM_SECRET is not set: form timestamps are signed with a per-instance key"
        );
        settings.forms.secret = uuid::Uuid::new_v4().as_bytes().to_vec();
    }
    let queue = Arc::new(queue);
    // The console is the webhook function's, with a token: the form function has no ledger.
    // It reads mail kept only in the bucket SES writes to, when there is one.
    let console = match (&function, &config.console_token) {
        (Function::Webhook, Some(token)) => Some(
            crate::router::console::Console::new(token.clone(), queue.clone())
                .with_metrics_token(config.metrics_token.clone())
                .with_objects(config.email_bucket.as_ref().map(|_| {
                    Arc::new(crate::objects::s3::S3Objects::new(
                        crate::objects::s3::client(&aws),
                    )) as Arc<dyn crate::objects::ObjectStore>
                })),
        ),
        _ => None,
    };
    let intake = Intake {
        queue,
        ledger,
        kept,
        settings,
        captcha: Arc::new(crate::forms::spam::HttpCaptchaVerifier::with_tls(Some(
            tls.clone(),
        ))),
        sns: Arc::new(crate::sns::HttpsSns::new(Some(tls))),
        readings: Default::default(),
        console,
    };
    let intake = &intake;
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(handle(intake, req).await)
    }))
    .await
}
