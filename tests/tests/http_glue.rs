//! The wire rules every endpoint shares, through the composed router: client identification in
//! its three modes, `_method`, proxy prefixes, bodies, the envelope, the error body, CORS, the
//! Origin check, the body limit, JSON 404/405.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use frontdoor_tests::{TestApp, production_settings, req};
use http::{Method, StatusCode};
use serde_json::Value;

const V: &str = "__clerk_api_version=2099-01-01&_clerk_js_version=6.40.0";

#[tokio::test]
async fn no_client_yet_is_a_null_envelope() {
    let t = TestApp::new().await;
    let r = t.get(&format!("/v1/client?{V}&_is_native=1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        serde_json::json!({"response": null, "client": null})
    );
    assert!(r.header("authorization").is_none());
}

#[tokio::test]
async fn native_mode_returns_the_token_in_authorization_and_accepts_it_raw_or_bearer() {
    let t = TestApp::new().await;
    let created = t
        .send(
            req(Method::POST, &format!("/v1/client?{V}&_is_native=1"))
                .header("authorization", "")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let token = created
        .header("authorization")
        .expect("token header")
        .to_owned();
    let id = created.body["client"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("client_"));
    assert_eq!(created.body["response"]["id"], id.as_str());
    assert_eq!(created.body["client"]["object"], "client");
    assert!(
        created.set_cookies().is_empty(),
        "native mode sets no cookies"
    );

    for presented in [token.clone(), format!("Bearer {token}")] {
        let r = t
            .send(
                req(Method::GET, &format!("/v1/client?{V}&_is_native=1"))
                    .header("authorization", presented)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["client"]["id"], id.as_str());
        assert_eq!(r.header("authorization"), Some(token.as_str()));
    }
}

#[tokio::test]
async fn a_forged_or_unknown_native_token_reaches_no_client() {
    let t = TestApp::new().await;
    let created = t.post_form("/v1/client?_is_native=1", "").await;
    let token = created.header("authorization").unwrap().to_owned();
    // Tamper with the payload: the signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let forged = parts.join(".");
    for bad in [forged.as_str(), "not-a-jwt"] {
        let r = t
            .send(
                req(Method::GET, "/v1/client?_is_native=1")
                    .header("authorization", bad)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["client"], Value::Null);
    }
}

#[tokio::test]
async fn a_foreign_authorization_scheme_is_a_clerk_error() {
    let t = TestApp::new().await;
    let r = t
        .send(
            req(Method::GET, "/v1/client?_is_native=1")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("authorization_header_format_invalid"));
}

#[tokio::test]
async fn development_browser_token_identifies_the_client() {
    let t = TestApp::new().await;
    let db = t.post_form(&format!("/v1/dev_browser?{V}"), "").await;
    assert_eq!(db.status, StatusCode::OK);
    let jwt = db.body["id"].as_str().expect("dev browser id").to_owned();
    assert_eq!(db.body.as_object().unwrap().len(), 1, "bare {{id}} object");

    let first = t.get(&format!("/v1/client?{V}&__clerk_db_jwt={jwt}")).await;
    assert_eq!(first.status, StatusCode::OK);
    let id = first.body["client"]["id"].as_str().unwrap().to_owned();
    let again = t.get(&format!("/v1/client?{V}&__clerk_db_jwt={jwt}")).await;
    assert_eq!(again.body["client"]["id"], id.as_str());
    // Nothing rotated, so no replacement token is sent.
    assert!(again.header("clerk-db-jwt").is_none());
    assert!(again.set_cookies().is_empty());
}

#[tokio::test]
async fn a_stale_development_browser_token_is_dev_browser_unauthenticated() {
    let t = TestApp::new().await;
    let r = t
        .get(&format!("/v1/client?{V}&__clerk_db_jwt=garbage"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("dev_browser_unauthenticated"));
}

#[tokio::test]
async fn production_has_no_development_browser() {
    let t = TestApp::with_settings(production_settings()).await;
    let r = t
        .send(
            req(Method::POST, "/v1/dev_browser")
                .header("origin", "https://app.example.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("request_invalid_for_environment"));
}

#[tokio::test]
async fn production_cookie_mode_sets_client_and_uat_cookies() {
    let t = TestApp::with_settings(production_settings()).await;
    let origin = "https://app.example.test";
    let created = t
        .send(
            req(Method::POST, "/v1/client")
                .header("origin", origin)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let cookies = created.set_cookies();
    let client_cookie = cookies
        .iter()
        .find(|c| c.starts_with("__client="))
        .expect("__client cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(client_cookie.contains(attr), "{client_cookie} lacks {attr}");
    }
    let uat = cookies
        .iter()
        .find(|c| c.starts_with("__client_uat="))
        .expect("__client_uat cookie");
    assert!(uat.starts_with("__client_uat=0;"), "signed out: {uat}");
    assert!(uat.contains("Domain=example.test"));
    assert!(created.header("authorization").is_none());

    let token = created.cookie("__client").unwrap();
    let id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let r = t
        .send(
            req(Method::GET, "/v1/client")
                .header("cookie", format!("__client={token}; __client_uat=0"))
                .header("origin", origin)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.body["client"]["id"], id.as_str());
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn cookie_mutations_need_an_allowed_origin() {
    let t = TestApp::with_settings(production_settings()).await;
    let created = t
        .send(
            req(Method::POST, "/v1/client")
                .header("origin", "https://app.example.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let token = created.cookie("__client").unwrap();
    let cookie = format!("__client={token}");

    // A foreign origin may neither use the cookie nor plant a client of its own.
    for with_cookie in [true, false] {
        let mut b =
            req(Method::POST, "/v1/client?_method=DELETE").header("origin", "https://evil.test");
        if with_cookie {
            b = b.header("cookie", cookie.clone());
        }
        let r = t.send(b.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.error_code(), Some("origin_invalid"));
        assert!(r.header("access-control-allow-origin").is_none());
    }
    // The cookie without any Origin is refused too.
    let r = t
        .send(
            req(Method::POST, "/v1/client?_method=DELETE")
                .header("cookie", cookie.clone())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.error_code(), Some("origin_invalid"));
    // Reads are not mutations.
    let r = t
        .send(
            req(Method::GET, "/v1/client")
                .header("cookie", cookie.clone())
                .header("origin", "https://evil.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn method_override_and_proxy_prefix_reach_the_same_route() {
    let t = TestApp::new().await;
    let created = t
        .post_form("/some/proxy/prefix/v1/client?_is_native=1", "")
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let token = created.header("authorization").unwrap().to_owned();

    // DELETE /v1/client, tunnelled through POST and a proxy prefix, ends the client.
    let ended = t
        .send(
            req(
                Method::POST,
                "/__clerk/v1/client?_method=DELETE&_is_native=1",
            )
            .header("authorization", token.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(ended.body["client"], Value::Null);
    assert_eq!(ended.body["response"]["id"], created.body["client"]["id"]);
    let after = t
        .send(
            req(Method::GET, "/v1/client?_is_native=1")
                .header("authorization", token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(after.body["client"], Value::Null, "an ended client is gone");

    // _method on a GET is ignored (a link must never mutate).
    let r = t.get("/v1/client?_method=DELETE&_is_native=1").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t.post_form("/v1/client?_method=TRACE", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("malformed_request_parameters"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "_method");
}

#[tokio::test]
async fn put_creates_a_client_like_post() {
    let t = TestApp::new().await;
    let r = t
        .send(
            req(Method::POST, "/v1/client?_method=PUT&_is_native=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("authorization").is_some());
    let r = t
        .send(
            req(Method::PUT, "/v1/client?_is_native=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn json_and_form_bodies_are_accepted_others_are_refused() {
    let t = TestApp::new().await;
    let json = t
        .send(
            req(Method::POST, "/v1/client?_is_native=1")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"anything": null}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(json.status, StatusCode::OK);
    let bad_json = t
        .send(
            req(Method::POST, "/v1/client?_is_native=1")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_json.error_code(), Some("request_body_invalid"));
    let multipart = t
        .send(
            req(Method::POST, "/v1/client?_is_native=1")
                .header("content-type", "multipart/form-data; boundary=x")
                .body(Body::from("--x--"))
                .unwrap(),
        )
        .await;
    assert_eq!(multipart.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(multipart.error_code(), Some("unsupported_content_type"));
    // An empty body with the form content type (what clerk-js sends) is fine.
    let empty = t.post_form("/v1/client?_is_native=1", "").await;
    assert_eq!(empty.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let t = TestApp::new().await;
    let big = "a=".to_owned() + &"x".repeat(frontdoor::security::MAX_REQUEST_BODY_BYTES + 1);
    let declared = t.post_form("/v1/client?_is_native=1", &big).await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.error_code(), Some("request_body_too_large"));
    // Without a Content-Length (chunked), the limit still holds while reading.
    let stream = futures_stream(big.into_bytes());
    let chunked = t
        .send(
            req(Method::POST, "/v1/client?_is_native=1")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(stream)
                .unwrap(),
        )
        .await;
    assert_eq!(chunked.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn futures_stream(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter(
    items: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_core_stream::iter(items)
}

mod futures_core_stream {
    //! A minimal iterator stream, so the test needs no stream crate.
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub use futures_core::Stream;

    pub struct Iter<I>(I);

    pub fn iter<I: IntoIterator>(i: I) -> Iter<I::IntoIter> {
        Iter(i.into_iter())
    }

    impl<I: Iterator + Unpin> Stream for Iter<I> {
        type Item = I::Item;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
            Poll::Ready(self.0.next())
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_clerk_error_bodies() {
    let t = TestApp::new().await;
    let r = t.get("/v1/no_such_thing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("resource_not_found"));
    let trace = r.body["clerk_trace_id"].as_str().unwrap();
    assert_eq!(r.header("x-clerk-trace-id"), Some(trace));
    let e = &r.body["errors"][0];
    for field in ["code", "message", "long_message", "meta"] {
        assert!(!e[field].is_null(), "error lacks {field}");
    }
    // A Clerk feature this server does not have answers the same way.
    let r = t
        .post_form("/v1/organizations?_is_native=1", "name=acme")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("resource_not_found"));

    let r = t.post_form("/v1/environment?_method=DELETE", "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error_code(), Some("method_not_allowed"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn every_request_gets_its_own_trace_id() {
    let t = TestApp::new().await;
    let a = t.get("/v1/nope").await;
    let b = t.get("/v1/nope").await;
    assert_ne!(a.body["clerk_trace_id"], b.body["clerk_trace_id"]);
}

#[tokio::test]
async fn cors_answers_allowed_origins_including_on_errors() {
    let t = TestApp::new().await;
    let allowed = "http://localhost:5173";
    let r = t
        .send(
            req(Method::GET, "/v1/nope")
                .header("origin", allowed)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("access-control-allow-origin"), Some(allowed));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("Authorization") && h.contains("Clerk-Db-Jwt"))
    );
    let foreign = t
        .send(
            req(Method::GET, "/v1/environment")
                .header("origin", "https://evil.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::OK);
    assert!(foreign.header("access-control-allow-origin").is_none());

    let preflight = t
        .send(
            req(Method::OPTIONS, "/v1/client")
                .header("origin", allowed)
                .header("access-control-request-method", "DELETE")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(allowed)
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("DELETE"))
    );
}

#[tokio::test]
async fn delete_without_a_client_is_404() {
    let t = TestApp::new().await;
    let r = t
        .send(
            req(Method::DELETE, "/v1/client?_is_native=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("resource_not_found"));
}

#[tokio::test]
async fn native_api_can_be_turned_off() {
    let t = TestApp::with_settings(frontdoor_tests::settings_with(&[(
        "native_api = true",
        "native_api = false",
    )]))
    .await;
    let r = t.get("/v1/client?_is_native=1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("native_api_disabled"));
}

#[tokio::test]
async fn unknown_api_versions_are_accepted() {
    let t = TestApp::new().await;
    let r = t
        .get("/v1/environment?__clerk_api_version=1999-12-31&_clerk_js_version=0.0.1")
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
