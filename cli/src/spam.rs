//! `inlet spam`: form submissions taken for spam (honeypot, too fast, captcha), kept on the
//! dead-letter queue under their own cause (`inlet::queue::SPAM`) so that a real person's
//! submission can be found and released as the lead it is. Wiring only: which dead letters
//! are spam, and what is shown of each, are decided here over plain data.

use clap::Subcommand;
use inlet::envelope::{Envelope, Step};
use inlet::queue::{DeadMessage, QueueError, SPAM};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SpamAction {
    /// List kept spam: when, why, and who the submission names.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Queue one kept submission as a lead (by its envelope or message id).
    Release {
        #[arg(long)]
        id: String,
    },
}

#[derive(clap::Args)]
pub struct SpamArgs {
    #[command(subcommand)]
    action: SpamAction,
    #[arg(long, default_value = "inlet-data", global = true)]
    data_dir: PathBuf,
    /// A deployed stack's name: its QueueUrl and DeadLetterQueueUrl outputs.
    #[arg(long, global = true)]
    stack: Option<String>,
}

/// The kept spam among the dead letters, oldest first.
pub fn kept(dead: &[DeadMessage]) -> Vec<&DeadMessage> {
    dead.iter()
        .filter(|d| d.dead_letter.cause.as_deref() == Some(SPAM))
        .collect()
}

/// The one a person named, by envelope or message id.
pub fn find<'a>(dead: &'a [DeadMessage], id: &str) -> Option<&'a DeadMessage> {
    kept(dead)
        .into_iter()
        .find(|d| d.message_id == id || d.dead_letter.envelope_id.as_deref() == Some(id))
}

/// One line per kept submission: what a person needs to tell a bot from a buyer.
pub fn describe(d: &DeadMessage) -> String {
    let who = serde_json::from_str::<Envelope>(&d.body)
        .ok()
        .and_then(|e| {
            e.steps.into_iter().find_map(|s| match s {
                Step::Capture { lead, .. } => Some(lead),
                _ => None,
            })
        })
        .map(|lead| {
            let name = [lead.first_name, lead.last_name]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let note: String = lead.note.unwrap_or_default().chars().take(60).collect();
            [
                name,
                lead.email.unwrap_or_default(),
                lead.phone_number.unwrap_or_default(),
                note,
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
        })
        .unwrap_or_else(|| "(unreadable)".into());
    format!(
        "{}  {}  {}\n    {}",
        d.sent_at.format("%Y-%m-%d %H:%M"),
        d.dead_letter
            .envelope_id
            .as_deref()
            .unwrap_or(&d.message_id),
        d.dead_letter.reason,
        who
    )
}

/// The queues spam is kept on: the embedded store's, or a stack's SQS pair.
enum Queues {
    Embedded(inlet::embedded::EmbeddedStore),
    Sqs(inlet::queue::sqs::SqsQueue),
}

impl Queues {
    async fn dead_letters(&self) -> Result<Vec<DeadMessage>, String> {
        match self {
            Queues::Embedded(s) => s.dead_letters().await.map_err(|e| e.to_string()),
            Queues::Sqs(q) => q.dead_letters().await.map_err(|e| e.to_string()),
        }
    }

    /// Queues the body in its group (past the deduplication window, as a replay), then
    /// removes the kept copy: a failure between the two leaves both, never neither.
    async fn release(&self, d: &DeadMessage) -> Result<(), String> {
        let group = d.dead_letter.group_id.clone();
        let text = |e: QueueError| e.to_string();
        match self {
            Queues::Embedded(s) => {
                s.send_raw(d.body.clone(), group)
                    .await
                    .map_err(|e| e.to_string())?;
                s.remove_dead_letter(d.message_id.clone())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Queues::Sqs(q) => {
                q.send_raw(&d.body, &group).await.map_err(text)?;
                q.remove_dead_letter(&d.message_id).await.map_err(text)?;
            }
        }
        Ok(())
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet spam: {message}");
    ExitCode::from(2)
}

pub async fn run(args: SpamArgs) -> ExitCode {
    let queues = match &args.stack {
        Some(name) => match crate::ops::stack_queues(name).await {
            Ok(q) => Queues::Sqs(q),
            Err(e) => return fail(e),
        },
        None => match crate::ops::open(&args.data_dir) {
            Ok(s) => Queues::Embedded(s),
            Err(e) => return fail(e),
        },
    };
    let dead = match queues.dead_letters().await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    match args.action {
        SpamAction::List { json: true } => {
            for d in kept(&dead) {
                let line = serde_json::json!({
                    "message_id": d.message_id, "envelope_id": d.dead_letter.envelope_id,
                    "kept_at": d.sent_at, "reason": d.dead_letter.reason, "body": d.body,
                });
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        SpamAction::List { json: false } => {
            let kept = kept(&dead);
            if kept.is_empty() {
                println!("No spam is kept.");
            }
            for d in kept {
                println!("{}", describe(d));
            }
            ExitCode::SUCCESS
        }
        SpamAction::Release { id } => {
            let Some(d) = find(&dead, &id) else {
                return fail(format!(
                    "no kept spam has the id {id:?} (inlet spam list shows them)"
                ));
            };
            match queues.release(d).await {
                Ok(()) => {
                    println!("Released {id}: queued as a lead.");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet::queue::DeadLetter;

    fn dead(id: &str, cause: Option<&str>, body: &str) -> DeadMessage {
        DeadMessage {
            message_id: format!("m-{id}"),
            body: body.into(),
            dead_letter: DeadLetter {
                reason: "spam: honeypot".into(),
                envelope_id: Some(id.into()),
                group_id: "g".into(),
                failed_step: None,
                status: None,
                cause: cause.map(str::to_owned),
            },
            sent_at: chrono::DateTime::default(),
        }
    }

    #[test]
    fn only_spam_is_listed_and_found_and_an_unreadable_body_is_said() {
        let all = [
            dead("e1", Some(SPAM), "not json"),
            dead("e2", None, "{}"),
            dead("e3", Some("unroutable"), "{}"),
        ];
        assert_eq!(kept(&all).len(), 1);
        assert!(find(&all, "e1").is_some());
        assert!(find(&all, "m-e1").is_some());
        // A dead letter of another cause is not released as spam.
        assert!(find(&all, "e2").is_none());
        assert!(find(&all, "e3").is_none());
        assert!(describe(&all[0]).contains("(unreadable)"));
        assert!(describe(&all[0]).contains("spam: honeypot"));
    }
}
