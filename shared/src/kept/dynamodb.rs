//! Kept items on DynamoDB, in the ledger's table: one item each (`kept#<id>`), listed newest
//! first through the listing index (`listing` = `kept#<kind>`), gone when `expires_at`
//! passes (the table's TTL). DynamoDB's TTL deletes within a few days of expiry, so a
//! listing leaves out what has expired but is not yet deleted.

use super::{Kept, KeptError, KeptItem, KeptKind};
use crate::ledger::dynamodb::{LISTING_INDEX, n, s};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DynamoKept {
    client: Client,
    table: String,
    /// How long an item is kept.
    retention: Duration,
}

fn unavailable<E: std::error::Error>(e: E) -> KeptError {
    KeptError::Unavailable(DisplayErrorContext(e).to_string())
}

/// The `listing` partition of a kind.
fn listing(kind: KeptKind) -> String {
    format!("kept#{}", kind.as_str())
}

impl DynamoKept {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        DynamoKept {
            client,
            table: table.into(),
            retention,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// The query of a kind's unexpired items, newest first.
    fn of_kind(
        &self,
        kind: KeptKind,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(LISTING_INDEX)
            .key_condition_expression("listing = :kind")
            .filter_expression("expires_at > :now")
            .expression_attribute_values(":kind", s(listing(kind)))
            .expression_attribute_values(":now", n(Self::now()))
            .scan_index_forward(false)
    }

    async fn get_item(&self, id: &str) -> Result<Option<KeptItem>, KeptError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("kept#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        if expired(&item) {
            return Ok(None);
        }
        match item.get("doc").and_then(|d| d.as_s().ok()) {
            Some(doc) => super::parse_document(id, doc).map(Some),
            None => Ok(None),
        }
    }
}

/// Past its `expires_at`, though DynamoDB has not deleted it yet.
fn expired(item: &std::collections::HashMap<String, AttributeValue>) -> bool {
    item.get("expires_at")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| at < DynamoKept::now())
}

#[async_trait]
impl Kept for DynamoKept {
    async fn keep(&self, item: &KeptItem) -> Result<(), KeptError> {
        let doc = super::document(item)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("kept#{}", item.id)))
            .item("listing", s(listing(item.kind)))
            .item(
                "received_at",
                s(item
                    .kept_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .item("doc", s(doc))
            .item(
                "expires_at",
                n(item.kept_at.timestamp() + self.retention.as_secs() as i64),
            )
            // Kept once: a retried post keeps its first time and reason.
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn newest(&self, kind: KeptKind, limit: usize) -> Result<Vec<KeptItem>, KeptError> {
        let mut items = Vec::new();
        let mut start = None;
        while items.len() < limit {
            let out = self
                .of_kind(kind)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                let id = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .map(|pk| pk.trim_start_matches("kept#").to_owned())
                    .unwrap_or_default();
                if let Some(doc) = item.get("doc").and_then(|v| v.as_s().ok()) {
                    items.push(super::parse_document(&id, doc)?);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }

    async fn count(&self, kind: KeptKind) -> Result<u64, KeptError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .of_kind(kind)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            count += out.count.max(0) as u64;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(count)
    }

    async fn find(&self, id: &str) -> Result<Option<KeptItem>, KeptError> {
        if let Some(item) = self.get_item(id).await? {
            return Ok(Some(item));
        }
        // An envelope's id (what a form was answered): the item of each kind keeping it.
        for kind in KeptKind::ALL {
            if let Some(item) = self.get_item(&super::item_id(kind, id)).await? {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    async fn remove(&self, id: &str) -> Result<bool, KeptError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("kept#{id}")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .attributes
            .is_some_and(|a| !a.is_empty() && !expired(&a)))
    }
}
