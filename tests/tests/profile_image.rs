#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Profile images through the HTTP surface (`POST`/`DELETE /v1/me/profile_image`, the served
//! image), and the image store's two adapters alike: files (the local server) and S3 (moto,
//! started by `make test`).

use std::sync::Arc;

use bytes::Bytes;
use frontdoor::images::ImageStore;
use frontdoor_tests::{Device, TestApp, TestResponse, req};
use http::{Method, StatusCode};

const PASSWORD: &str = "correct horse battery";

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&[0, 0, 0, 0]);
    c
}

/// A PNG with a text chunk that must not survive the upload.
fn png_with_metadata() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]));
    png.extend(png_chunk(b"tEXt", b"Location\0GPS 48.8584 2.2945"));
    png.extend(png_chunk(b"IDAT", b"x\x9cc\xf8\x0f\x00\x00\x01\x01\x00"));
    png.extend(png_chunk(b"IEND", b""));
    png
}

/// A multipart body with one `file` part.
fn multipart(content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "frontdoor-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"avatar\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(d: &Device<'_>, content_type: &str, bytes: &[u8]) -> TestResponse {
    let (ct, body) = multipart(content_type, bytes);
    d.t.send(
        req(Method::POST, "/v1/me/profile_image?_is_native=1")
            .header("authorization", d.token.clone().unwrap_or_default())
            .header("content-type", ct)
            .header("content-length", body.len().to_string())
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

/// The bytes and headers of a served image (a path on this server).
async fn fetch(t: &TestApp, url: &str) -> (StatusCode, http::HeaderMap, Bytes) {
    let path = &url[url.find("/v1/images/").unwrap()..];
    let response = tower::ServiceExt::oneshot(
        t.service.clone(),
        req(Method::GET, path)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn an_uploaded_image_is_stripped_stored_served_and_removed() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("pic@example.test", PASSWORD).await;
    let r = upload(&d, "image/png", &png_with_metadata()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["object"], "image");
    let url = r.body["response"]["public_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["has_image"], true);
    assert_eq!(user["image_url"], url.as_str());
    assert_eq!(user["profile_image_url"], url.as_str());

    let (status, headers, bytes) = fetch(&t, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(bytes.starts_with(b"\x89PNG"));
    assert!(
        !bytes.windows(3).any(|w| w == b"GPS"),
        "the text chunk is gone"
    );

    let r = d.send(Method::DELETE, "/v1/me/profile_image", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["deleted"], true);
    let r = d.get("/v1/me").await;
    assert_eq!(r.body["response"]["has_image"], false);
    assert_eq!(r.body["response"]["image_url"], "");
    let (status, _, _) = fetch(&t, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = d.send(Method::DELETE, "/v1/me/profile_image", "").await;
    assert_eq!(r.error_code(), Some("image_not_found"));
}

#[tokio::test]
async fn svgs_files_that_lie_about_their_type_and_huge_files_are_refused() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("careful@example.test", PASSWORD).await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (what, content_type, bytes) in [
        ("an SVG", "image/svg+xml", svg.to_vec()),
        (
            "HTML said to be a PNG",
            "image/png",
            b"<html><script>x</script></html>".to_vec(),
        ),
        ("a PNG said to be a JPEG", "image/jpeg", png_with_metadata()),
        (
            "half a PNG",
            "image/png",
            png_with_metadata()[..30].to_vec(),
        ),
    ] {
        let r = upload(&d, content_type, &bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some("form_param_value_invalid"), "{what}");
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], "file");
    }
    let mut huge = png_with_metadata();
    huge.resize(20 * 1024 * 1024, 0);
    let r = upload(&d, "image/png", &huge).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.error_code(), Some("image_too_large"));
    assert!(t.user(&user_id).await.image.is_none());
    // A key of another shape is never read from the store.
    let (status, _, _) = fetch(&t, "/v1/images/user_x/..%2F..%2Fetc%2Fpasswd").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// What both image stores must do alike.
async fn store_conformance(store: &dyn ImageStore) {
    let key = "user_conformance/0123456789abcdef0123456789abcdef.png";
    assert!(store.get(key).await.unwrap().is_none());
    store
        .put(key, Bytes::from_static(b"\x89PNG-bytes"), "image/png")
        .await
        .unwrap();
    let got = store.get(key).await.unwrap().unwrap();
    assert_eq!(&got.bytes[..], b"\x89PNG-bytes");
    assert_eq!(got.content_type, "image/png");
    store.delete(key).await.unwrap();
    assert!(store.get(key).await.unwrap().is_none());
    store.delete(key).await.unwrap();
    assert!(
        store
            .put("../escape.png", Bytes::new(), "image/png")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_file_store_keeps_images() {
    let dir = std::env::temp_dir().join(format!(
        "frontdoor-images-conformance-{}",
        std::process::id()
    ));
    store_conformance(&frontdoor::images::files::FileImages::new(dir)).await;
}

#[tokio::test]
async fn the_s3_store_keeps_images_in_a_bucket() {
    let Ok(endpoint) = std::env::var("FRONTDOOR_TEST_DYNAMODB") else {
        if std::env::var("FRONTDOOR_REQUIRE_DYNAMODB").is_ok_and(|v| v == "1") {
            panic!("FRONTDOOR_REQUIRE_DYNAMODB=1 but FRONTDOOR_TEST_DYNAMODB is not set");
        }
        eprintln!("skipping: FRONTDOOR_TEST_DYNAMODB (moto) is not set");
        return;
    };
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    let bucket = format!("frontdoor-images-{}", std::process::id());
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .build(),
    );
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let store: Arc<dyn ImageStore> = Arc::new(frontdoor::images::s3::S3Images::new(
        &conf,
        bucket,
        Some(endpoint),
    ));
    store_conformance(store.as_ref()).await;
}

#[tokio::test]
async fn uploads_without_a_file_or_with_a_broken_body_get_clerk_errors() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("nofile@example.test", PASSWORD).await;
    let send = |ct: &str, body: &[u8]| {
        req(Method::POST, "/v1/me/profile_image?_is_native=1")
            .header("authorization", d.token.clone().unwrap_or_default())
            .header("content-type", ct.to_owned())
            .body(axum::body::Body::from(body.to_vec()))
            .unwrap()
    };
    let boundary = "multipart/form-data; boundary=b";
    let no_file = b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n";
    let r = t.send(send(boundary, no_file)).await;
    assert_eq!(r.error_code(), Some("form_param_missing"), "{}", r.body);
    let r = t.send(send(boundary, b"--b\r\nnot a part")).await;
    assert_eq!(r.error_code(), Some("request_body_invalid"), "{}", r.body);
    let r = t.send(send("multipart/form-data", b"x")).await;
    assert_eq!(r.error_code(), Some("request_body_invalid"), "{}", r.body);
    let r = t
        .send(send("application/x-www-form-urlencoded", b"file=x"))
        .await;
    assert_eq!(r.error_code(), Some("form_param_missing"), "{}", r.body);
    let r = d.get("/v1/me").await;
    assert_eq!(r.body["response"]["has_image"], false);
}
