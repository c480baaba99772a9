//! Kept items in memory, for tests and `inlet parse`. Same rules as the durable stores.

use super::{Kept, KeptError, KeptItem, KeptKind};
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryKept {
    items: Mutex<Vec<KeptItem>>,
    /// When set, every call fails as if the store were down.
    pub down: std::sync::atomic::AtomicBool,
}

impl MemoryKept {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything kept, oldest first.
    pub fn all(&self) -> Vec<KeptItem> {
        self.items.lock().unwrap().clone()
    }

    fn check(&self) -> Result<(), KeptError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(KeptError::Unavailable("the test store is down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Kept for MemoryKept {
    async fn keep(&self, item: &KeptItem) -> Result<(), KeptError> {
        self.check()?;
        super::document(item)?;
        let mut items = self.items.lock().unwrap();
        if !items.iter().any(|i| i.id == item.id) {
            items.push(item.clone());
        }
        Ok(())
    }

    async fn newest(&self, kind: KeptKind, limit: usize) -> Result<Vec<KeptItem>, KeptError> {
        self.check()?;
        let items = self.items.lock().unwrap();
        Ok(items
            .iter()
            .rev()
            .filter(|i| i.kind == kind)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn count(&self, kind: KeptKind) -> Result<u64, KeptError> {
        self.check()?;
        let items = self.items.lock().unwrap();
        Ok(items.iter().filter(|i| i.kind == kind).count() as u64)
    }

    async fn find(&self, id: &str) -> Result<Option<KeptItem>, KeptError> {
        self.check()?;
        let items = self.items.lock().unwrap();
        Ok(items.iter().find(|i| i.is(id)).cloned())
    }

    async fn remove(&self, id: &str) -> Result<bool, KeptError> {
        self.check()?;
        let mut items = self.items.lock().unwrap();
        let before = items.len();
        items.retain(|i| i.id != id);
        Ok(items.len() < before)
    }
}
