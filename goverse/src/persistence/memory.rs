//! The in-memory provider: the default, for embedded nodes and tests. Nothing survives the
//! process, but versions, conflicts and the reliable-call log behave as in the SQL providers.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::records::{
    CallFilter, CallOutcome, NewCall, ObjectRecord, ReliableCallRecord, StateWrite, StoredState,
};
use super::{Store, conflict};
use crate::error::{Error, Result};

#[derive(Debug, Default)]
struct Tables {
    /// By (type, id).
    objects: BTreeMap<(String, String), ObjectRecord>,
    /// By call id.
    calls: HashMap<String, ReliableCallRecord>,
    /// The ids of pending calls per (type, id), by seq: activations look them up.
    pending: HashMap<(String, String), BTreeMap<i64, String>>,
    next_seq: i64,
}

impl Tables {
    fn write_state(&mut self, write: &StateWrite<'_>) -> Result<i64> {
        let key = (write.object_type.to_string(), write.object_id.to_string());
        let now = SystemTime::now();
        let stored = self.objects.get(&key).map(|record| record.version);
        if stored.unwrap_or(0) != write.expected_version {
            return Err(conflict(
                write.object_type,
                write.object_id,
                write.expected_version,
                stored,
            ));
        }
        let version = write.expected_version + 1;
        let created_at = self.objects.get(&key).map_or(now, |r| r.created_at);
        self.objects.insert(
            key,
            ObjectRecord {
                object_type: write.object_type.to_string(),
                object_id: write.object_id.to_string(),
                state_json: write.state_json.to_string(),
                version,
                created_at,
                updated_at: now,
            },
        );
        Ok(version)
    }
}

/// Object state and reliable calls in this process's memory.
#[derive(Debug, Default)]
pub(super) struct MemoryStore {
    tables: Mutex<Tables>,
}

impl Store for MemoryStore {
    fn provider(&self) -> &'static str {
        "memory"
    }

    fn load<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredState>>> {
        let key = (object_type.to_string(), object_id.to_string());
        let found = self.tables.lock().objects.get(&key).map(|r| StoredState {
            state_json: r.state_json.clone(),
            version: r.version,
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(&'a self, write: StateWrite<'a>) -> BoxFuture<'a, Result<i64>> {
        let result = self.tables.lock().write_state(&write);
        Box::pin(std::future::ready(result))
    }

    fn delete<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
        expected_version: i64,
    ) -> BoxFuture<'a, Result<()>> {
        let key = (object_type.to_string(), object_id.to_string());
        let mut tables = self.tables.lock();
        let result = match tables.objects.get(&key).map(|r| r.version) {
            None => Ok(()),
            Some(version) if version == expected_version => {
                tables.objects.remove(&key);
                Ok(())
            }
            Some(version) => Err(conflict(
                object_type,
                object_id,
                expected_version,
                Some(version),
            )),
        };
        Box::pin(std::future::ready(result))
    }

    fn insert_call<'a>(&'a self, call: NewCall<'a>) -> BoxFuture<'a, Result<ReliableCallRecord>> {
        let mut tables = self.tables.lock();
        let record = match tables.calls.get(call.call_id) {
            Some(existing) => existing.clone(),
            None => {
                tables.next_seq += 1;
                let now = SystemTime::now();
                let record = ReliableCallRecord {
                    seq: tables.next_seq,
                    call_id: call.call_id.to_string(),
                    object_type: call.object_type.to_string(),
                    object_id: call.object_id.to_string(),
                    method: call.method.to_string(),
                    args_json: call.args_json.to_string(),
                    outcome: None,
                    created_at: now,
                    updated_at: now,
                };
                tables
                    .calls
                    .insert(call.call_id.to_string(), record.clone());
                tables
                    .pending
                    .entry((call.object_type.to_string(), call.object_id.to_string()))
                    .or_default()
                    .insert(record.seq, record.call_id.clone());
                record
            }
        };
        Box::pin(std::future::ready(Ok(record)))
    }

    fn call<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, Result<Option<ReliableCallRecord>>> {
        let found = self.tables.lock().calls.get(call_id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn pending_calls<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>> {
        let tables = self.tables.lock();
        if tables.pending.is_empty() {
            // The common case, and every activation asks: no key to build.
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
        let key = (object_type.to_string(), object_id.to_string());
        let pending: Vec<ReliableCallRecord> = tables
            .pending
            .get(&key)
            .into_iter()
            .flat_map(|by_seq| by_seq.values())
            .filter_map(|call_id| tables.calls.get(call_id).cloned())
            .collect();
        Box::pin(std::future::ready(Ok(pending)))
    }

    fn finish_call<'a>(
        &'a self,
        call_id: &'a str,
        outcome: &'a CallOutcome,
        state: Option<StateWrite<'a>>,
    ) -> BoxFuture<'a, Result<Option<i64>>> {
        let mut tables = self.tables.lock();
        let result = (|| {
            match tables.calls.get(call_id) {
                None => {
                    return Err(Error::internal(format!(
                        "reliable call `{call_id}` is not in the log"
                    )));
                }
                Some(record) if record.outcome.is_some() => {
                    return Err(Error::internal(format!(
                        "reliable call `{call_id}` already has an outcome"
                    )));
                }
                Some(_) => {}
            }
            let version = state.map(|write| tables.write_state(&write)).transpose()?;
            let record = tables
                .calls
                .get_mut(call_id)
                .expect("checked above under the same lock");
            record.outcome = Some(outcome.clone());
            record.updated_at = SystemTime::now();
            let (key, seq) = (
                (record.object_type.clone(), record.object_id.clone()),
                record.seq,
            );
            if let Some(by_seq) = tables.pending.get_mut(&key) {
                by_seq.remove(&seq);
                if by_seq.is_empty() {
                    tables.pending.remove(&key);
                }
            }
            Ok(version)
        })();
        Box::pin(std::future::ready(result))
    }

    fn list_objects<'a>(
        &'a self,
        object_type: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ObjectRecord>>> {
        let mut found: Vec<ObjectRecord> = self
            .tables
            .lock()
            .objects
            .values()
            .filter(|r| object_type.is_none_or(|t| r.object_type == t))
            .cloned()
            .collect();
        found.sort_by_key(|record| std::cmp::Reverse(record.updated_at));
        found.truncate(limit as usize);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn object<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectRecord>>> {
        let key = (object_type.to_string(), object_id.to_string());
        let found = self.tables.lock().objects.get(&key).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn list_calls<'a>(
        &'a self,
        filter: &'a CallFilter,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>> {
        let mut found: Vec<ReliableCallRecord> = self
            .tables
            .lock()
            .calls
            .values()
            .filter(|r| {
                filter
                    .object_type
                    .as_ref()
                    .is_none_or(|t| &r.object_type == t)
                    && filter.object_id.as_ref().is_none_or(|i| &r.object_id == i)
                    && filter.status.is_none_or(|s| r.status() == s)
            })
            .cloned()
            .collect();
        found.sort_by_key(|r| r.seq);
        found.truncate(filter.limit as usize);
        Box::pin(std::future::ready(Ok(found)))
    }
}
