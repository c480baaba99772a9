//! `inlet spam` and `inlet review`: what is kept for a person rather than delivered or lost.
//! Spam (form submissions taken for spam, mail the receiving service called spam) under
//! `spam`; mail read as no lead and leads whose reading is unsure under `review`. Each can
//! be listed, released into a lead channel as a lead, or dismissed, against `inlet serve`'s
//! data dir or a deployed stack. Wiring only: `inlet::kept` decides what a release becomes.

use clap::{Args, Subcommand};
use inlet::config::Config;
use inlet::kept::{Kept, KeptItem, KeptKind};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeptAction {
    /// List what is kept: when, why, who or what message it is.
    List {
        /// Print JSON lines (the whole item) instead of a summary.
        #[arg(long)]
        json: bool,
        /// Only this kind (review: not-a-lead or unsure).
        #[arg(long)]
        kind: Option<String>,
        /// At most this many of each kind, newest first.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Queue one as a lead: into its own lead channel, or --channel.
    Release {
        /// The item's id (`k-…`), or the envelope id a form was answered.
        #[arg(long)]
        id: String,
        /// The lead channel to release it into (required when no routing rule placed it).
        #[arg(long)]
        channel: Option<String>,
        /// The routing file in force (channels allowed, mail settings), when it is not the
        /// one `inlet serve` recorded in its data dir; a stack's are read from the stack.
        #[arg(long, conflicts_with = "stack")]
        config: Option<PathBuf>,
    },
    /// Forget one: it was not a lead.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Args)]
pub struct KeptArgs {
    #[command(subcommand)]
    action: KeptAction,
    #[arg(
        long,
        env = "INLET_DATA_DIR",
        default_value = "inlet-data",
        global = true
    )]
    data_dir: PathBuf,
    /// A deployed stack's name: its LedgerTable (where items are kept), QueueUrl and
    /// DeadLetterQueueUrl outputs, through the standard AWS credential chain.
    #[arg(long, global = true)]
    stack: Option<String>,
}

/// Which command: the kinds it covers and its name.
#[derive(Clone, Copy)]
pub enum Which {
    Spam,
    Review,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Spam => "spam",
            Which::Review => "review",
        }
    }

    fn kinds(self) -> &'static [KeptKind] {
        match self {
            Which::Spam => &[KeptKind::Spam],
            Which::Review => &[KeptKind::NotALead, KeptKind::Unsure],
        }
    }
}

/// Where the items are, and the queue a release goes to.
struct Places {
    kept: Box<dyn Kept>,
    queue: Box<dyn inlet::queue::Queue>,
    objects: Option<Box<dyn inlet::objects::ObjectStore>>,
}

async fn places(args: &KeptArgs, retention: std::time::Duration) -> Result<Places, String> {
    let Some(name) = &args.stack else {
        let store = crate::ops::open(&args.data_dir)?;
        return Ok(Places {
            kept: Box::new(store.clone()),
            queue: Box::new(store),
            objects: None,
        });
    };
    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_cloudformation::Client::new(&aws);
    let outputs = inlet::stack::outputs(&client, name)
        .await
        .map_err(|e| e.to_string())?;
    let get = |key: &str| {
        inlet::stack::output(&outputs, name, key)
            .map(str::to_owned)
            .map_err(|e| e.to_string())
    };
    Ok(Places {
        kept: Box::new(inlet::kept::dynamodb::DynamoKept::new(
            aws_sdk_dynamodb::Client::new(&aws),
            get("LedgerTable")?,
            retention,
        )),
        queue: Box::new(inlet::queue::sqs::SqsQueue::new(
            aws_sdk_sqs::Client::new(&aws),
            get("QueueUrl")?,
            get("DeadLetterQueueUrl")?,
        )),
        objects: Some(Box::new(inlet::objects::s3::S3Objects::new(
            inlet::objects::s3::client(&aws),
        ))),
    })
}

/// One item as a person reads it: when, id, why, and who or what message.
pub fn describe(item: &KeptItem) -> String {
    let s = inlet::kept::summary(item);
    let who = [
        s.name.as_deref(),
        s.email.as_deref(),
        s.phone.as_deref(),
        s.from.as_deref().map(|f| f.trim()),
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.is_empty())
    .collect::<Vec<_>>()
    .join(" | ");
    let mut lines = vec![
        format!(
            "{}  {}  {}  {}",
            item.kept_at.format("%Y-%m-%d %H:%M"),
            item.id,
            item.kind.as_str().replace('_', " "),
            item.reason
        ),
        format!(
            "    {}{}",
            if who.is_empty() {
                "(no one named)"
            } else {
                &who
            },
            s.text
                .as_deref()
                .map(|t| format!(
                    " | {}",
                    t.chars().take(60).collect::<String>().replace('\n', " ")
                ))
                .unwrap_or_default()
        ),
    ];
    if let Some(id) = &s.message_id {
        lines.push(format!("    message   <{id}>"));
    }
    if let Some(at) = &s.stored_at {
        lines.push(format!("    stored    {at}"));
    }
    lines.push(format!(
        "    channel   {}  (envelope {}, from {})",
        if item.envelope.channel.is_empty() {
            "none: no routing rule placed it".to_owned()
        } else {
            inlet::mask::id(&item.envelope.channel)
        },
        item.envelope.id,
        item.envelope.origin.sender
    ));
    lines.join("\n")
}

fn fail(which: Which, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet {}: {message}", which.name());
    ExitCode::from(2)
}

pub async fn run(which: Which, args: KeptArgs) -> ExitCode {
    // A release applies the deployment's allowlist and mail rules, not this shell's.
    let config = match &args.action {
        KeptAction::Release { config, .. } => {
            let at = match &args.stack {
                Some(name) => crate::deployment::Deployment::Stack(name),
                None => crate::deployment::Deployment::Local {
                    data_dir: &args.data_dir,
                    config: config.as_deref(),
                },
            };
            crate::deployment::settings(at).await
        }
        _ => Config::load(None).map_err(|e| e.to_string()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => return fail(which, e),
    };
    let places = match places(&args, config.kept_retention).await {
        Ok(p) => p,
        Err(e) => return fail(which, e),
    };
    // An item of another command's kinds is not this command's to touch.
    let find = async |id: &str| -> Result<KeptItem, String> {
        match places.kept.find(id).await {
            Ok(Some(item)) if which.kinds().contains(&item.kind) => Ok(item),
            Ok(_) => Err(format!(
                "nothing kept under `inlet {}` has the id {id:?} (inlet {} list shows them)",
                which.name(),
                which.name()
            )),
            Err(e) => Err(e.to_string()),
        }
    };
    match args.action {
        KeptAction::List { json, kind, limit } => {
            let kinds: Vec<KeptKind> = match kind.as_deref() {
                None => which.kinds().to_vec(),
                Some(k) => match KeptKind::parse(k).filter(|k| which.kinds().contains(k)) {
                    Some(k) => vec![k],
                    None => {
                        let names: Vec<&str> = which.kinds().iter().map(|k| k.as_str()).collect();
                        return fail(which, format!("--kind {k:?}: one of {}", names.join(", ")));
                    }
                },
            };
            let mut items = Vec::new();
            for kind in kinds {
                match places.kept.newest(kind, limit).await {
                    Ok(list) => items.extend(list),
                    Err(e) => return fail(which, e),
                }
            }
            items.sort_by_key(|i| std::cmp::Reverse(i.kept_at));
            if json {
                for item in &items {
                    println!("{}", serde_json::to_string(item).unwrap_or_default());
                }
            } else if items.is_empty() {
                println!("Nothing is kept under `inlet {}`.", which.name());
            } else {
                for item in &items {
                    println!("{}", describe(item));
                }
                println!(
                    "{} kept. Release one with: inlet {} release --id ID [--channel UUID]",
                    items.len(),
                    which.name()
                );
            }
            ExitCode::SUCCESS
        }
        KeptAction::Release { id, channel, .. } => {
            let item = match find(&id).await {
                Ok(item) => item,
                Err(e) => return fail(which, e),
            };
            let settings = config.intake_settings();
            let ctx = inlet::email::EmailContext {
                settings: &settings.email,
                policy: &settings.channels,
                normalize: settings.normalize,
                verify_senders: true,
            };
            match inlet::kept::release(
                places.kept.as_ref(),
                places.queue.as_ref(),
                places.objects.as_deref(),
                &ctx,
                &item.id,
                channel.as_deref(),
            )
            .await
            {
                Ok((item, envelope)) => {
                    println!(
                        "Released {}: queued as a lead ({}) into {}.",
                        item.id,
                        envelope.id,
                        inlet::mask::id(&envelope.channel)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(which, e),
            }
        }
        KeptAction::Delete { id } => {
            let item = match find(&id).await {
                Ok(item) => item,
                Err(e) => return fail(which, e),
            };
            match places.kept.remove(&item.id).await {
                Ok(_) => {
                    println!("Deleted {}.", item.id);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(which, e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
    use inlet::lead::Lead;

    #[test]
    fn an_item_is_described_with_who_and_where_it_would_go() {
        let envelope = EnvelopeBuilder::new(
            OriginKind::Form,
            "website-form",
            "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
            b"x",
        )
        .step(Step::Capture {
            lead: Lead {
                first_name: Some("Rosa".into()),
                email: Some("rosa@example.com".into()),
                note: Some("Is it\nstill available?".into()),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build();
        let item = KeptItem::new(KeptKind::Spam, "the honeypot field was filled", envelope);
        let text = describe(&item);
        assert!(
            text.contains("Rosa | rosa@example.com | Is it still available?"),
            "{text}"
        );
        assert!(
            text.contains("spam  the honeypot field was filled"),
            "{text}"
        );
        assert!(text.contains("channel   55f5…745f"), "{text}");
        assert!(!text.contains("3f4e-4b8e"), "the channel masked: {text}");
        let bare = EnvelopeBuilder::new(OriginKind::Email, "email", "", b"y").build();
        let text = describe(&KeptItem::new(KeptKind::NotALead, "a bounce", bare));
        assert!(text.contains("(no one named)"), "{text}");
        assert!(text.contains("none: no routing rule placed it"), "{text}");
    }
}
