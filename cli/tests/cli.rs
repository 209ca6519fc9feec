#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! The `frontdoor` command as an operator runs it: the real binary on a fresh embedded store,
//! each subcommand's text and `--json` output, and its exit status.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Store {
    dir: PathBuf,
}

impl Store {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("frontdoor-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_frontdoor"))
            .args(args)
            .env("FRONTDOOR_DATA_DIR", &self.dir)
            .env("FRONTDOOR_STORE", "sqlite")
            .env_remove("FRONTDOOR_SETTINGS")
            .env_remove("FRONTDOOR_SECRET_KEY")
            .output()
            .unwrap()
    }

    /// Runs with `--json`, expecting success, and returns the document printed.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn every_subcommand_has_help() {
    let s = Store::new("help");
    for args in [
        vec!["--help"],
        vec!["users", "--help"],
        vec!["users", "list", "--help"],
        vec!["sessions", "revoke", "--help"],
        vec!["import", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["webhooks", "replay", "--help"],
        vec!["secret-keys", "revoke", "--help"],
    ] {
        let out = s.run(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: frontdoor"),
            "{args:?}"
        );
    }
    assert!(!s.run(&["users", "frobnicate"]).status.success());
}

const DIGEST: &str = "$2b$10$RZNBtiBA.q6KA1nGpPHA1.DlUsGbU/NGpTU9Hn7brUXSBB0Uq554i";

#[test]
fn import_then_find_and_act_on_users() {
    let s = Store::new("users");
    let csv = s.dir.join("export.csv");
    std::fs::write(
        &csv,
        format!(
            "id,first_name,primary_email_address,verified_email_addresses,password_digest,password_hasher\n\
             user_2cliAda,Ada,ada@example.com,ada@example.com,{DIGEST},bcrypt\n\
             user_2cliBo,Bo,bo@example.com,bo@example.com,,\n\
             user_2cliBad,Bad,not-an-address,,,\n"
        ),
    )
    .unwrap();
    let path = csv.to_str().unwrap();

    let dry = s.run(&["--json", "import", path, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(2), "refused rows: exit 2");
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (report["would_create"].as_u64(), report["created"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(report["refused"][0]["row"], 3);
    assert_eq!(report["refused"][0]["id"], "user_2cliBad");
    assert_eq!(
        s.json(&["users", "list"])["total_count"],
        0,
        "a dry run writes nothing"
    );

    let first = s.run(&["import", path]);
    assert_eq!(first.status.code(), Some(2));
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("3 rows: 2 created, 0 already here, 1 refused"),
        "{text}"
    );
    assert!(text.contains("refused row 3 (user_2cliBad)"), "{text}");
    let again: Value = serde_json::from_slice(&s.run(&["--json", "import", path]).stdout).unwrap();
    assert_eq!(
        (
            again["created"].as_u64(),
            again["already_imported"].as_u64()
        ),
        (Some(0), Some(2))
    );

    let list = s.json(&["users", "list"]);
    assert_eq!(list["total_count"], 2);
    let found = s.json(&["users", "list", "--email-address", "ada@example.com"]);
    assert_eq!(found["data"][0]["id"], "user_2cliAda");
    assert_eq!(found["data"][0]["password_hasher"], "bcrypt");
    assert_eq!(
        s.json(&["users", "list", "--query", "bo"])["data"][0]["id"],
        "user_2cliBo"
    );
    assert!(s.text(&["users", "list"]).contains("2 of 2 users"));

    assert_eq!(s.json(&["users", "ban", "user_2cliBo"])["banned"], true);
    assert!(
        s.text(&["users", "show", "user_2cliBo"])
            .contains("[banned]")
    );
    assert_eq!(s.json(&["users", "unban", "user_2cliBo"])["banned"], false);
    assert_eq!(s.json(&["users", "lock", "user_2cliBo"])["locked"], true);
    assert_eq!(s.json(&["users", "unlock", "user_2cliBo"])["locked"], false);
    assert_eq!(s.json(&["users", "delete", "user_2cliBo"])["deleted"], true);
    let gone = s.run(&["users", "show", "user_2cliBo"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("user_2cliBo"));
    let missing = s.run(&["sessions", "revoke", "sess_nope"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn secret_keys_signing_keys_and_webhooks() {
    let s = Store::new("keys");
    let key = s.text(&["secret-keys", "create"]);
    assert!(key.trim().starts_with("sk_test_"), "{key}");
    let ids = s.json(&["secret-keys", "list"]);
    let id = ids["data"][0].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"), "{id}");
    assert!(!id.contains(key.trim()));
    s.json(&["secret-keys", "create"]);
    assert_eq!(
        s.json(&["secret-keys", "list"])["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.json(&["secret-keys", "revoke", key.trim()])["revoked"],
        true
    );
    let left = s.json(&["secret-keys", "list"]);
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    assert_ne!(left["data"][0], id.as_str());
    assert_eq!(
        s.run(&["secret-keys", "revoke", &id]).status.code(),
        Some(1),
        "already revoked"
    );

    let keys = s.json(&["keys", "show"]);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["signing"], true);
    let staged = s.json(&["keys", "rotate", "--activate-in", "0"]);
    let keys = s.json(&["keys", "show"]);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    let signing: Vec<&Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["signing"] == true)
        .collect();
    assert_eq!(signing[0]["kid"], staged["kid"]);

    assert!(
        s.text(&["webhooks", "failed"])
            .contains("no failed webhook messages")
    );
    assert_eq!(
        s.json(&["webhooks", "replay", "--all-failed"])["replayed"],
        serde_json::json!([])
    );
    assert_eq!(
        s.run(&["webhooks", "replay", "msg_nope"]).status.code(),
        Some(1)
    );
}
