//! Profile images in an S3 bucket (the deployed stack's), one object per image.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{ImageStore, StoredImage, is_key};

pub struct S3Images {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Images {
    /// Built once per cold start, like the DynamoDB client. `endpoint` is for an S3-compatible
    /// server (moto in the tests), addressed by path.
    pub fn new(conf: &aws_config::SdkConfig, bucket: String, endpoint: Option<String>) -> Self {
        let mut b = aws_sdk_s3::config::Builder::from(conf);
        if let Some(url) = endpoint {
            b = b.endpoint_url(url).force_path_style(true);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(b.build()),
            bucket,
        }
    }
}

#[async_trait]
impl ImageStore for S3Images {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), String> {
        if !is_key(key) {
            return Err(format!("not an image key: {key}"));
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
    }

    async fn get(&self, key: &str) -> Result<Option<StoredImage>, String> {
        if !is_key(key) {
            return Ok(None);
        }
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(format!("{}", aws_sdk_s3::error::DisplayErrorContext(e))),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .into_bytes();
        Ok(Some(StoredImage {
            bytes,
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
    }
}
