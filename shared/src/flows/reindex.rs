//! Bringing users stored by an earlier version up to what this one reads: an entry in the user
//! index, a locator per email address and phone number, a guard on the external id. An
//! operator's one-off after an upgrade (`frontdoor users reindex`); safe to run again, and
//! alongside live traffic (every write is conditioned on the version read).
//!
//! ```text
//!   scan USER#… a page at a time ─► each user: rewrite (index entry, every locator)
//!        └─ external id: claimed when free; held by another user ─► reported, left alone
//!   lost a race with a live change ─► read again, once more
//! ```

use crate::app::App;
use crate::error::Result;
use crate::repo::{Repo, from_doc};
use crate::store::{StoreError, Write, keys};

/// Users read per page of the scan.
const PAGE: usize = 100;

/// What a reindex did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReindexReport {
    pub users: usize,
    pub rewritten: usize,
    /// Users whose external id another user holds (left unguarded), as `(user, external id)`.
    pub external_id_conflicts: Vec<(String, String)>,
    /// Users changed by someone else twice while being rewritten (run again).
    pub skipped: Vec<String>,
}

/// Rewrites every stored user.
pub async fn reindex_users(app: &App) -> Result<ReindexReport> {
    let mut report = ReindexReport::default();
    let mut after = None;
    loop {
        let (items, next) = app.repo.store().scan("USER#", after.as_ref(), PAGE).await?;
        for item in items.iter().filter(|i| i.sk == keys::USER_SK) {
            let id: String = from_doc::<serde_json::Value>(item)?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            report.users += 1;
            let mut done = false;
            for _ in 0..2 {
                match reindex_one(app, &id, &mut report).await? {
                    Some(true) => {
                        report.rewritten += 1;
                        done = true;
                        break;
                    }
                    Some(false) => {
                        done = true;
                        break;
                    }
                    None => {}
                }
            }
            if !done {
                report.skipped.push(id);
            }
        }
        match next {
            Some(k) => after = Some(k),
            None => return Ok(report),
        }
    }
}

/// `Some(true)` rewritten, `Some(false)` gone meanwhile, `None` lost a race.
async fn reindex_one(app: &App, id: &str, report: &mut ReindexReport) -> Result<Option<bool>> {
    let Some(mut u) = app.repo.load_user(id).await? else {
        return Ok(Some(false));
    };
    let mut writes: Vec<Write> = Vec::new();
    if let Some(external_id) = &u.external_id {
        let guard = app
            .repo
            .store()
            .get(&keys::external_id(external_id))
            .await?;
        match guard {
            None => writes.push(Repo::claim_external_id_write(external_id, &u.id)?),
            Some(item) => {
                let owner: crate::repo::IdentifierOwner = from_doc(&item)?;
                if owner.user_id != u.id
                    && !report
                        .external_id_conflicts
                        .iter()
                        .any(|(user, _)| user == &u.id)
                {
                    report
                        .external_id_conflicts
                        .push((u.id.clone(), external_id.clone()));
                }
            }
        }
    }
    // As if none of its locators existed: every one is written (they are idempotent).
    u.stored.identification_ids.clear();
    writes.extend(Repo::user_writes(&u)?);
    match app.repo.commit(writes).await {
        Ok(()) => Ok(Some(true)),
        Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
