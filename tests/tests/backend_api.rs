#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! The Backend API's actions on a user, through HTTP with a secret key: metadata (deep merge,
//! private metadata never on the Frontend API), ban and unban (sign-in refused, sessions
//! revoked), lock and unlock, second factors off, the password check. The same through
//! `@clerk/backend` is in `tests/sdk/backend-api.test.mjs`.

use axum::body::Body;
use frontdoor_tests::{Device, TestApp, TestResponse, form, req};
use http::{Method, StatusCode};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn call(
    t: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> TestResponse {
    t.send(
        req(method, path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn sign_in(d: &mut Device<'_>, email: &str) -> TestResponse {
    d.forget().await;
    d.post(
        "/v1/client/sign_ins",
        &form(&[("identifier", email), ("password", PASSWORD)]),
    )
    .await
}

/// A device signed up as `email`, its user and session, and a secret key of the instance.
async fn signed_up_with_key<'a>(
    t: &'a TestApp,
    email: &str,
) -> (Device<'a>, String, String, String) {
    let mut d = Device::new(t);
    let user = d.sign_up(email, PASSWORD).await;
    let session = d.get("/v1/client").await.body["client"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = t.app.create_secret_key().await.unwrap();
    (d, user, session, key)
}

#[tokio::test]
async fn metadata_merges_deeply_and_private_metadata_stays_on_the_server() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user = d
        .sign_up("meta.bapi+clerk_test@example.com", PASSWORD)
        .await;
    let key = t.app.create_secret_key().await.unwrap();
    let path = format!("/v1/users/{user}/metadata");
    let body = json!({
        "public_metadata": {"plan": "pro", "limits": {"seats": 5, "projects": 3}},
        "private_metadata": {"stripe_customer": "cus_123"},
    });
    let r = call(&t, &key, Method::PATCH, &path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = json!({
        "public_metadata": {"limits": {"seats": 10, "projects": null}},
        "unsafe_metadata": {"theme": "dark"},
    });
    let r = call(&t, &key, Method::PATCH, &path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "user");
    assert_eq!(
        r.body["public_metadata"],
        json!({"plan": "pro", "limits": {"seats": 10}})
    );
    assert_eq!(
        r.body["private_metadata"],
        json!({"stripe_customer": "cus_123"})
    );
    assert_eq!(r.body["unsafe_metadata"], json!({"theme": "dark"}));
    // The Frontend API never shows private metadata.
    let me = d.get("/v1/me").await;
    assert_eq!(me.body["response"]["public_metadata"]["plan"], "pro");
    assert!(!me.body.to_string().contains("cus_123"), "{}", me.body);
    let client = d.get("/v1/client").await;
    assert!(!client.body.to_string().contains("cus_123"));
    // Not an object: Clerk's 422, nothing written.
    let r = call(
        &t,
        &key,
        Method::PATCH,
        &path,
        json!({"public_metadata": [1]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn a_banned_user_loses_every_session_and_cannot_sign_in_until_unbanned() {
    let t = TestApp::new().await;
    let email = "banned.bapi+clerk_test@example.com";
    let (mut d, user, session, key) = signed_up_with_key(&t, email).await;
    let r = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/users/{user}/ban"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["banned"], true);
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the session was revoked: {}",
        r.body
    );
    let r = sign_in(&mut d, email).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.error_code(), Some("user_banned"));
    let r = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/users/{user}/unban"),
        json!({}),
    )
    .await;
    assert_eq!(r.body["banned"], false);
    let r = sign_in(&mut d, email).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn lock_and_unlock() {
    let t = TestApp::new().await;
    let email = "locked.bapi+clerk_test@example.com";
    let mut d = Device::new(&t);
    let user = d.sign_up(email, PASSWORD).await;
    let key = t.app.create_secret_key().await.unwrap();
    let r = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/users/{user}/lock"),
        json!({}),
    )
    .await;
    assert_eq!(r.body["locked"], true, "{}", r.body);
    let r = sign_in(&mut d, email).await;
    assert_eq!(r.error_code(), Some("user_locked"), "{}", r.body);
    let r = call(
        &t,
        &key,
        Method::POST,
        &format!("/v1/users/{user}/unlock"),
        json!({}),
    )
    .await;
    assert_eq!(r.body["locked"], false, "{}", r.body);
    let r = sign_in(&mut d, email).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn the_password_check_and_turning_second_factors_off() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user = d.sign_up("mfa.bapi+clerk_test@example.com", PASSWORD).await;
    let key = t.app.create_secret_key().await.unwrap();
    let verify = format!("/v1/users/{user}/verify_password");
    let r = call(
        &t,
        &key,
        Method::POST,
        &verify,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"verified": true}))
    );
    let r = call(
        &t,
        &key,
        Method::POST,
        &verify,
        json!({"password": "not it at all"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    let r = call(&t, &key, Method::POST, &verify, json!({})).await;
    assert_eq!(r.error_code(), Some("form_param_missing"));

    let mut u = t.user(&user).await;
    u.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
    u.backup_code_hashes = vec!["x".into()];
    t.save_user(&u).await;
    assert_eq!(
        d.get("/v1/me").await.body["response"]["two_factor_enabled"],
        true
    );
    let r = call(
        &t,
        &key,
        Method::DELETE,
        &format!("/v1/users/{user}/mfa"),
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"user_id": user}))
    );
    let u = t.user(&user).await;
    assert!(
        u.totp_secret.is_none() && u.backup_code_hashes.is_empty() && u.mfa_disabled_at.is_some()
    );
    assert_eq!(
        d.get("/v1/me").await.body["response"]["two_factor_enabled"],
        false
    );
}

#[tokio::test]
async fn every_action_needs_a_key_and_an_existing_user() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    for (method, path) in [
        (Method::PATCH, "/v1/users/user_nobody/metadata"),
        (Method::POST, "/v1/users/user_nobody/ban"),
        (Method::POST, "/v1/users/user_nobody/unban"),
        (Method::POST, "/v1/users/user_nobody/lock"),
        (Method::POST, "/v1/users/user_nobody/unlock"),
        (Method::POST, "/v1/users/user_nobody/verify_password"),
        (Method::DELETE, "/v1/users/user_nobody/mfa"),
    ] {
        let r = t
            .send(req(method.clone(), path).body(Body::from("{}")).unwrap())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.body
        );
        let body = json!({"password": PASSWORD});
        let r = call(&t, &key, method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some("resource_not_found"));
    }
}

#[tokio::test]
async fn sessions_are_listed_by_user_or_client_a_page_at_a_time_and_revoked_by_id() {
    let t = TestApp::new().await;
    let email = "sessions.bapi+clerk_test@example.com";
    let mut first = Device::new(&t);
    let user = first.sign_up(email, PASSWORD).await;
    let mut second = Device::new(&t);
    let r = sign_in(&mut second, email).await;
    let second_session = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = r.body["client"]["id"].as_str().unwrap().to_owned();
    let key = t.app.create_secret_key().await.unwrap();
    let list = |query: String| {
        let key = key.clone();
        let t = &t;
        async move {
            call(
                t,
                &key,
                Method::GET,
                &format!("/v1/sessions?{query}"),
                json!({}),
            )
            .await
        }
    };
    let r = list(format!("user_id={user}&paginated=true")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["total_count"], 2);
    assert_eq!(r.body["data"][0]["object"], "session");
    assert_eq!(r.body["data"][0]["user_id"], user.as_str());
    let r = list(format!("user_id={user}&limit=1&offset=1")).await;
    assert_eq!(
        (
            r.body["data"].as_array().unwrap().len(),
            r.body["total_count"].as_u64()
        ),
        (1, Some(2))
    );
    let r = list(format!("client_id={client}")).await;
    assert_eq!(r.body["total_count"], 1);
    assert_eq!(r.body["data"][0]["id"], second_session.as_str());
    assert_eq!(
        list(String::new()).await.error_code(),
        Some("form_param_missing")
    );
    assert_eq!(
        list(format!("user_id={user}&limit=0")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let path = format!("/v1/sessions/{second_session}");
    let r = call(&t, &key, Method::GET, &path, json!({})).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["client_id"].as_str()),
        (Some("active"), Some(client.as_str()))
    );
    let r = call(&t, &key, Method::POST, &format!("{path}/revoke"), json!({})).await;
    assert_eq!(r.body["status"], "revoked", "{}", r.body);
    // That device's next token refresh is refused; the other device is untouched.
    let r = second
        .post(&format!("/v1/client/sessions/{second_session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = list(format!("user_id={user}&status=active")).await;
    assert_eq!(r.body["total_count"], 1);
    let r = call(&t, &key, Method::GET, "/v1/sessions/sess_nobody", json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_user_ends_its_sessions_and_frees_its_identifiers() {
    let t = TestApp::new().await;
    let email = "deleted.bapi+clerk_test@example.com";
    let (mut d, user, session, key) = signed_up_with_key(&t, email).await;
    let path = format!("/v1/users/{user}");
    let r = call(&t, &key, Method::DELETE, &path, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"object": "user", "id": user, "deleted": true})
    );
    assert_eq!(
        call(&t, &key, Method::GET, &path, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&t, &key, Method::DELETE, &path, json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The address is free: someone can sign up with it again.
    let mut again = Device::new(&t);
    let new_user = again.sign_up(email, PASSWORD).await;
    assert_ne!(new_user, user);
}

#[tokio::test]
async fn client_tokens_are_verified_and_jwt_templates_listed() {
    let t = TestApp::with_settings(frontdoor_tests::settings_with(&[(
        "[actions]",
        "[jwt_templates.hasura]\nlifetime_secs = 300\nclaims = { role = \"user\" }\n\n[actions]",
    )]))
    .await;
    let mut d = Device::new(&t);
    d.sign_up("client.bapi+clerk_test@example.com", PASSWORD)
        .await;
    let key = t.app.create_secret_key().await.unwrap();
    let token = d.token.clone().unwrap();
    let r = call(
        &t,
        &key,
        Method::POST,
        "/v1/clients/verify",
        json!({"token": token}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "client");
    assert_eq!(r.body["sessions"][0]["status"], "active");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        &key,
        Method::GET,
        &format!("/v1/clients/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(r.body["id"], id.as_str());
    let r = call(
        &t,
        &key,
        Method::POST,
        "/v1/clients/verify",
        json!({"token": "not.a.token"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = call(
        &t,
        &key,
        Method::GET,
        "/v1/jwt_templates?paginated=true",
        json!({}),
    )
    .await;
    assert_eq!(r.body["total_count"], 1, "{}", r.body);
    assert_eq!(r.body["data"][0]["name"], "hasura");
    assert_eq!(r.body["data"][0]["lifetime"], 300);
    let r = call(
        &t,
        &key,
        Method::GET,
        "/v1/jwt_templates/jtmp_hasura",
        json!({}),
    )
    .await;
    assert_eq!(r.body["claims"], json!({"role": "user"}));
    let r = call(
        &t,
        &key,
        Method::GET,
        "/v1/jwt_templates/jtmp_nope",
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_imported_bcrypt_user_signs_in_with_the_old_password_and_is_rehashed_to_argon2id() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let digest = bcrypt::hash(PASSWORD, 4).unwrap();
    let body = json!({
        "email_address": ["imported@example.com"],
        "password_digest": digest,
        "password_hasher": "bcrypt",
        "first_name": "Imported",
        "external_id": "legacy-42",
        "private_metadata": {"source": "legacy"},
    });
    let r = call(&t, &key, Method::POST, "/v1/users", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "user");
    assert_eq!(r.body["external_id"], "legacy-42");
    assert_eq!(r.body["private_metadata"], json!({"source": "legacy"}));
    assert_eq!(r.body["password_enabled"], true);
    let email = &r.body["email_addresses"][0];
    assert_eq!(email["verification"]["status"], "verified");
    assert_eq!(email["verification"]["strategy"], "admin");
    let user = r.body["id"].as_str().unwrap().to_owned();
    assert!(t.user(&user).await.password_hash.unwrap().starts_with("$2"));

    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "imported@example.com"),
                ("password", "wrong password here"),
            ]),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    assert!(
        t.user(&user).await.password_hash.unwrap().starts_with("$2"),
        "not rehashed on a failure"
    );
    let r = sign_in(&mut d, "imported@example.com").await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let rehashed = t.user(&user).await.password_hash.unwrap();
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    let r = sign_in(&mut d, "imported@example.com").await;
    assert_eq!(
        r.body["response"]["status"], "complete",
        "the new hash works: {}",
        r.body
    );
}

#[tokio::test]
async fn creating_users_checks_what_it_is_given_and_writes_nothing_on_refusal() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let create = |body: serde_json::Value| call(&t, &key, Method::POST, "/v1/users", body);
    let r = create(json!({"email_address": ["taken@example.com"], "username": "taken_name", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    t.counts.reset();
    for (body, code, param) in [
        (
            json!({"email_address": ["TAKEN@example.com"], "password": PASSWORD}),
            "form_identifier_exists",
            "email_address",
        ),
        (
            json!({"email_address": ["new@example.com"], "username": "taken_name", "password": PASSWORD}),
            "form_identifier_exists",
            "username",
        ),
        (
            json!({"email_address": ["new@example.com"], "password": "short"}),
            "form_password_length_too_short",
            "password",
        ),
        (
            json!({"email_address": ["new@example.com"]}),
            "form_param_missing",
            "password",
        ),
        (
            json!({"email_address": ["not an email"], "password": PASSWORD}),
            "form_param_format_invalid",
            "email_address",
        ),
        (
            json!({"email_address": ["new@example.com"], "password_digest": "$2b$04$nope", "password_hasher": "bcrypt"}),
            "form_param_value_invalid",
            "password_digest",
        ),
        (
            json!({"email_address": ["new@example.com"], "password_digest": "x", "password_hasher": "md5"}),
            "form_param_value_invalid",
            "password_hasher",
        ),
        (
            json!({"password": PASSWORD}),
            "form_param_missing",
            "email_address",
        ),
    ] {
        let r = create(body.clone()).await;
        assert_eq!(r.error_code(), Some(code), "{body}: {}", r.body);
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], param, "{body}");
    }
    // Only the two taken identifiers reached the store, each a transaction refused whole: the
    // new address they carried was not left claimed, as creating it now shows.
    assert_eq!(t.counts.commits(), 2);
    let r =
        create(json!({"email_address": ["new@example.com"], "skip_password_requirement": true}))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["password_enabled"], false);
    let r = create(json!({"email_address": ["short@example.com"], "password": "short", "skip_password_checks": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn updating_a_user_names_username_ids_metadata_and_password() {
    let t = TestApp::new().await;
    let email = "update.bapi+clerk_test@example.com";
    let (mut d, user, session, key) = signed_up_with_key(&t, email).await;
    let path = format!("/v1/users/{user}");
    let other = call(&t, &key, Method::POST, "/v1/users", json!({"email_address": ["other@example.com"], "username": "taken_one", "password": PASSWORD})).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);

    let body = json!({"first_name": "Grace", "username": "grace_h", "external_id": "crm-9", "private_metadata": {"tier": 2}});
    let r = call(&t, &key, Method::PATCH, &path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["first_name"].as_str(), r.body["username"].as_str()),
        (Some("Grace"), Some("grace_h"))
    );
    assert_eq!(r.body["external_id"], "crm-9");
    assert_eq!(r.body["private_metadata"], json!({"tier": 2}));
    // A username someone holds: refused, nothing written.
    let r = call(
        &t,
        &key,
        Method::PATCH,
        &path,
        json!({"username": "taken_one", "first_name": "Nope"}),
    )
    .await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);
    assert_eq!(t.user(&user).await.first_name.as_deref(), Some("Grace"));
    // The old username is free again, the new one signs in.
    let r = call(
        &t,
        &key,
        Method::PATCH,
        &format!("/v1/users/{}", other.body["id"].as_str().unwrap()),
        json!({"username": "grace_h"}),
    )
    .await;
    assert_eq!(
        r.error_code(),
        Some("form_identifier_exists"),
        "grace_h is held: {}",
        r.body
    );

    // A new password, signing the user out everywhere.
    let new_password = "an entirely new passphrase";
    let body = json!({"password": new_password, "sign_out_of_other_sessions": true});
    let r = call(&t, &key, Method::PATCH, &path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    d.forget().await;
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "grace_h"), ("password", new_password)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let r = call(&t, &key, Method::PATCH, &path, json!({"password": "short"})).await;
    assert_eq!(r.error_code(), Some("form_password_length_too_short"));
}

#[tokio::test]
async fn no_wrong_foreign_or_publishable_key_opens_any_backend_route() {
    let t = TestApp::new().await;
    let (_d, user, session, _key) =
        signed_up_with_key(&t, "keys.bapi+clerk_test@example.com").await;
    let elsewhere = TestApp::new().await;
    let foreign = elsewhere.app.create_secret_key().await.unwrap();
    let publishable = t.app.settings.publishable_key();
    // Every route whose policy needs a secret key, from the operation table itself.
    let routes: Vec<(Method, String)> = frontdoor::http::operation::Operation::all()
        .into_iter()
        .filter(|op| op.policy().secret_key)
        .map(|op| {
            let (method, path) = op.route();
            let path = path
                .replace(
                    "{id}",
                    if path.starts_with("/v1/sessions") {
                        &session
                    } else {
                        &user
                    },
                )
                .replace("{template}", "tpl");
            (method, path)
        })
        .collect();
    assert!(routes.len() >= 30, "{routes:?}");
    for (method, path) in routes {
        let r = t
            .send(req(method.clone(), &path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::UNAUTHORIZED, Some("authentication_invalid")),
            "no key: {method} {path}"
        );
        let r = call(
            &t,
            "sk_test_not0a0key0of0this0instance000000000",
            method.clone(),
            &path,
            json!({}),
        )
        .await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::UNAUTHORIZED, Some("clerk_key_invalid")),
            "wrong key: {method} {path}"
        );
        let r = call(&t, &foreign, method.clone(), &path, json!({})).await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::UNAUTHORIZED, Some("clerk_key_invalid")),
            "{method} {path}"
        );
        let r = call(&t, &publishable, method.clone(), &path, json!({})).await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::UNAUTHORIZED, Some("authentication_invalid")),
            "{method} {path}"
        );
    }
    assert!(
        t.user(&user).await.id == user,
        "nothing happened to the user"
    );
}

#[tokio::test]
async fn two_servers_creating_the_same_user_at_once_get_one_user() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let body = || json!({"email_address": ["twice@example.com"], "password": PASSWORD});
    let (a, b) = tokio::join!(
        call(&t, &key, Method::POST, "/v1/users", body()),
        call(&t, &key, Method::POST, "/v1/users", body()),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422], "{} / {}", a.body, b.body);
    let refused = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(refused.error_code(), Some("form_identifier_exists"));
    // The winner holds the address: it signs in.
    let mut d = Device::new(&t);
    let r = sign_in(&mut d, "twice@example.com").await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}
