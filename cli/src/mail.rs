//! `inlet email redrive`: stored mail the `email` function failed on, taken through the same
//! path again. SES keeps every message whole in the mail bucket; what failed is the function
//! (the queue or the bucket did not answer), and Lambda then leaves the S3 event in the mail
//! failure queue. Redriving reads those events, or every message stored since a time, and
//! queues each as the function would: an envelope's id comes from the message's own id, so a
//! message taken twice is one lead (the queue's deduplication, then the ledger's).

use clap::{Args, Subcommand};
use inlet::email::{EmailContext, Outcome, ingress};
use inlet::objects::ObjectStore;
use inlet::objects::s3::S3Objects;
use inlet::queue::sqs::SqsQueue;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum EmailAction {
    /// Take stored mail through the email function's path again: the mail failure queue's
    /// events (the default), or every message stored since --since.
    Redrive(RedriveArgs),
    /// Print a route's own token, the one to give SendGrid, CloudMailin or the receiving
    /// server `[email.verdicts_from]` names: their verdicts count only in posts carrying it.
    /// Read from the mail token (INLET_EMAIL_HTTP_TOKEN, or the routing file's
    /// `[email] http_token`, or `inlet serve`'s data dir).
    RouteToken(RouteTokenArgs),
}

#[derive(Args)]
pub struct RouteTokenArgs {
    /// The route: sendgrid, cloudmailin, raw, postmark.
    #[arg(long)]
    route: String,
    /// The routing file holding `[email] http_token`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// `inlet serve`'s data dir, whose generated mail token is read when none is configured.
    #[arg(long, env = "INLET_DATA_DIR", default_value = "inlet-data")]
    data_dir: PathBuf,
}

/// The route's own token, from the mail token in force.
fn route_token(args: &RouteTokenArgs) -> ExitCode {
    const ROUTES: [&str; 4] = ["raw", "sendgrid", "postmark", "cloudmailin"];
    if !ROUTES.contains(&args.route.as_str()) {
        return fail(format!(
            "{:?} is no route that takes the mail token (one of: {})",
            args.route,
            ROUTES.join(", ")
        ));
    }
    let config = match inlet::config::Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let token = config.intake_settings().email.http_token.or_else(|| {
        std::fs::read_to_string(args.data_dir.join(crate::serve::MAIL_TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    });
    let Some(token) = token else {
        return fail(
            "no mail token: set INLET_EMAIL_HTTP_TOKEN (on AWS, the MailTokenCommand output's email_http_token) or [email] http_token, or run it beside inlet serve's data dir",
        );
    };
    println!("{}", inlet::email::route::route_token(&token, &args.route));
    ExitCode::SUCCESS
}

#[derive(Args)]
pub struct RedriveArgs {
    /// A deployed stack's name: its MailBucketName, MailFailureQueueUrl, QueueUrl,
    /// DeadLetterQueueUrl and LedgerTable outputs.
    #[arg(long)]
    stack: Option<String>,
    /// Instead of --stack: the mail bucket.
    #[arg(long, conflicts_with = "stack")]
    bucket: Option<String>,
    /// Instead of --stack: the mail failure queue.
    #[arg(long, conflicts_with = "stack")]
    failure_queue_url: Option<String>,
    /// Instead of --stack: the lead queue.
    #[arg(long, conflicts_with = "stack", requires = "dlq_url")]
    queue_url: Option<String>,
    /// Instead of --stack: the dead-letter queue.
    #[arg(long, conflicts_with = "stack", requires = "queue_url")]
    dlq_url: Option<String>,
    /// Instead of --stack: the ledger table, where mail read as no lead is kept for review.
    #[arg(long, conflicts_with = "stack")]
    table: Option<String>,
    /// Every message stored at or after this time (RFC 3339, or `24h`, `3d` ago), instead
    /// of the failure queue's events.
    #[arg(long)]
    since: Option<String>,
    /// The key prefix SES's S3 action writes under.
    #[arg(long, default_value = "inbound/")]
    prefix: String,
    /// Instead of --stack: the routing file in force (a stack's is read from the stack).
    #[arg(long, conflicts_with = "stack")]
    config: Option<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet email: {message}");
    ExitCode::from(2)
}

/// When `--since` is: an RFC 3339 time, or hours or days before `now`.
pub fn since(
    given: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let given = given.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(given) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let (number, unit) = given.split_at(given.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| {
        format!("--since {given:?}: an RFC 3339 time, or a number of hours (24h) or days (3d)")
    })?;
    match unit {
        "h" => Ok(now - chrono::Duration::hours(n)),
        "d" => Ok(now - chrono::Duration::days(n)),
        _ => Err(format!("--since {given:?}: the unit is h or d")),
    }
}

struct Places {
    bucket: String,
    failure_queue_url: Option<String>,
    queue_url: String,
    dlq_url: String,
    table: String,
}

async fn places(args: &RedriveArgs, aws: &aws_config::SdkConfig) -> Result<Places, String> {
    if let Some(name) = &args.stack {
        let client = aws_sdk_cloudformation::Client::new(aws);
        let outputs = inlet::stack::outputs(&client, name)
            .await
            .map_err(|e| e.to_string())?;
        let get = |key: &str| {
            inlet::stack::output(&outputs, name, key)
                .map(str::to_owned)
                .map_err(|e| e.to_string())
        };
        return Ok(Places {
            bucket: get("MailBucketName")?,
            failure_queue_url: Some(get("MailFailureQueueUrl")?),
            queue_url: get("QueueUrl")?,
            dlq_url: get("DeadLetterQueueUrl")?,
            table: get("LedgerTable")?,
        });
    }
    match (&args.bucket, &args.queue_url, &args.dlq_url, &args.table) {
        (Some(bucket), Some(queue_url), Some(dlq_url), Some(table)) => Ok(Places {
            bucket: bucket.clone(),
            failure_queue_url: args.failure_queue_url.clone(),
            queue_url: queue_url.clone(),
            dlq_url: dlq_url.clone(),
            table: table.clone(),
        }),
        _ => {
            Err("name the stack (--stack), or --bucket, --queue-url, --dlq-url and --table".into())
        }
    }
}

pub async fn run(action: EmailAction) -> ExitCode {
    let args = match action {
        EmailAction::Redrive(args) => args,
        EmailAction::RouteToken(args) => return route_token(&args),
    };
    let aws = aws_config::load_from_env().await;
    let at = match places(&args, &aws).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // Mail is read again with the deployment's routing and mail rules, not this shell's.
    let deployment = match &args.stack {
        Some(name) => crate::deployment::Deployment::Stack(name),
        // Buckets and queues named by hand belong to no deployment Inlet knows.
        None => crate::deployment::Deployment::Given {
            config: args.config.as_deref(),
        },
    };
    let config = match crate::deployment::settings(deployment).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let settings = config.intake_settings();
    let ctx = EmailContext {
        settings: &settings.email,
        policy: &settings.channels,
        normalize: settings.normalize,
        verify_senders: true,
    };
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = SqsQueue::new(sqs.clone(), at.queue_url.clone(), at.dlq_url.clone());
    let kept = inlet::kept::dynamodb::DynamoKept::new(
        aws_sdk_dynamodb::Client::new(&aws),
        at.table.clone(),
        config.kept_retention,
    );
    let s3 = inlet::objects::s3::client(&aws);
    let objects = S3Objects::new(s3.clone());
    let mut taken = 0;
    let mut failed = 0;
    let redrive = async |bucket: &str, key: &str| -> bool {
        let raw = match objects
            .get(bucket, key, inlet::router::email::EMAIL_BODY_LIMIT as u64)
            .await
        {
            Ok(raw) => raw,
            Err(e) => {
                println!("{key}: not read: {e}");
                return false;
            }
        };
        let inbound = match ingress::from_stored(bucket, key, raw) {
            Ok(i) => i,
            Err(e) => {
                // Unreadable as mail: nothing a redrive changes (the function logged it).
                println!("{key}: not mail: {e}");
                return true;
            }
        };
        match inlet::router::email::accept(&queue, &kept, &inbound, &ctx).await {
            Ok(outcome) => {
                let id = match &outcome {
                    Outcome::Lead(e)
                    | Outcome::Unroutable { envelope: e, .. }
                    | Outcome::Confirmation { envelope: e, .. } => e.id.clone(),
                    _ => String::new(),
                };
                println!("{key}: {} {id}", outcome.kind());
                true
            }
            Err(e) => {
                println!("{key}: the queue or the kept items did not take it: {e}");
                false
            }
        }
    };
    match &args.since {
        Some(given) => {
            let since = match since(given, chrono::Utc::now()) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let keys = match stored_since(&s3, &at.bucket, &args.prefix, since).await {
                Ok(k) => k,
                Err(e) => return fail(e),
            };
            for key in keys {
                if redrive(&at.bucket, &key).await {
                    taken += 1;
                } else {
                    failed += 1;
                }
            }
        }
        None => {
            let Some(url) = &at.failure_queue_url else {
                return fail(
                    "without --since, name the mail failure queue (--failure-queue-url or --stack)",
                );
            };
            let mut kept = Vec::new();
            loop {
                let received = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .visibility_timeout(300)
                    .send()
                    .await;
                let messages = match received {
                    Ok(r) => r.messages.unwrap_or_default(),
                    Err(e) => return fail(aws_sdk_sqs::error::DisplayErrorContext(&e)),
                };
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let record: serde_json::Value =
                        serde_json::from_str(m.body().unwrap_or("")).unwrap_or_default();
                    let mut all_taken = true;
                    for (bucket, key) in ingress::failed_invocation_objects(&record) {
                        if redrive(&bucket, &key).await {
                            taken += 1;
                        } else {
                            failed += 1;
                            all_taken = false;
                        }
                    }
                    // An event is removed only once every message it names is taken; the
                    // others stay, held until this run ends so that it reads each once.
                    let Some(handle) = m.receipt_handle() else {
                        continue;
                    };
                    if !all_taken {
                        kept.push(handle.to_owned());
                        continue;
                    }
                    let deleted = sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                    if let Err(e) = deleted {
                        return fail(aws_sdk_sqs::error::DisplayErrorContext(&e));
                    }
                }
            }
            for handle in kept {
                let released = sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await;
                if let Err(e) = released {
                    return fail(aws_sdk_sqs::error::DisplayErrorContext(&e));
                }
            }
        }
    }
    println!("{taken} message(s) taken again, {failed} not.");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The keys under `prefix` stored at or after `since`.
async fn stored_since(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())?;
        for object in page.contents() {
            let stored = object
                .last_modified()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
            if let (Some(key), Some(stored)) = (object.key(), stored)
                && stored >= since
            {
                keys.push(key.to_owned());
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_a_time_or_hours_or_days_ago() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            since("24h", now).unwrap().to_rfc3339(),
            "2026-12-02T12:00:00+00:00"
        );
        assert_eq!(
            since("3d", now).unwrap().to_rfc3339(),
            "2026-11-30T12:00:00+00:00"
        );
        assert_eq!(
            since("2026-12-01T08:00:00-06:00", now)
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T14:00:00+00:00"
        );
        for bad in ["", "yesterday", "3w", "h", "-"] {
            assert!(since(bad, now).is_err(), "{bad}");
        }
    }
}
