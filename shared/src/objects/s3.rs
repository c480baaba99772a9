//! S3 through aws-sdk-s3.

use super::{ObjectError, ObjectStore};
use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;

pub struct S3Objects {
    client: aws_sdk_s3::Client,
}

impl S3Objects {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Objects { client }
    }
}

/// An S3 client for `aws`: path-style addressing when a custom endpoint is set
/// (`AWS_ENDPOINT_URL`: moto, MinIO, LocalStack), where `bucket.host` names no server.
pub fn client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
            .build(),
    )
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, ObjectError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(s) if matches!(s.err(), GetObjectError::NoSuchKey(_)) => {
                    ObjectError::NotFound {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    }
                }
                _ => {
                    ObjectError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
                }
            })?;
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if size > limit {
            return Err(ObjectError::TooLarge {
                key: key.to_owned(),
                size,
                limit,
            });
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| ObjectError::Unavailable(e.to_string()))?
            .into_bytes();
        Ok(bytes.to_vec())
    }
}
