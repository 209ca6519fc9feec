#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Importing users from Clerk's exports through the import flow's public functions: what each
//! row becomes (created, refused and why, notes on what was left behind), a dry run that writes
//! nothing, a re-run that changes nothing, and an imported bcrypt user signing in over HTTP and
//! leaving with an argon2id hash. The `frontdoor import` command on 1,000 users, and clerk-js
//! signing in, are in `tests/sdk/import.test.mjs`.

use frontdoor::clerk_export;
use frontdoor::flows::import::{self, Imported, Outcome};
use frontdoor_tests::{Device, TestApp, form};
use http::StatusCode;

const PASSWORD: &str = "correct horse battery staple";

fn bcrypt_digest() -> String {
    bcrypt::hash_with_salt(PASSWORD, 4, [7u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB)
}

fn csv() -> String {
    let d = bcrypt_digest();
    format!(
        "id,first_name,last_name,username,primary_email_address,primary_phone_number,verified_email_addresses,unverified_email_addresses,verified_phone_numbers,unverified_phone_numbers,totp_secret,password_digest,password_hasher\n\
         user_2aLegacyOne,Ada,Lovelace,ada_lovelace,ada@example.com,+12025550101,ada@example.com,ada.old@example.com,+12025550101,,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,{d},bcrypt\n\
         user_2aNoPassword,Bo,,,bo@example.com,,bo@example.com,,,,,,\n\
         user_2aOddHasher,Cy,,,cy@example.com,,cy@example.com,,,,,abc$def,scrypt_firebase\n\
         user_2aBadEmail,Di,,,not-an-address,,not-an-address,,,,,,\n\
         user_2aTaken,Ed,,,taken@example.com,,taken@example.com,,,,,,\n\
         ,No,Id,,x@example.com,,,,,,,,\n\
         not_a_user_id,Fay,,,fay@example.com,,fay@example.com,,,,,,\n\
         user_2aShortName,Gus,,gu,gus@example.com,,gus@example.com,,,,,,\n"
    )
}

async fn run(t: &TestApp, text: &str, dry_run: bool) -> Vec<Result<Imported, String>> {
    let mut out = Vec::new();
    for row in clerk_export::read(text).unwrap() {
        out.push(match row {
            Ok(u) => Ok(import::import_user(&t.app, &u, dry_run).await.unwrap()),
            Err(p) => Err(format!("row {}: {}", p.row, p.reason)),
        });
    }
    out
}

fn outcomes(results: &[Result<Imported, String>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok(i) => format!("{}: {:?}", i.id, i.outcome),
            Err(e) => e.clone(),
        })
        .collect()
}

#[tokio::test]
async fn each_row_is_created_or_refused_with_its_reason_and_a_rerun_changes_nothing() {
    let t = TestApp::new().await;
    Device::new(&t).sign_up("taken@example.com", PASSWORD).await;

    t.counts.reset();
    let dry = run(&t, &csv(), true).await;
    assert_eq!(t.counts.commits(), 0, "a dry run writes nothing");
    let short = frontdoor::identifiers::normalise_username("gu", "username")
        .unwrap_err()
        .long_message
        .unwrap();
    let want = |created: &str| {
        vec![
            format!("user_2aLegacyOne: {created}"),
            format!("user_2aNoPassword: {created}"),
            format!("user_2aOddHasher: {created}"),
            "user_2aBadEmail: Refused(\"`not-an-address` is not a valid email address\")"
                .to_owned(),
            "user_2aTaken: Refused(\"email_address `taken@example.com` is another user's\")"
                .to_owned(),
            "row 6: no user id".to_owned(),
            "not_a_user_id: Refused(\"`not_a_user_id` is not a Clerk user id\")".to_owned(),
            format!("user_2aShortName: Refused(\"username `gu`: {short}\")"),
        ]
    };
    assert_eq!(outcomes(&dry), want("WouldCreate"));
    assert!(
        t.app
            .repo
            .load_user("user_2aLegacyOne")
            .await
            .unwrap()
            .is_none()
    );

    let first = run(&t, &csv(), false).await;
    assert_eq!(outcomes(&first), want("Created"));
    let notes: Vec<&String> = first.iter().flatten().flat_map(|i| &i.notes).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("scrypt_firebase"), "{}", notes[0]);

    // Idempotent: the same file again changes nothing.
    t.counts.reset();
    let again = run(&t, &csv(), false).await;
    assert_eq!(
        t.counts.commits(),
        1,
        "only the refused row's transaction was tried again"
    );
    assert!(
        again
            .iter()
            .flatten()
            .take(3)
            .all(|i| i.outcome == Outcome::AlreadyImported)
    );

    let ada = t.user("user_2aLegacyOne").await;
    assert_eq!(ada.first_name.as_deref(), Some("Ada"));
    assert_eq!(ada.username.as_deref(), Some("ada_lovelace"));
    let emails: Vec<(&str, bool)> = ada
        .email_addresses
        .iter()
        .map(|e| (e.value.as_str(), e.is_verified()))
        .collect();
    assert_eq!(
        emails,
        [("ada@example.com", true), ("ada.old@example.com", false)]
    );
    assert_eq!(ada.phone_numbers[0].value, "+12025550101");
    assert!(ada.totp_secret.is_some());
    assert!(ada.password_hash.as_deref().unwrap().starts_with("$2b$"));
    assert!(t.user("user_2aOddHasher").await.password_hash.is_none());
}

#[tokio::test]
async fn an_imported_bcrypt_user_signs_in_and_leaves_with_an_argon2id_hash() {
    let t = TestApp::new().await;
    let csv = format!(
        "id,primary_email_address,verified_email_addresses,password_digest,password_hasher\n\
         user_2aSignsIn,signs.in@example.com,signs.in@example.com,{},bcrypt\n",
        bcrypt_digest()
    );
    run(&t, &csv, false).await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "signs.in@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete");
    let hash = t.user("user_2aSignsIn").await.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn the_backend_api_json_brings_external_ids_metadata_and_bans() {
    let t = TestApp::new().await;
    let json = r#"[
      {"id": "user_2aFromJson", "first_name": "Jo", "external_id": "crm-7", "banned": true,
       "created_at": 1700000000000,
       "primary_email_address_id": "idn_2",
       "email_addresses": [
         {"id": "idn_1", "email_address": "jo.old@example.com", "verification": null},
         {"id": "idn_2", "email_address": "jo@example.com", "verification": {"status": "verified"}}],
       "public_metadata": {"plan": "pro"}, "private_metadata": {"stripe": "cus_1"},
       "unsafe_metadata": {}},
      {"id": "user_2aSameExternal", "external_id": "crm-7",
       "email_addresses": [{"email_address": "other@example.com", "verification": {"status": "verified"}}]}
    ]"#;
    let results = run(&t, json, false).await;
    assert_eq!(
        outcomes(&results),
        [
            "user_2aFromJson: Created",
            "user_2aSameExternal: Refused(\"external id `crm-7` is another user's\")",
        ]
    );
    let jo = t.user("user_2aFromJson").await;
    assert_eq!(jo.external_id.as_deref(), Some("crm-7"));
    assert!(jo.banned);
    assert_eq!(jo.created_at, 1_700_000_000_000);
    assert_eq!(jo.public_metadata["plan"], "pro");
    assert_eq!(jo.private_metadata["stripe"], "cus_1");
    let primary = jo.primary_email_address_id.as_deref().unwrap();
    assert_eq!(
        jo.identification(
            frontdoor::vocabulary::IdentificationKind::EmailAddress,
            primary
        )
        .unwrap()
        .value,
        "jo@example.com"
    );
    // The refused row left nothing behind: its verified address is free.
    assert!(
        t.app
            .repo
            .identifier_owner(
                frontdoor::vocabulary::IdentifierKind::Email,
                "other@example.com"
            )
            .await
            .unwrap()
            .is_none()
    );
}
