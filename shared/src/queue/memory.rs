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
