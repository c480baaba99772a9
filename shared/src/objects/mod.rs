//! The object store SES writes received mail to: a narrow trait, S3 behind it on AWS (and
//! moto's S3 in tests), a map in memory for the domain's tests.

#[cfg(feature = "aws")]
pub mod s3;

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("no object {bucket}/{key}")]
    NotFound { bucket: String, key: String },
    #[error("object {key} is {size} bytes, over the {limit}-byte limit")]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's bytes, refused when over `limit` bytes.
    async fn get(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, ObjectError>;
}

/// Objects in memory.
#[derive(Debug, Default)]
pub struct MemoryObjects {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl MemoryObjects {
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.objects
            .lock()
            .expect("not poisoned")
            .insert((bucket.to_owned(), key.to_owned()), bytes);
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn get(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, ObjectError> {
        let objects = self.objects.lock().expect("not poisoned");
        let bytes = objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .ok_or_else(|| ObjectError::NotFound {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })?;
        if bytes.len() as u64 > limit {
            return Err(ObjectError::TooLarge {
                key: key.to_owned(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes.clone())
    }
}
