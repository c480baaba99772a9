//! The embedded queue and ledger of `inlet serve`: one SQLite file (WAL), with the SQS FIFO
//! semantics the delivery logic relies on: a 5-minute dedupe window, per-group order, a
//! visibility timeout, receive counts, a dead-letter queue after N receives, and changing a
//! message's visibility. Unlike SQS, a receive that delivery answers (a hold, a retry delay)
//! is given back: the limit counts only the receives that ended in a crash or a hang.
//!
//! One thread owns the connection. Callers hand it jobs; it runs every job waiting in one
//! transaction and answers them only after the commit, so an acknowledged write is on disk
//! and many requests share one fsync (group commit).

use crate::envelope::Envelope;
use crate::ledger::{
    Document, Ledger, LedgerError, LedgerRecord, RECHAT_STATE_KEY, RechatState, SenderLink,
};
use crate::queue::{Backlog, DeadLetter, DeadMessage, Queue, QueueError, QueueMessage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// SQS's deduplication interval.
const DEDUPE_WINDOW_MS: i64 = 5 * 60 * 1000;
const MAIN: &str = "main";
const DEAD: &str = "dead";

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("embedded store: {0}")]
    Sql(String),
    #[error("the embedded store has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e.to_string())
    }
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// How the embedded queue behaves.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// How long a received message stays invisible unless deleted or changed.
    pub visibility: Duration,
    /// Receives that ended without an answer from delivery (the process stopped or hung on
    /// the message) after which it goes to the dead-letter queue: a backstop for a message
    /// that can never be processed. A receive answered with a hold or a retry delay is given
    /// back; waiting is limited by the retry window alone (`DeliveryOptions::retry_for`).
    pub max_receives: u32,
    /// How long ledger records are kept.
    pub ledger_ttl: Duration,
    /// How long what is kept for review (spam, mail read as no lead, unsure readings) stays.
    pub kept_retention: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            visibility: Duration::from_secs(60),
            max_receives: 1000,
            ledger_ttl: Duration::from_secs(90 * 86_400),
            kept_retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// A handle on the store; clones share the one connection thread.
#[derive(Clone)]
pub struct EmbeddedStore {
    jobs: mpsc::Sender<Job>,
    arrived: Arc<Notify>,
    settings: QueueSettings,
}

/// A receipt handle names its message's row, so that deleting or changing a message finds it
/// by primary key (no index on receipts to keep up), and a random part, so that a handle from
/// an earlier receive of the same message matches nothing.
fn receipt_for(seq: i64) -> String {
    format!("{seq}.{}", uuid::Uuid::new_v4().simple())
}

fn seq_of(receipt: &str) -> Option<i64> {
    receipt.split_once('.')?.0.parse().ok()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    unanswered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages(queue, seq);
CREATE INDEX IF NOT EXISTS messages_in_flight ON messages(queue, visible_at) WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS dedupe (id TEXT PRIMARY KEY, sent_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
    key TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    lead_key TEXT NOT NULL,
    received_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_lead ON ledger(lead_key, received_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sender_links (key TEXT PRIMARY KEY, doc TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, doc TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kept (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    kept_at INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kept_by_kind ON kept(kind, kept_at);
";

impl EmbeddedStore {
    /// Opens (creating if needed) `inlet.db` in `dir`.
    pub fn open(dir: &Path, settings: QueueSettings) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Sql(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("inlet.db");
        let unwritable = |e: rusqlite::Error| {
            StoreError::Sql(format!(
                "cannot write the embedded store {}: {e} (every lead would be answered 503)",
                path.display()
            ))
        };
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // FULL: a commit is on disk before it is acknowledged, power loss included.
            conn.pragma_update(None, "synchronous", "FULL")?;
            // Checkpoints copy the WAL's pages into the database file; letting the WAL grow
            // to ~40 MB before one means a page changed many times in a burst is copied once.
            conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
            // 64 MiB of pages (SQLite's default is 2 MiB): the ledger and dedupe keys are
            // digests, so writes land on random pages, and under a burst most were being read
            // back from the OS for each commit (serve_load: 2.7–2.9× a health check instead
            // of 3.1×).
            conn.pragma_update(None, "cache_size", -65_536)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.execute_batch(SCHEMA)?;
            add_unanswered_count(&conn)?;
            move_dead_letter_spam(&conn)?;
            // A store opened read-only (a read-only directory, a file owned by another
            // user) opens and answers reads; prove a write now, not at the first lead.
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('opened_at', ?1)",
                params![now_ms()],
            )?;
            Ok(conn)
        };
        let conn = open().map_err(unwritable)?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("inlet-store".into())
            .spawn(move || run(conn, inbox))
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        Ok(EmbeddedStore {
            jobs,
            arrived: Arc::new(Notify::new()),
            settings,
        })
    }

    /// Runs `f` on the store's connection, inside the next group transaction, and answers
    /// once that transaction is committed.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, reply)
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits until a message may have arrived, or `timeout` passes.
    pub async fn wait_for_messages(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.arrived.notified()).await;
    }

    pub fn settings(&self) -> QueueSettings {
        self.settings
    }

    /// Receives up to `max` messages in FIFO order: a group yields nothing while one of its
    /// messages is in flight, and within a group only in order. A message received
    /// `max_receives` times without an answer moves to the dead-letter queue instead.
    pub async fn receive(&self, max: usize) -> Result<Vec<QueueMessage>, StoreError> {
        let settings = self.settings;
        self.call(move |conn| {
            let now = now_ms();
            let mut in_flight: HashSet<String> = HashSet::new();
            let mut stmt = conn.prepare_cached(
                "SELECT group_id FROM messages WHERE queue = ?1 AND receipt IS NOT NULL AND visible_at > ?2",
            )?;
            for g in stmt.query_map(params![MAIN, now], |r| r.get::<_, String>(0))? {
                in_flight.insert(g?);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT seq, message_id, group_id, body, visible_at, receive_count, unanswered FROM messages
                 WHERE queue = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![MAIN])?;
            let mut taken: Vec<(i64, QueueMessage)> = Vec::new();
            let mut to_dead: Vec<(i64, u32)> = Vec::new();
            while let Some(row) = rows.next()? {
                if taken.len() >= max {
                    break;
                }
                let group: String = row.get(2)?;
                let visible_at: i64 = row.get(4)?;
                if in_flight.contains(&group) {
                    continue;
                }
                if visible_at > now {
                    // Not yet visible: everything behind it in its group waits too.
                    in_flight.insert(group);
                    continue;
                }
                let count: u32 = row.get(5)?;
                let unanswered: u32 = row.get(6)?;
                if unanswered >= settings.max_receives {
                    to_dead.push((row.get(0)?, unanswered));
                    continue;
                }
                let seq: i64 = row.get(0)?;
                let message = QueueMessage {
                    message_id: row.get(1)?,
                    receipt_handle: Some(receipt_for(seq)),
                    body: row.get(3)?,
                    group_id: Some(group),
                    receive_count: count + 1,
                    not_before: None,
                };
                taken.push((row.get(0)?, message));
            }
            drop(rows);
            let visible_at = now + settings.visibility.as_millis() as i64;
            let mut mark = conn.prepare_cached(
                "UPDATE messages SET receive_count = receive_count + 1, unanswered = unanswered + 1,
                 receipt = ?1, visible_at = ?2, attributes = json_remove(attributes, '$.held') WHERE seq = ?3",
            )?;
            for (seq, m) in &taken {
                mark.execute(params![m.receipt_handle, visible_at, seq])?;
            }
            for (seq, count) in to_dead {
                let reason = format!(
                    "received {count} times without an outcome: delivery stopped or hung on it each time (max receives {})",
                    settings.max_receives
                );
                tracing::error!(seq, receives = count, "a message delivery never finishes, dead-lettered");
                conn.execute(
                    "UPDATE messages SET queue = ?1, receipt = NULL, visible_at = ?2,
                     attributes = json_set(attributes, '$.reason', ?3) WHERE seq = ?4",
                    params![DEAD, now, reason, seq],
                )?;
            }
            Ok(taken.into_iter().map(|(_, m)| m).collect())
        })
        .await
    }

    /// Deletes received messages by receipt (the ones delivered), in one commit.
    pub async fn delete(&self, receipts: Vec<String>) -> Result<(), StoreError> {
        if receipts.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            let mut stmt =
                conn.prepare_cached("DELETE FROM messages WHERE seq = ?1 AND receipt = ?2")?;
            for r in &receipts {
                if let Some(seq) = seq_of(r) {
                    stmt.execute(params![seq, r])?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Messages waiting on the main queue, and on the dead-letter queue.
    pub async fn depth(&self) -> Result<(u64, u64), StoreError> {
        self.call(|conn| {
            let count = |q: &str| {
                conn.query_row(
                    "SELECT COUNT(*) FROM messages WHERE queue = ?1",
                    params![q],
                    |r| r.get::<_, i64>(0).map(|n| n as u64),
                )
            };
            Ok((count(MAIN)?, count(DEAD)?))
        })
        .await
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadMessage>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT message_id, body, attributes, group_id, sent_at FROM messages WHERE queue = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![DEAD], |r| {
                let attributes: String = r.get(2)?;
                let group: String = r.get(3)?;
                let sent_at: i64 = r.get(4)?;
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, attributes, group, sent_at))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (message_id, body, attributes, group, sent_at) = row?;
                let mut dead_letter: DeadLetter = serde_json::from_str(&attributes).unwrap_or(DeadLetter {
                    reason: "(no reason recorded)".into(),
                    envelope_id: None,
                    group_id: group.clone(),
                    failed_step: None,
                    status: None,
                    cause: None,
                });
                dead_letter.group_id = group;
                out.push(DeadMessage {
                    message_id,
                    body,
                    dead_letter,
                    sent_at: chrono::DateTime::from_timestamp_millis(sent_at).unwrap_or_default(),
                });
            }
            Ok(out)
        })
        .await
    }

    /// Puts a body on the main queue in `group` past the deduplication window (a replay, as
    /// SQS's `send_raw`): the window for the original must not swallow it; the ledger still
    /// prevents a second delivery.
    pub async fn send_raw(&self, body: String, group: String) -> Result<(), StoreError> {
        self.call(move |conn| {
            let now = now_ms();
            conn.execute(
                "INSERT INTO messages (queue, message_id, group_id, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![MAIN, uuid::Uuid::new_v4().to_string(), group, body, now],
            )?;
            Ok(())
        })
        .await?;
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Removes one dead letter (one a replay has read again and queued anew). Whether it
    /// was there.
    pub async fn remove_dead_letter(&self, message_id: String) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let n = conn.execute(
                "DELETE FROM messages WHERE queue = ?1 AND message_id = ?2",
                params![DEAD, message_id],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Moves dead letters (all, or the one with this message or envelope id) back to the
    /// main queue, at the end of their group. Returns how many moved.
    pub async fn replay(&self, id: Option<String>, as_is: bool) -> Result<usize, StoreError> {
        let moved = self
            .call(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT seq, message_id, attributes FROM messages WHERE queue = ?1 ORDER BY seq",
                )?;
                let rows: Vec<(i64, String, String)> = stmt
                    .query_map(params![DEAD], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                let mut moved = 0;
                for (seq, message_id, attributes) in rows {
                    // An unreadable reason is replayed as it is, as before reasons had kinds.
                    let dead = serde_json::from_str::<DeadLetter>(&attributes).ok();
                    let envelope_id = dead.as_ref().and_then(|d| d.envelope_id.clone());
                    let replayable = dead.as_ref().is_none_or(|d| d.replays(as_is));
                    let wanted = replayable
                        && id.as_deref().is_none_or(|want| want == message_id || Some(want) == envelope_id.as_deref());
                    if !wanted {
                        continue;
                    }
                    // Re-sent: a new sequence number puts it behind what its group has now.
                    conn.execute(
                        "INSERT INTO messages (queue, message_id, group_id, body, attributes, sent_at, visible_at)
                         SELECT ?1, ?2, group_id, body, '{}', ?3, ?3 FROM messages WHERE seq = ?4",
                        params![MAIN, uuid::Uuid::new_v4().to_string(), now_ms(), seq],
                    )?;
                    conn.execute("DELETE FROM messages WHERE seq = ?1", params![seq])?;
                    moved += 1;
                }
                Ok(moved)
            })
            .await?;
        self.arrived.notify_waiters();
        Ok(moved)
    }

    /// Every ledger record, newest first (at most `limit`).
    pub async fn recent_records(&self, limit: usize) -> Result<Vec<LedgerRecord>, StoreError> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare("SELECT key, doc FROM ledger ORDER BY received_at DESC LIMIT ?1")?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (key, doc) = row?;
                out.push(parse_record(&key, &doc).map_err(|e| StoreError::Sql(e.to_string()))?);
            }
            Ok(out)
        })
        .await
    }

    /// Forgets expired dedupe ids, ledger records and kept items.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let kept_retention_ms = self.settings.kept_retention.as_millis() as i64;
        self.call(move |conn| {
            let now = now_ms();
            conn.execute(
                "DELETE FROM kept WHERE kept_at < ?1",
                params![now - kept_retention_ms],
            )?;
            conn.execute(
                "DELETE FROM dedupe WHERE sent_at < ?1",
                params![now - DEDUPE_WINDOW_MS],
            )?;
            conn.execute(
                "DELETE FROM ledger WHERE expires_at < ?1",
                params![now / 1000],
            )?;
            conn.execute(
                "DELETE FROM sender_links WHERE expires_at < ?1",
                params![now / 1000],
            )?;
            Ok(())
        })
        .await
    }

    fn expires_at(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.settings.ledger_ttl.as_secs() as i64
    }
}

/// The count of receives delivery never answered, added to a store an earlier version made
/// (which counted every receive against the limit).
fn add_unanswered_count(conn: &Connection) -> rusqlite::Result<()> {
    let present: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('messages') WHERE name = 'unanswered'")?
        .exists([])?;
    if !present {
        conn.execute_batch(
            "ALTER TABLE messages ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    Ok(())
}

/// Spam an earlier version kept on the dead-letter queue (cause `spam`) moves to the kept
/// items when the store opens, with its reason and time: nothing kept is lost by an upgrade.
/// A body that is no envelope stays where it is.
fn move_dead_letter_spam(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT seq, body, attributes, sent_at FROM messages WHERE queue = ?1 AND json_extract(attributes, '$.cause') = ?2",
    )?;
    let rows: Vec<(i64, String, String, i64)> = stmt
        .query_map(params![DEAD, crate::queue::SPAM], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (seq, body, attributes, sent_at) in rows {
        let Ok(envelope) = serde_json::from_str::<Envelope>(&body) else {
            continue;
        };
        let reason = serde_json::from_str::<DeadLetter>(&attributes)
            .map(|d| d.reason)
            .unwrap_or_else(|_| "spam".into());
        let mut item = crate::kept::KeptItem::new(crate::kept::KeptKind::Spam, reason, envelope);
        item.kept_at = chrono::DateTime::from_timestamp_millis(sent_at).unwrap_or_default();
        let Ok(doc) = crate::kept::document(&item) else {
            continue;
        };
        conn.execute(
            "INSERT OR IGNORE INTO kept (id, kind, kept_at, doc) VALUES (?1, ?2, ?3, ?4)",
            params![item.id, item.kind.as_str(), sent_at, doc],
        )?;
        conn.execute("DELETE FROM messages WHERE seq = ?1", params![seq])?;
    }
    Ok(())
}

/// The connection thread: each round takes every job waiting, runs them in one transaction
/// (each in a savepoint, so one failing job does not undo the others), commits once, and
/// only then answers.
fn run(conn: Connection, inbox: mpsc::Receiver<Job>) {
    while let Ok(first) = inbox.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 512 {
            match inbox.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(jobs.len());
        let began = conn.execute_batch("BEGIN IMMEDIATE");
        for job in jobs {
            let _ = run_cached(&conn, "SAVEPOINT job");
            let (ok, reply) = job(&conn);
            if !ok {
                let _ = run_cached(&conn, "ROLLBACK TO job");
            }
            let _ = run_cached(&conn, "RELEASE job");
            replies.push(reply);
        }
        let committed = began
            .and_then(|_| conn.execute_batch("COMMIT"))
            .map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::Sql(format!("commit failed: {e}"))
            });
        for reply in replies {
            reply(committed.clone());
        }
    }
}

/// Runs a statement without parameters from the statement cache (the writer runs three of
/// these per job; parsing them each time showed in profiles).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

fn parse_record(key: &str, doc: &str) -> Result<LedgerRecord, LedgerError> {
    serde_json::from_str(doc).map_err(|e| LedgerError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

fn queue_error(e: StoreError) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

fn ledger_error(e: StoreError) -> LedgerError {
    LedgerError::Unavailable(e.to_string())
}

fn kept_error(e: StoreError) -> crate::kept::KeptError {
    crate::kept::KeptError::Unavailable(e.to_string())
}

#[async_trait]
impl crate::kept::Kept for EmbeddedStore {
    async fn keep(&self, item: &crate::kept::KeptItem) -> Result<(), crate::kept::KeptError> {
        let doc = crate::kept::document(item)?;
        let (id, kind, at) = (
            item.id.clone(),
            item.kind.as_str(),
            item.kept_at.timestamp_millis(),
        );
        self.call(move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO kept (id, kind, kept_at, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, kind, at, doc])?;
            Ok(())
        })
        .await
        .map_err(kept_error)
    }

    async fn newest(
        &self,
        kind: crate::kept::KeptKind,
        limit: usize,
    ) -> Result<Vec<crate::kept::KeptItem>, crate::kept::KeptError> {
        let since = now_ms() - self.settings.kept_retention.as_millis() as i64;
        let rows = self
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, doc FROM kept WHERE kind = ?1 AND kept_at >= ?2 ORDER BY kept_at DESC LIMIT ?3",
                )?;
                let rows = stmt
                    .query_map(params![kind.as_str(), since, limit as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(kept_error)?;
        rows.iter()
            .map(|(id, doc)| crate::kept::parse_document(id, doc))
            .collect()
    }

    async fn count(&self, kind: crate::kept::KeptKind) -> Result<u64, crate::kept::KeptError> {
        let since = now_ms() - self.settings.kept_retention.as_millis() as i64;
        self.call(move |conn| {
            Ok(conn
                .prepare_cached("SELECT COUNT(*) FROM kept WHERE kind = ?1 AND kept_at >= ?2")?
                .query_row(params![kind.as_str(), since], |r| r.get::<_, i64>(0))?
                as u64)
        })
        .await
        .map_err(kept_error)
    }

    async fn find(
        &self,
        id: &str,
    ) -> Result<Option<crate::kept::KeptItem>, crate::kept::KeptError> {
        // Its own id, or the envelope id a form was answered: the item of each kind keeping it.
        let mut ids = vec![id.to_owned()];
        ids.extend(crate::kept::KeptKind::ALL.map(|k| crate::kept::item_id(k, id)));
        let since = now_ms() - self.settings.kept_retention.as_millis() as i64;
        let found = self
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT id, doc FROM kept WHERE id = ?1 AND kept_at >= ?2")?;
                for id in &ids {
                    if let Some(row) = stmt
                        .query_row(params![id, since], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                        })
                        .optional()?
                    {
                        return Ok(Some(row));
                    }
                }
                Ok(None)
            })
            .await
            .map_err(kept_error)?;
        found
            .map(|(id, doc)| crate::kept::parse_document(&id, &doc))
            .transpose()
    }

    async fn remove(&self, id: &str) -> Result<bool, crate::kept::KeptError> {
        let id = id.to_owned();
        self.call(move |conn| Ok(conn.execute("DELETE FROM kept WHERE id = ?1", params![id])? > 0))
            .await
            .map_err(kept_error)
    }
}

#[async_trait]
impl crate::queue::DeadLetters for EmbeddedStore {
    async fn list(&self) -> Result<Vec<DeadMessage>, QueueError> {
        self.dead_letters().await.map_err(queue_error)
    }

    async fn release(&self, message: &DeadMessage) -> Result<(), QueueError> {
        self.send_raw(message.body.clone(), message.dead_letter.group_id.clone())
            .await
            .map_err(queue_error)?;
        self.remove_dead_letter(message.message_id.clone())
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    async fn delete(&self, message_id: &str) -> Result<bool, QueueError> {
        self.remove_dead_letter(message_id.to_owned())
            .await
            .map_err(queue_error)
    }
}

#[async_trait]
impl Queue for EmbeddedStore {
    async fn send(&self, envelope: &Envelope) -> Result<(), QueueError> {
        // The same bound as SQS's, so that what `inlet serve` takes the deployed stack takes.
        let (id, group, body) = (
            envelope.id.clone(),
            envelope.lead_key.clone(),
            crate::queue::message_body(envelope)?,
        );
        let fresh = self
            .call(move |conn| {
                let now = now_ms();
                let seen: Option<i64> = conn
                    .prepare_cached("SELECT sent_at FROM dedupe WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()?;
                if seen.is_some_and(|at| now - at < DEDUPE_WINDOW_MS) {
                    return Ok(false);
                }
                conn.prepare_cached("INSERT OR REPLACE INTO dedupe (id, sent_at) VALUES (?1, ?2)")?
                    .execute(params![id, now])?;
                conn.prepare_cached(
                    "INSERT INTO messages (queue, message_id, group_id, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                )?
                .execute(params![MAIN, uuid::Uuid::new_v4().to_string(), group, body, now])?;
                Ok(true)
            })
            .await
            .map_err(queue_error)?;
        if fresh {
            self.arrived.notify_waiters();
        }
        Ok(())
    }

    async fn dead_letter(&self, body: &str, dead_letter: &DeadLetter) -> Result<(), QueueError> {
        let (body, group) = (body.to_owned(), dead_letter.group_id.clone());
        let attributes =
            serde_json::to_string(dead_letter).expect("a dead letter always serializes");
        self.call(move |conn| {
            let now = now_ms();
            conn.execute(
                "INSERT INTO messages (queue, message_id, group_id, body, attributes, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![DEAD, uuid::Uuid::new_v4().to_string(), group, body, attributes, now],
            )?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        let receipt = receipt_handle.to_owned();
        self.call(move |conn| {
            let Some(seq) = seq_of(&receipt) else {
                return Ok(());
            };
            conn.prepare_cached(
                "UPDATE messages SET visible_at = ?1, unanswered = MAX(unanswered - 1, 0)
                 WHERE seq = ?2 AND receipt = ?3",
            )?
            .execute(params![now_ms() + i64::from(seconds) * 1000, seq, receipt])?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }

    /// Marked as held, so that `release_held` finds it; a receive clears the mark (a
    /// message in hand is never released under its consumer).
    async fn hold(&self, receipt_handle: &str, seconds: u32) -> Result<(), QueueError> {
        let receipt = receipt_handle.to_owned();
        self.call(move |conn| {
            let Some(seq) = seq_of(&receipt) else {
                return Ok(());
            };
            conn.prepare_cached(
                "UPDATE messages SET visible_at = ?1, attributes = json_set(attributes, '$.held', 1),
                 unanswered = MAX(unanswered - 1, 0) WHERE seq = ?2 AND receipt = ?3",
            )?
            .execute(params![now_ms() + i64::from(seconds) * 1000, seq, receipt])?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }

    /// A copy at the end of its group (a new sequence number), its counts at zero, visible
    /// from `not_before`; the one received stays until the delivery loop deletes it.
    async fn requeue(
        &self,
        message: &QueueMessage,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let Some(receipt) = message.receipt_handle.clone() else {
            return Err(QueueError::Refused("a message without a receipt".into()));
        };
        let Some(seq) = seq_of(&receipt) else {
            return Err(QueueError::Refused(format!(
                "not a receipt of this store: {receipt}"
            )));
        };
        let copied = self
            .call(move |conn| {
                let now = now_ms();
                let visible_at = not_before.map_or(now, |at| at.timestamp_millis().max(now));
                Ok(conn.execute(
                    "INSERT INTO messages (queue, message_id, group_id, body, sent_at, visible_at)
                     SELECT queue, ?1, group_id, body, ?2, ?3 FROM messages WHERE seq = ?4 AND receipt = ?5",
                    params![uuid::Uuid::new_v4().to_string(), now, visible_at, seq, receipt],
                )?)
            })
            .await
            .map_err(queue_error)?;
        if copied == 0 {
            return Err(QueueError::Refused(
                "the message is no longer in hand (received again since)".into(),
            ));
        }
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn release_held(&self) -> Result<usize, QueueError> {
        let released = self
            .call(|conn| {
                Ok(conn
                    .prepare_cached(
                        "UPDATE messages SET visible_at = ?1, attributes = json_remove(attributes, '$.held')
                         WHERE queue = ?2 AND json_extract(attributes, '$.held') = 1",
                    )?
                    .execute(params![now_ms(), MAIN])?)
            })
            .await
            .map_err(queue_error)?;
        if released > 0 {
            self.arrived.notify_waiters();
        }
        Ok(released)
    }

    async fn health(&self) -> Result<(), QueueError> {
        self.call(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
            .map_err(queue_error)
    }

    async fn backlog(&self) -> Result<Option<Backlog>, QueueError> {
        self.call(|conn| {
            let (waiting, in_flight, oldest) = conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(receive_count > 0), 0), MIN(sent_at) FROM messages WHERE queue = ?1",
                )?
                .query_row(params![MAIN], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
                })?;
            let dead_letters = conn
                .prepare_cached("SELECT COUNT(*) FROM messages WHERE queue = ?1")?
                .query_row(params![DEAD], |r| r.get::<_, i64>(0))?;
            Ok(Some(Backlog {
                waiting: waiting as u64,
                in_flight: in_flight as u64,
                oldest_waiting_secs: oldest.map(|sent| ((now_ms() - sent).max(0) / 1000) as u64),
                dead_letters: dead_letters as u64,
            }))
        })
        .await
        .map_err(queue_error)
    }
}

#[async_trait]
impl Ledger for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        let key = key.to_owned();
        let doc = self
            .call({
                let key = key.clone();
                move |conn| {
                    Ok(conn
                        .prepare_cached("SELECT doc FROM ledger WHERE key = ?1")?
                        .query_row(params![key], |r| r.get::<_, String>(0))
                        .optional()?)
                }
            })
            .await
            .map_err(ledger_error)?;
        doc.map(|d| parse_record(&key, &d)).transpose()
    }

    async fn create(&self, record: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError> {
        // Serialized here, on the caller's thread: the store's one thread does only SQL.
        let doc = serde_json::to_string(record).expect("a ledger record always serializes");
        let (key, version, lead_key, received_at) = (
            record.key.clone(),
            record.version as i64,
            record.lead_key.clone(),
            record.received_at.to_rfc3339(),
        );
        let expires_at = self.expires_at();
        let existing = self
            .call(move |conn| {
                let inserted = conn.prepare_cached(
                    "INSERT OR IGNORE INTO ledger (key, doc, version, lead_key, received_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?.execute(
                    params![key, doc, version, lead_key, received_at, expires_at],
                )?;
                if inserted == 1 {
                    return Ok(None);
                }
                Ok(Some(conn.prepare_cached("SELECT key, doc FROM ledger WHERE key = ?1")?.query_row(params![key], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?))
            })
            .await
            .map_err(ledger_error)?;
        existing.map(|(k, d)| parse_record(&k, &d)).transpose()
    }

    async fn update(&self, record: &LedgerRecord) -> Result<(), LedgerError> {
        let doc = serde_json::to_string(record).expect("a ledger record always serializes");
        let expires_at = self.expires_at();
        let key = record.key.clone();
        let version = record.version as i64;
        let expected = record.version.wrapping_sub(1);
        // The index columns too, as DynamoDB's put replaces the whole item: delivery may give a
        // record the time of the message that delivers it.
        let (lead_key, received_at) = (record.lead_key.clone(), record.received_at.to_rfc3339());
        let changed = self
            .call({
                let key = key.clone();
                move |conn| {
                    Ok(conn.prepare_cached(
                        "UPDATE ledger SET doc = ?1, version = ?2, expires_at = ?3, lead_key = ?6, received_at = ?7 WHERE key = ?4 AND version = ?5",
                    )?.execute(params![doc, version, expires_at, key, expected as i64, lead_key, received_at])?)
                }
            })
            .await
            .map_err(ledger_error)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(LedgerError::Conflict { key, expected })
        }
    }

    async fn link_sender_lead(&self, key: &str, link: &SenderLink) -> Result<(), LedgerError> {
        let (key, doc) = (
            key.to_owned(),
            serde_json::to_string(link).expect("a link always serializes"),
        );
        let expires_at = self.expires_at();
        self.call(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO sender_links (key, doc, expires_at) VALUES (?1, ?2, ?3)",
                params![key, doc, expires_at],
            )?;
            Ok(())
        })
        .await
        .map_err(ledger_error)
    }

    async fn sender_lead(&self, key: &str) -> Result<Option<SenderLink>, LedgerError> {
        let k = key.to_owned();
        let doc = self
            .call(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT doc FROM sender_links WHERE key = ?1",
                        params![k],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?)
            })
            .await
            .map_err(ledger_error)?;
        doc.map(|d| {
            serde_json::from_str(&d).map_err(|e| LedgerError::Corrupt {
                key: key.to_owned(),
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    async fn records_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<LedgerRecord>>, LedgerError> {
        // RFC 3339 in UTC sorts as text (to within the fraction of a second at the bound).
        let since = since.to_rfc3339();
        let rows = self
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT key, doc FROM ledger WHERE received_at >= ?1 ORDER BY received_at DESC LIMIT ?2",
                )?;
                let rows = stmt
                    .query_map(params![since, limit as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(ledger_error)?;
        rows.iter()
            .map(|(k, d)| parse_record(k, d))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn records_for_lead(&self, lead_key: &str) -> Result<Vec<LedgerRecord>, LedgerError> {
        let lead_key = lead_key.to_owned();
        let rows = self
            .call(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT key, doc FROM ledger WHERE lead_key = ?1 ORDER BY received_at",
                )?;
                let rows = stmt
                    .query_map(params![lead_key], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(ledger_error)?;
        rows.iter().map(|(k, d)| parse_record(k, d)).collect()
    }

    async fn rechat_state(&self) -> Result<RechatState, LedgerError> {
        let doc = self
            .call(|conn| {
                Ok(conn
                    .prepare_cached("SELECT doc FROM state WHERE key = ?1")?
                    .query_row(params![RECHAT_STATE_KEY], |r| r.get::<_, String>(0))
                    .optional()?)
            })
            .await
            .map_err(ledger_error)?;
        crate::ledger::read_rechat_state(doc)
    }

    /// In the `state` table, under `doc#<key>`.
    async fn document(&self, key: &str) -> Result<Option<Document>, LedgerError> {
        let key = format!("doc#{key}");
        self.call(move |conn| {
            Ok(conn
                .prepare_cached("SELECT doc, version FROM state WHERE key = ?1")?
                .query_row(params![key], |r| {
                    Ok(Document {
                        doc: r.get(0)?,
                        version: r.get::<_, i64>(1)? as u64,
                    })
                })
                .optional()?)
        })
        .await
        .map_err(ledger_error)
    }

    async fn put_document(&self, key: &str, doc: &str, version: u64) -> Result<(), LedgerError> {
        let (name, doc) = (format!("doc#{key}"), doc.to_owned());
        let (stored_version, expected) = (version as i64, version.wrapping_sub(1) as i64);
        let changed = self
            .call(move |conn| {
                if expected == 0 {
                    return Ok(conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO state (key, doc, version) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![name, doc, stored_version])?);
                }
                Ok(conn
                    .prepare_cached(
                        "UPDATE state SET doc = ?1, version = ?2 WHERE key = ?3 AND version = ?4",
                    )?
                    .execute(params![doc, stored_version, name, expected])?)
            })
            .await
            .map_err(ledger_error)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(crate::ledger::document_conflict(key, version))
        }
    }

    async fn put_rechat_state(&self, state: &RechatState) -> Result<(), LedgerError> {
        let doc = serde_json::to_string(state).expect("the breaker's state always serializes");
        let (version, expected) = (state.version as i64, state.version.wrapping_sub(1) as i64);
        let changed = self
            .call(move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE state SET doc = ?1, version = ?2 WHERE key = ?3 AND version = ?4",
                    )?
                    .execute(params![doc, version, RECHAT_STATE_KEY, expected])?;
                if changed == 0 && expected == 0 {
                    return Ok(conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO state (key, doc, version) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![RECHAT_STATE_KEY, doc, version])?);
                }
                Ok(changed)
            })
            .await
            .map_err(ledger_error)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(crate::ledger::rechat_state_conflict(state))
        }
    }
}
