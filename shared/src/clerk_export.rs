//! Reading Clerk's user exports, for the import (`crate::flows::import`):
//!
//! - the Dashboard's CSV, the only export with password digests and TOTP secrets: columns
//!   `id, first_name, last_name, username, primary_email_address, primary_phone_number,
//!   verified_email_addresses, unverified_email_addresses, verified_phone_numbers,
//!   unverified_phone_numbers, totp_secret, password_digest, password_hasher` (lists inside a
//!   cell separated by `|`, `;` or `,`); unknown columns are ignored;
//! - the Backend API's user JSON (an array of `User` objects, as `GET /v1/users` pages or
//!   `clerk migrate export` write them), with external ids and metadata; `password_digest` and
//!   `password_hasher` are read there too when a support export carries them.
//!
//! A row that cannot be a user (no id, a cell of the wrong type) is reported with its number
//! and why; the rest of the file is still read.

use serde_json::{Map, Value};

/// One user as the export describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportedUser {
    /// 1-based: the CSV line after the header, or the position in the JSON array.
    pub row: usize,
    /// The user's id at Clerk (`user_…`), kept as the id here.
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    /// `(address, verified)`, the primary first when the export names it.
    pub email_addresses: Vec<(String, bool)>,
    pub phone_numbers: Vec<(String, bool)>,
    /// `(hasher, digest)`.
    pub password: Option<(String, String)>,
    pub totp_secret: Option<String>,
    pub external_id: Option<String>,
    pub public_metadata: Map<String, Value>,
    pub private_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    pub banned: bool,
    /// Unix milliseconds, when the export has it (the JSON does).
    pub created_at: Option<i64>,
}

/// A row the import cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: usize,
    pub id: Option<String>,
    pub reason: String,
}

pub type Row = Result<ExportedUser, RowProblem>;

/// What a file is, from its first non-blank character: `[` is JSON, anything else CSV.
pub fn read(text: &str) -> Result<Vec<Row>, String> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('[') {
        read_json(text)
    } else {
        read_csv(text)
    }
}

fn cell(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn split_list(cell: Option<&str>) -> Vec<String> {
    cell.unwrap_or_default()
        .split(['|', ';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The identifiers in export order, primary first, each once (case-insensitively).
fn merged(
    primary: Option<String>,
    verified: Vec<String>,
    unverified: Vec<String>,
) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let is_verified = |v: &str| verified.iter().any(|x| x.eq_ignore_ascii_case(v));
    let candidates = primary
        .into_iter()
        .chain(verified.iter().cloned())
        .chain(unverified.iter().cloned());
    for v in candidates {
        if !out.iter().any(|(x, _)| x.eq_ignore_ascii_case(&v)) {
            let ok = is_verified(&v);
            out.push((v, ok));
        }
    }
    out
}

/// The Dashboard's CSV export.
pub fn read_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the CSV header: {e}"))?
        .clone();
    if !headers.iter().any(|h| h == "id") {
        return Err("the CSV has no `id` column: not a Clerk user export".into());
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rows.push(Err(RowProblem {
                    row,
                    id: None,
                    reason: format!("unreadable CSV: {e}"),
                }));
                continue;
            }
        };
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
        };
        let Some(id) = cell(get("id")) else {
            rows.push(Err(RowProblem {
                row,
                id: None,
                reason: "no user id".into(),
            }));
            continue;
        };
        let password = match (cell(get("password_hasher")), cell(get("password_digest"))) {
            (Some(hasher), Some(digest)) => Some((hasher, digest)),
            _ => None,
        };
        rows.push(Ok(ExportedUser {
            row,
            id,
            first_name: cell(get("first_name")),
            last_name: cell(get("last_name")),
            username: cell(get("username")),
            email_addresses: merged(
                cell(get("primary_email_address")),
                split_list(get("verified_email_addresses")),
                split_list(get("unverified_email_addresses")),
            ),
            phone_numbers: merged(
                cell(get("primary_phone_number")),
                split_list(get("verified_phone_numbers")),
                split_list(get("unverified_phone_numbers")),
            ),
            password,
            totp_secret: cell(get("totp_secret")),
            external_id: cell(get("external_id")),
            ..ExportedUser::default()
        }));
    }
    Ok(rows)
}

/// The Backend API's user JSON.
pub fn read_json(text: &str) -> Result<Vec<Row>, String> {
    let all: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let users = match all {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(a)) => a,
            _ => return Err("expected an array of users (or `{data: [...]}`)".into()),
        },
        _ => return Err("expected an array of users".into()),
    };
    Ok(users
        .iter()
        .enumerate()
        .map(|(i, u)| json_user(i + 1, u))
        .collect())
}

fn json_user(row: usize, u: &Value) -> Row {
    let s = |name: &str| cell(u.get(name).and_then(Value::as_str));
    let Some(id) = s("id") else {
        return Err(RowProblem {
            row,
            id: None,
            reason: "no user id".into(),
        });
    };
    let problem = |reason: String| RowProblem {
        row,
        id: Some(id.clone()),
        reason,
    };
    let identifications =
        |list: &str, field: &str, primary: &str| -> Result<Vec<(String, bool)>, RowProblem> {
            let primary_id = u.get(primary).and_then(Value::as_str);
            let mut out: Vec<(String, bool)> = Vec::new();
            let items = match u.get(list) {
                None | Some(Value::Null) => return Ok(out),
                Some(Value::Array(a)) => a,
                Some(_) => return Err(problem(format!("`{list}` is not a list"))),
            };
            for item in items {
                let Some(value) = item
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                else {
                    return Err(problem(format!("an entry of `{list}` has no `{field}`")));
                };
                let verified = item
                    .pointer("/verification/status")
                    .and_then(Value::as_str)
                    .is_some_and(|st| st == "verified");
                let entry = (value.to_owned(), verified);
                if primary_id.is_some() && item.get("id").and_then(Value::as_str) == primary_id {
                    out.insert(0, entry);
                } else {
                    out.push(entry);
                }
            }
            Ok(out)
        };
    let metadata = |name: &str| -> Result<Map<String, Value>, RowProblem> {
        match u.get(name) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(problem(format!("`{name}` is not an object"))),
        }
    };
    let password = match (s("password_hasher"), s("password_digest")) {
        (Some(hasher), Some(digest)) => Some((hasher, digest)),
        _ => None,
    };
    Ok(ExportedUser {
        row,
        first_name: s("first_name"),
        last_name: s("last_name"),
        username: s("username"),
        email_addresses: identifications(
            "email_addresses",
            "email_address",
            "primary_email_address_id",
        )?,
        phone_numbers: identifications("phone_numbers", "phone_number", "primary_phone_number_id")?,
        password,
        totp_secret: s("totp_secret"),
        external_id: s("external_id"),
        public_metadata: metadata("public_metadata")?,
        private_metadata: metadata("private_metadata")?,
        unsafe_metadata: metadata("unsafe_metadata")?,
        banned: u.get("banned").and_then(Value::as_bool).unwrap_or(false),
        created_at: u.get("created_at").and_then(Value::as_i64),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dashboard_csv() {
        let csv = "id,first_name,last_name,username,primary_email_address,primary_phone_number,verified_email_addresses,unverified_email_addresses,verified_phone_numbers,unverified_phone_numbers,totp_secret,password_digest,password_hasher\n\
                   user_1,Ada,Lovelace,ada,ada@example.com,+12025550100,ada@example.com|work@example.com,old@example.com,+12025550100,,JBSWY3DPEHPK3PXP,$2a$10$abc,bcrypt\n\
                   ,No,Id,,x@example.com,,,,,,,,\n";
        let rows = read(csv).unwrap();
        let u = rows[0].as_ref().unwrap();
        assert_eq!(u.id, "user_1");
        assert_eq!(
            u.email_addresses,
            [
                ("ada@example.com".into(), true),
                ("work@example.com".into(), true),
                ("old@example.com".into(), false)
            ]
        );
        assert_eq!(u.phone_numbers, [("+12025550100".into(), true)]);
        assert_eq!(u.password, Some(("bcrypt".into(), "$2a$10$abc".into())));
        assert_eq!(u.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            rows[1],
            Err(RowProblem {
                row: 2,
                id: None,
                reason: "no user id".into()
            })
        );
        assert!(read("name,email\nx,y\n").is_err());
    }

    #[test]
    fn reads_the_backend_api_json() {
        let json = r#"[{"id":"user_2","first_name":"Bo","external_id":"crm-2",
            "primary_email_address_id":"idn_b",
            "email_addresses":[{"id":"idn_a","email_address":"a@example.com","verification":null},
                               {"id":"idn_b","email_address":"b@example.com","verification":{"status":"verified"}}],
            "public_metadata":{"plan":"pro"},"private_metadata":{"crm":1},"banned":true,"created_at":1700000000000},
            {"first_name":"nobody"}, {"id":"user_3","public_metadata":[1]}]"#;
        let rows = read(json).unwrap();
        let u = rows[0].as_ref().unwrap();
        assert_eq!(
            u.email_addresses,
            [
                ("b@example.com".into(), true),
                ("a@example.com".into(), false)
            ]
        );
        assert_eq!(u.external_id.as_deref(), Some("crm-2"));
        assert_eq!(u.public_metadata["plan"], "pro");
        assert!(u.banned);
        assert_eq!(u.created_at, Some(1_700_000_000_000));
        assert_eq!(rows[1].as_ref().unwrap_err().reason, "no user id");
        assert_eq!(rows[2].as_ref().unwrap_err().id.as_deref(), Some("user_3"));
        assert!(read(r#"{"users": []}"#).is_err());
    }
}
