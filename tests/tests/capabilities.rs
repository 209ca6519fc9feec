#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! The capability policy is the one answer to "what may be used here": for every settings file
//! in `settings/`, every strategy the Environment advertises is accepted by the endpoint (or the
//! flow) that takes it, and nothing else is.

use std::collections::BTreeSet;
use std::path::PathBuf;

use frontdoor::flows::sign_in;
use frontdoor::model::records::{
    IdentificationRecord, PasskeyRecord, UserRecord, VerificationStatus,
};
use frontdoor::settings::Settings;
use frontdoor::vocabulary::{FirstFactor, IdentificationKind, IdentifierKind, Strategy};
use frontdoor_tests::{Device, TestApp, form};
use serde_json::Value;

fn settings_files() -> Vec<(PathBuf, Settings)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../settings"));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let settings = Settings::load(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            out.push((path, settings));
        }
    }
    assert!(
        out.len() >= 2,
        "the settings folder holds the default and the example"
    );
    out
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// A user holding everything a factor could need.
fn everything(t: &TestApp) -> UserRecord {
    let now = t.app.now_ms();
    let verified = |kind, strategy, id: &str, value: &str| IdentificationRecord {
        verification: Some(frontdoor::flows::verification::verified(strategy)),
        reserved_for_second_factor: kind == IdentificationKind::PhoneNumber,
        default_second_factor: kind == IdentificationKind::PhoneNumber,
        ..IdentificationRecord::new(kind, id.into(), value.into(), now)
    };
    let doc = serde_json::json!({
        "id": "user_all", "username": "everything", "first_name": null, "last_name": null,
        "email_addresses": [], "phone_numbers": [],
        "primary_email_address_id": "idn_e", "primary_phone_number_id": "idn_p",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "password_last_updated_at": null, "totp_secret": "JBSWY3DPEHPK3PXP",
        "totp_pending_secret": null, "backup_code_hashes": ["x"],
        "public_metadata": {}, "unsafe_metadata": {}, "failed_attempts": 0,
        "locked_until": null, "last_sign_in_at": null, "last_active_at": null,
        "mfa_enabled_at": null, "mfa_disabled_at": null, "legal_accepted_at": null,
        "created_at": now, "updated_at": now,
    });
    let mut u: UserRecord = serde_json::from_value(doc).unwrap();
    u.email_addresses.push(verified(
        IdentificationKind::EmailAddress,
        Strategy::EmailCode,
        "idn_e",
        "all@example.com",
    ));
    u.passkeys.push(PasskeyRecord {
        id: "pk_all".into(),
        name: "Passkey".into(),
        status: VerificationStatus::Verified,
        ceremony: None,
        credential_id: Some("Y3JlZGVudGlhbA".into()),
        credential: Some(serde_json::json!({})),
        last_used_at: None,
        created_at: now,
        updated_at: now,
    });
    u.phone_numbers.push(verified(
        IdentificationKind::PhoneNumber,
        Strategy::PhoneCode,
        "idn_p",
        "+14155550100",
    ));
    u
}

#[tokio::test]
async fn advertised_strategies_are_exactly_the_accepted_ones() {
    for (path, settings) in settings_files() {
        let t = TestApp::with_settings(settings).await;
        let env = t.get("/v1/environment").await.body;
        let auth = &env["auth_config"];
        let advertised_first = names(&auth["first_factors"]);
        let advertised_second = names(&auth["second_factors"]);
        let identifiers = names(&auth["identification_strategies"]);

        // The sign-in endpoint takes exactly the advertised first factors: an advertised one gets
        // as far as asking for the identifier, any other is refused by name.
        for f in FirstFactor::ALL {
            let r = Device::new(&t)
                .post("/v1/client/sign_ins", &form(&[("strategy", f.as_str())]))
                .await;
            let param = r.body["errors"][0]["meta"]["param_name"].clone();
            if advertised_first.contains(f.as_str()) && *f == FirstFactor::Passkey {
                // A discoverable passkey names its user itself: the options come at once.
                assert_eq!(r.status, http::StatusCode::OK, "{path:?} {f}: {}", r.body);
                let v = &r.body["response"]["first_factor_verification"];
                assert!(v["nonce"].is_string(), "{path:?} {f}: {}", r.body);
            } else if advertised_first.contains(f.as_str()) {
                assert_eq!(r.error_code(), Some("form_param_missing"), "{path:?} {f}");
                assert_eq!(param, "identifier", "{path:?} {f}");
            } else {
                assert_eq!(
                    r.error_code(),
                    Some("form_param_value_invalid"),
                    "{path:?} {f}"
                );
                assert_eq!(param, "strategy", "{path:?} {f}");
            }
        }
        // An unknown strategy is a clear error at the edge.
        let r = Device::new(&t)
            .post("/v1/client/sign_ins", "strategy=carrier_pigeon")
            .await;
        assert_eq!(r.error_code(), Some("form_param_value_invalid"), "{path:?}");

        // The sign-in endpoint takes exactly the advertised identifier kinds.
        for (kind, sample) in [
            (IdentifierKind::Email, "nobody@example.com"),
            (IdentifierKind::Phone, "+14155550123"),
            (IdentifierKind::Username, "nobody_here"),
        ] {
            let r = Device::new(&t)
                .post("/v1/client/sign_ins", &form(&[("identifier", sample)]))
                .await;
            let expected = if identifiers.contains(kind.as_str()) {
                "form_identifier_not_found"
            } else {
                "form_param_value_invalid"
            };
            assert_eq!(r.error_code(), Some(expected), "{path:?} {kind}");
        }

        // The sign-in flow offers a user who holds everything exactly the advertised factors.
        let user = everything(&t);
        let offered_first: BTreeSet<String> = sign_in::first_factors(&t.app, &user)
            .iter()
            .map(|f| f.strategy.as_str().to_owned())
            .collect();
        assert_eq!(offered_first, advertised_first, "{path:?}");
        let offered_second: BTreeSet<String> = sign_in::second_factors(&t.app, &user)
            .iter()
            .map(|f| f.strategy.as_str().to_owned())
            .collect();
        assert_eq!(offered_second, advertised_second, "{path:?}");

        // Sign-up takes every field the environment lists as required or optional.
        let sign_up_fields: BTreeSet<String> = names(&auth["identification_strategies"])
            .into_iter()
            .chain(
                ["first_name", "last_name", "password"]
                    .into_iter()
                    .filter(|f| auth[*f] != "off")
                    .map(str::to_owned),
            )
            .collect();
        for field in sign_up_fields {
            let value = match field.as_str() {
                "email_address" => "new@example.com",
                "phone_number" => "+14155550124",
                "username" => "new_person",
                "password" => "a long enough password",
                _ => "Name",
            };
            let r = Device::new(&t)
                .post("/v1/client/sign_ups", &form(&[(field.as_str(), value)]))
                .await;
            assert_ne!(
                r.error_code(),
                Some("form_param_unknown"),
                "{path:?} {field}"
            );
        }
    }
}
