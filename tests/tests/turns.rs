//! Activation and turn scheduling on an embedded node.

use std::time::Duration;

use futures::future::join_all;
use goverse::prelude::*;
use goverse_tests::{Counter, Tracked, Turnstile, count_of};

async fn node() -> Node {
    Node::builder().start().await.expect("embedded node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_activates_the_object_and_runs_once() {
    let node = node().await;
    let counter = node.object::<Counter>("auto-1");
    assert!(node.list_objects().is_empty());
    assert_eq!(counter.add(3).await.unwrap(), 3);
    assert_eq!(counter.get().await.unwrap(), 3);
    let active: Vec<String> = node.list_objects().iter().map(|k| k.to_string()).collect();
    assert_eq!(active, ["Counter/auto-1"]);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_calls_make_exactly_one_activation() {
    let node = node().await;
    let id = "first-calls-1";
    let calls = (0..100).map(|_| {
        let proxy = node.object::<Tracked>(id);
        tokio::spawn(async move { proxy.touch().await.unwrap() })
    });
    let results: Vec<(bool, u32)> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        results.iter().all(|(activated, _)| *activated),
        "on_activate ran before every call"
    );
    let mut counts: Vec<u32> = results.iter().map(|(_, calls)| *calls).collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=100).collect::<Vec<_>>(),
        "all calls saw one shared state"
    );
    assert_eq!(count_of(id, "activate"), 1);
    node.shutdown().await.unwrap();
    assert_eq!(count_of(id, "deactivate after 100"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exclusive_turns_run_alone_in_arrival_order() {
    let node = node().await;
    let turnstile = node.object::<Turnstile>("order-1");
    // join_all polls the futures in order, so they reach the mailbox in this order.
    join_all((0..200).map(|n| turnstile.append(n)))
        .await
        .into_iter()
        .for_each(Result::unwrap);
    assert_eq!(turnstile.log().await.unwrap(), (0..200).collect::<Vec<_>>());
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_turns_overlap_each_other() {
    let node = node().await;
    let turnstile = node.object::<Turnstile>("meet-1");
    // Three shared turns wait at a barrier of three: they finish only if they run together.
    let met = tokio::time::timeout(
        Duration::from_secs(10),
        join_all((0..3).map(|_| turnstile.meet(3))),
    )
    .await
    .expect("shared turns ran together");
    assert!(met.into_iter().all(|m| m.unwrap()));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_turns_never_overlap_an_exclusive_turn() {
    let node = node().await;
    let turnstile = node.object::<Turnstile>("mixed-1");
    let mut calls = Vec::new();
    for round in 0..50u32 {
        for _ in 0..4 {
            let proxy = turnstile.clone();
            calls.push(tokio::spawn(async move { proxy.read().await.map(|_| ()) }));
        }
        let proxy = turnstile.clone();
        calls.push(tokio::spawn(async move { proxy.append(round).await }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let (max_readers, overlaps) = turnstile.stats().await.unwrap();
    assert_eq!(
        overlaps, 0,
        "a reader and a writer were in a turn at the same time"
    );
    assert!(
        max_readers >= 2,
        "readers never shared a turn (max {max_readers})"
    );
    assert_eq!(turnstile.log().await.unwrap().len(), 50);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_callers_lose_no_update() {
    let node = node().await;
    let callers = (0..20).map(|_| {
        let counter = node.object::<Counter>("race-1");
        tokio::spawn(async move {
            for _ in 0..50 {
                counter.add(1).await.unwrap();
            }
        })
    });
    join_all(callers).await.into_iter().for_each(Result::unwrap);
    assert_eq!(node.object::<Counter>("race-1").get().await.unwrap(), 1000);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn objects_run_independently() {
    let node = node().await;
    // A slow turn on one object does not hold up another object.
    let slow = node.object::<Counter>("independent-slow");
    let slow_call = tokio::spawn(async move { slow.slow_add(1, 60_000).await });
    let fast = node.object::<Counter>("independent-fast");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), fast.add(1))
            .await
            .unwrap()
            .unwrap(),
        1
    );
    slow_call.abort();
    drop(node);
}

#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_calls_that_never_wait_still_lets_other_tasks_run() {
    let node = node().await;
    let counter = node.object::<Counter>("busy-loop");
    counter.add(0).await.unwrap();
    let other_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = other_ran.clone();
    tokio::spawn(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) });
    // Each call runs in this task and finishes at once; on a single thread the spawned task can
    // only run if these calls give the scheduler a turn now and then.
    let mut calls = 0;
    while !other_ran.load(std::sync::atomic::Ordering::SeqCst) {
        counter.add(1).await.unwrap();
        calls += 1;
        assert!(
            calls < 100_000,
            "100000 calls in a row never let another task run"
        );
    }
    node.shutdown().await.unwrap();
}
