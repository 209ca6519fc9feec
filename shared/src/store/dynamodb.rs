//! The production engine: one DynamoDB table.
//!
//! Attributes: `PK`, `SK` (strings, the primary key), `GSI1PK`/`GSI1SK` (the sparse index
//! `GSI1`), `ver` (number, optimistic-concurrency version), `exp` (number, Unix seconds, the
//! table's TTL attribute), `doc` (string, the item's JSON document) and `n` (number, counters).
//!
//! Conditions are expressions over `PK`, `ver` and `exp`; because TTL deletion lags by up to
//! 48 hours, an item whose `exp` has passed counts as absent in every condition and read.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem,
};
use std::sync::Arc;

use super::{Condition, Index, Item, ItemStore, Key, Query, StoreError, Write, validate_writes};
use crate::clock::Clock;

pub const GSI1: &str = "GSI1";
pub const TTL_ATTRIBUTE: &str = "exp";

pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

type Attrs = HashMap<String, AttributeValue>;

fn backend<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Backend(format!("{e:?}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([("PK".to_owned(), s(&key.pk)), ("SK".to_owned(), s(&key.sk))])
}

/// The key condition of `query` (its partition, and its sort-key prefix if any), with the names
/// and values it uses.
fn key_condition(query: &Query) -> (String, HashMap<String, String>, Attrs) {
    let (pk_attr, sk_attr) = match query.index {
        Index::Table => ("PK", "SK"),
        Index::Gsi1 => ("GSI1PK", "GSI1SK"),
    };
    let mut expr = "#pk = :pk".to_owned();
    let mut names = HashMap::from([("#pk".to_owned(), pk_attr.to_owned())]);
    let mut values: Attrs = HashMap::from([(":pk".to_owned(), s(&query.pk))]);
    if let Some(prefix) = &query.sk_prefix {
        expr.push_str(" AND begins_with(#sk, :prefix)");
        names.insert("#sk".into(), sk_attr.into());
        values.insert(":prefix".into(), s(prefix));
    }
    (expr, names, values)
}

fn item_attrs(item: &Item) -> Result<Attrs, StoreError> {
    let mut a = key_attrs(&item.key());
    if let Some((gpk, gsk)) = &item.gsi1 {
        a.insert("GSI1PK".into(), s(gpk));
        a.insert("GSI1SK".into(), s(gsk));
    }
    a.insert("ver".into(), n(item.version));
    if let Some(exp) = item.expires_at {
        a.insert(TTL_ATTRIBUTE.into(), n(exp));
    }
    let doc = serde_json::to_string(&item.doc).map_err(backend)?;
    a.insert("doc".into(), s(doc));
    Ok(a)
}

fn get_s(a: &Attrs, k: &str) -> Option<String> {
    a.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(a: &Attrs, k: &str) -> Option<i64> {
    a.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn attrs_item(a: &Attrs) -> Result<Item, StoreError> {
    let pk = get_s(a, "PK").ok_or_else(|| StoreError::Backend("item without PK".into()))?;
    let sk = get_s(a, "SK").ok_or_else(|| StoreError::Backend("item without SK".into()))?;
    let doc = match get_s(a, "doc") {
        Some(d) => serde_json::from_str(&d).map_err(backend)?,
        None => serde_json::Value::Null,
    };
    Ok(Item {
        pk,
        sk,
        gsi1: get_s(a, "GSI1PK").zip(get_s(a, "GSI1SK")),
        version: get_n(a, "ver")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
        expires_at: get_n(a, TTL_ATTRIBUTE),
        doc,
    })
}

fn live(a: &Attrs, now: i64) -> bool {
    get_n(a, TTL_ATTRIBUTE).is_none_or(|e| e > now)
}

/// A condition as `(expression, names, values)`; `None` when the write is unconditional.
fn condition_expr(c: Condition, now: i64) -> Option<(String, Attrs)> {
    let not_expired = "(attribute_not_exists(#exp) OR #exp > :now)";
    match c {
        Condition::None => None,
        Condition::NotExists => Some((
            "attribute_not_exists(PK) OR #exp <= :now".into(),
            HashMap::from([(":now".into(), n(now))]),
        )),
        Condition::Exists => Some((
            format!("attribute_exists(PK) AND {not_expired}"),
            HashMap::from([(":now".into(), n(now))]),
        )),
        Condition::Version(v) => Some((
            format!("#ver = :ver AND {not_expired}"),
            HashMap::from([(":now".into(), n(now)), (":ver".into(), n(v))]),
        )),
    }
}

fn condition_names(expr: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    if expr.contains("#exp") {
        names.insert("#exp".to_owned(), TTL_ATTRIBUTE.to_owned());
    }
    if expr.contains("#ver") {
        names.insert("#ver".to_owned(), "ver".to_owned());
    }
    names
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// Builds a client from the environment (region, credentials, `AWS_ENDPOINT_URL*`).
    pub async fn from_env(table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        let conf = aws_config::load_from_env().await;
        Self::new(Client::new(&conf), table, clock)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection (TLS handshake and credentials) so the first request does not pay
    /// for it; called during Lambda init.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Backend(format!("{:?}", e.into_service_error())))
    }

    /// Creates the table with its index and TTL when it does not exist (local development and
    /// tests; deployments create it from the SAM template).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        if self.warm_up().await.is_ok() {
            return Ok(());
        }
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(backend)
        };
        let key = |name: &str, kt: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(backend)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("GSI1PK", KeyType::Hash)?)
            .key_schema(key("GSI1SK", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(backend)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("PK")?)
            .attribute_definitions(attr("SK")?)
            .attribute_definitions(attr("GSI1PK")?)
            .attribute_definitions(attr("GSI1SK")?)
            .key_schema(key("PK", KeyType::Hash)?)
            .key_schema(key("SK", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await;
        if let Err(e) = created {
            let e = e.into_service_error();
            // Another process created it first: that is fine.
            if !e.is_resource_in_use_exception() {
                return Err(backend(e));
            }
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(backend)?,
            )
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        Ok(())
    }

    fn put_op(&self, item: &Item, c: Condition, now: i64) -> Result<Put, StoreError> {
        let mut b = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item_attrs(item)?));
        if let Some((expr, values)) = condition_expr(c, now) {
            b = b
                .set_expression_attribute_names(Some(condition_names(&expr)))
                .set_expression_attribute_values(Some(values))
                .condition_expression(expr);
        }
        b.build().map_err(backend)
    }

    fn delete_op(&self, key: &Key, c: Condition, now: i64) -> Result<Delete, StoreError> {
        let mut b = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)));
        if let Some((expr, values)) = condition_expr(c, now) {
            b = b
                .set_expression_attribute_names(Some(condition_names(&expr)))
                .set_expression_attribute_values(Some(values))
                .condition_expression(expr);
        }
        b.build().map_err(backend)
    }

    fn check_op(&self, key: &Key, c: Condition, now: i64) -> Result<ConditionCheck, StoreError> {
        // A check without a condition still has to say something to DynamoDB.
        let (expr, values) = condition_expr(c, now).unwrap_or_else(|| {
            (
                "attribute_exists(PK) OR attribute_not_exists(PK)".into(),
                HashMap::new(),
            )
        });
        let names = condition_names(&expr);
        ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .condition_expression(expr)
            .build()
            .map_err(backend)
    }

    async fn write_single(&self, w: Write, now: i64) -> Result<(), StoreError> {
        match &w {
            Write::Put { item, condition } => {
                let op = self.put_op(item, *condition, now)?;
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(op.item().clone()))
                    .set_condition_expression(op.condition_expression().map(str::to_owned))
                    .set_expression_attribute_names(op.expression_attribute_names().cloned())
                    .set_expression_attribute_values(op.expression_attribute_values().cloned())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_service_error())
                    .map_err(|e| {
                        if e.is_conditional_check_failed_exception() {
                            StoreError::ConditionFailed { index: 0 }
                        } else {
                            backend(e)
                        }
                    })
            }
            Write::Delete { key, condition } => {
                let op = self.delete_op(key, *condition, now)?;
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(op.condition_expression().map(str::to_owned))
                    .set_expression_attribute_names(op.expression_attribute_names().cloned())
                    .set_expression_attribute_values(op.expression_attribute_values().cloned())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_service_error())
                    .map_err(|e| {
                        if e.is_conditional_check_failed_exception() {
                            StoreError::ConditionFailed { index: 0 }
                        } else {
                            backend(e)
                        }
                    })
            }
            Write::Check { .. } => self.write_transaction(vec![w], now).await,
        }
    }

    async fn write_transaction(&self, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(writes.len());
        for w in &writes {
            let op = match w {
                Write::Put { item, condition } => TransactWriteItem::builder()
                    .put(self.put_op(item, *condition, now)?)
                    .build(),
                Write::Delete { key, condition } => TransactWriteItem::builder()
                    .delete(self.delete_op(key, *condition, now)?)
                    .build(),
                Write::Check { key, condition } => TransactWriteItem::builder()
                    .condition_check(self.check_op(key, *condition, now)?)
                    .build(),
            };
            items.push(op);
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(ctx)) => {
                let err = ctx.into_err();
                if err.is_transaction_canceled_exception() {
                    let reasons = match &err {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => {
                            t.cancellation_reasons().to_vec()
                        }
                        _ => Vec::new(),
                    };
                    if let Some(index) = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        return Err(StoreError::ConditionFailed { index });
                    }
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        return Err(StoreError::Conflict);
                    }
                    return Err(backend(err));
                }
                if err.code() == Some("TransactionConflictException") {
                    return Err(StoreError::Conflict);
                }
                if err.code() == Some("ValidationException") {
                    return Err(StoreError::Invalid(
                        err.message().unwrap_or("validation failed").to_owned(),
                    ));
                }
                Err(backend(err))
            }
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let now = self.clock.now_secs();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e.into_service_error()))?;
        match out.item() {
            Some(a) if live(a, now) => Ok(Some(attrs_item(a)?)),
            _ => Ok(None),
        }
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let now = self.clock.now_secs();
        let mut found = Vec::new();
        // BatchGetItem takes at most 100 keys; we never need more than a handful.
        for chunk in keys.chunks(100) {
            let mut unique: Vec<Attrs> = Vec::new();
            for k in chunk {
                let a = key_attrs(k);
                if !unique.contains(&a) {
                    unique.push(a);
                }
            }
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(unique))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?,
            );
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| backend(e.into_service_error()))?;
                if let Some(rows) = out.responses().and_then(|r| r.get(&self.table)) {
                    for a in rows {
                        if live(a, now) {
                            found.push(attrs_item(a)?);
                        }
                    }
                }
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
            }
        }
        // Callers expect the order they asked in.
        found.sort_by_key(|item| {
            keys.iter()
                .position(|k| k.pk == item.pk && k.sk == item.sk)
                .unwrap_or(usize::MAX)
        });
        Ok(found)
    }

    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        let now = self.clock.now_secs();
        let (expr, names, values) = key_condition(query);
        let mut out = Vec::new();
        let mut start: Option<Attrs> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&expr)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!query.descending)
                .set_exclusive_start_key(start.take());
            match query.index {
                Index::Table => req = req.consistent_read(true),
                Index::Gsi1 => req = req.index_name(GSI1),
            }
            if let Some(limit) = query.limit {
                req = req.limit(i32::try_from(limit).unwrap_or(i32::MAX));
            }
            let page = req
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            for a in page.items() {
                if live(a, now) {
                    out.push(attrs_item(a)?);
                }
            }
            if query.limit.is_some_and(|l| out.len() >= l) {
                out.truncate(query.limit.unwrap_or(usize::MAX));
                break;
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn write(&self, mut writes: Vec<Write>) -> Result<(), StoreError> {
        validate_writes(&writes)?;
        let now = self.clock.now_secs();
        if writes.len() == 1
            && let Some(w) = writes.pop()
        {
            return self.write_single(w, now).await;
        }
        self.write_transaction(writes, now).await
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        let now = self.clock.now_secs();
        let (expr, mut names, mut values) = key_condition(query);
        names.insert("#exp".to_owned(), TTL_ATTRIBUTE.to_owned());
        values.insert(":now".to_owned(), n(now));
        let mut total = 0usize;
        let mut start: Option<Attrs> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&expr)
                .filter_expression("attribute_not_exists(#exp) OR #exp > :now")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start.take());
            if query.index == Index::Gsi1 {
                req = req.index_name(GSI1);
            }
            let page = req
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            total += usize::try_from(page.count()).unwrap_or(0);
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(total),
            }
        }
    }

    async fn scan(
        &self,
        pk_prefix: &str,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Key>), StoreError> {
        let now = self.clock.now_secs();
        let mut out = Vec::new();
        let mut start: Option<Attrs> = after.map(key_attrs);
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :prefix)")
                .expression_attribute_names("#pk", "PK")
                .expression_attribute_values(":prefix", s(pk_prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend(e.into_service_error()))?;
            for a in page.items() {
                if live(a, now) {
                    out.push(attrs_item(a)?);
                }
                if out.len() == limit {
                    // Resume right after the last item handed out.
                    let next = out.last().map(Item::key);
                    return Ok((out, next));
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok((out, None)),
            }
        }
    }

    async fn increment(&self, key: &Key, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        let now = self.clock.now_secs();
        let added = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression("SET #exp = if_not_exists(#exp, :exp) ADD #n :by")
            .condition_expression("attribute_not_exists(PK) OR #exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":by", n(by))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match added {
            Ok(out) => out
                .attributes()
                .and_then(|a| get_n(a, "n"))
                .ok_or_else(|| StoreError::Backend("counter update returned no value".into())),
            Err(e) => {
                let e = e.into_service_error();
                if !e.is_conditional_check_failed_exception() {
                    return Err(backend(e));
                }
                // The counter expired but TTL has not removed it yet: start it again.
                let mut fresh = key_attrs(key);
                fresh.insert("n".into(), n(by));
                fresh.insert(TTL_ATTRIBUTE.into(), n(expires_at));
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(fresh))
                    .condition_expression("#exp <= :now")
                    .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                    .expression_attribute_values(":now", n(now))
                    .send()
                    .await
                    .map_err(|e| match e.into_service_error() {
                        e if e.is_conditional_check_failed_exception() => StoreError::Conflict,
                        e => backend(e),
                    })?;
                Ok(by)
            }
        }
    }
}
