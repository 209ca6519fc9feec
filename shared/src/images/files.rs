//! Profile images as files under a directory (the local server's data directory).

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ImageStore, StoredImage, is_key};

pub struct FileImages {
    dir: PathBuf,
}

impl FileImages {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, key: &str) -> Result<PathBuf, String> {
        if !is_key(key) {
            return Err(format!("not an image key: {key}"));
        }
        Ok(self.dir.join(key))
    }
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("gif") => "image/gif",
        _ => "image/webp",
    }
}

#[async_trait]
impl ImageStore for FileImages {
    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<(), String> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| e.to_string())?;
        }
        // Written aside and renamed, so a reader never sees half a file.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, &bytes)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| e.to_string())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredImage>, String> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(StoredImage {
                bytes: Bytes::from(bytes),
                content_type: content_type(key).to_owned(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        }
    }
}
