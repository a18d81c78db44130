//! Timers on `Context`: they fire as turns and stop when the object deactivates.
//! These tests run on tokio's paused clock, so waiting for time to pass is exact and instant.

use std::time::Duration;

use goverse::prelude::*;
use goverse_tests::{Ticker, count_of};

#[tokio::test(start_paused = true)]
async fn a_periodic_timer_ticks_until_the_object_is_deleted() {
    let node = Node::builder().start().await.unwrap();
    let id = "ticker-1";
    let ticker = node.object::<Ticker>(id);
    ticker.start(10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(105)).await;
    assert_eq!(ticker.ticks().await.unwrap(), 10);

    node.delete::<Ticker>(id).await.unwrap();
    let ticks = count_of(id, "tick");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count_of(id, "tick"),
        ticks,
        "the timer stopped with the object"
    );
    assert!(
        node.list_objects().is_empty(),
        "no tick re-activated the object"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_one_shot_timer_fires_once() {
    let node = Node::builder().start().await.unwrap();
    let ticker = node.object::<Ticker>("ticker-2");
    ticker.start_once(50).await.unwrap();
    tokio::time::sleep(Duration::from_millis(49)).await;
    assert_eq!(ticker.ticks().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ticker.ticks().await.unwrap(), 1);
    node.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timer_calls_do_not_keep_an_object_active() {
    let node = Node::builder()
        .idle_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let id = "ticker-3";
    node.object::<Ticker>(id).start(10).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        node.list_objects().is_empty(),
        "the idle object was deactivated despite its timer"
    );
    let ticks = count_of(id, "tick");
    assert!(
        (5..=20).contains(&ticks),
        "ticked until deactivation: {ticks}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count_of(id, "tick"), ticks);
    node.shutdown().await.unwrap();
}
