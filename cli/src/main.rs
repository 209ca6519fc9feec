//! `frontdoor`: the operator's command line. It opens the store the environment names, exactly
//! as the functions do (`FRONTDOOR_STORE`, `FRONTDOOR_TABLE`, `FRONTDOOR_DATA_DIR`,
//! `FRONTDOOR_SETTINGS`…): the embedded store of `make dev` by default, the deployed table with
//! `FRONTDOOR_STORE=dynamodb`. Output is for people; `--json` prints one JSON document for
//! scripts. Exit status: 0 done, 1 failed, 2 an import refused some rows.
//!
//! ```text
//!   frontdoor users list|show|ban|unban|lock|unlock|delete     frontdoor sessions revoke
//!   frontdoor import FILE [--dry-run]                           frontdoor keys show|rotate
//!   frontdoor webhooks failed|replay                            frontdoor secret-keys create|list|revoke
//! ```

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use frontdoor::App;
use frontdoor::clerk_export;
use frontdoor::flows::backend::{self, UserAction};
use frontdoor::flows::import::{self, Outcome};
use frontdoor::flows::user_search::{self, UserFilter, UserOrder};
use frontdoor::flows::webhooks;
use frontdoor::model::records::UserRecord;
use frontdoor::model::render;
use frontdoor::runtime::{self, StoreKind};
use serde_json::{Value, json};

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(
    name = "frontdoor",
    about = "Operate a Frontdoor instance: users, sessions, import, keys, webhooks",
    version
)]
struct Cli {
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find and act on users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Act on sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Import users from a Clerk export: the Dashboard's CSV or the Backend API's user JSON.
    /// Users keep their Clerk ids; a re-run changes nothing.
    Import {
        /// The export file (`.csv`, or JSON: an array of users).
        file: std::path::PathBuf,
        /// Check every row and report, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The session-token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Webhook messages that used up their attempts.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Secret keys for app servers (the Backend API).
    #[command(subcommand, name = "secret-keys")]
    SecretKeys(SecretKeysCommand),
}

#[derive(Subcommand)]
enum UsersCommand {
    /// List users, newest first (filters combine).
    List(ListArgs),
    /// One user, in full (never its password hash: only which hasher made it).
    Show { id: String },
    /// No sign-in until unbanned; every session ends.
    Ban { id: String },
    /// Lift a ban.
    Unban { id: String },
    /// Locked as a lockout locks, until unlocked.
    Lock { id: String },
    /// Lift a lock, and forgive failed attempts.
    Unlock { id: String },
    /// Delete a user: its sessions end and its identifiers are free again.
    Delete { id: String },
    /// After an upgrade: give users stored by an earlier version what this one reads (the user
    /// index, email and phone locators, external-id guards). Reads the whole table; safe to
    /// run again and beside live traffic.
    Reindex,
}

#[derive(Args)]
struct ListArgs {
    /// Partial match on ids, identifiers and names.
    #[arg(long)]
    query: Option<String>,
    #[arg(long = "email-address")]
    email_addresses: Vec<String>,
    #[arg(long = "phone-number")]
    phone_numbers: Vec<String>,
    #[arg(long = "username")]
    usernames: Vec<String>,
    #[arg(long = "external-id")]
    external_ids: Vec<String>,
    #[arg(long = "user-id")]
    user_ids: Vec<String>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// `created_at`, `-created_at` (default), `updated_at`, `last_sign_in_at`, `username`, …
    #[arg(long)]
    order_by: Option<String>,
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Revoke a session: its device's next token refresh is refused.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The signing keys: which signs now, which are published, which retired.
    Show,
    /// Stage a new signing key: published at once, signing after `--activate-in` seconds.
    Rotate {
        #[arg(long, default_value_t = frontdoor::security::SIGNING_KEY_ACTIVATION_DELAY.as_secs())]
        activate_in: u64,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Failed messages, most recent first.
    Failed {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Send failed messages again (with a fresh set of attempts).
    Replay {
        /// The message ids (`msg_…`) to replay.
        ids: Vec<String>,
        /// Every failed message.
        #[arg(long, conflicts_with = "ids")]
        all_failed: bool,
    },
}

#[derive(Subcommand)]
enum SecretKeysCommand {
    /// Make a secret key: printed once, only its hash is kept.
    Create,
    /// The stored keys, by id.
    List,
    /// Revoke a stored key, given as the key or its id: refused everywhere within a minute.
    Revoke { key_or_id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    runtime::init_cli_tracing();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // Clerk-shaped errors say the most in their long message.
            let text = match e.downcast_ref::<frontdoor::Error>() {
                Some(fe) => fe.long_message.clone().unwrap_or_else(|| fe.to_string()),
                None => e.to_string(),
            };
            eprintln!("frontdoor: {text}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let app = runtime::build_app(StoreKind::Sqlite).await?;
    let out = Output { json: cli.json };
    match cli.command {
        Command::Users(c) => users(&app, &out, c).await?,
        Command::Sessions(SessionsCommand::Revoke { id }) => {
            let s = backend::revoke_session(&app, &id).await?;
            out.print(&render::backend_session(&s, app.now_ms()), || {
                format!("revoked {} (user {})", s.id, s.user_id)
            });
        }
        Command::Import { file, dry_run } => return import(&app, &out, &file, dry_run).await,
        Command::Keys(c) => keys(&app, &out, c).await?,
        Command::Webhooks(c) => webhook_messages(&app, &out, c).await?,
        Command::SecretKeys(c) => secret_keys(&app, &out, c).await?,
    }
    Ok(ExitCode::SUCCESS)
}

struct Output {
    json: bool,
}

impl Output {
    /// `value` as JSON, or the text `human` makes.
    fn print(&self, value: &Value, human: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            println!("{}", human());
        }
    }
}

/// Which algorithm made the stored password hash.
fn password_hasher(u: &UserRecord) -> &'static str {
    match u.password_hash.as_deref() {
        None => "none",
        Some(h) if h.starts_with("$argon2id$") => "argon2id",
        Some(h) if h.starts_with("$argon2i$") => "argon2i",
        Some(h) if h.starts_with("$2") => "bcrypt",
        Some(_) => "other",
    }
}

fn user_json(app: &App, u: &UserRecord) -> Value {
    let mut v = render::backend_user(u, &app.settings, app.now_ms());
    if let Value::Object(m) = &mut v {
        m.insert("password_hasher".into(), password_hasher(u).into());
    }
    v
}

fn user_line(u: &UserRecord) -> String {
    let email = u
        .email_addresses
        .iter()
        .find(|e| Some(&e.id) == u.primary_email_address_id.as_ref())
        .map(|e| e.value.as_str());
    let identifier = email
        .or(u.phone_numbers.first().map(|p| p.value.as_str()))
        .or(u.username.as_deref())
        .unwrap_or("-");
    let name = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let flags = [
        (u.banned, " [banned]"),
        (u.locked_until.is_some(), " [locked]"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| *f)
    .collect::<String>();
    format!("{:<33} {:<36} {}{}", u.id, identifier, name, flags)
}

async fn users(app: &App, out: &Output, c: UsersCommand) -> Result<(), Failure> {
    let act = |action: UserAction, id: String| async move {
        let u = backend::act_on_user(app, &id, &action).await?;
        Ok::<_, Failure>(u)
    };
    let user = match c {
        UsersCommand::List(a) => {
            let filter = UserFilter {
                email_addresses: a.email_addresses,
                phone_numbers: a.phone_numbers,
                usernames: a.usernames,
                external_ids: a.external_ids,
                user_ids: a.user_ids,
                query: a.query,
            };
            let order = match &a.order_by {
                Some(o) => UserOrder::parse(o)?,
                None => UserOrder::default(),
            };
            let page = user_search::list(app, &filter, order, a.limit, a.offset).await?;
            let total = user_search::count(app, &filter).await?;
            let data: Vec<Value> = page.iter().map(|u| user_json(app, u)).collect();
            out.print(&json!({ "data": data, "total_count": total }), || {
                let mut lines: Vec<String> = page.iter().map(user_line).collect();
                lines.push(format!("{} of {total} users", page.len()));
                lines.join("\n")
            });
            return Ok(());
        }
        UsersCommand::Show { id } => backend::user(app, &id).await?,
        UsersCommand::Ban { id } => act(UserAction::Ban, id).await?,
        UsersCommand::Unban { id } => act(UserAction::Unban, id).await?,
        UsersCommand::Lock { id } => act(UserAction::Lock, id).await?,
        UsersCommand::Unlock { id } => act(UserAction::Unlock, id).await?,
        UsersCommand::Reindex => {
            let r = frontdoor::flows::reindex::reindex_users(app).await?;
            let conflicts: Vec<Value> = r
                .external_id_conflicts
                .iter()
                .map(|(user, ext)| json!({ "user_id": user, "external_id": ext }))
                .collect();
            out.print(
                &json!({
                    "users": r.users, "rewritten": r.rewritten,
                    "external_id_conflicts": conflicts, "skipped": r.skipped,
                }),
                || {
                    let mut lines = vec![format!("{} users, {} rewritten", r.users, r.rewritten)];
                    for (user, ext) in &r.external_id_conflicts {
                        lines.push(format!(
                            "  {user}: external id `{ext}` is another user's (left unguarded)"
                        ));
                    }
                    for user in &r.skipped {
                        lines.push(format!("  {user}: changed meanwhile, run again"));
                    }
                    lines.join("\n")
                },
            );
            return Ok(());
        }
        UsersCommand::Delete { id } => {
            backend::delete_user(app, &id).await?;
            out.print(
                &json!({ "object": "user", "id": id, "deleted": true }),
                || format!("deleted {id}"),
            );
            return Ok(());
        }
    };
    let v = user_json(app, &user);
    out.print(&v, || {
        let mut text = user_line(&user);
        text.push_str(&format!(
            "\n  password: {}\n  two-factor: {}\n  created: {}\n  last sign-in: {}",
            password_hasher(&user),
            v["two_factor_enabled"],
            user.created_at,
            user.last_sign_in_at
                .map_or("never".into(), |t| t.to_string()),
        ));
        text
    });
    Ok(())
}

async fn import(
    app: &App,
    out: &Output,
    file: &std::path::Path,
    dry_run: bool,
) -> Result<ExitCode, Failure> {
    let started = std::time::Instant::now();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows = clerk_export::read(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let total = rows.len();
    let (mut created, mut already, mut would) = (0, 0, 0);
    let mut refused = Vec::new();
    let mut notes = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match row {
            Err(p) => refused.push(json!({ "row": p.row, "id": p.id, "reason": p.reason })),
            Ok(u) => {
                let done = import::import_user(app, u, dry_run).await?;
                for note in &done.notes {
                    notes.push(json!({ "row": done.row, "id": done.id, "note": note }));
                }
                match done.outcome {
                    Outcome::Created => created += 1,
                    Outcome::WouldCreate => would += 1,
                    Outcome::AlreadyImported => already += 1,
                    Outcome::Refused(reason) => {
                        refused.push(json!({ "row": done.row, "id": done.id, "reason": reason }));
                    }
                }
            }
        }
        if (i + 1) % 100 == 0 && i + 1 < total {
            eprintln!(
                "{} {}/{total} rows…",
                if dry_run { "checked" } else { "imported" },
                i + 1
            );
        }
    }
    let elapsed_ms = started.elapsed().as_millis();
    let report = json!({
        "rows": total,
        "created": created,
        "would_create": would,
        "already_imported": already,
        "refused": refused,
        "notes": notes,
        "dry_run": dry_run,
        "elapsed_ms": elapsed_ms,
    });
    out.print(&report, || {
        let mut lines = vec![if dry_run {
            format!("{total} rows: {would} would be created, {already} already here, {} refused (dry run: nothing written)", refused.len())
        } else {
            format!("{total} rows: {created} created, {already} already here, {} refused, in {:.1} s", refused.len(), elapsed_ms as f64 / 1000.0)
        }];
        for r in &refused {
            lines.push(format!("  refused row {} ({}): {}", r["row"], r["id"].as_str().unwrap_or("-"), r["reason"].as_str().unwrap_or("")));
        }
        for n in &notes {
            lines.push(format!("  note row {} ({}): {}", n["row"], n["id"].as_str().unwrap_or("-"), n["note"].as_str().unwrap_or("")));
        }
        lines.join("\n")
    });
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn keys(app: &App, out: &Output, c: KeysCommand) -> Result<(), Failure> {
    match c {
        KeysCommand::Show => {
            let ring = app.signing_keys().await;
            let now = app.now_ms();
            let current = ring.current(now).kid.clone();
            let keys: Vec<Value> = ring
                .keys()
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid,
                        "created_at": k.created_at,
                        "activate_at": k.activate_at,
                        "retired_at": k.retired_at,
                        "signing": k.kid == current,
                        "published": ring.published(now).any(|p| p.kid == k.kid),
                    })
                })
                .collect();
            out.print(&json!({ "keys": keys }), || {
                keys.iter()
                    .map(|k| {
                        let state = if k["signing"] == true {
                            "signing"
                        } else if k["published"] == true {
                            "published"
                        } else {
                            "retired"
                        };
                        format!(
                            "{}  {state}  created {}",
                            k["kid"].as_str().unwrap_or(""),
                            k["created_at"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCommand::Rotate { activate_in } => {
            let kid = app
                .stage_signing_key(std::time::Duration::from_secs(activate_in))
                .await?;
            out.print(
                &json!({ "kid": kid, "activate_in_secs": activate_in }),
                || format!("staged signing key {kid}: published now, signing in {activate_in} s"),
            );
        }
    }
    Ok(())
}

async fn webhook_messages(app: &App, out: &Output, c: WebhooksCommand) -> Result<(), Failure> {
    match c {
        WebhooksCommand::Failed { limit } => {
            let failed = webhooks::failed(app, limit).await?;
            let list: Vec<Value> = failed
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id, "event_type": m.event_type, "endpoint": m.endpoint,
                        "attempts": m.attempts, "last_result": m.last_result,
                        "created_at": m.created_at, "failed_at": m.failed_at,
                    })
                })
                .collect();
            out.print(&json!({ "data": list }), || {
                if failed.is_empty() {
                    return "no failed webhook messages".into();
                }
                failed
                    .iter()
                    .map(|m| {
                        format!(
                            "{}  {}  to {}  {} attempts, last: {}",
                            m.id,
                            m.event_type,
                            m.endpoint,
                            m.attempts,
                            m.last_result.as_deref().unwrap_or("-")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        WebhooksCommand::Replay { ids, all_failed } => {
            let ids = if all_failed {
                webhooks::failed(app, usize::MAX)
                    .await?
                    .into_iter()
                    .map(|m| m.id)
                    .collect()
            } else {
                ids
            };
            let mut replayed = Vec::new();
            for id in &ids {
                replayed.push(webhooks::replay(app, id).await?.id);
            }
            out.print(&json!({ "replayed": replayed }), || {
                format!("{} messages due again", replayed.len())
            });
        }
    }
    Ok(())
}

async fn secret_keys(app: &App, out: &Output, c: SecretKeysCommand) -> Result<(), Failure> {
    match c {
        SecretKeysCommand::Create => {
            let key = app.create_secret_key().await?;
            // Printed once, to the operator, never logged: only its hash is kept.
            out.print(&json!({ "secret_key": key }), || key.clone());
        }
        SecretKeysCommand::List => {
            let ids = app.secret_key_ids().await?;
            out.print(&json!({ "data": ids }), || {
                if ids.is_empty() {
                    "no stored secret keys".into()
                } else {
                    ids.join("\n")
                }
            });
        }
        SecretKeysCommand::Revoke { key_or_id } => {
            if !app.revoke_secret_key(&key_or_id).await? {
                return Err("no stored secret key matches".into());
            }
            out.print(&json!({ "revoked": true }), || "revoked".into());
        }
    }
    Ok(())
}
