//! Finding users for app servers and operators: the Backend API's `GET /v1/users` and
//! `GET /v1/users/count`, without scanning the table.
//!
//! ```text
//!   filters by identifier (email_address, phone_number, username, external_id, user_id)
//!     ─► their guards / ids, one BatchGetItem ─► intersect per kind ─► BatchGetItem users
//!   no identifier filter, ordered by creation (the default, newest first)
//!     ─► each user-index shard: the first offset+limit entries ─► merge ─► page
//!   `query` (partial match) or another order
//!     ─► the user index whole ─► match ─► sort ─► page / count
//!   a count with no filter ─► each shard counted (`Select: COUNT`), no user read out
//! ```
//!
//! Email addresses and phone numbers are found through their guards, which verified ones hold:
//! an unverified address (one a user added but never proved) is not a filter match.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::UserRecord;
use crate::store::keys;
use crate::vocabulary::IdentifierKind;

/// At most this many values per filter (Clerk's Backend API limit).
pub const MAX_FILTER_VALUES: usize = 100;

/// What `GET /v1/users` and `GET /v1/users/count` are asked for.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email_addresses: Vec<String>,
    pub phone_numbers: Vec<String>,
    pub usernames: Vec<String>,
    pub external_ids: Vec<String>,
    pub user_ids: Vec<String>,
    /// A partial, case-insensitive match on ids, identifiers and names.
    pub query: Option<String>,
}

/// The fields users can be ordered by (Clerk's `order_by`, `-` for descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    LastSignInAt,
    LastActiveAt,
    FirstName,
    LastName,
    Username,
    EmailAddress,
    PhoneNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserOrder {
    pub field: OrderField,
    pub descending: bool,
}

impl Default for UserOrder {
    /// Clerk's default: newest first.
    fn default() -> Self {
        Self {
            field: OrderField::CreatedAt,
            descending: true,
        }
    }
}

impl UserOrder {
    /// `created_at`, `+created_at` or `-created_at`, and so on; anything else is Clerk's 422 on
    /// `order_by`.
    pub fn parse(raw: &str) -> Result<Self> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw.strip_prefix('+').unwrap_or(raw)),
        };
        let field = match name {
            "created_at" => OrderField::CreatedAt,
            "updated_at" => OrderField::UpdatedAt,
            "last_sign_in_at" => OrderField::LastSignInAt,
            "last_active_at" => OrderField::LastActiveAt,
            "first_name" => OrderField::FirstName,
            "last_name" => OrderField::LastName,
            "username" => OrderField::Username,
            "email_address" => OrderField::EmailAddress,
            "phone_number" => OrderField::PhoneNumber,
            _ => {
                return Err(Error::new(Code::FormParamValueInvalid)
                    .param("order_by")
                    .long(format!("`{raw}` is not a field users can be ordered by.")));
            }
        };
        Ok(Self { field, descending })
    }

    fn compare(self, a: &UserRecord, b: &UserRecord) -> Ordering {
        let text = |u: &UserRecord| -> Option<String> {
            match self.field {
                OrderField::FirstName => u.first_name.clone(),
                OrderField::LastName => u.last_name.clone(),
                OrderField::Username => u.username.clone(),
                OrderField::EmailAddress => primary_value(u, &u.primary_email_address_id),
                OrderField::PhoneNumber => primary_value(u, &u.primary_phone_number_id),
                _ => None,
            }
        };
        let time = |u: &UserRecord| match self.field {
            OrderField::CreatedAt => Some(u.created_at),
            OrderField::UpdatedAt => Some(u.updated_at),
            OrderField::LastSignInAt => u.last_sign_in_at,
            OrderField::LastActiveAt => u.last_active_at,
            _ => None,
        };
        // Users without the field come last either way; ties keep creation order.
        let by_field = match (time(a), time(b), text(a), text(b)) {
            (Some(x), Some(y), _, _) => self.direct(x.cmp(&y)),
            (_, _, Some(x), Some(y)) => self.direct(x.to_lowercase().cmp(&y.to_lowercase())),
            (Some(_), None, _, _) | (_, _, Some(_), None) => Ordering::Less,
            (None, Some(_), _, _) | (_, _, None, Some(_)) => Ordering::Greater,
            _ => Ordering::Equal,
        };
        by_field.then_with(|| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
    }

    fn direct(self, o: Ordering) -> Ordering {
        if self.descending { o.reverse() } else { o }
    }
}

fn primary_value(u: &UserRecord, id: &Option<String>) -> Option<String> {
    let id = id.as_deref()?;
    u.email_addresses
        .iter()
        .chain(&u.phone_numbers)
        .find(|r| r.id == id)
        .map(|r| r.value.clone())
}

impl UserFilter {
    fn by_identifier(&self) -> bool {
        !(self.email_addresses.is_empty()
            && self.phone_numbers.is_empty()
            && self.usernames.is_empty()
            && self.external_ids.is_empty()
            && self.user_ids.is_empty())
    }

    /// Refuses more values than Clerk accepts on one filter.
    pub fn check(&self) -> Result<()> {
        for (values, param) in [
            (&self.email_addresses, "email_address"),
            (&self.phone_numbers, "phone_number"),
            (&self.usernames, "username"),
            (&self.external_ids, "external_id"),
            (&self.user_ids, "user_id"),
        ] {
            if values.len() > MAX_FILTER_VALUES {
                return Err(Error::new(Code::FormParamValueInvalid)
                    .param(param)
                    .long(format!("At most {MAX_FILTER_VALUES} values per filter.")));
            }
        }
        Ok(())
    }

    fn matches_query(&self, u: &UserRecord) -> bool {
        let Some(q) = self
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        else {
            return true;
        };
        let q = q.to_lowercase();
        let identifiers = u.email_addresses.iter().chain(&u.phone_numbers);
        std::iter::once(Some(u.id.as_str()))
            .chain([
                u.username.as_deref(),
                u.first_name.as_deref(),
                u.last_name.as_deref(),
                u.external_id.as_deref(),
            ])
            .flatten()
            .chain(identifiers.map(|r| r.value.as_str()))
            .any(|field| field.to_lowercase().contains(&q))
    }
}

/// The ids of the users the identifier filters name: each filter given narrows the set (a user
/// matches one of its values), as Clerk combines them.
async fn ids_by_identifier(app: &App, f: &UserFilter) -> Result<BTreeSet<String>> {
    let guarded = |values: &[String], kind: IdentifierKind| -> Vec<crate::store::Key> {
        values
            .iter()
            .filter_map(|v| identifiers::normalise(kind, v, kind.as_str()).ok())
            .map(|v| keys::identifier(kind, &v))
            .collect()
    };
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    for (values, kind) in [
        (&f.email_addresses, IdentifierKind::Email),
        (&f.phone_numbers, IdentifierKind::Phone),
        (&f.usernames, IdentifierKind::Username),
    ] {
        if !values.is_empty() {
            let owners = app.repo.guard_owners(&guarded(values, kind)).await?;
            sets.push(owners.into_iter().collect());
        }
    }
    if !f.external_ids.is_empty() {
        let guards: Vec<_> = f
            .external_ids
            .iter()
            .map(|e| keys::external_id(e))
            .collect();
        sets.push(app.repo.guard_owners(&guards).await?.into_iter().collect());
    }
    if !f.user_ids.is_empty() {
        sets.push(f.user_ids.iter().cloned().collect());
    }
    let mut sets = sets.into_iter();
    let first = sets.next().unwrap_or_default();
    Ok(sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect()))
}

/// Every user the filter matches, in `order` (reads only what the filter needs).
async fn matching(app: &App, f: &UserFilter, order: UserOrder) -> Result<Vec<UserRecord>> {
    let mut users: Vec<UserRecord> = if f.by_identifier() {
        let ids: Vec<String> = ids_by_identifier(app, f).await?.into_iter().collect();
        app.repo.load_users(&ids).await?.into_values().collect()
    } else {
        app.repo.indexed_users(order.descending, None).await?
    };
    users.retain(|u| f.matches_query(u));
    users.sort_by(|a, b| order.compare(a, b));
    Ok(users)
}

/// A page of the users the filter matches, in `order`.
pub async fn list(
    app: &App,
    f: &UserFilter,
    order: UserOrder,
    limit: usize,
    offset: usize,
) -> Result<Vec<UserRecord>> {
    f.check()?;
    let in_index_order = order.field == OrderField::CreatedAt;
    let users = if !f.by_identifier() && f.query.is_none() && in_index_order {
        let take = offset.saturating_add(limit);
        app.repo.indexed_users(order.descending, Some(take)).await?
    } else {
        matching(app, f, order).await?
    };
    Ok(users.into_iter().skip(offset).take(limit).collect())
}

/// How many users the filter matches. Without a filter, the index is counted, not read.
pub async fn count(app: &App, f: &UserFilter) -> Result<usize> {
    f.check()?;
    if !f.by_identifier() && f.query.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return app.repo.count_indexed_users().await;
    }
    Ok(matching(app, f, UserOrder::default()).await?.len())
}
