//! The profile image: upload (`POST /v1/me/profile_image`, multipart `file`) and removal.
//!
//! ```text
//!   bytes ──size ≤ 4 MiB──► sniffed: PNG | JPEG | GIF | WebP (and what the upload said it is) ──►
//!   metadata stripped ──► stored as user_…/<hash>.<ext> ──► the user names it (one write);
//!   the image it replaces is removed after the write
//! ```

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::image_format::{self, ImageFormat};
use crate::model::records::ProfileImage;
use crate::security;

use super::acting::{Acting, save_user};
use crate::flows::command::UserCommand;

/// `POST /v1/me/profile_image`.
#[derive(Debug, Clone)]
pub struct SetProfileImage {
    pub bytes: Bytes,
    /// The type the upload declared, if any.
    pub declared_type: Option<String>,
}

/// `DELETE /v1/me/profile_image`.
#[derive(Debug, Clone)]
pub struct RemoveProfileImage;

fn store(app: &App) -> Result<&std::sync::Arc<dyn crate::images::ImageStore>> {
    app.images
        .as_ref()
        .ok_or_else(|| Error::internal("this process keeps no profile images"))
}

fn refused(why: &str) -> Error {
    Error::new(Code::FormParamValueInvalid)
        .param("file")
        .long(why)
}

/// The image the upload holds, checked and without its metadata.
pub fn checked_image(bytes: &[u8], declared: Option<&str>) -> Result<(ImageFormat, Vec<u8>)> {
    if bytes.len() > security::MAX_PROFILE_IMAGE_BYTES {
        return Err(Error::new(Code::ImageTooLarge).param("file").long(format!(
            "The image must be at most {} MB.",
            security::MAX_PROFILE_IMAGE_BYTES / (1024 * 1024)
        )));
    }
    let format = image_format::sniff(bytes)
        .ok_or_else(|| refused("Upload a PNG, JPEG, GIF or WebP image."))?;
    // A file that says it is something else is refused rather than believed either way.
    let generic = ["application/octet-stream", "binary/octet-stream", ""];
    if let Some(said) = declared.filter(|t| !generic.contains(t))
        && !said.eq_ignore_ascii_case(format.content_type())
        && !(format == ImageFormat::Jpeg && said.eq_ignore_ascii_case("image/jpg"))
    {
        return Err(refused("The file is not the kind of image it says it is."));
    }
    let stripped = image_format::strip(format, bytes)
        .ok_or_else(|| refused("The image is damaged or incomplete."))?;
    Ok((format, stripped))
}

impl UserCommand for SetProfileImage {
    type Output = ProfileImage;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let (format, stripped) = checked_image(&self.bytes, self.declared_type.as_deref())?;
        let hash = Sha256::digest(&stripped);
        let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        let key = format!("{}/{hex}.{}", a.user.id, format.extension());
        let images = store(app)?;
        // The same content has the same key: a retry of this command puts the same object.
        images
            .put(&key, Bytes::from(stripped), format.content_type())
            .await
            .map_err(Error::internal)?;
        let image = ProfileImage {
            key,
            content_type: format.content_type().to_owned(),
        };
        let previous = a.user.image.replace(image.clone());
        save_user(app, a).await?;
        if let Some(old) = previous.filter(|old| old.key != image.key)
            && let Err(e) = images.delete(&old.key).await
        {
            tracing::warn!(error = %e, "a replaced profile image was not removed");
        }
        Ok(image)
    }
}

impl UserCommand for RemoveProfileImage {
    type Output = ProfileImage;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let old = a
            .user
            .image
            .take()
            .ok_or_else(|| Error::new(Code::ImageNotFound))?;
        save_user(app, a).await?;
        if let Err(e) = store(app)?.delete(&old.key).await {
            tracing::warn!(error = %e, "a removed profile image was not deleted");
        }
        Ok(old)
    }
}

/// An image as served: its bytes and type, for a key of the store's own shape.
pub async fn image(app: &App, key: &str) -> Result<crate::images::StoredImage> {
    if !crate::images::is_key(key) {
        return Err(Error::new(Code::ImageNotFound));
    }
    store(app)?
        .get(key)
        .await
        .map_err(Error::internal)?
        .ok_or_else(|| Error::new(Code::ImageNotFound))
}
