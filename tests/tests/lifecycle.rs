//! Create, delete, list, idle deactivation and shutdown.

use std::time::Duration;

use goverse::prelude::*;
use goverse_tests::{Counter, Tracked, count_of, events_of, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_is_idempotent_and_activates() {
    let node = Node::builder().start().await.unwrap();
    node.create::<Tracked>("create-1").await.unwrap();
    node.create::<Tracked>("create-1").await.unwrap();
    node.create_by_name("Tracked", "create-1").await.unwrap();
    assert_eq!(count_of("create-1", "activate"), 1);
    assert_eq!(node.list_objects().len(), 1);
    assert_eq!(
        node.object::<Tracked>("create-1").touch().await.unwrap(),
        (true, 1)
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_deactivates_and_is_idempotent() {
    let node = Node::builder().start().await.unwrap();
    let id = "delete-1";
    node.object::<Tracked>(id).touch().await.unwrap();
    node.delete::<Tracked>(id).await.unwrap();
    assert_eq!(events_of(id), ["activate", "deactivate after 1"]);
    assert!(node.list_objects().is_empty());
    node.delete::<Tracked>(id).await.unwrap();
    node.delete::<Tracked>("never-existed").await.unwrap();
    node.delete_by_name("Tracked", id).await.unwrap();
    // In memory, a deleted object starts over.
    assert_eq!(node.object::<Tracked>(id).touch().await.unwrap(), (true, 1));
    assert_eq!(count_of(id, "activate"), 2);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_for_queued_calls() {
    let node = Node::builder().start().await.unwrap();
    let counter = node.object::<Counter>("delete-queued");
    let slow = {
        let counter = counter.clone();
        tokio::spawn(async move { counter.slow_add(5, 50).await })
    };
    wait_until("the object is active", Duration::from_secs(5), || {
        !node.list_objects().is_empty()
    })
    .await;
    node.delete::<Counter>("delete-queued").await.unwrap();
    assert_eq!(
        slow.await.unwrap().unwrap(),
        5,
        "the queued call finished before the delete"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_objects_are_deactivated_and_come_back_on_the_next_call() {
    let node = Node::builder()
        .idle_timeout(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let id = "idle-1";
    let tracked = node.object::<Tracked>(id);
    tracked.touch().await.unwrap();
    wait_until(
        "the idle object is deactivated",
        Duration::from_secs(10),
        || count_of(id, "deactivate after 1") == 1,
    )
    .await;
    assert!(node.list_objects().is_empty());
    assert_eq!(tracked.touch().await.unwrap(), (true, 1));
    assert_eq!(count_of(id, "activate"), 2);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_objects_are_not_collected() {
    let node = Node::builder()
        .idle_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let id = "busy-1";
    let tracked = node.object::<Tracked>(id);
    for _ in 0..30 {
        tracked.touch().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        count_of(id, "activate"),
        1,
        "calls every 10 ms keep the object active"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deactivates_everything_then_refuses_calls() {
    let node = Node::builder().start().await.unwrap();
    let ids: Vec<String> = (0..10).map(|i| format!("shutdown-{i}")).collect();
    for id in &ids {
        node.object::<Tracked>(id).touch().await.unwrap();
    }
    let survivor = node.object::<Tracked>(&ids[0]);
    node.shutdown().await.unwrap();
    for id in &ids {
        assert_eq!(events_of(id), ["activate", "deactivate after 1"]);
    }
    let error = survivor.touch().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.message().contains("shutting down"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_types_are_registered_without_any_call() {
    let node = Node::builder().start().await.unwrap();
    let types = node.object_types();
    let counter = types
        .iter()
        .find(|t| t.name == "Counter")
        .expect("Counter is registered");
    let give = counter.methods.iter().find(|m| m.name == "give").unwrap();
    assert_eq!(give.params, ["to", "n"]);
    assert_eq!(give.kind, goverse::TurnKind::Exclusive);
    let get = counter.methods.iter().find(|m| m.name == "get").unwrap();
    assert_eq!(get.kind, goverse::TurnKind::Shared);
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_settings_are_refused() {
    let error = Node::builder().shards(0).start().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("shards"), "{error}");
    let error = Node::builder()
        .call_timeout(Duration::ZERO)
        .start()
        .await
        .unwrap_err();
    assert!(error.message().contains("call_timeout"), "{error}");
}
