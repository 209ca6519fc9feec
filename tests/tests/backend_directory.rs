#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Finding and managing users as an app server does, through HTTP with a secret key: the user
//! list (each filter, pagination, ordering) and count from the user index, external ids kept to
//! one user, and email addresses and phone numbers by id. The same through `@clerk/backend` is
//! in `tests/sdk/backend-api.test.mjs`.

use std::time::Duration;

use axum::body::Body;
use frontdoor::store::keys::USER_SHARDS;
use frontdoor_tests::{TestApp, TestResponse, req};
use http::{Method, StatusCode};
use serde_json::{Value, json};

/// A Backend API call; a `null` body sends none.
async fn call(t: &TestApp, key: &str, method: Method, path: &str, body: Value) -> TestResponse {
    let r = req(method, path).header("authorization", format!("Bearer {key}"));
    let r = if body.is_null() {
        r.body(Body::empty())
    } else {
        r.header("content-type", "application/json")
            .body(Body::from(body.to_string()))
    };
    t.send(r.unwrap()).await
}

async fn get(t: &TestApp, key: &str, path: &str) -> TestResponse {
    call(t, key, Method::GET, path, Value::Null).await
}

fn ids(r: &TestResponse) -> Vec<String> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", r.body))
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Twelve users created a second apart (oldest first): `user{i}`, `u{i}@example.com`,
/// `+1 202 555 01{i:02}`, first name Ada or Bob, external id `ext-{i}`.
async fn twelve_users(t: &TestApp, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..12 {
        let body = json!({
            "email_address": [format!("u{i}@example.com")],
            "phone_number": [format!("+1202555{:04}", 100 + i)],
            "username": format!("user{i}"),
            "first_name": if i % 2 == 0 { "Ada" } else { "Bob" },
            "last_name": format!("Last{}", 20 - i),
            "external_id": format!("ext-{i}"),
            "skip_password_requirement": true,
        });
        let r = call(t, key, Method::POST, "/v1/users", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        out.push(r.body["id"].as_str().unwrap().to_owned());
        t.clock.advance(Duration::from_secs(1));
    }
    out
}

#[tokio::test]
async fn users_are_listed_newest_first_a_page_at_a_time_from_the_index() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let users = twelve_users(&t, &key).await;
    let newest_first: Vec<String> = users.iter().rev().cloned().collect();

    t.counts.reset();
    let r = get(&t, &key, "/v1/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        ids(&r),
        newest_first[..10],
        "Clerk's default: 10, newest first"
    );
    assert_eq!(r.body[0]["object"], "user");
    assert_eq!(r.body[0]["external_id"], "ext-11");
    assert_eq!(r.body[0]["private_metadata"], json!({}));
    assert_eq!(
        t.counts.reads(),
        u64::from(USER_SHARDS),
        "one Query per index shard, no per-user reads"
    );

    t.counts.reset();
    let c = get(&t, &key, "/v1/users/count").await;
    assert_eq!(c.body["total_count"], 12);
    assert_eq!(
        t.counts.reads(),
        u64::from(USER_SHARDS),
        "a count per shard, no user read"
    );

    let r = get(&t, &key, "/v1/users?limit=5&offset=10").await;
    assert_eq!(ids(&r), newest_first[10..]);
    let r = get(
        &t,
        &key,
        "/v1/users?limit=3&offset=2&order_by=%2Bcreated_at",
    )
    .await;
    assert_eq!(ids(&r), users[2..5]);
    let r = get(&t, &key, "/v1/users?limit=3&order_by=created_at").await;
    assert_eq!(ids(&r), users[..3], "no sign means ascending");
    let r = get(&t, &key, "/v1/users?limit=2&order_by=last_name").await;
    assert_eq!(
        ids(&r),
        [users[10].clone(), users[9].clone()],
        "Last10 < Last11 < … < Last9"
    );
    let r = get(&t, &key, "/v1/users?limit=2&order_by=-username").await;
    assert_eq!(
        ids(&r),
        [users[9].clone(), users[8].clone()],
        "user9 > user8 > user11…"
    );
    let r = get(&t, &key, "/v1/users?offset=50").await;
    assert_eq!(ids(&r), Vec::<String>::new());

    for (path, param) in [
        ("/v1/users?limit=0", "limit"),
        ("/v1/users?limit=501", "limit"),
        ("/v1/users?offset=-1", "offset"),
        ("/v1/users?order_by=password", "order_by"),
    ] {
        let r = get(&t, &key, path).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], param, "{path}");
    }
}

#[tokio::test]
async fn each_filter_finds_its_users_and_filters_combine() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let users = twelve_users(&t, &key).await;
    let expect = |path: &str, want: Vec<usize>| {
        let t = &t;
        let key = &key;
        let want: Vec<String> = want.iter().map(|i| users[*i].clone()).collect();
        let path = path.to_owned();
        async move {
            let r = get(t, key, &path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
            let mut got = ids(&r);
            got.sort();
            let mut want = want;
            want.sort();
            assert_eq!(got, want, "{path}");
            let count_path = path.replacen("/v1/users", "/v1/users/count", 1);
            let c = get(t, key, &count_path).await;
            assert_eq!(c.body["object"], "total_count", "{count_path}");
            assert_eq!(c.body["total_count"], want.len(), "{count_path}");
        }
    };
    expect(
        "/v1/users?email_address=U3@Example.com&email_address=u5@example.com",
        vec![3, 5],
    )
    .await;
    expect("/v1/users?phone_number=%2B12025550104", vec![4]).await;
    expect("/v1/users?username=user7&username=nobody", vec![7]).await;
    expect("/v1/users?external_id=ext-1&external_id=ext-2", vec![1, 2]).await;
    let by_id = format!("/v1/users?user_id={}&user_id={}", users[0], users[9]);
    expect(&by_id, vec![0, 9]).await;
    expect("/v1/users?query=user1", vec![1, 10, 11]).await;
    expect("/v1/users?query=LAST1", vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).await;
    expect("/v1/users?query=5550106", vec![6]).await;
    // Filters of different kinds narrow each other; `query` narrows them all.
    expect(
        "/v1/users?email_address=u3@example.com&username=user3",
        vec![3],
    )
    .await;
    expect(
        "/v1/users?email_address=u3@example.com&username=user4",
        vec![],
    )
    .await;
    expect(
        "/v1/users?external_id=ext-2&external_id=ext-3&query=bob",
        vec![3],
    )
    .await;
    expect("/v1/users?email_address=not-an-address", vec![]).await;

    let c = get(&t, &key, "/v1/users/count").await;
    assert_eq!(c.body["total_count"], 12);
    let too_many: String = (0..101).map(|i| format!("user_id=u{i}&")).collect();
    let r = get(&t, &key, &format!("/v1/users?{too_many}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // A deleted user leaves the index.
    let r = call(
        &t,
        &key,
        Method::DELETE,
        &format!("/v1/users/{}", users[3]),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    expect("/v1/users?query=ada", vec![0, 2, 4, 6, 8, 10]).await;
    assert_eq!(
        get(&t, &key, "/v1/users/count").await.body["total_count"],
        11
    );
    assert_eq!(ids(&get(&t, &key, "/v1/users?limit=20").await).len(), 11);
}

#[tokio::test]
async fn an_external_id_belongs_to_one_user_until_it_is_freed() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let create = |email: &str, external: &str| {
        let body = json!({"email_address": [email], "external_id": external, "skip_password_requirement": true});
        call(&t, &key, Method::POST, "/v1/users", body)
    };
    let a = create("a@example.com", "crm-1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a_id = a.body["id"].as_str().unwrap().to_owned();
    t.counts.reset();
    let r = create("b@example.com", "crm-1").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), Some("form_identifier_exists"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "external_id");
    assert_eq!(t.counts.commits(), 1, "one transaction, refused whole");
    // …so the address it carried was not left claimed.
    let b = create("b@example.com", "crm-2").await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    let b_id = b.body["id"].as_str().unwrap().to_owned();

    let patch = |id: &str, external: &str| {
        let body = json!({"external_id": external});
        let path = format!("/v1/users/{id}");
        let (t, key) = (&t, &key);
        async move { call(t, key, Method::PATCH, &path, body).await }
    };
    let r = patch(&b_id, "crm-1").await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "external_id");
    // Renaming frees the old id; deleting frees the current one.
    let r = patch(&a_id, "crm-9").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["external_id"], "crm-9");
    let r = patch(&b_id, "crm-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(
        &t,
        &key,
        Method::DELETE,
        &format!("/v1/users/{a_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        create("c@example.com", "crm-9").await.status,
        StatusCode::OK
    );
    let found = get(&t, &key, "/v1/users?external_id=crm-1").await;
    assert_eq!(ids(&found), [b_id]);
}

#[tokio::test]
async fn email_addresses_and_phone_numbers_are_managed_by_id() {
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    let user = call(
        &t,
        &key,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["first@example.com"], "skip_password_requirement": true}),
    )
    .await;
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let first_email = user.body["email_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Unverified: on the user, not claimed.
    let r = call(
        &t,
        &key,
        Method::POST,
        "/v1/email_addresses",
        json!({"user_id": user_id, "email_address": "Second@Example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "email_address");
    assert_eq!(r.body["email_address"], "second@example.com");
    assert_eq!(r.body["verification"], Value::Null);
    let second = r.body["id"].as_str().unwrap().to_owned();
    let r = get(&t, &key, &format!("/v1/email_addresses/{second}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], second);
    let other = call(
        &t,
        &key,
        Method::POST,
        "/v1/users",
        json!({"email_address": ["other@example.com"], "skip_password_requirement": true}),
    )
    .await;
    let other_id = other.body["id"].as_str().unwrap().to_owned();

    // Verified and primary: claimed, so nobody else can verify it.
    let path = format!("/v1/email_addresses/{second}");
    let r = call(
        &t,
        &key,
        Method::PATCH,
        &path,
        json!({"verified": true, "primary": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["verification"]["status"], "verified");
    assert_eq!(r.body["verification"]["strategy"], "admin");
    let u = get(&t, &key, &format!("/v1/users/{user_id}")).await;
    assert_eq!(u.body["primary_email_address_id"], second);
    let r = call(
        &t,
        &key,
        Method::POST,
        "/v1/email_addresses",
        json!({"user_id": other_id, "email_address": "second@example.com", "verified": true}),
    )
    .await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);
    let found = get(&t, &key, "/v1/users?email_address=second@example.com").await;
    assert_eq!(ids(&found), vec![user_id.clone()]);

    // Phone numbers the same way, reserved for second factors on request.
    let r = call(&t, &key, Method::POST, "/v1/phone_numbers",
        json!({"user_id": user_id, "phone_number": "+1 202 555 0199", "verified": true, "reserved_for_second_factor": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "phone_number");
    assert_eq!(r.body["phone_number"], "+12025550199");
    assert_eq!(r.body["reserved_for_second_factor"], true);
    let phone = r.body["id"].as_str().unwrap().to_owned();
    let u = get(&t, &key, &format!("/v1/users/{user_id}")).await;
    assert_eq!(u.body["two_factor_enabled"], true);
    let r = get(&t, &key, &format!("/v1/phone_numbers/{phone}")).await;
    assert_eq!(r.body["id"], phone);
    // An email id is not a phone number.
    let r = get(&t, &key, &format!("/v1/phone_numbers/{second}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Deleted: gone by id, gone from the user, and free for someone else.
    let r = call(&t, &key, Method::DELETE, &path, Value::Null).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"object": "email_address", "id": second, "deleted": true})
    );
    assert_eq!(get(&t, &key, &path).await.status, StatusCode::NOT_FOUND);
    let u = get(&t, &key, &format!("/v1/users/{user_id}")).await;
    assert_eq!(u.body["email_addresses"].as_array().unwrap().len(), 1);
    assert_eq!(u.body["primary_email_address_id"], first_email);
    let r = call(
        &t,
        &key,
        Method::POST,
        "/v1/email_addresses",
        json!({"user_id": other_id, "email_address": "second@example.com", "verified": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Refusals: no such user, no such id, bad input.
    for (method, path, body, status) in [
        (
            Method::POST,
            "/v1/email_addresses",
            json!({"user_id": "user_nope", "email_address": "x@example.com"}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/email_addresses",
            json!({"user_id": user_id, "email_address": "not an address"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/v1/email_addresses",
            json!({"email_address": "x@example.com"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/v1/phone_numbers",
            json!({"user_id": user_id, "phone_number": "12"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::GET,
            "/v1/email_addresses/idn_nope",
            Value::Null,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            "/v1/phone_numbers/idn_nope",
            json!({"verified": true}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            "/v1/phone_numbers/idn_nope",
            Value::Null,
            StatusCode::NOT_FOUND,
        ),
    ] {
        t.counts.reset();
        let r = call(&t, &key, method.clone(), path, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert_eq!(t.counts.commits(), 0, "{method} {path}");
    }
    // Without a key, nothing.
    let r = t.get(&format!("/v1/phone_numbers/{phone}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn users_stored_by_an_earlier_version_are_found_after_a_reindex() {
    use frontdoor::store::{Condition, Item, Write, keys};
    let t = TestApp::new().await;
    let key = t.app.create_secret_key().await.unwrap();
    // A user as the previous version stored it: no index entry, no locators, no external-id
    // guard (only its identifier guard).
    let r = call(&t, &key, Method::POST, "/v1/users",
        json!({"email_address": ["old@example.com"], "external_id": "old-1", "skip_password_requirement": true})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let email_id = r.body["email_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = t
        .app
        .repo
        .store()
        .get(&keys::user(&id))
        .await
        .unwrap()
        .unwrap();
    t.app
        .repo
        .store()
        .write(vec![
            Write::put(
                Item::new(keys::user(&id), stored.doc.clone()).with_version(stored.version + 1),
                Condition::Version(stored.version),
            ),
            Write::delete(keys::identification(&email_id), Condition::None),
            Write::delete(keys::external_id("old-1"), Condition::None),
        ])
        .await
        .unwrap();
    assert_eq!(
        get(&t, &key, "/v1/users/count").await.body["total_count"],
        0
    );
    assert_eq!(
        get(&t, &key, &format!("/v1/email_addresses/{email_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let report = frontdoor::flows::reindex::reindex_users(&t.app)
        .await
        .unwrap();
    assert_eq!((report.users, report.rewritten), (1, 1));
    assert_eq!(
        get(&t, &key, "/v1/users/count").await.body["total_count"],
        1
    );
    assert_eq!(ids(&get(&t, &key, "/v1/users").await), vec![id.clone()]);
    let r = get(&t, &key, &format!("/v1/email_addresses/{email_id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(&t, &key, Method::POST, "/v1/users",
        json!({"email_address": ["new@example.com"], "external_id": "old-1", "skip_password_requirement": true})).await;
    assert_eq!(
        r.error_code(),
        Some("form_identifier_exists"),
        "the external id is guarded again"
    );
    // Again: nothing to change, nothing broken.
    let again = frontdoor::flows::reindex::reindex_users(&t.app)
        .await
        .unwrap();
    assert_eq!((again.users, again.rewritten), (1, 1));
    assert_eq!(
        get(&t, &key, "/v1/users/count").await.body["total_count"],
        1
    );
}
