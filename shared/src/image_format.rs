//! What an uploaded profile image is, by its bytes (never by the name or type it claims), and
//! the same image without its metadata.
//!
//! ```text
//!   bytes ──sniff (magic numbers)──► PNG | JPEG | GIF | WebP      anything else (SVG, HTML, …) ──► refused
//!        ──strip──► the same pixels; EXIF (GPS position, camera serial), XMP, comments, text
//!                   chunks and ICC-free extras dropped, structure checked on the way
//! ```
//!
//! Only these four raster formats are accepted: an SVG is a document that can carry script,
//! and whatever is served from the Frontend API's origin must not be able to run there.
//! Stripping walks each format's container (PNG chunks, JPEG segments, GIF blocks, RIFF
//! chunks) and keeps the parts that make the picture; a file whose structure does not hold is
//! refused rather than passed on.

/// The accepted formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    pub const fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub const fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
        }
    }
}

/// The format the bytes are, by their magic numbers.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// The image without its metadata; `None` when its structure does not hold.
pub fn strip(format: ImageFormat, bytes: &[u8]) -> Option<Vec<u8>> {
    match format {
        ImageFormat::Png => strip_png(bytes),
        ImageFormat::Jpeg => strip_jpeg(bytes),
        ImageFormat::Gif => strip_gif(bytes),
        ImageFormat::Webp => strip_webp(bytes),
    }
}

/// PNG chunks that make the picture (PNG spec §5.6); text, time, EXIF and private chunks go.
const PNG_KEPT: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.get(..8)?.to_vec();
    let mut at = 8;
    let mut ended = false;
    while at < bytes.len() && !ended {
        let len = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind: &[u8; 4] = bytes.get(at + 4..at + 8)?.try_into().ok()?;
        let end = at.checked_add(12)?.checked_add(len)?;
        let chunk = bytes.get(at..end)?;
        if PNG_KEPT.contains(&kind) {
            out.extend_from_slice(chunk);
        }
        ended = kind == b"IEND";
        at = end;
    }
    ended.then_some(out)
}

fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0xFF, 0xD8];
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // Fill bytes before a marker.
            0xFF => {
                at += 1;
                continue;
            }
            // Start of scan: the picture to its end-of-image marker. Whatever follows it
            // (a second image with its own EXIF, a "motion photo" video) is dropped. In the
            // entropy-coded data a 0xFF is always stuffed or a restart marker, so the first
            // FF D9 is the end.
            0xDA => {
                let rest = bytes.get(at..)?;
                let end = rest.windows(2).position(|w| w == [0xFF, 0xD9])?;
                out.extend_from_slice(rest.get(..end + 2)?);
                return Some(out);
            }
            0xD9 => return None,
            _ => {}
        }
        let len = u16::from_be_bytes(bytes.get(at + 2..at + 4)?.try_into().ok()?) as usize;
        let end = at.checked_add(2)?.checked_add(len)?;
        let segment = bytes.get(at..end)?;
        // APP1–APP15 carry EXIF, XMP, maker notes and the like; COM is a comment. APP0
        // (JFIF) and the coding segments stay. APP2 can be an ICC profile: dropped too, and
        // the picture shows in sRGB.
        let metadata = (0xE1..=0xEF).contains(&marker) || marker == 0xFE;
        if !metadata {
            out.extend_from_slice(segment);
        }
        at = end;
    }
}

fn strip_gif(bytes: &[u8]) -> Option<Vec<u8>> {
    // Header and logical screen descriptor, then the global color table if there is one.
    let flags = *bytes.get(10)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 * (1usize << ((flags & 0x07) + 1));
    }
    let mut out = bytes.get(..at)?.to_vec();
    let sub_blocks_end = |mut i: usize| -> Option<usize> {
        loop {
            let n = *bytes.get(i)? as usize;
            i += 1 + n;
            if n == 0 {
                return Some(i);
            }
        }
    };
    loop {
        match *bytes.get(at)? {
            // Trailer.
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            // Extension: graphic control (0xF9) and NETSCAPE looping stay; comments, plain
            // text and other application extensions go.
            0x21 => {
                let label = *bytes.get(at + 1)?;
                let end = sub_blocks_end(at + 2)?;
                let looping = label == 0xFF && bytes.get(at + 3..at + 14) == Some(b"NETSCAPE2.0");
                if label == 0xF9 || looping {
                    out.extend_from_slice(bytes.get(at..end)?);
                }
                at = end;
            }
            // Image descriptor, its local color table, the LZW minimum code size and data.
            0x2C => {
                let flags = *bytes.get(at + 9)?;
                let mut i = at + 10;
                if flags & 0x80 != 0 {
                    i += 3 * (1usize << ((flags & 0x07) + 1));
                }
                let end = sub_blocks_end(i + 1)?;
                out.extend_from_slice(bytes.get(at..end)?);
                at = end;
            }
            _ => return None,
        }
    }
}

fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut at = 12;
    let declared = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let end_of_file = declared.checked_add(8)?.min(bytes.len());
    while at + 8 <= end_of_file {
        let kind: &[u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        let len = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        let end = at.checked_add(8)?.checked_add(len + (len & 1))?;
        if end > end_of_file {
            return None;
        }
        let chunk = bytes.get(at..end)?;
        if kind != b"EXIF" && kind != b"XMP " {
            chunks.push(chunk.to_vec());
        }
        at = end;
    }
    if chunks.is_empty() {
        return None;
    }
    let mut body: Vec<u8> = b"WEBP".to_vec();
    for mut c in chunks {
        // VP8X announces EXIF and XMP with flag bits (4: EXIF, 2: XMP); they are gone now.
        if c.starts_with(b"VP8X") && c.len() > 8 {
            c[8] &= !0b0000_1100;
        }
        body.extend_from_slice(&c);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked here
        c
    }

    #[test]
    fn sniffing_goes_by_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"GIF89a...."), Some(ImageFormat::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
    }

    #[test]
    fn png_text_and_exif_chunks_are_dropped() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(png_chunk(b"IHDR", &[0; 13]));
        png.extend(png_chunk(b"tEXt", b"Author\0someone"));
        png.extend(png_chunk(b"eXIf", b"GPS 51.5,-0.1"));
        png.extend(png_chunk(b"IDAT", b"pixels"));
        png.extend(png_chunk(b"IEND", b""));
        let out = strip(ImageFormat::Png, &png).unwrap_or_default();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("IHDR") && text.contains("IDAT") && text.contains("IEND"));
        assert!(!text.contains("someone") && !text.contains("GPS"));
        // Cut short: refused.
        assert_eq!(strip(ImageFormat::Png, &png[..png.len() - 6]), None);
    }

    #[test]
    fn jpeg_app_segments_and_comments_are_dropped() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend([0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        jpeg.extend([0xFF, 0xE1, 0x00, 0x07, b'E', b'x', b'i', b'f', b'!']);
        jpeg.extend([0xFF, 0xFE, 0x00, 0x06, b'c', b'o', b'm', b'm']);
        jpeg.extend([0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]);
        let out = strip(ImageFormat::Jpeg, &jpeg).unwrap_or_default();
        assert!(out.windows(4).any(|w| w == b"JFIF"));
        assert!(!out.windows(4).any(|w| w == b"Exif" || w == b"comm"));
        assert!(out.ends_with(&[1, 2, 3, 0xFF, 0xD9]));
        // What follows the end of the image (a second picture with its own EXIF, a video) goes.
        let mut appended = jpeg.clone();
        appended.extend_from_slice(b"\xFF\xD8\xFF\xE1\x00\x08Exif GPS");
        assert_eq!(strip(ImageFormat::Jpeg, &appended), Some(out));
    }

    #[test]
    fn a_webp_chunk_that_runs_past_the_file_is_refused() {
        let mut webp = b"RIFF\0\0\0\0WEBPVP8L".to_vec();
        webp.extend_from_slice(&100u32.to_le_bytes());
        webp.extend_from_slice(&[0; 10]);
        let len = (webp.len() - 8) as u32;
        webp[4..8].copy_from_slice(&len.to_le_bytes());
        assert_eq!(strip(ImageFormat::Webp, &webp), None);
    }
}
