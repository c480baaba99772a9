//! A queue that records what was done to it, for tests of the delivery logic.

use super::{DeadLetter, Queue, QueueError, QueueMessage};
use crate::envelope::Envelope;
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct RecordingQueue {
    pub sent: Mutex<Vec<Envelope>>,
    pub dead_letters: Mutex<Vec<(String, DeadLetter)>>,
    pub visibility: Mutex<Vec<(String, u32)>>,
    /// Messages put back at the end of their group, with when they may come back.
    pub requeued: Mutex<Vec<(QueueMessage, Option<chrono::DateTime<chrono::Utc>>)>>,
    /// The receive limit it reports, as SQS's redrive policy (none by default).
    pub receive_limit: Option<u32>,
    /// When set, every call fails as if the queue were down.
    pub down: std::sync::atomic::AtomicBool,
}

impl RecordingQueue {
    fn check(&self) -> Result<(), QueueError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(QueueError::Unavailable("the test queue is down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn send(&self, envelope: &Envelope) -> Result<(), QueueError> {
        self.check()?;
        super::message_body(envelope)?;
        self.sent.lock().unwrap().push(envelope.clone());
        Ok(())
    }

    async fn dead_letter(&self, body: &str, dead_letter: &DeadLetter) -> Result<(), QueueError> {
        self.check()?;
        self.dead_letters
            .lock()
            .unwrap()
            .push((body.to_owned(), dead_letter.clone()));
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        self.check()?;
        self.visibility
            .lock()
            .unwrap()
            .push((receipt_handle.to_owned(), seconds));
        Ok(())
    }

    async fn health(&self) -> Result<(), QueueError> {
        self.check()
    }

    async fn receive_limit(&self) -> Result<Option<u32>, QueueError> {
        self.check()?;
        Ok(self.receive_limit)
    }

    async fn requeue(
        &self,
        message: &QueueMessage,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), QueueError> {
        self.check()?;
        self.requeued
            .lock()
            .unwrap()
            .push((message.clone(), not_before));
        Ok(())
    }
}

/// Its dead letters as the console works them: `m-1`, `m-2`… in the order they came.
#[async_trait]
impl super::DeadLetters for RecordingQueue {
    async fn list(&self) -> Result<Vec<super::DeadMessage>, QueueError> {
        self.check()?;
        Ok(self
            .dead_letters
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, (body, dead_letter))| super::DeadMessage {
                message_id: format!("m-{}", i + 1),
                body: body.clone(),
                dead_letter: dead_letter.clone(),
                sent_at: chrono::DateTime::default(),
            })
            .collect())
    }

    async fn release(&self, message: &super::DeadMessage) -> Result<(), QueueError> {
        let envelope =
            Envelope::from_json(&message.body).map_err(|e| QueueError::Refused(e.to_string()))?;
        self.send(&envelope).await?;
        self.delete(&message.message_id).await.map(drop)
    }

    async fn delete(&self, message_id: &str) -> Result<bool, QueueError> {
        self.check()?;
        let mut dead = self.dead_letters.lock().unwrap();
        let index = message_id
            .strip_prefix("m-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=dead.len()).contains(n));
        Ok(index.map(|n| dead.remove(n - 1)).is_some())
    }
}
