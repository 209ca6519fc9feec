//! Where profile images are kept: a narrow port, with its adapters — files under the data
//! directory locally (`files`), an S3 bucket in the deployed stack (`s3`). Images are stored
//! under keys that change with their content, so they are served as immutable.

pub mod files;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;

/// An image as stored.
#[derive(Debug, Clone)]
pub struct StoredImage {
    pub bytes: Bytes,
    pub content_type: String,
}

#[async_trait]
pub trait ImageStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), String>;
    async fn get(&self, key: &str) -> Result<Option<StoredImage>, String>;
    async fn delete(&self, key: &str) -> Result<(), String>;
}

/// A key is the user's id and the content's hash: `user_…/<hex>.<ext>`. Only such keys are
/// ever read, so a request cannot name a path of its own.
pub fn is_key(key: &str) -> bool {
    let Some((owner, file)) = key.split_once('/') else {
        return false;
    };
    let Some((hash, ext)) = file.split_once('.') else {
        return false;
    };
    owner.starts_with("user_")
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.len() == 32
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(ext, "png" | "jpg" | "gif" | "webp")
}
