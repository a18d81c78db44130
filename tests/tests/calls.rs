//! Calls between objects: nesting, call cycles, calls from `on_activate`.

use std::time::Duration;

use goverse::prelude::*;
use goverse_tests::{Counter, Eager, Relay};

fn path(ids: &[&str]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_calls_without_a_cycle_work() {
    let node = Node::builder().start().await.unwrap();
    let a = node.object::<Relay>("nest-a");
    assert_eq!(
        a.forward(path(&["nest-b", "nest-c", "nest-d"]))
            .await
            .unwrap(),
        path(&["nest-a", "nest-b", "nest-c", "nest-d"])
    );
    let alice = node.object::<Counter>("alice");
    alice.add(10).await.unwrap();
    assert_eq!(alice.give("bob".into(), 4).await.unwrap(), 6);
    assert_eq!(node.object::<Counter>("bob").get().await.unwrap(), 4);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_fails_at_once_naming_it() {
    let node = Node::builder()
        .call_timeout(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let a = node.object::<Relay>("cycle-a");

    let started = std::time::Instant::now();
    let error = a.forward(path(&["cycle-b", "cycle-a"])).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadlock);
    assert!(
        error
            .message()
            .contains("Relay/cycle-a -> Relay/cycle-b -> Relay/cycle-a"),
        "{error}"
    );

    let error = a
        .forward(path(&["cycle-b", "cycle-c", "cycle-a"]))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadlock);
    assert!(
        error
            .message()
            .contains("Relay/cycle-a -> Relay/cycle-b -> Relay/cycle-c -> Relay/cycle-a"),
        "{error}"
    );

    let error = a.forward(path(&["cycle-a"])).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Deadlock,
        "a call to itself is a cycle too"
    );

    // Shared turns waiting on themselves would hang just the same behind a queued writer.
    let error = a.peek(path(&["cycle-b", "cycle-a"])).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadlock);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "detected without waiting for a timeout"
    );

    // Every object in the cycle keeps serving.
    assert_eq!(a.forward(vec![]).await.unwrap(), path(&["cycle-a"]));
    assert_eq!(
        node.object::<Relay>("cycle-b")
            .forward(path(&["cycle-c"]))
            .await
            .unwrap(),
        path(&["cycle-b", "cycle-c"])
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_activate_may_call_other_objects() {
    let node = Node::builder()
        .call_timeout(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let eager = node.object::<Eager>("eager-1");
    assert_eq!(eager.boot_value().await.unwrap(), 1);
    assert_eq!(
        node.object::<Counter>("eager-1-target")
            .get()
            .await
            .unwrap(),
        1
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_that_calls_itself_fails_with_deadlock() {
    let node = Node::builder()
        .call_timeout(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let error = node
        .object::<Eager>("self-1")
        .boot_value()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadlock, "{error}");
    assert!(
        error
            .message()
            .contains("activation of Eager/self-1 failed"),
        "{error}"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_activation_fails_the_call_and_is_retried() {
    let node = Node::builder().start().await.unwrap();
    let bad = node.object::<Eager>("bad-1");
    for _ in 0..2 {
        let error = bad.boot_value().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::App);
        assert_eq!(error.code(), Some("boot"));
        assert!(
            error
                .message()
                .contains("activation of Eager/bad-1 failed: refused to start"),
            "{error}"
        );
    }
    assert!(
        node.list_objects().is_empty(),
        "a failed activation is not kept"
    );
    node.shutdown().await.unwrap();
}
