//! The ledger on DynamoDB: one item per envelope (`env#<key>`) and per sender lead id
//! (`snd#<key>`), conditional writes for create and optimistic updates, a TTL attribute,
//! a `lead_key` index for "what happened to lead X", and a `listing` index that lists the
//! records of a day newest first (the console, `/health`) and the items kept for review
//! (`kept::dynamodb`), without a scan.

use super::{
    Document, Ledger, LedgerError, LedgerRecord, RECHAT_STATE_KEY, RechatState, SenderLink,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use std::collections::HashMap;
use std::time::Duration;

/// The index that finds a lead's records by `lead_key`.
pub const LEAD_INDEX: &str = "lead_key-index";

/// The index that lists items by `listing` (a day's records, `env#2026-12-05`; a kind of
/// kept item, `kept#spam`), ordered by `received_at`.
pub const LISTING_INDEX: &str = "listing-index";

/// The `listing` of the records received on `day`: one partition a day, so that listing
/// the newest is a query of the last days, never a scan.
pub fn day_listing(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("env#{}", at.format("%Y-%m-%d"))
}

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
    ttl: Duration,
}

fn unavailable<E: std::error::Error>(e: E) -> LedgerError {
    LedgerError::Unavailable(DisplayErrorContext(e).to_string())
}

/// A string attribute (the kept items' adapter writes the same table).
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>, ttl: Duration) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
            ttl,
        }
    }

    /// Creates the table as template.yaml declares it (used by tests and local set-ups).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), LedgerError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("a complete key schema")
        };
        let index = |name: &str, hash: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(hash, KeyType::Hash))
                .key_schema(key("received_at", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("a complete index")
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("lead_key"))
            .attribute_definitions(attr("received_at"))
            .attribute_definitions(attr("listing"))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(index(LEAD_INDEX, "lead_key"))
            .global_secondary_indexes(index(LISTING_INDEX, "listing"))
            .send()
            .await
            .map_err(unavailable)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .expect("a complete TTL specification"),
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn expires_at(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.ttl.as_secs() as i64
    }

    fn record_item(&self, record: &LedgerRecord) -> HashMap<String, AttributeValue> {
        let doc = serde_json::to_string(record).expect("a ledger record always serializes");
        HashMap::from([
            ("pk".into(), s(format!("env#{}", record.key))),
            ("doc".into(), s(doc)),
            ("version".into(), n(record.version)),
            ("lead_key".into(), s(record.lead_key.clone())),
            ("received_at".into(), s(record.received_at.to_rfc3339())),
            ("listing".into(), s(day_listing(record.received_at))),
            ("status".into(), s(format!("{:?}", record.status))),
            ("expires_at".into(), n(self.expires_at())),
        ])
    }

    /// An item by its key, read strongly consistent.
    async fn get_item(
        &self,
        pk: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn get_doc(&self, pk: String) -> Result<Option<String>, LedgerError> {
        Ok(self
            .get_item(pk)
            .await?
            .and_then(|mut item| item.remove("doc"))
            .and_then(|doc| doc.as_s().ok().cloned()))
    }
}

/// The records among a query's items (their `pk` is `env#<key>`).
fn records_of(
    items: &[HashMap<String, AttributeValue>],
    out: &mut Vec<LedgerRecord>,
) -> Result<(), LedgerError> {
    for item in items {
        let key = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .map(|pk| pk.trim_start_matches("env#"))
            .unwrap_or_default();
        if let Some(doc) = item.get("doc").and_then(|v| v.as_s().ok()) {
            out.push(parse_record(key, doc)?);
        }
    }
    Ok(())
}

fn parse_record(key: &str, doc: &str) -> Result<LedgerRecord, LedgerError> {
    serde_json::from_str(doc).map_err(|e| LedgerError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        match self.get_doc(format!("env#{key}")).await? {
            Some(doc) => parse_record(key, &doc).map(Some),
            None => Ok(None),
        }
    }

    async fn create(&self, record: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.record_item(record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(None),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                self.get(&record.key).await?.map(Some).ok_or_else(|| {
                    LedgerError::Unavailable(format!(
                        "ledger record {} exists but cannot be read back",
                        record.key
                    ))
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update(&self, record: &LedgerRecord) -> Result<(), LedgerError> {
        let expected = record.version.wrapping_sub(1);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.record_item(record)))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(expected))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(LedgerError::Conflict {
                    key: record.key.clone(),
                    expected,
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn link_sender_lead(&self, key: &str, link: &SenderLink) -> Result<(), LedgerError> {
        let doc = serde_json::to_string(link).expect("a sender link always serializes");
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("snd#{key}")))
            .item("doc", s(doc))
            .item("expires_at", n(self.expires_at()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn sender_lead(&self, key: &str) -> Result<Option<SenderLink>, LedgerError> {
        match self.get_doc(format!("snd#{key}")).await? {
            Some(doc) => serde_json::from_str(&doc)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt {
                    key: key.to_owned(),
                    reason: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    async fn records_for_lead(&self, lead_key: &str) -> Result<Vec<LedgerRecord>, LedgerError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LEAD_INDEX)
                .key_condition_expression("lead_key = :k")
                .expression_attribute_values(":k", s(lead_key))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            records_of(out.items(), &mut records)?;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(records)
    }

    /// The days' partitions of the listing index, newest first, until `limit` records.
    async fn records_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Option<Vec<LedgerRecord>>, LedgerError> {
        let mut records = Vec::new();
        let mut day = chrono::Utc::now();
        let since_text = since.to_rfc3339();
        while records.len() < limit && day.date_naive() >= since.date_naive() {
            let mut start = None;
            loop {
                let want = (limit - records.len()).min(1000) as i32;
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(LISTING_INDEX)
                    .key_condition_expression("listing = :day AND received_at >= :since")
                    .expression_attribute_values(":day", s(day_listing(day)))
                    .expression_attribute_values(":since", s(since_text.clone()))
                    .scan_index_forward(false)
                    .limit(want)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(unavailable)?;
                records_of(out.items(), &mut records)?;
                match out.last_evaluated_key {
                    Some(k) if !k.is_empty() && records.len() < limit => start = Some(k),
                    _ => break,
                }
            }
            day -= chrono::Duration::days(1);
        }
        records.truncate(limit);
        Ok(Some(records))
    }

    /// `doc#<key>`: its text and version, read strongly consistent.
    async fn document(&self, key: &str) -> Result<Option<Document>, LedgerError> {
        let Some(item) = self.get_item(format!("doc#{key}")).await? else {
            return Ok(None);
        };
        let doc = item.get("doc").and_then(|d| d.as_s().ok()).cloned();
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok());
        match (doc, version) {
            (Some(doc), Some(version)) => Ok(Some(Document { doc, version })),
            _ => Err(LedgerError::Corrupt {
                key: key.to_owned(),
                reason: "a document without its text or version".into(),
            }),
        }
    }

    /// One item, no TTL; the first version expects none, a later one the version before.
    async fn put_document(&self, key: &str, doc: &str, version: u64) -> Result<(), LedgerError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("doc#{key}")))
            .item("doc", s(doc))
            .item("version", n(version));
        let put = if version <= 1 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(version - 1))
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(super::document_conflict(key, version))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn rechat_state(&self) -> Result<RechatState, LedgerError> {
        super::read_rechat_state(self.get_doc(format!("sys#{RECHAT_STATE_KEY}")).await?)
    }

    /// One item, no TTL: the state must outlive any quiet spell. The first write expects
    /// no item; later ones the version they read.
    async fn put_rechat_state(&self, state: &RechatState) -> Result<(), LedgerError> {
        let doc = serde_json::to_string(state).expect("the breaker's state always serializes");
        let expected = state.version.wrapping_sub(1);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("sys#{RECHAT_STATE_KEY}")))
            .item("doc", s(doc))
            .item("version", n(state.version));
        let put = if expected == 0 {
            put.condition_expression("attribute_not_exists(pk) OR version = :expected")
        } else {
            put.condition_expression("version = :expected")
        };
        match put
            .expression_attribute_values(":expected", n(expected))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(super::rechat_state_conflict(state))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
