//! Property-based tests of the request parsers, through the composed router in-process and on
//! the shared crate's public parsing functions.
//!
//! What they prove, for every generated input (arbitrary bytes, unicode, control characters,
//! `+`/`@` mixes, strings of a few KB):
//!
//! - over HTTP (sign-in and sign-up creates with any body and content type, any `_method`, any
//!   `identifier`, `email_address`, `phone_number` or `username`, any `Authorization` header in
//!   native mode, any `__client` cookie or `__clerk_db_jwt`): no panic, never a 5xx, and every
//!   rejection is Clerk's error body
//!   `{"errors":[{code,message,long_message,meta}],"clerk_trace_id"}`; a token that does not
//!   verify reaches no client;
//! - on the parsers (`Params::{from_form, from_json, from_body}` and their accessors, the
//!   identifier normalisers and `classify`, `ClientTokens::decode`): no panic, and an `Err` is a
//!   Clerk code with a 4xx status that names the parameter; a normalised identifier classifies
//!   as its own kind and normalises to itself (phone, username, email); no token but one we
//!   issued decodes.
//!
//! Requests carry no caller address, so the per-IP rate limits (which would answer every later
//! case with 429) mask nothing. Cases are few and the seed is fixed, so a run is deterministic
//! and writes no files.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use frontdoor::Error;
use frontdoor::client_token::ClientTokens;
use frontdoor::http::Params;
use frontdoor::identifiers::{classify, normalise_email, normalise_phone, normalise_username};
use frontdoor::random::SeededRandom;
use frontdoor::vocabulary::IdentifierKind;
use frontdoor_tests::{Device, T0, TestApp, form, req};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngSeed;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

// ---------------------------------------------------------------------------------------------
// Configuration and harness
// ---------------------------------------------------------------------------------------------

/// Few cases, a fixed seed, no persistence files: deterministic and quick in a debug build.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x00f0_0d00_c1e4),
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

/// The app on a current-thread runtime, shared by the cases of one property (proptest's
/// closures are synchronous, so each case `block_on`s its request).
struct Harness {
    rt: tokio::runtime::Runtime,
    t: TestApp,
}

/// What came back, once checked: the status and the parsed JSON body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let t = rt.block_on(TestApp::new());
        Self { rt, t }
    }

    /// Sends `request` (built by the caller, with no client address) and checks the invariant
    /// every answer must keep: below 500, JSON, and Clerk's error body on a rejection.
    fn send(&self, request: Request<Body>) -> Result<Answer, TestCaseError> {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.rt.block_on(async {
            match self.t.service.clone().oneshot(request).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        });
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = self
            .rt
            .block_on(response.into_body().collect())
            .map_err(|e| TestCaseError::fail(format!("{what}: body: {e}")))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(status.as_u16() < 500, "{what} answered {status}: {text}");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                TestCaseError::fail(format!(
                    "{what} answered {status} with non-JSON ({e}): {text}"
                ))
            })?
        };
        if status.as_u16() >= 400 {
            clerk_error_body(&body).map_err(|why| {
                TestCaseError::fail(format!("{what} answered {status}, {why}: {text}"))
            })?;
            prop_assert_eq!(
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/json"),
                "{} answered {} without a JSON content type",
                what,
                status
            );
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Whether `body` is exactly Clerk's error shape; the reason when it is not.
fn clerk_error_body(body: &Value) -> std::result::Result<(), String> {
    let obj = body.as_object().ok_or("the body is not an object")?;
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["clerk_trace_id", "errors"] {
        return Err(format!("the body has keys {keys:?}"));
    }
    if obj["clerk_trace_id"].as_str().is_none_or(str::is_empty) {
        return Err("clerk_trace_id is not a non-empty string".into());
    }
    let errors = obj["errors"].as_array().ok_or("errors is not an array")?;
    if errors.is_empty() {
        return Err("errors is empty".into());
    }
    for e in errors {
        let e = e.as_object().ok_or("an error is not an object")?;
        if e.get("code")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err("an error's code is not a non-empty string".into());
        }
        for field in ["message", "long_message"] {
            if !e.get(field).is_some_and(Value::is_string) {
                return Err(format!("an error's {field} is not a string"));
            }
        }
        if !e.get("meta").is_some_and(Value::is_object) {
            return Err("an error's meta is not an object".into());
        }
    }
    Ok(())
}

/// A domain error must be a Clerk code answered with a 4xx, naming `param` when given.
fn is_clerk_rejection(e: &Error, param: Option<&str>) -> Result<(), TestCaseError> {
    prop_assert!(
        (400..500).contains(&e.status()),
        "{} has status {}",
        e.code,
        e.status()
    );
    let json = e.to_clerk_json();
    let body = json!({"errors": [json], "clerk_trace_id": "t"});
    if let Err(why) = clerk_error_body(&body) {
        prop_assert!(false, "{} renders badly: {}", e.code, why);
    }
    if let Some(param) = param {
        prop_assert_eq!(e.meta.get("param_name"), Some(&Value::from(param)), "{}", e);
    }
    Ok(())
}

/// Percent-encodes a query value.
fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A request body of the given content type, or `None` if the generated header is not one.
fn post(uri: &str, content_type: Option<&[u8]>, body: Vec<u8>) -> Option<Request<Body>> {
    let mut b = req(Method::POST, uri);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, HeaderValue::from_bytes(ct).ok()?);
    }
    b.body(Body::from(body)).ok()
}

/// `pairs` as a form body, or as a JSON object of strings.
fn encode(pairs: &[(&str, &str)], as_json: bool) -> (&'static str, Vec<u8>) {
    if as_json {
        let obj: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        (
            "application/json",
            Value::Object(obj).to_string().into_bytes(),
        )
    } else {
        (
            "application/x-www-form-urlencoded",
            form(pairs).into_bytes(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// The parameter names the endpoints read, and a few that mean something elsewhere.
const FIELDS: &[&str] = &[
    "identifier",
    "strategy",
    "password",
    "code",
    "email_address",
    "phone_number",
    "username",
    "first_name",
    "last_name",
    "unsafe_metadata",
    "legal_accepted",
    "email_address_id",
    "phone_number_id",
    "redirect_url",
    "_method",
    "__proto__",
];

/// Values that drive the endpoints down their branches.
const MEANINGFUL: &[&str] = &[
    "",
    "password",
    "email_code",
    "phone_code",
    "oauth_google",
    "ticket",
    "totp",
    "true",
    "false",
    "1",
    "null",
    "{}",
    "{\"a\":1}",
    "[]",
    "ada@example.com",
    "+12015550100",
    "ada_lovelace",
];

/// Text of every kind: arbitrary unicode (control characters included), `+`/`@` mixes,
/// identifier look-alikes, and strings of a few KB.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[ +@._a-zA-Z0-9\\-\\x00-\\x1f\\x7f\\u{a0}\\u{200b}\\u{fffd}\\u{130}\\u{212a}é]{0,40}",
        2 => "[ \\t]{0,2}\\+[0-9 ()+.\\-#*x;=:/a-z\\u{ff10}-\\u{ff19}\\u{660}-\\u{669}]{0,24}",
        2 => "[a-zA-Z0-9.+_\\u{e9}\\u{130}\"]{0,20}@[a-zA-Z0-9.\\-\\u{e9}\\[\\]]{0,20}",
        1 => select(MEANINGFUL).prop_map(str::to_owned),
        1 => (any::<char>(), 500usize..3000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => "[^\\n]{500,2000}",
    ]
}

/// Short text, for the leaves of JSON documents and form values.
fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        1 => "[ +@._a-zA-Z0-9\\-]{0,24}",
        1 => select(MEANINGFUL).prop_map(str::to_owned),
    ]
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(FIELDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Any JSON document, biased towards objects of the fields the endpoints read.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        short_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(field_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    btree_map(field_name(), json_value(), 0..6).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// A request body: arbitrary bytes, a form of known fields, form-like text with broken escapes,
/// or a JSON document.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..512),
        2 => vec((field_name(), short_text()), 0..6).prop_map(|pairs| {
            let pairs: Vec<(&str, &str)> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            form(&pairs).into_bytes()
        }),
        1 => "[a-z_=&%+0-9;\\[\\]]{0,120}".prop_map(String::into_bytes),
        2 => json_object().prop_map(|v| v.to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Bytes a header value may hold (visible ASCII, space, tab, obs-text).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![4 => 0x20u8..0x7f, 1 => Just(b'\t'), 1 => 0x80u8..=0xff],
        0..max,
    )
}

/// The form and JSON types, none, near misses, and arbitrary header bytes.
fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        2 => Just(Some(b"application/json".to_vec())),
        2 => Just(None),
        1 => select(&[
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            " application/x-www-form-urlencoded ; charset=utf-8",
            "text/plain",
            "multipart/form-data; boundary=x",
            ";",
            "",
        ][..])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        2 => header_bytes(60).prop_map(Some),
    ]
}

/// A base64url-looking segment.
fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_\\-=+/]{0,60}"
}

// ---------------------------------------------------------------------------------------------
// HTTP: bodies and content types
// ---------------------------------------------------------------------------------------------

fn any_body_is_refused_the_clerk_way(path: &str) {
    let h = Harness::new();
    proptest!(config(64), |(
        body in body(),
        content_type in content_type(),
        native in any::<bool>(),
    )| {
        let uri = if native { format!("{path}?_is_native=1") } else { path.to_owned() };
        let Some(request) = post(&uri, content_type.as_deref(), body) else {
            return Ok(());
        };
        h.send(request)?;
    });
}

#[test]
fn sign_in_create_survives_any_body_and_content_type() {
    any_body_is_refused_the_clerk_way("/v1/client/sign_ins");
}

#[test]
fn sign_up_create_survives_any_body_and_content_type() {
    any_body_is_refused_the_clerk_way("/v1/client/sign_ups");
}

// ---------------------------------------------------------------------------------------------
// HTTP: `_method`
// ---------------------------------------------------------------------------------------------

#[test]
fn any_method_override_on_client_is_answered_the_clerk_way() {
    let h = Harness::new();
    let verbs = select(
        &[
            "GET", "POST", "PUT", "PATCH", "DELETE", "get", "Delete", "pAtCh", "HEAD", "OPTIONS",
            "TRACE", "CONNECT", "DELETE ", " GET", "DEL\0ETE", "",
        ][..],
    )
    .prop_map(str::to_owned);
    proptest!(config(64), |(
        method in prop_oneof![verbs, text()],
        native in any::<bool>(),
        with_body in any::<bool>(),
    )| {
        let mut uri = format!("/v1/client?_method={}", enc(&method));
        if native {
            uri.push_str("&_is_native=1");
        }
        let body = if with_body { b"a=1&_method=DELETE".to_vec() } else { Vec::new() };
        let ct: &[u8] = b"application/x-www-form-urlencoded";
        let request = post(&uri, Some(ct), body).unwrap();
        let answer = h.send(request)?;
        let upper = method.to_ascii_uppercase();
        if !matches!(upper.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "") {
            prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            prop_assert_eq!(&answer.body["errors"][0]["code"], "malformed_request_parameters");
            prop_assert_eq!(&answer.body["errors"][0]["meta"]["param_name"], "_method");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP: identifiers
// ---------------------------------------------------------------------------------------------

/// Variations of an identifier that exists: case, padding, a control character.
fn near_miss(known: &'static str) -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        select(&["", " ", "\t", "\0", "\u{a0}", "\n"][..]),
        select(&["", " ", "\0", ".", "\u{200b}"][..]),
    )
        .prop_map(move |(upper, pre, post)| {
            let core = if upper {
                known.to_uppercase()
            } else {
                known.to_owned()
            };
            format!("{pre}{core}{post}")
        })
}

#[test]
fn any_sign_in_identifier_is_answered_the_clerk_way() {
    let h = Harness::new();
    // One user exists, so some identifiers find an account.
    h.rt.block_on(async {
        let mut d = Device::new(&h.t);
        d.sign_up("ada@example.com", "correct horse battery").await;
    });
    let strategy = prop_oneof![
        Just(None),
        select(&["email_code", "phone_code", "password", "totp", "bogus", ""][..]).prop_map(Some),
    ];
    proptest!(config(64), |(
        identifier in prop_oneof![4 => text(), 1 => near_miss("ada@example.com")],
        strategy in strategy,
        as_json in any::<bool>(),
        native in any::<bool>(),
    )| {
        let mut pairs = vec![("identifier", identifier.as_str())];
        if let Some(s) = strategy {
            pairs.push(("strategy", s));
        }
        let (ct, body) = encode(&pairs, as_json);
        let uri = if native { "/v1/client/sign_ins?_is_native=1" } else { "/v1/client/sign_ins" };
        let answer = h.send(post(uri, Some(ct.as_bytes()), body).unwrap())?;
        if answer.status.is_success() {
            prop_assert_eq!(&answer.body["response"]["object"], "sign_in_attempt");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP: sign-up identifiers
// ---------------------------------------------------------------------------------------------

#[test]
fn any_sign_up_identifiers_are_answered_the_clerk_way() {
    let h = Harness::new();
    proptest!(config(64), |(
        email in proptest::option::of(text()),
        phone in proptest::option::of(text()),
        username in proptest::option::of(text()),
        as_json in any::<bool>(),
    )| {
        let mut pairs = Vec::new();
        for (name, value) in [("email_address", &email), ("phone_number", &phone), ("username", &username)] {
            if let Some(v) = value {
                pairs.push((name, v.as_str()));
            }
        }
        let (ct, body) = encode(&pairs, as_json);
        let answer = h.send(post("/v1/client/sign_ups?_is_native=1", Some(ct.as_bytes()), body).unwrap())?;
        if answer.status.is_success() {
            prop_assert_eq!(&answer.body["response"]["object"], "sign_up_attempt");
        } else {
            let param = &answer.body["errors"][0]["meta"]["param_name"];
            prop_assert!(
                param.is_null()
                    || ["email_address", "phone_number", "username"].contains(&param.as_str().unwrap_or("")),
                "a rejection names {}", param
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP: client tokens
// ---------------------------------------------------------------------------------------------

/// A token this app issued, with one character replaced by another.
fn tampered(token: String) -> impl Strategy<Value = String> {
    let len = token.len();
    (0..len, "[A-Za-z0-9_\\-.]").prop_filter_map("unchanged", move |(at, with)| {
        let mut t = token.clone();
        t.replace_range(at..=at, &with);
        (t != token).then_some(t)
    })
}

#[test]
fn any_native_authorization_header_reaches_no_client_or_a_clerk_error() {
    let h = Harness::new();
    let created = h
        .send(post("/v1/client?_is_native=1", None, Vec::new()).unwrap())
        .unwrap();
    let token = created.headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let client_id = created.body["client"]["id"].clone();
    let value = prop_oneof![
        3 => header_bytes(300),
        2 => (segment(), segment(), segment())
            .prop_map(|(a, b, c)| format!("{a}.{b}.{c}").into_bytes()),
        2 => tampered(token.clone()).prop_map(String::into_bytes),
        1 => (select(&["Bearer ", "bearer  ", "BEARER\t", "Bearer", "Basic ", "Token "][..]),
              prop_oneof![tampered(token), "[ -~]{0,80}"])
            .prop_map(|(scheme, rest)| format!("{scheme}{rest}").into_bytes()),
    ];
    proptest!(config(64), |(value in value, method in select(vec![Method::GET, Method::POST]))| {
        let Ok(v) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let request = req(method, "/v1/client?_is_native=1")
            .header(header::AUTHORIZATION, v)
            .body(Body::empty())
            .unwrap();
        let answer = h.send(request)?;
        if answer.status.is_success() {
            // A token that does not verify is no client (a POST makes a new one).
            prop_assert_ne!(&answer.body["client"]["id"], &client_id);
        }
    });
}

#[test]
fn any_client_cookie_or_dev_browser_token_reaches_no_client_or_a_clerk_error() {
    let h = Harness::new();
    // A client in cookie mode and one behind a development browser, whose tokens get tampered.
    let created = h
        .send(post("/v1/client", None, Vec::new()).unwrap())
        .unwrap();
    let cookie_token = created
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("__client="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .next()
        .expect("__client cookie");
    let dev = h
        .send(post("/v1/dev_browser", None, Vec::new()).unwrap())
        .unwrap();
    let dev_token = dev.body["id"].as_str().unwrap().to_owned();
    let dev_client = h
        .send(
            req(
                Method::GET,
                &format!("/v1/client?__clerk_db_jwt={dev_token}"),
            )
            .body(Body::empty())
            .unwrap(),
        )
        .unwrap();
    let known = [
        created.body["client"]["id"].clone(),
        dev_client.body["client"]["id"].clone(),
    ];
    assert!(known.iter().all(Value::is_string), "{known:?}");

    let cookie = prop_oneof![
        2 => header_bytes(200).prop_map(|v| [b"__client=".as_slice(), &v].concat()),
        1 => header_bytes(200),
        1 => (segment(), segment(), segment())
            .prop_map(|(a, b, c)| format!("__client={a}.{b}.{c}; __client_uat=0").into_bytes()),
        2 => tampered(cookie_token)
            .prop_map(|t| format!("__client_uat=0; __client={t}").into_bytes()),
    ];
    let db_jwt = proptest::option::weighted(0.3, prop_oneof![text(), tampered(dev_token)]);
    proptest!(config(64), |(
        cookie in cookie,
        db_jwt in db_jwt,
        method in select(vec![Method::GET, Method::POST]),
        origin in select(&[None, Some("http://localhost:5173"), Some("https://evil.test")][..]),
    )| {
        let Ok(v) = HeaderValue::from_bytes(&cookie) else {
            return Ok(());
        };
        let uri = match &db_jwt {
            Some(t) => format!("/v1/client?__clerk_db_jwt={}", enc(t)),
            None => "/v1/client".to_owned(),
        };
        let mut b = req(method, &uri).header(header::COOKIE, v);
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        let answer = h.send(b.body(Body::empty()).unwrap())?;
        if answer.status.is_success() {
            // A token that does not verify is no client (a POST makes a new one).
            prop_assert!(!known.contains(&answer.body["client"]["id"]), "{}", answer.body);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Unit level: Params
// ---------------------------------------------------------------------------------------------

/// Every accessor answers for every name a body gave, and refuses only the Clerk way.
fn accessors_answer(p: &Params) -> Result<(), TestCaseError> {
    let names: Vec<String> = p.names().map(str::to_owned).collect();
    for name in names.iter().map(String::as_str).chain(["absent"]) {
        let _ = p.field(name);
        let _ = p.list(name);
        prop_assert_eq!(p.contains(name), names.iter().any(|n| n == name));
        match p.required(name) {
            Ok(v) => prop_assert_eq!(Some(v), p.str(name)),
            Err(e) => {
                prop_assert!(p.str(name).is_none());
                is_clerk_rejection(&e, Some(name))?;
            }
        }
        if let Err(e) = p.bool(name) {
            is_clerk_rejection(&e, Some(name))?;
        }
        if let Err(e) = p.object(name) {
            is_clerk_rejection(&e, Some(name))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn from_form_takes_any_bytes(bytes in body()) {
        let p = Params::from_form(&bytes);
        accessors_answer(&p)?;
    }

    #[test]
    fn from_json_takes_any_bytes(bytes in body()) {
        match Params::from_json(&bytes) {
            Ok(p) => accessors_answer(&p)?,
            Err(e) => {
                is_clerk_rejection(&e, None)?;
                prop_assert_eq!(e.code.as_str(), "request_body_invalid");
            }
        }
    }

    #[test]
    fn from_json_accepts_every_object_and_refuses_everything_else(v in json_value()) {
        let bytes = v.to_string().into_bytes();
        match (&v, Params::from_json(&bytes)) {
            (Value::Object(obj), Ok(p)) => {
                let mut names: Vec<&str> = p.names().collect();
                let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                names.sort_unstable();
                keys.sort_unstable();
                prop_assert_eq!(names, keys);
                accessors_answer(&p)?;
            }
            (Value::Object(_), Err(e)) => prop_assert!(false, "an object was refused: {}", e),
            (_, Ok(_)) => prop_assert!(false, "a non-object was accepted"),
            (_, Err(e)) => is_clerk_rejection(&e, None)?,
        }
    }

    #[test]
    fn from_body_takes_any_content_type_and_bytes(
        content_type in prop_oneof![
            content_type().prop_map(|c| c.map(|b| String::from_utf8_lossy(&b).into_owned())),
            proptest::option::of(any::<String>()),
        ],
        bytes in body(),
    ) {
        let bytes = axum::body::Bytes::from(bytes);
        match Params::from_body(content_type.as_deref(), &bytes) {
            Ok(p) => accessors_answer(&p)?,
            Err(e) => {
                prop_assert!(!bytes.is_empty(), "an empty body was refused");
                is_clerk_rejection(&e, None)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unit level: identifiers
// ---------------------------------------------------------------------------------------------

type Normaliser = fn(&str, &str) -> frontdoor::Result<String>;

/// `Ok` classifies as `kind` (and, with `fixed_point`, normalises to itself); `Err` is a 4xx
/// naming the parameter.
fn normalises(
    normalise: Normaliser,
    kind: IdentifierKind,
    raw: &str,
    fixed_point: bool,
) -> Result<(), TestCaseError> {
    match normalise(raw, "the_param") {
        Ok(n) => {
            prop_assert_eq!(classify(&n), kind, "{:?} normalised to {:?}", raw, n);
            if fixed_point {
                let again = normalise(&n, "the_param");
                prop_assert_eq!(
                    again.as_ref().ok(),
                    Some(&n),
                    "not idempotent: {:?} -> {:?} -> {:?}",
                    raw,
                    n,
                    again.as_ref().err().map(ToString::to_string)
                );
            }
        }
        Err(e) => is_clerk_rejection(&e, Some("the_param"))?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn normalise_email_takes_any_text(raw in text()) {
        normalises(normalise_email, IdentifierKind::Email, &raw, false)?;
    }

    #[test]
    fn normalise_phone_takes_any_text_and_is_idempotent(raw in text()) {
        normalises(normalise_phone, IdentifierKind::Phone, &raw, true)?;
    }

    #[test]
    fn normalise_username_takes_any_text_and_is_idempotent(raw in text()) {
        normalises(normalise_username, IdentifierKind::Username, &raw, true)?;
    }

    #[test]
    fn classify_follows_the_at_and_plus_rule(raw in text()) {
        let t = raw.trim();
        let expected = if t.contains('@') {
            IdentifierKind::Email
        } else if t.starts_with('+') {
            IdentifierKind::Phone
        } else {
            IdentifierKind::Username
        };
        prop_assert_eq!(classify(&raw), expected);
    }
}

/// What a sign-up stores must be accepted again: the address the API returns is what clerk-js
/// offers back at sign-in.
#[test]
fn normalised_email_is_a_fixed_point() {
    // The minimal case the property found: lower-casing `İ` gives `i̇`, which must be checked
    // as what is stored, not as what was typed.
    if let Ok(n) = normalise_email("a@\u{130}.com", "p") {
        assert_eq!(
            normalise_email(&n, "p").ok().as_deref(),
            Some(n.as_str()),
            "{n:?}"
        );
    }
    proptest!(config(512), |(raw in text())| {
        normalises(normalise_email, IdentifierKind::Email, &raw, true)?;
    });
}

// ---------------------------------------------------------------------------------------------
// Unit level: client tokens
// ---------------------------------------------------------------------------------------------

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn decode_finds_no_claims_in_any_text(
        token in prop_oneof![
            text(),
            (segment(), segment(), segment()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        ],
    ) {
        prop_assert!(ClientTokens::new(SECRET).decode(&token).is_none());
    }

    #[test]
    fn decode_round_trips_issued_tokens_and_refuses_tampered_ones(
        client_id in short_text(),
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        with in "[A-Za-z0-9_\\-.]",
    ) {
        let tokens = ClientTokens::new(SECRET);
        let issued = tokens.issue(&client_id, &SeededRandom::new(seed), T0).unwrap();
        let claims = tokens.decode(&issued.token);
        prop_assert_eq!(claims.as_ref().map(|c| c.id.as_str()), Some(client_id.as_str()));
        let mut forged = issued.token.clone();
        let i = at.index(forged.len());
        forged.replace_range(i..=i, &with);
        if forged != issued.token {
            let decoded = tokens.decode(&forged);
            prop_assert!(
                decoded.is_none() || decoded == claims,
                "a tampered token decoded to other claims: {:?}", decoded
            );
        }
    }
}
