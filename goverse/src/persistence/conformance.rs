//! goverse's own provider test suite (cargo feature `testkit`; not for users): one set of checks
//! that every store provider — memory, SQLite, PostgreSQL — must pass, so that they behave alike.
//!
//! [`run`] panics with the provider's name and a description of the first deviation. It uses
//! object types and call ids unique to the run, so it can run again on the same database and
//! beside other users of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::join_all;

use super::records::{
    CallFilter, CallOutcome, CallStatus, NewCall, ReliableCallRecord, StateWrite, to_millis,
};
use super::{Database, Store, is_conflict};
use crate::error::{Error, ErrorKind, Result};

/// Runs every check against `db`; panics on the first deviation from the reference behaviour.
pub async fn run(db: &Database) {
    let suite = Suite::new(db);
    suite.objects_save_and_load().await;
    suite.conflicting_saves().await;
    suite.deletes().await;
    suite.object_records().await;
    suite.insert_call_is_insert_or_get().await;
    suite.pending_calls().await;
    suite.finish_call_commits_state_and_outcome().await;
    suite.finish_call_conflict_commits_nothing().await;
    suite.finish_call_needs_a_pending_call().await;
    suite.outcomes_round_trip().await;
    suite.list_objects().await;
    suite.list_calls().await;
    suite.odd_names().await;
    suite.concurrent_insert_calls().await;
    suite.concurrent_saves().await;
}

/// Saves an object's state through `db`'s provider, conditional on `expected_version` (0: no row
/// yet); returns the new version. For tests of a provider outside the suite (outages, JSON in
/// the database).
pub async fn save(
    db: &Database,
    object_type: &str,
    object_id: &str,
    state_json: &str,
    expected_version: i64,
) -> Result<i64> {
    db.store()
        .save(write(object_type, object_id, state_json, expected_version))
        .await
}

/// Loads an object's state and version through `db`'s provider (`None`: never saved).
pub async fn load(
    db: &Database,
    object_type: &str,
    object_id: &str,
) -> Result<Option<(String, i64)>> {
    Ok(db
        .store()
        .load(object_type, object_id)
        .await?
        .map(|state| (state.state_json, state.version)))
}

/// Whether `error` is a version conflict.
pub fn is_version_conflict(error: &Error) -> bool {
    is_conflict(error)
}

/// The store under test and the prefix that makes this run's names unique.
struct Suite<'a> {
    store: &'a dyn Store,
    prefix: String,
}

/// A state write.
fn write<'a>(
    object_type: &'a str,
    object_id: &'a str,
    state_json: &'a str,
    expected_version: i64,
) -> StateWrite<'a> {
    StateWrite {
        object_type,
        object_id,
        state_json,
        expected_version,
    }
}

/// A reliable call to record.
fn new_call<'a>(
    call_id: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    args_json: &'a str,
) -> NewCall<'a> {
    NewCall {
        call_id,
        object_type,
        object_id,
        method: "add",
        args_json,
    }
}

/// Whether two JSON texts hold the same value (PostgreSQL's `JSONB` reorders keys and
/// respaces).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Waits until the wall clock is past the current millisecond, so that the next write has a
/// later timestamp at the stores' millisecond resolution.
async fn next_millisecond() {
    let now = to_millis(SystemTime::now());
    while to_millis(SystemTime::now()) <= now {
        tokio::task::yield_now().await;
    }
}

impl<'a> Suite<'a> {
    fn new(db: &'a Database) -> Self {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        Suite {
            store: db.store().as_ref(),
            prefix: format!("conf{nanos:x}r{run}"),
        }
    }

    /// A name unique to this run.
    fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// Panics with the provider's name and `what` went wrong.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "store conformance ({} provider): {what}",
            self.store.provider()
        )
    }

    /// The value of `result`; panics if it is an error.
    fn ok<T>(&self, result: Result<T>, doing: &str) -> T {
        result.unwrap_or_else(|e| self.fail(&format!("{doing} failed: {e}")))
    }

    /// Panics unless `result` is a version conflict.
    fn conflict<T: std::fmt::Debug>(&self, result: Result<T>, doing: &str) {
        match result {
            Err(e) if is_conflict(&e) => {}
            Err(e) => self.fail(&format!(
                "{doing}: expected a version conflict, got another error: {e}"
            )),
            Ok(value) => self.fail(&format!(
                "{doing}: expected a version conflict, got success: {value:?}"
            )),
        }
    }

    fn check(&self, condition: bool, what: impl FnOnce() -> String) {
        if !condition {
            self.fail(&what());
        }
    }

    /// Checks the stored state of an object (`None`: no row).
    async fn expect_state(&self, object_type: &str, id: &str, expected: Option<(&str, i64)>) {
        let loaded = self.ok(self.store.load(object_type, id).await, "load");
        match (loaded, expected) {
            (None, None) => {}
            (Some(found), Some((json, version))) => self.check(
                found.version == version && same_json(&found.state_json, json),
                || {
                    format!(
                        "{object_type}/{id}: expected {json} at version {version}, loaded {} at \
                         version {}",
                        found.state_json, found.version
                    )
                },
            ),
            (found, expected) => self.fail(&format!(
                "{object_type}/{id}: expected {expected:?}, loaded {found:?}"
            )),
        }
    }

    /// The call with this id, which must exist.
    async fn call(&self, call_id: &str) -> ReliableCallRecord {
        self.ok(self.store.call(call_id).await, "call")
            .unwrap_or_else(|| self.fail(&format!("reliable call `{call_id}` is missing")))
    }

    async fn objects_save_and_load(&self) {
        let ty = self.name("Basic");
        self.check(
            self.ok(self.store.load(&ty, "missing").await, "load")
                .is_none(),
            || "loading a never-saved object gave a state".into(),
        );
        self.check(
            self.ok(self.store.object(&ty, "missing").await, "object")
                .is_none(),
            || "reading a never-saved object gave a record".into(),
        );
        let v = self.ok(
            self.store.save(write(&ty, "a", r#"{"n":1}"#, 0)).await,
            "first save",
        );
        self.check(v == 1, || {
            format!("the first save returned version {v}, not 1")
        });
        self.expect_state(&ty, "a", Some((r#"{"n":1}"#, 1))).await;
        let v = self.ok(
            self.store
                .save(write(&ty, "a", r#"{"n":2,"list":[1,2]}"#, 1))
                .await,
            "second save",
        );
        self.check(v == 2, || {
            format!("the second save returned version {v}, not 2")
        });
        self.expect_state(&ty, "a", Some((r#"{"list":[1,2],"n":2}"#, 2)))
            .await;
        // JSON null and scalars are states too.
        let v = self.ok(
            self.store.save(write(&ty, "null", "null", 0)).await,
            "save null",
        );
        self.check(v == 1, || format!("saving null returned version {v}"));
        self.expect_state(&ty, "null", Some(("null", 1))).await;
    }

    async fn conflicting_saves(&self) {
        let ty = self.name("Conflict");
        self.ok(self.store.save(write(&ty, "a", "1", 0)).await, "save");
        self.ok(self.store.save(write(&ty, "a", "2", 1)).await, "save");
        self.conflict(
            self.store.save(write(&ty, "a", "3", 1)).await,
            "a save with a stale version",
        );
        // Another writer that also saw no row.
        self.conflict(
            self.store.save(write(&ty, "a", "4", 0)).await,
            "a second insert of a new object",
        );
        self.conflict(
            self.store.save(write(&ty, "a", "5", 7)).await,
            "a save with a version from the future",
        );
        self.conflict(
            self.store.save(write(&ty, "none", "6", 3)).await,
            "a save at version 3 of an object with no row",
        );
        self.expect_state(&ty, "a", Some(("2", 2))).await;
        self.expect_state(&ty, "none", None).await;
        let error = self
            .store
            .save(write(&ty, "a", "3", 1))
            .await
            .expect_err("conflict");
        self.check(error.kind() == ErrorKind::Unavailable, || {
            format!("a conflict has kind {:?}, not Unavailable", error.kind())
        });
        self.check(error.message().contains("version 2"), || {
            format!("a conflict's message does not name the stored version: {error}")
        });
    }

    async fn deletes(&self) {
        let ty = self.name("Delete");
        self.ok(self.store.save(write(&ty, "a", "1", 0)).await, "save");
        self.ok(self.store.save(write(&ty, "a", "2", 1)).await, "save");
        self.conflict(self.store.delete(&ty, "a", 1).await, "a stale delete");
        self.expect_state(&ty, "a", Some(("2", 2))).await;
        self.ok(self.store.delete(&ty, "a", 2).await, "delete");
        self.expect_state(&ty, "a", None).await;
        self.ok(
            self.store.delete(&ty, "a", 2).await,
            "deleting a deleted object",
        );
        self.ok(
            self.store.delete(&ty, "never", 0).await,
            "deleting a never-saved object",
        );
        let v = self.ok(
            self.store.save(write(&ty, "a", "3", 0)).await,
            "saving a deleted object anew",
        );
        self.check(v == 1, || {
            format!("a re-created object has version {v}, not 1")
        });
    }

    async fn object_records(&self) {
        let ty = self.name("Record");
        let before = SystemTime::now() - Duration::from_secs(60);
        self.ok(
            self.store.save(write(&ty, "a", r#"{"x":1}"#, 0)).await,
            "save",
        );
        let first = self
            .ok(self.store.object(&ty, "a").await, "object")
            .unwrap_or_else(|| self.fail("a saved object has no record"));
        self.check(
            first.object_type == ty
                && first.object_id == "a"
                && first.version == 1
                && same_json(&first.state_json, r#"{"x":1}"#),
            || format!("unexpected record {first:?}"),
        );
        let after = SystemTime::now() + Duration::from_secs(60);
        self.check(
            first.created_at > before
                && first.created_at < after
                && first.created_at <= first.updated_at,
            || format!("implausible timestamps in {first:?}"),
        );
        next_millisecond().await;
        self.ok(
            self.store.save(write(&ty, "a", r#"{"x":2}"#, 1)).await,
            "save",
        );
        let second = self
            .ok(self.store.object(&ty, "a").await, "object")
            .unwrap_or_else(|| self.fail("a saved object has no record"));
        self.check(
            second.created_at == first.created_at && second.updated_at > first.updated_at,
            || format!("an update must keep created_at and advance updated_at: {first:?} then {second:?}"),
        );
    }

    async fn insert_call_is_insert_or_get(&self) {
        let ty = self.name("Calls");
        let id = self.name("call-1");
        let first = self.ok(
            self.store
                .insert_call(new_call(&id, &ty, "a", r#"{"n":1}"#))
                .await,
            "insert_call",
        );
        self.check(
            first.seq > 0
                && first.call_id == id
                && first.object_type == ty
                && first.object_id == "a"
                && first.method == "add"
                && same_json(&first.args_json, r#"{"n":1}"#)
                && first.outcome.is_none()
                && first.status() == CallStatus::Pending,
            || format!("unexpected new call {first:?}"),
        );
        let again = self.ok(
            self.store
                .insert_call(new_call(&id, &ty, "a", r#"{"n":1}"#))
                .await,
            "insert_call again",
        );
        self.check(again == first, || {
            format!("a second insert_call returned {again:?}, not the stored {first:?}")
        });
        // Another call under the same id: the stored row comes back unchanged.
        let other = self.ok(
            self.store
                .insert_call(new_call(&id, &ty, "b", r#"{"n":2}"#))
                .await,
            "insert_call with other arguments",
        );
        self.check(other == first, || {
            format!("insert_call with a used id returned {other:?}, not the stored {first:?}")
        });
        let read = self.call(&id).await;
        self.check(read == first, || {
            format!("call() returned {read:?}, insert_call {first:?}")
        });
        self.check(
            self.ok(self.store.call(&self.name("no-such-call")).await, "call")
                .is_none(),
            || "call() found a call that was never recorded".into(),
        );
    }

    async fn pending_calls(&self) {
        let ty = self.name("Pending");
        let ids: Vec<String> = (0..4).map(|i| self.name(&format!("pending-{i}"))).collect();
        let mut seqs = Vec::new();
        for id in &ids {
            let call = self.ok(
                self.store.insert_call(new_call(id, &ty, "a", "{}")).await,
                "insert_call",
            );
            seqs.push(call.seq);
        }
        self.check(seqs.windows(2).all(|w| w[0] < w[1]), || {
            format!("seqs of calls recorded one after another do not increase: {seqs:?}")
        });
        self.ok(
            self.store
                .insert_call(new_call(&self.name("pending-other"), &ty, "b", "{}"))
                .await,
            "insert_call",
        );
        self.ok(
            self.store
                .finish_call(&ids[1], &CallOutcome::Success("1".into()), None)
                .await,
            "finish_call",
        );
        let pending = self.ok(self.store.pending_calls(&ty, "a").await, "pending_calls");
        let found: Vec<&str> = pending.iter().map(|c| c.call_id.as_str()).collect();
        let expected = [ids[0].as_str(), ids[2].as_str(), ids[3].as_str()];
        self.check(found == expected, || {
            format!("pending_calls gave {found:?}, expected {expected:?} (by seq, unfinished only)")
        });
        self.check(
            self.ok(
                self.store.pending_calls(&ty, "nobody").await,
                "pending_calls",
            )
            .is_empty(),
            || "an object without calls has pending calls".into(),
        );
    }

    async fn finish_call_commits_state_and_outcome(&self) {
        let ty = self.name("Finish");
        let id = self.name("finish-ok");
        self.ok(
            self.store.save(write(&ty, "a", r#"{"n":1}"#, 0)).await,
            "save",
        );
        self.ok(
            self.store
                .insert_call(new_call(&id, &ty, "a", r#"{"n":1}"#))
                .await,
            "insert_call",
        );
        let version = self.ok(
            self.store
                .finish_call(
                    &id,
                    &CallOutcome::Success("2".into()),
                    Some(write(&ty, "a", r#"{"n":2}"#, 1)),
                )
                .await,
            "finish_call with a state write",
        );
        self.check(version == Some(2), || {
            format!("finish_call returned version {version:?}, not Some(2)")
        });
        self.expect_state(&ty, "a", Some((r#"{"n":2}"#, 2))).await;
        let call = self.call(&id).await;
        self.check(
            matches!(&call.outcome, Some(CallOutcome::Success(json)) if same_json(json, "2")),
            || format!("the finished call is {call:?}"),
        );
        self.check(call.updated_at >= call.created_at, || {
            format!("the finished call's updated_at is before its created_at: {call:?}")
        });
        // Without a state write, and with a state write that creates the object.
        let id2 = self.name("finish-new");
        self.ok(
            self.store.insert_call(new_call(&id2, &ty, "b", "{}")).await,
            "insert_call",
        );
        let version = self.ok(
            self.store
                .finish_call(
                    &id2,
                    &CallOutcome::Success("null".into()),
                    Some(write(&ty, "b", r#"{"n":1}"#, 0)),
                )
                .await,
            "finish_call creating the object",
        );
        self.check(version == Some(1), || {
            format!("finish_call creating an object returned {version:?}")
        });
        self.expect_state(&ty, "b", Some((r#"{"n":1}"#, 1))).await;
    }

    async fn finish_call_conflict_commits_nothing(&self) {
        let ty = self.name("FinishConflict");
        let id = self.name("finish-conflict");
        self.ok(
            self.store.save(write(&ty, "a", r#"{"n":1}"#, 0)).await,
            "save",
        );
        self.ok(
            self.store.save(write(&ty, "a", r#"{"n":2}"#, 1)).await,
            "save",
        );
        self.ok(
            self.store.insert_call(new_call(&id, &ty, "a", "{}")).await,
            "insert_call",
        );
        self.conflict(
            self.store
                .finish_call(
                    &id,
                    &CallOutcome::Success("3".into()),
                    Some(write(&ty, "a", r#"{"n":3}"#, 1)),
                )
                .await,
            "finish_call with a stale state write",
        );
        self.expect_state(&ty, "a", Some((r#"{"n":2}"#, 2))).await;
        let call = self.call(&id).await;
        self.check(call.outcome.is_none(), || {
            format!("a conflicting finish_call recorded an outcome: {call:?}")
        });
        // Creating an object that another writer created meanwhile.
        self.ok(
            self.store
                .save(write(&ty, "taken", r#"{"by":"other"}"#, 0))
                .await,
            "save",
        );
        self.conflict(
            self.store
                .finish_call(
                    &id,
                    &CallOutcome::Success("3".into()),
                    Some(write(&ty, "taken", r#"{"by":"call"}"#, 0)),
                )
                .await,
            "finish_call creating an object that exists",
        );
        self.expect_state(&ty, "taken", Some((r#"{"by":"other"}"#, 1)))
            .await;
        let call = self.call(&id).await;
        self.check(call.outcome.is_none(), || {
            format!("a conflicting finish_call recorded an outcome: {call:?}")
        });
        // The call can still be finished, on the fresh version.
        let version = self.ok(
            self.store
                .finish_call(
                    &id,
                    &CallOutcome::Success("3".into()),
                    Some(write(&ty, "a", r#"{"n":3}"#, 2)),
                )
                .await,
            "finish_call after a conflict",
        );
        self.check(version == Some(3), || {
            format!("finish_call after a conflict returned {version:?}")
        });
        self.expect_state(&ty, "a", Some((r#"{"n":3}"#, 3))).await;
    }

    async fn finish_call_needs_a_pending_call(&self) {
        let ty = self.name("NotPending");
        let id = self.name("not-pending");
        self.ok(
            self.store.insert_call(new_call(&id, &ty, "a", "{}")).await,
            "insert_call",
        );
        self.ok(
            self.store
                .finish_call(&id, &CallOutcome::Success("1".into()), None)
                .await,
            "finish_call",
        );
        match self
            .store
            .finish_call(
                &id,
                &CallOutcome::Success("2".into()),
                Some(write(&ty, "a", "{}", 0)),
            )
            .await
        {
            Err(e) if e.kind() == ErrorKind::Internal => {}
            other => self.fail(&format!(
                "finishing a finished call gave {other:?}, not an Internal error"
            )),
        }
        self.expect_state(&ty, "a", None).await;
        let call = self.call(&id).await;
        self.check(
            matches!(&call.outcome, Some(CallOutcome::Success(json)) if same_json(json, "1")),
            || format!("finishing a finished call changed it: {call:?}"),
        );
        match self
            .store
            .finish_call(
                &self.name("never-recorded"),
                &CallOutcome::Success("1".into()),
                Some(write(&ty, "b", "{}", 0)),
            )
            .await
        {
            Err(e) if e.kind() == ErrorKind::Internal => {}
            other => self.fail(&format!(
                "finishing an unknown call gave {other:?}, not an Internal error"
            )),
        }
        self.expect_state(&ty, "b", None).await;
    }

    async fn outcomes_round_trip(&self) {
        let ty = self.name("Outcome");
        let outcomes = [
            CallOutcome::Success(r#"{"a":[1,2,{"b":null}],"s":"ü"}"#.into()),
            CallOutcome::Success("null".into()),
            CallOutcome::Failed(Error::app("insufficient", "not enough to give")),
            CallOutcome::Failed(Error::internal("it broke")),
            CallOutcome::Skipped(Error::invalid_argument("bad arguments: `n` is missing")),
        ];
        for (i, outcome) in outcomes.iter().enumerate() {
            let id = self.name(&format!("outcome-{i}"));
            self.ok(
                self.store.insert_call(new_call(&id, &ty, "a", "{}")).await,
                "insert_call",
            );
            self.ok(
                self.store.finish_call(&id, outcome, None).await,
                "finish_call",
            );
            let stored = self.call(&id).await;
            let same = match (&stored.outcome, outcome) {
                (Some(CallOutcome::Success(a)), CallOutcome::Success(b)) => same_json(a, b),
                (Some(found), expected) => found == expected,
                (None, _) => false,
            };
            self.check(same, || {
                format!("outcome {outcome:?} came back as {:?}", stored.outcome)
            });
            self.check(stored.status() == outcome.status(), || {
                format!("status {} stored as {}", outcome.status(), stored.status())
            });
        }
    }

    async fn list_objects(&self) {
        let ty = self.name("Listed");
        let other = self.name("Unlisted");
        for id in ["o1", "o2", "o3"] {
            next_millisecond().await;
            self.ok(self.store.save(write(&ty, id, "{}", 0)).await, "save");
        }
        next_millisecond().await;
        self.ok(self.store.save(write(&ty, "o1", "{}", 1)).await, "save");
        next_millisecond().await;
        self.ok(self.store.save(write(&other, "x", "{}", 0)).await, "save");
        let ids = |records: &[super::ObjectRecord]| -> Vec<String> {
            records.iter().map(|r| r.object_id.clone()).collect()
        };
        let all = self.ok(
            self.store.list_objects(Some(&ty), 100).await,
            "list_objects",
        );
        self.check(ids(&all) == ["o1", "o3", "o2"], || {
            format!(
                "list_objects({ty}) gave {:?}, expected newest first [o1, o3, o2]",
                ids(&all)
            )
        });
        self.check(all.iter().all(|r| r.object_type == ty), || {
            "list_objects with a type gave other types".into()
        });
        let two = self.ok(self.store.list_objects(Some(&ty), 2).await, "list_objects");
        self.check(ids(&two) == ["o1", "o3"], || {
            format!("list_objects with limit 2 gave {:?}", ids(&two))
        });
        let one = self.ok(self.store.list_objects(None, 1).await, "list_objects");
        self.check(one.len() == 1, || {
            format!("list_objects(None, 1) gave {} rows", one.len())
        });
        let every = self.ok(self.store.list_objects(None, 100_000).await, "list_objects");
        self.check(
            every.windows(2).all(|w| w[0].updated_at >= w[1].updated_at),
            || "list_objects(None) is not newest first".into(),
        );
        self.check(
            every.iter().any(|r| r.object_type == other)
                && every.iter().any(|r| r.object_type == ty),
            || "list_objects(None) misses a type".into(),
        );
    }

    async fn list_calls(&self) {
        let ty = self.name("ListedCalls");
        let mut recorded = Vec::new();
        for (i, object_id) in ["a", "b", "a", "a"].iter().enumerate() {
            let id = self.name(&format!("listed-{i}"));
            self.ok(
                self.store
                    .insert_call(new_call(&id, &ty, object_id, "{}"))
                    .await,
                "insert_call",
            );
            recorded.push(id);
        }
        self.ok(
            self.store
                .finish_call(
                    &recorded[2],
                    &CallOutcome::Failed(Error::app("e", "failed")),
                    None,
                )
                .await,
            "finish_call",
        );
        let list = |object_id: Option<&str>, status: Option<CallStatus>, limit: u32| CallFilter {
            object_type: Some(ty.clone()),
            object_id: object_id.map(str::to_string),
            status,
            limit,
        };
        let cases: [(CallFilter, Vec<&String>); 5] = [
            (list(None, None, 100), recorded.iter().collect()),
            (
                list(Some("a"), None, 100),
                vec![&recorded[0], &recorded[2], &recorded[3]],
            ),
            (
                list(Some("a"), Some(CallStatus::Pending), 100),
                vec![&recorded[0], &recorded[3]],
            ),
            (
                list(None, Some(CallStatus::Failed), 100),
                vec![&recorded[2]],
            ),
            (list(None, None, 2), vec![&recorded[0], &recorded[1]]),
        ];
        for (filter, expected) in cases {
            let found = self.ok(self.store.list_calls(&filter).await, "list_calls");
            let found: Vec<&String> = found.iter().map(|c| &c.call_id).collect();
            self.check(found == expected, || {
                format!("list_calls({filter:?}) gave {found:?}, expected {expected:?}")
            });
        }
        let none = CallFilter {
            object_type: Some(ty.clone()),
            status: Some(CallStatus::Skipped),
            ..CallFilter::default()
        };
        self.check(
            self.ok(self.store.list_calls(&none).await, "list_calls")
                .is_empty(),
            || "list_calls found skipped calls where there are none".into(),
        );
        let any = CallFilter {
            limit: 3,
            ..CallFilter::default()
        };
        let found = self.ok(self.store.list_calls(&any).await, "list_calls");
        self.check(
            found.len() == 3 && found.windows(2).all(|w| w[0].seq < w[1].seq),
            || {
                format!(
                    "list_calls without filters (limit 3) gave {} rows or not by seq",
                    found.len()
                )
            },
        );
    }

    async fn odd_names(&self) {
        let ty = self.name("Tür/Typ");
        let id = "a/b c%ü 'quote' \"double\" \\ 🦀";
        let state = r#"{"s":"ü🦀 \"quoted\" \\ back","k%":"'; DROP TABLE x; --"}"#;
        self.ok(
            self.store.save(write(&ty, id, state, 0)).await,
            "save of an odd id",
        );
        self.expect_state(&ty, id, Some((state, 1))).await;
        let record = self
            .ok(self.store.object(&ty, id).await, "object")
            .unwrap_or_else(|| self.fail("an object with an odd id has no record"));
        self.check(record.object_id == id && record.object_type == ty, || {
            format!(
                "odd names came back as {}/{}",
                record.object_type, record.object_id
            )
        });
        let call_id = self.name("call/ü %20 'x'");
        let args = r#"{"text":"ü\n\t🦀"}"#;
        let call = self.ok(
            self.store
                .insert_call(new_call(&call_id, &ty, id, args))
                .await,
            "insert_call with odd names",
        );
        self.check(
            call.call_id == call_id && call.object_id == id && same_json(&call.args_json, args),
            || format!("a call with odd names came back as {call:?}"),
        );
        let pending = self.ok(self.store.pending_calls(&ty, id).await, "pending_calls");
        self.check(pending.len() == 1, || {
            format!("pending_calls of an odd id gave {} calls", pending.len())
        });
        self.ok(self.store.delete(&ty, id, 1).await, "delete of an odd id");
        self.expect_state(&ty, id, None).await;
    }

    async fn concurrent_insert_calls(&self) {
        let ty = self.name("Concurrent");
        let ids: Vec<String> = (0..200).map(|i| self.name(&format!("many-{i}"))).collect();
        let inserted = join_all(
            ids.iter()
                .map(|id| self.store.insert_call(new_call(id, &ty, "a", "{}"))),
        )
        .await;
        let mut seqs: Vec<i64> = inserted
            .into_iter()
            .map(|r| self.ok(r, "concurrent insert_call").seq)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        self.check(seqs.len() == 200, || {
            format!(
                "200 concurrent insert_calls got {} distinct seqs",
                seqs.len()
            )
        });
        let pending = self.ok(self.store.pending_calls(&ty, "a").await, "pending_calls");
        self.check(pending.len() == 200, || {
            format!("200 recorded calls, {} pending", pending.len())
        });
        // The same id from many writers at once: one row.
        let same = self.name("same-id");
        let inserted =
            join_all((0..20).map(|_| self.store.insert_call(new_call(&same, &ty, "b", "{}"))))
                .await;
        let seqs: Vec<i64> = inserted
            .into_iter()
            .map(|r| self.ok(r, "concurrent insert_call of one id").seq)
            .collect();
        self.check(seqs.iter().all(|s| *s == seqs[0]), || {
            format!("concurrent insert_calls of one id got seqs {seqs:?}")
        });
    }

    async fn concurrent_saves(&self) {
        let ty = self.name("Race");
        for expected in [0, 1, 2] {
            let states: Vec<String> = (0..16).map(|i| format!(r#"{{"writer":{i}}}"#)).collect();
            let results = join_all(
                states
                    .iter()
                    .map(|state| self.store.save(write(&ty, "a", state, expected))),
            )
            .await;
            let mut winners = Vec::new();
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Ok(version) => winners.push((i, version)),
                    Err(e) if is_conflict(&e) => {}
                    Err(e) => self.fail(&format!("a racing save failed: {e}")),
                }
            }
            self.check(winners.len() == 1, || {
                format!(
                    "16 saves at version {expected} at once: {} won, not exactly one",
                    winners.len()
                )
            });
            let (winner, version) = winners[0];
            self.check(version == expected + 1, || {
                format!("the winning save returned version {version}")
            });
            self.expect_state(&ty, "a", Some((&states[winner], expected + 1)))
                .await;
        }
    }
}
