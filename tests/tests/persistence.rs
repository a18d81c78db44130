//! Persistence through the public API, on the in-memory store shared by successive nodes of
//! one process (a restart keeps the store): loads, saves by policy, versions, stale owners and
//! delete; the stale-owner test also on SQLite and PostgreSQL. The store operations themselves
//! are covered on every provider in `store.rs`, restarts and outages in `persistence_sql.rs`.

use std::time::Duration;

use goverse::prelude::*;
use goverse::{Database, ErrorKind, Node, SavePolicy};
use goverse_tests::{Account, Counter, Note, Tally, count_of, on_each_database, wait_until};

async fn node_on(database: &Database) -> Node {
    Node::builder()
        .database(database.clone())
        .start()
        .await
        .unwrap()
}

async fn stored_version(database: &Database, type_name: &str, id: &str) -> Option<i64> {
    database
        .object(type_name, id)
        .await
        .unwrap()
        .map(|record| record.version)
}

#[test]
fn policies_come_from_the_macro() {
    assert_eq!(Account::save_policy(), Some(SavePolicy::EveryTurn));
    assert_eq!(
        Tally::save_policy(),
        Some(SavePolicy::Periodic(Some(Duration::from_millis(200))))
    );
    assert_eq!(Note::save_policy(), Some(SavePolicy::Periodic(None)));
    assert_eq!(Counter::save_policy(), None);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let database = Database::memory();
    let node = node_on(&database).await;
    let account = node.object::<Account>("restart-1");
    account.deposit(5).await.unwrap();
    account.deposit(7).await.unwrap();
    node.shutdown().await.unwrap();

    let node = node_on(&database).await;
    let account = node.object::<Account>("restart-1");
    assert_eq!(account.balance().await.unwrap(), 12);
    assert_eq!(account.history().await.unwrap(), vec![5, 7]);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_row_is_the_default_state_and_reads_write_nothing() {
    let database = Database::memory();
    let node = node_on(&database).await;
    let account = node.object::<Account>("fresh-1");
    assert_eq!(account.balance().await.unwrap(), 0);
    assert_eq!(stored_version(&database, "Account", "fresh-1").await, None);
    node.shutdown().await.unwrap();
    // Deactivation saves only changed objects: a read-only object leaves no row.
    assert_eq!(stored_version(&database, "Account", "fresh-1").await, None);
}

#[tokio::test]
async fn every_turn_saves_each_exclusive_turn_before_answering() {
    let database = Database::memory();
    let node = node_on(&database).await;
    let account = node.object::<Account>("every-1");
    for n in 1..=3 {
        account.deposit(n).await.unwrap();
        // Saved before the answer: the row is there as soon as the call returns.
        assert_eq!(
            stored_version(&database, "Account", "every-1").await,
            Some(n)
        );
    }
    account.balance().await.unwrap();
    account.history().await.unwrap();
    assert_eq!(
        stored_version(&database, "Account", "every-1").await,
        Some(3)
    );
    let record = database
        .object("Account", "every-1")
        .await
        .unwrap()
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&record.state_json).unwrap();
    assert_eq!(
        state,
        serde_json::json!({"balance": 6, "history": [1, 2, 3]})
    );
    // A failed turn is still an exclusive turn: the state is saved again.
    let error = account.withdraw(100).await.unwrap_err();
    assert_eq!(error.code(), Some("insufficient"));
    assert_eq!(
        stored_version(&database, "Account", "every-1").await,
        Some(4)
    );
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn periodic_saves_batch_many_turns() {
    let database = Database::memory();
    let node = node_on(&database).await;
    let tally = node.object::<Tally>("periodic-1");
    for _ in 0..500 {
        tally.add().await.unwrap();
    }
    let stored_count = || async {
        database
            .object("Tally", "periodic-1")
            .await
            .unwrap()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(&r.state_json).unwrap()["count"].clone()
            })
    };
    let began = tokio::time::Instant::now();
    loop {
        if stored_count().await == Some(serde_json::json!(500)) {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the periodic save never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let version = stored_version(&database, "Tally", "periodic-1")
        .await
        .unwrap();
    assert!(version <= 3, "500 turns were saved {version} times");
    // Nothing changed since: no more writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stored_version(&database, "Tally", "periodic-1").await,
        Some(version)
    );
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_node_default_interval_and_shutdown_save() {
    let database = Database::memory();
    let node = Node::builder()
        .database(database.clone())
        .save_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    node.object::<Note>("note-1")
        .set("hello".into())
        .await
        .unwrap();
    // An hour-long interval: nothing is written while the node runs...
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_version(&database, "Note", "note-1").await, None);
    // ...but shutdown saves every changed object.
    node.shutdown().await.unwrap();
    assert_eq!(stored_version(&database, "Note", "note-1").await, Some(1));
    let node = node_on(&database).await;
    assert_eq!(node.object::<Note>("note-1").text().await.unwrap(), "hello");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_deactivation_saves() {
    let database = Database::memory();
    let node = Node::builder()
        .database(database.clone())
        .save_interval(Duration::from_secs(3600))
        .idle_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    node.object::<Note>("idle-1")
        .set("kept".into())
        .await
        .unwrap();
    wait_until(
        "the idle note is deactivated",
        Duration::from_secs(5),
        || node.list_objects().is_empty(),
    )
    .await;
    assert_eq!(stored_version(&database, "Note", "idle-1").await, Some(1));
    assert_eq!(node.object::<Note>("idle-1").text().await.unwrap(), "kept");
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_removes_the_stored_state() {
    let database = Database::memory();
    let node = node_on(&database).await;
    let account = node.object::<Account>("delete-1");
    account.deposit(9).await.unwrap();
    node.delete::<Account>("delete-1").await.unwrap();
    assert_eq!(stored_version(&database, "Account", "delete-1").await, None);
    assert_eq!(account.balance().await.unwrap(), 0);
    node.shutdown().await.unwrap();
}

/// Two embedded nodes on one store both believe they own the object: the one that loaded an
/// older version is a zombie, and its write must be refused — on every provider.
#[tokio::test]
async fn a_stale_owner_cannot_overwrite_newer_state() {
    on_each_database(|db| async move {
        let database = db.database.clone();
        let id = db.id("zombie-1");
        let zombie = node_on(&database).await;
        let owner = node_on(&database).await;
        // The zombie activates the object at version 0.
        assert_eq!(zombie.object::<Account>(&id).balance().await.unwrap(), 0);
        // The real owner writes versions 1 and 2.
        owner.object::<Account>(&id).deposit(10).await.unwrap();
        owner.object::<Account>(&id).deposit(20).await.unwrap();
        // The zombie's write is rejected, and its stale activation dropped.
        let error = zombie.object::<Account>(&id).deposit(1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
        assert!(error.message().contains("version conflict"), "{error}");
        let record = database.object("Account", &id).await.unwrap().unwrap();
        assert_eq!(record.version, 2);
        assert!(record.state_json.contains("30"), "{}", record.state_json);
        // Its next call reloads the current state.
        assert_eq!(zombie.object::<Account>(&id).balance().await.unwrap(), 30);
        assert_eq!(count_of(&id, "activate"), 3);
        zombie.shutdown().await.unwrap();
        owner.shutdown().await.unwrap();
    })
    .await;
}
