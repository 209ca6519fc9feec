#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Webhooks, against a real HTTP receiver on loopback and the injected clock: each change's
//! event is written with the change and delivered signed (Svix headers, checked here with an
//! independent HMAC), failures are retried after back-off and then marked failed until replayed,
//! and a worker that stops mid-delivery loses nothing. The unchanged `verifyWebhook` of
//! `@clerk/backend` checks the same messages in `tests/sdk/webhooks.test.mjs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use frontdoor::flows::webhooks as delivery;
use frontdoor::repo::events::MessageStatus;
use frontdoor::webhooks::http::HttpTransport;
use frontdoor_tests::{Device, TestApp, TestResponse, form, req, settings_with};
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
/// 24 key bytes, as Svix issues them.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver answers: scripted statuses (then 200), or holding a request open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Status(u16),
    /// Never answers (the worker must give up or stop).
    Hang,
}

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<Answer>,
    received: Vec<(HeaderMap, String)>,
}

/// A webhook receiver on loopback: records every request, answers as scripted.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start(script: &[Answer]) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.iter().copied().collect(),
            received: Vec::new(),
        }));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state((state.clone(), arrived.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            state,
            arrived,
        }
    }

    fn received(&self) -> Vec<(HeaderMap, String)> {
        self.state.lock().unwrap().received.clone()
    }

    /// The events received, as (type, payload), after checking each signature.
    fn events(&self) -> Vec<(String, Value)> {
        self.received()
            .iter()
            .map(|(h, body)| {
                assert_signed(h, body);
                let v: Value = serde_json::from_str(body).unwrap();
                (v["type"].as_str().unwrap().to_owned(), v)
            })
            .collect()
    }
}

async fn receive(
    State((state, arrived)): State<(Arc<Mutex<ReceiverState>>, Arc<tokio::sync::Notify>)>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let answer = {
        let mut s = state.lock().unwrap();
        s.received.push((headers, body));
        s.script.pop_front().unwrap_or(Answer::Status(200))
    };
    arrived.notify_one();
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Hang => std::future::pending().await,
    }
}

/// The Svix signature, computed here from the specification (not with Frontdoor's code).
fn assert_signed(h: &HeaderMap, body: &str) {
    let id = h["svix-id"].to_str().unwrap();
    let ts = h["svix-timestamp"].to_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(
        h["svix-signature"].to_str().unwrap(),
        want,
        "signature of {id}"
    );
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(h["content-type"], "application/json");
}

/// An instance sending every event to `url`, retrying after 1 s, 5 s, 25 s… `max_attempts`
/// times in all; `extra` adds endpoints.
async fn app_sending_to(url: &str, max_attempts: u32, extra: &str) -> Hooked {
    let section = format!(
        "[webhooks]\nfirst_retry_ms = 1000\nmax_attempts = {max_attempts}\n\n\
         [[webhooks.endpoints]]\nname = \"app\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n{extra}\n\
         [rate_limits]"
    );
    let t = TestApp::with_settings(settings_with(&[("[rate_limits]", &section)])).await;
    let key = t.app.create_secret_key().await.unwrap();
    Hooked { t, key }
}

async fn deliver(t: &TestApp) -> delivery::Round {
    delivery::deliver_due(&t.app, &HttpTransport::new().unwrap(), None)
        .await
        .unwrap()
}

/// An app under test with a secret key for its Backend API.
struct Hooked {
    t: TestApp,
    key: String,
}

impl std::ops::Deref for Hooked {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.t
    }
}

/// A Backend API call with the app's secret key; the call must succeed.
async fn backend(t: &Hooked, method: Method, path: &str, body: Value) -> TestResponse {
    let r = backend_call(t, method.clone(), path, body).await;
    assert!(r.status.is_success(), "{method} {path}: {}", r.body);
    r
}

async fn backend_call(t: &Hooked, method: Method, path: &str, body: Value) -> TestResponse {
    t.t.send(
        req(method, path)
            .header("authorization", format!("Bearer {}", t.key))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn each_change_is_one_signed_event_in_clerks_shape() {
    let rx = Receiver::start(&[]).await;
    let t = app_sending_to(&rx.url, 8, "").await;
    let mut d = Device::new(&t);
    let user = d.sign_up("hooks.person@example.com", PASSWORD).await;
    let r = d
        .send(Method::PATCH, "/v1/me", &form(&[("first_name", "Ada")]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Sign-in bookkeeping (last sign-in, failed attempts) is no user.updated.
    let session = d.get("/v1/client").await.body["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = d
        .post(&format!("/v1/client/sessions/{session}/end"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    d.forget().await;
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "hooks.person@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let second = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = d
        .post(&format!("/v1/client/sessions/{second}/remove"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A third session, still active when the user is deleted (it ends with the user).
    d.forget().await;
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "hooks.person@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let r = backend(&t, Method::DELETE, &format!("/v1/users/{user}"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let round = deliver(&t).await;
    assert_eq!(round.failed, 0);
    let events = rx.events();
    // One clock instant throughout, so they fall due together (in message-id order).
    let mut types: Vec<&str> = events.iter().map(|(ty, _)| ty.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "email.created",
            "session.created",
            "session.created",
            "session.created",
            "session.ended",
            "session.ended",
            "session.removed",
            "user.created",
            "user.deleted",
            "user.updated",
        ],
        "no user.updated for the sign-in's bookkeeping"
    );
    for (ty, v) in &events {
        assert_eq!(v["object"], "event", "{ty}");
        assert!(
            v["instance_id"].as_str().unwrap().starts_with("ins_"),
            "{ty}"
        );
        assert!(
            v["timestamp"].as_i64().unwrap() >= frontdoor_tests::T0,
            "{ty}"
        );
    }
    let by_type = |ty: &str| &events.iter().find(|(t, _)| t == ty).unwrap().1["data"];
    assert_eq!(by_type("user.created")["object"], "user");
    assert_eq!(by_type("user.created")["id"], user);
    assert_eq!(
        by_type("user.created")["email_addresses"][0]["email_address"],
        "hooks.person@example.com"
    );
    assert_eq!(by_type("user.updated")["first_name"], "Ada");
    assert_eq!(by_type("session.created")["object"], "session");
    assert_eq!(by_type("session.created")["user_id"], user);
    let ended: Vec<&Value> = events
        .iter()
        .filter(|(ty, _)| ty == "session.ended")
        .map(|(_, v)| &v["data"])
        .collect();
    assert!(ended.iter().any(|s| s["id"] == session.as_str()));
    assert!(ended.iter().all(|s| s["status"] == "ended"));
    assert_eq!(by_type("session.removed")["id"], second);
    assert_eq!(by_type("session.removed")["status"], "removed");
    assert_eq!(
        by_type("user.deleted"),
        &json!({"object": "user", "id": user, "deleted": true})
    );
    let email = by_type("email.created");
    assert_eq!(email["object"], "email");
    assert_eq!(email["to_email_address"], "hooks.person@example.com");
    // The code is stored only as a hash: no event carries it (in any text it holds).
    let code = t.outbox.last_code_for("hooks.person@example.com").unwrap();
    fn texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            Value::Object(m) => m.values().for_each(|x| texts(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    events.iter().for_each(|(_, v)| texts(v, &mut all));
    assert!(all.iter().all(|text| !text.contains(&code)), "{code}");

    // Delivered messages are not sent again.
    t.clock.advance(Duration::from_secs(3600));
    assert_eq!(deliver(&t).await.attempted, 0);
    assert_eq!(rx.received().len(), 10);
}

#[tokio::test]
async fn an_endpoint_gets_only_the_events_it_subscribed_to() {
    let all = Receiver::start(&[]).await;
    let some = Receiver::start(&[]).await;
    let extra = format!(
        "\n[[webhooks.endpoints]]\nname = \"crm\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"user.created\", \"user.deleted\"]\n",
        some.url
    );
    let t = app_sending_to(&all.url, 8, &extra).await;
    let r = backend(
        &t,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["crm@example.com"], "skip_password_requirement": true}),
    )
    .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Messages fall due in the order of their changes (at one instant, in id order).
    t.clock.advance(Duration::from_millis(1));
    backend(
        &t,
        Method::PATCH,
        &format!("/v1/users/{id}"),
        json!({"first_name": "Crm"}),
    )
    .await;
    deliver(&t).await;
    let types = |rx: &Receiver| {
        rx.events()
            .into_iter()
            .map(|(ty, _)| ty)
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&all), ["user.created", "user.updated"]);
    assert_eq!(types(&some), ["user.created"]);
    // Each endpoint has its own message id for the same event.
    assert_ne!(
        all.received()[0].0["svix-id"],
        some.received()[0].0["svix-id"]
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_once_more_after_each_back_off() {
    let rx = Receiver::start(&[Answer::Status(500), Answer::Status(502)]).await;
    let t = app_sending_to(&rx.url, 8, "").await;
    let r = backend(
        &t,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["retry@example.com"], "skip_password_requirement": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let round = deliver(&t).await;
    assert_eq!((round.attempted, round.delivered), (1, 0));
    assert_eq!(
        round.next_due,
        Some(t.app.now_ms() + 1000),
        "first retry after 1 s"
    );
    t.clock.advance(Duration::from_millis(999));
    assert_eq!(deliver(&t).await.attempted, 0, "not before its back-off");
    t.clock.advance(Duration::from_millis(1));
    let round = deliver(&t).await;
    assert_eq!((round.attempted, round.delivered), (1, 0));
    assert_eq!(round.next_due, Some(t.app.now_ms() + 5000), "then 5 s");
    t.clock.advance(Duration::from_millis(4999));
    assert_eq!(deliver(&t).await.attempted, 0);
    t.clock.advance(Duration::from_millis(1));
    assert_eq!(deliver(&t).await.delivered, 1);
    t.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(deliver(&t).await.attempted, 0, "delivered: never again");

    let received = rx.received();
    assert_eq!(received.len(), 3, "two failures, then exactly once more");
    let ids: Vec<_> = received.iter().map(|(h, _)| h["svix-id"].clone()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one message id on every attempt"
    );
    let stamps: Vec<i64> = received
        .iter()
        .map(|(h, _)| h["svix-timestamp"].to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        stamps[2] - stamps[0],
        6,
        "each attempt signed at its own time"
    );
    for (h, body) in &received {
        assert_signed(h, body);
    }
}

#[tokio::test]
async fn used_up_attempts_leave_a_failed_message_an_operator_can_replay() {
    let rx = Receiver::start(&[Answer::Status(503), Answer::Status(503)]).await;
    let t = app_sending_to(&rx.url, 2, "").await;
    backend(
        &t,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["failing@example.com"], "skip_password_requirement": true}),
    )
    .await;
    deliver(&t).await;
    t.clock.advance(Duration::from_secs(1));
    let round = deliver(&t).await;
    assert_eq!((round.failed, round.next_due), (1, None));
    let failed = delivery::failed(&t.app, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, MessageStatus::Failed);
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].event_type, "user.created");
    assert_eq!(failed[0].last_result.as_deref(), Some("HTTP 503"));
    t.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(deliver(&t).await.attempted, 0, "failed stays failed");

    let replayed = delivery::replay(&t.app, &failed[0].id).await.unwrap();
    assert_eq!(replayed.status, MessageStatus::Pending);
    assert_eq!(deliver(&t).await.delivered, 1);
    assert!(delivery::failed(&t.app, 10).await.unwrap().is_empty());
    assert_eq!(rx.received().len(), 3);
    let r = delivery::replay(&t.app, "msg_nope").await;
    assert_eq!(r.unwrap_err().code.to_string(), "resource_not_found");
}

#[tokio::test]
async fn a_worker_stopped_or_lost_mid_delivery_loses_no_event() {
    let rx = Receiver::start(&[Answer::Hang, Answer::Hang]).await;
    let t = app_sending_to(&rx.url, 8, "").await;
    backend(
        &t,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["restart@example.com"], "skip_password_requirement": true}),
    )
    .await;
    let transport = HttpTransport::new().unwrap();

    // Stopped (a restart): the message in hand is handed back, due at once, attempt uncounted.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let arrived = rx.arrived.notified();
    let round = {
        let run = delivery::deliver_due(&t.app, &transport, Some(&mut stop_rx));
        tokio::pin!(run);
        tokio::select! {
            _ = &mut run => panic!("the receiver never answers"),
            () = arrived => {}
        }
        stop_tx.send(true).unwrap();
        run.await.unwrap()
    };
    assert!(round.stopped);
    let pending = t
        .app
        .repo
        .store()
        .get(&frontdoor::store::keys::webhook_message(
            rx.received()[0].0["svix-id"].to_str().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.doc["attempts"], 0);
    assert_eq!(pending.doc["next_attempt_at"], t.app.now_ms());

    // Lost (a crash): nothing hands it back, so it waits out the worker's lease.
    let arrived = rx.arrived.notified();
    {
        let run = delivery::deliver_due(&t.app, &transport, None);
        tokio::select! {
            _ = run => panic!("the receiver never answers"),
            () = arrived => {}
        }
    }
    assert_eq!(deliver(&t).await.attempted, 0, "leased by the lost worker");
    t.clock.advance(frontdoor::security::WEBHOOK_LEASE);
    assert_eq!(deliver(&t).await.delivered, 1);
    let ids: Vec<_> = rx
        .received()
        .iter()
        .map(|(h, _)| h["svix-id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[tokio::test]
async fn an_unreachable_endpoint_never_fails_the_request_and_no_endpoint_stores_nothing() {
    // A port nobody listens on: the change still succeeds; only delivery fails, later.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hooks", l.local_addr().unwrap())
    };
    let t = app_sending_to(&closed, 8, "").await;
    let mut d = Device::new(&t);
    d.sign_up("unreachable@example.com", PASSWORD).await;
    let round = deliver(&t).await;
    assert_eq!(
        (round.attempted, round.delivered),
        (3, 0),
        "user, session, email"
    );

    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("quiet@example.com", PASSWORD).await;
    let pending = t
        .app
        .repo
        .store()
        .query(&frontdoor::store::Query::gsi1(
            frontdoor::store::keys::WEBHOOKS_PENDING,
        ))
        .await
        .unwrap();
    assert!(pending.is_empty(), "no endpoints, no messages");
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let rx = Receiver::start(&[]).await;
    let t = app_sending_to(&rx.url, 8, "").await;
    let create = |email: &str| {
        let body = json!({"email_address": [email], "username": "only_one", "skip_password_requirement": true});
        backend_call(&t, Method::POST, "/v1/users", body)
    };
    assert_eq!(create("one@example.com").await.status, StatusCode::OK);
    let r = create("two@example.com").await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);
    deliver(&t).await;
    assert_eq!(rx.events().len(), 1, "only the user that was created");
}

#[tokio::test]
async fn banning_a_user_with_many_sessions_fits_every_event_in_its_transactions() {
    // Three endpoints (the most an instance may have) and 45 sessions: each batch of sessions
    // ended, with a message per session and endpoint, must stay inside one transaction's limit.
    let receivers = [
        Receiver::start(&[]).await,
        Receiver::start(&[]).await,
        Receiver::start(&[]).await,
    ];
    let extra: String = receivers[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!("\n[[webhooks.endpoints]]\nname = \"more{i}\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n", r.url)
        })
        .collect();
    let t = app_sending_to(&receivers[0].url, 8, &extra).await;
    let mut d = Device::new(&t);
    let user = d.sign_up("many.sessions@example.com", PASSWORD).await;
    t.more_sessions(&mut d, "many", 44).await;
    let r = backend(
        &t,
        Method::POST,
        &format!("/v1/users/{user}/ban"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    while deliver(&t).await.attempted > 0 {}
    for rx in &receivers {
        let events = rx.events();
        let revoked = events
            .iter()
            .filter(|(ty, _)| ty == "session.revoked")
            .count();
        assert_eq!(revoked, 45, "every session's end, at every endpoint");
        assert_eq!(
            events.iter().filter(|(ty, _)| ty == "user.updated").count(),
            1,
            "banned"
        );
    }
    // A fourth endpoint is refused by the settings.
    let four = format!(
        "{extra}\n[[webhooks.endpoints]]\nname = \"fourth\"\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"{SECRET}\"\n"
    );
    let section = format!(
        "[[webhooks.endpoints]]\nname = \"app\"\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"{SECRET}\"\n{four}\n[rate_limits]"
    );
    let text = frontdoor::settings::DEVELOPMENT_SETTINGS.replacen("[rate_limits]", &section, 1);
    let err = frontdoor::settings::Settings::parse(&text).unwrap_err();
    assert_eq!(err.key, "webhooks.endpoints");
}
