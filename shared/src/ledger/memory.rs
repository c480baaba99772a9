//! A ledger in memory, for tests and dry runs. Same rules as the durable ones.

use super::{Document, Ledger, LedgerError, LedgerRecord, RechatState, SenderLink};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryLedger {
    records: Mutex<HashMap<String, LedgerRecord>>,
    links: Mutex<HashMap<String, SenderLink>>,
    rechat: Mutex<RechatState>,
    documents: Mutex<HashMap<String, Document>>,
}

impl MemoryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn all(&self) -> Vec<LedgerRecord> {
        let mut all: Vec<_> = self.records.lock().unwrap().values().cloned().collect();
        all.sort_by_key(|r| r.received_at);
        all
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        Ok(self.records.lock().unwrap().get(key).cloned())
    }

    async fn create(&self, record: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError> {
        let mut records = self.records.lock().unwrap();
        if let Some(existing) = records.get(&record.key) {
            return Ok(Some(existing.clone()));
        }
        records.insert(record.key.clone(), record.clone());
        Ok(None)
    }

    async fn update(&self, record: &LedgerRecord) -> Result<(), LedgerError> {
        let mut records = self.records.lock().unwrap();
        let stored = records.get(&record.key).map(|r| r.version);
        if stored != Some(record.version.wrapping_sub(1)) {
            return Err(LedgerError::Conflict {
                key: record.key.clone(),
                expected: record.version.wrapping_sub(1),
            });
        }
        records.insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn link_sender_lead(&self, key: &str, link: &SenderLink) -> Result<(), LedgerError> {
        self.links
            .lock()
            .unwrap()
            .insert(key.to_owned(), link.clone());
        Ok(())
    }

    async fn sender_lead(&self, key: &str) -> Result<Option<SenderLink>, LedgerError> {
        Ok(self.links.lock().unwrap().get(key).cloned())
    }

    async fn records_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<LedgerRecord>>, LedgerError> {
        let mut all: Vec<_> = self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.received_at >= since)
            .cloned()
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.received_at));
        all.truncate(limit);
        Ok(Some(all))
    }

    async fn records_for_lead(&self, lead_key: &str) -> Result<Vec<LedgerRecord>, LedgerError> {
        Ok(self
            .all()
            .into_iter()
            .filter(|r| r.lead_key == lead_key)
            .collect())
    }

    async fn rechat_state(&self) -> Result<RechatState, LedgerError> {
        Ok(self.rechat.lock().unwrap().clone())
    }

    async fn document(&self, key: &str) -> Result<Option<Document>, LedgerError> {
        Ok(self.documents.lock().unwrap().get(key).cloned())
    }

    async fn put_document(&self, key: &str, doc: &str, version: u64) -> Result<(), LedgerError> {
        let mut documents = self.documents.lock().unwrap();
        let stored = documents.get(key).map_or(0, |d| d.version);
        if stored.wrapping_add(1) != version {
            return Err(super::document_conflict(key, version));
        }
        documents.insert(
            key.to_owned(),
            Document {
                doc: doc.to_owned(),
                version,
            },
        );
        Ok(())
    }

    async fn put_rechat_state(&self, state: &RechatState) -> Result<(), LedgerError> {
        let mut stored = self.rechat.lock().unwrap();
        if stored.version.wrapping_add(1) != state.version {
            return Err(super::rechat_state_conflict(state));
        }
        *stored = state.clone();
        Ok(())
    }
}
