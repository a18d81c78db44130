//! Reliable calls through the public API, each test on the in-memory store, SQLite and
//! PostgreSQL in turn: exactly once per call id (RC-02), SUCCESS / FAILED / SKIPPED outcomes
//! (RC-05), 1,000 concurrent increments (RC-07), calls recorded while the object was inactive
//! (RC-11), and call-id reuse.

use std::collections::BTreeSet;
use std::sync::Arc;

use goverse::persistence::{CallFilter, NewCall};
use goverse::prelude::*;
use goverse::{CallOutcome, CallStatus, Codec, Database, ErrorKind, Node, new_call_id};
use goverse_tests::{Account, Counter, count_of, on_each_database};

async fn node_on(database: &Database) -> Node {
    Node::builder()
        .database(database.clone())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_call_id_runs_once_and_answers_the_same() {
    on_each_database(|db| async move {
        let id = db.id("rc02");
        let database = db.database.clone();
        let node = node_on(&database).await;
        let account = node.object::<Account>(&id);
        let call_id = new_call_id();
        assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
        assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
        account.deposit(1).await.unwrap();
        // Still the first outcome, though the balance moved on.
        assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
        assert_eq!(count_of(&id, "deposit 5"), 1);
        // From another node sharing the store (after a restart, say) too.
        node.shutdown().await.unwrap();
        let node = node_on(&database).await;
        let account = node.object::<Account>(&id);
        assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
        assert_eq!(count_of(&id, "deposit 5"), 1);
        assert_eq!(account.balance().await.unwrap(), 6);
        let record = database.call(&call_id).await.unwrap().unwrap();
        assert_eq!(record.status(), CallStatus::Success);
        assert_eq!(record.outcome, Some(CallOutcome::Success("5".into())));
        node.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn outcomes_are_success_failed_or_skipped() {
    on_each_database(|db| async move {
        let database = db.database.clone();
        let node = node_on(&database).await;
        let deposit = Codec::Json
            .encode(&serde_json::json!({"amount": 3}))
            .unwrap();
        let outcome = node
            .reliable_call_by_name("Account", "rc05", "deposit", "rc05-ok", deposit)
            .await
            .unwrap();
        assert_eq!(outcome, CallOutcome::Success("3".into()));

        // The method ran and returned an error: FAILED, kept with its code.
        let withdraw = Codec::Json
            .encode(&serde_json::json!({"amount": 50}))
            .unwrap();
        let outcome = node
            .reliable_call_by_name("Account", "rc05", "withdraw", "rc05-fail", withdraw.clone())
            .await
            .unwrap();
        assert_eq!(outcome.status(), CallStatus::Failed);
        assert_eq!(outcome.error().unwrap().code(), Some("insufficient"));
        let again = node
            .reliable_call_by_name("Account", "rc05", "withdraw", "rc05-fail", withdraw)
            .await
            .unwrap();
        assert_eq!(again, outcome);

        // Arguments the method cannot take: SKIPPED, the method never ran.
        let wrong = Codec::Json
            .encode(&serde_json::json!({"amount": "lots"}))
            .unwrap();
        let outcome = node
            .reliable_call_by_name("Account", "rc05", "deposit", "rc05-skip", wrong)
            .await
            .unwrap();
        assert_eq!(outcome.status(), CallStatus::Skipped);
        assert_eq!(outcome.error().unwrap().kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            database.call("rc05-skip").await.unwrap().unwrap().status(),
            CallStatus::Skipped
        );
        assert_eq!(node.object::<Account>("rc05").balance().await.unwrap(), 3);
        assert_eq!(
            node.object::<Account>("rc05").history().await.unwrap(),
            vec![3]
        );

        // Through a typed proxy: the method's own error.
        let error = node
            .object::<Account>("rc05")
            .reliable("rc05-typed")
            .withdraw(10)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("insufficient"));
        node.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_call_id_names_one_call() {
    on_each_database(|db| async move {
        let database = db.database.clone();
        let node = node_on(&database).await;
        let account = node.object::<Account>("reuse");
        account.reliable("reuse-1").deposit(1).await.unwrap();
        let error = account.reliable("reuse-1").deposit(2).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert!(error.message().contains("reuse-1"), "{error}");
        let error = account.reliable("reuse-1").withdraw(1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        let error = node
            .object::<Account>("reuse-other")
            .reliable("reuse-1")
            .deposit(1)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        let error = account.reliable("").deposit(1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert_eq!(account.balance().await.unwrap(), 1);
        node.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_increments_are_each_applied_once() {
    on_each_database(|db| async move {
        let database = db.database.clone();
        let node = Arc::new(node_on(&database).await);
        let calls = (0..1000).map(|i| {
            let node = node.clone();
            tokio::spawn(async move {
                node.object::<Account>("rc07")
                    .reliable(format!("rc07-{i}"))
                    .deposit(1)
                    .await
                    .unwrap()
            })
        });
        let results: BTreeSet<i64> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, (1..=1000).collect::<BTreeSet<i64>>());
        assert_eq!(
            node.object::<Account>("rc07").balance().await.unwrap(),
            1000
        );
        let filter = CallFilter {
            object_id: Some("rc07".into()),
            limit: 2000,
            ..CallFilter::default()
        };
        let rows = database.list_calls(&filter).await.unwrap();
        assert_eq!(rows.len(), 1000);
        assert!(rows.iter().all(|r| r.status() == CallStatus::Success));
        Arc::into_inner(node).unwrap().shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn calls_recorded_for_an_object_without_persist_run_when_it_activates() {
    on_each_database(|db| async move {
        let id = db.id("rc11-plain");
        let database = db.database.clone();
        for (call_id, n) in [("rc11-plain-a", 2), ("rc11-plain-b", 40)] {
            let call_id = format!("{call_id}-{id}");
            let args = format!(r#"{{"n": {n}}}"#);
            database
                .record_call(NewCall {
                    call_id: &call_id,
                    object_type: "Counter",
                    object_id: &id,
                    method: "add",
                    args_json: &args,
                })
                .await
                .unwrap();
        }
        let node = node_on(&database).await;
        // The first call activates the object: the recorded calls run before it.
        assert_eq!(node.object::<Counter>(&id).add(0).await.unwrap(), 42);
        let b = database
            .call(&format!("rc11-plain-b-{id}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.outcome, Some(CallOutcome::Success("42".into())));
        node.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn calls_recorded_while_inactive_run_in_order_on_activation() {
    on_each_database(|db| async move {
        let id = db.id("rc11");
        let database = db.database.clone();
        for (call_id, amount) in [("rc11-a", 5), ("rc11-b", 3)] {
            let args = format!(r#"{{"amount": {amount}}}"#);
            database
                .record_call(NewCall {
                    call_id,
                    object_type: "Account",
                    object_id: &id,
                    method: "deposit",
                    args_json: &args,
                })
                .await
                .unwrap();
        }
        let node = node_on(&database).await;
        node.create::<Account>(&id).await.unwrap();
        assert_eq!(
            node.object::<Account>(&id).history().await.unwrap(),
            vec![5, 3]
        );
        let a = database.call("rc11-a").await.unwrap().unwrap();
        let b = database.call("rc11-b").await.unwrap().unwrap();
        assert_eq!(a.outcome, Some(CallOutcome::Success("5".into())));
        assert_eq!(b.outcome, Some(CallOutcome::Success("8".into())));
        // The caller that retries later gets the recorded outcome without a second run.
        let account = node.object::<Account>(&id);
        assert_eq!(account.reliable("rc11-b").deposit(3).await.unwrap(), 8);
        assert_eq!(count_of(&id, "deposit 3"), 1);
        node.shutdown().await.unwrap();
    })
    .await;
}
