//! Errors and bad input: application errors, unknown names, bad ids and arguments, panics,
//! timeouts.

use std::time::Duration;

use goverse::prelude::*;
use goverse::{Codec, Payload};
use goverse_tests::Counter;

fn json(body: &str) -> Payload {
    Payload::new(Codec::Json, body.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_errors_keep_their_code_and_message() {
    let node = Node::builder().start().await.unwrap();
    let error = node
        .object::<Counter>("app-err")
        .give("x".into(), 1)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::App);
    assert_eq!(error.code(), Some("insufficient"));
    assert_eq!(error.message(), "not enough to give");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_by_name_take_named_json_arguments() {
    let node = Node::builder().start().await.unwrap();
    let result = node
        .call_by_name("Counter", "by-name", "add", json(r#"{"n": 7}"#))
        .await
        .unwrap();
    assert_eq!(result.codec, Codec::Json);
    assert_eq!(&result.bytes[..], b"7");
    let result = node
        .call_by_name("Counter", "by-name", "get", json("{}"))
        .await
        .unwrap();
    assert_eq!(&result.bytes[..], b"7");
    // The typed proxy sees the same object.
    assert_eq!(node.object::<Counter>("by-name").get().await.unwrap(), 7);
    // MessagePack works the same way.
    let args = Codec::MsgPack.encode(&serde_json::json!({"n": 1})).unwrap();
    let result = node
        .call_by_name("Counter", "by-name", "add", args)
        .await
        .unwrap();
    assert_eq!(result.decode::<i64>("result").unwrap(), 8);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_types_and_methods_are_named() {
    let node = Node::builder().start().await.unwrap();
    let error = node
        .call_by_name("Nope", "x", "add", json("{}"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error.message().contains("unknown object type `Nope`"),
        "{error}"
    );
    assert!(
        error.message().contains("Counter"),
        "lists the registered types: {error}"
    );

    let error = node
        .call_by_name("Counter", "x", "nope", json("{}"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.message().contains("has no method `nope`"), "{error}");
    assert!(
        error.message().contains("add, get, give"),
        "lists the methods: {error}"
    );

    let error = node.create_by_name("Nope", "x").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_are_invalid_arguments() {
    let node = Node::builder().start().await.unwrap();
    let error = node.object::<Counter>("").add(1).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("must not be empty"), "{error}");

    let long = "x".repeat(goverse::MAX_ID_LEN + 1);
    let error = node.object::<Counter>(&long).add(1).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("1025 bytes"), "{error}");
    assert_eq!(
        node.create::<Counter>("").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        node.delete::<Counter>(&long).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    // Any other string is a valid id, and pinning to another node is refused in embedded mode.
    assert_eq!(
        node.object::<Counter>("ünï cödé / with spaces")
            .add(1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        node.object::<Counter>("shard#3/pinned")
            .add(2)
            .await
            .unwrap(),
        2
    );
    let error = node
        .object::<Counter>("10.1.2.3:7000/elsewhere")
        .add(1)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        error.message().contains("pinned to node `10.1.2.3:7000`"),
        "{error}"
    );
    assert!(
        node.list_objects().len() == 2,
        "no activation for refused ids"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_invalid_arguments_that_say_why() {
    let node = Node::builder().start().await.unwrap();
    let cases = [
        (r#"{"n": "five"}"#, "invalid type"),
        (r#"{}"#, "missing argument `n`"),
        (r#"{"n": 1, "m": 2}"#, "unknown argument `m`"),
        (r#"{"n": 1"#, "EOF"),
        (r#"{"n": 1} trailing"#, "trailing characters"),
        ("", "EOF"),
    ];
    for (body, expected) in cases {
        let error = node
            .call_by_name("Counter", "bad-args", "add", json(body))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{body}: {error}");
        assert!(
            error.message().contains("the arguments of Counter.add"),
            "{body}: {error}"
        );
        assert!(error.message().contains(expected), "{body}: {error}");
    }
    let garbage = Payload::new(Codec::MsgPack, vec![0xc1, 0xff, 0x00]);
    let error = node
        .call_by_name("Counter", "bad-args", "add", garbage)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(
        node.list_objects().is_empty(),
        "bad input activates nothing"
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_the_call_and_drops_only_that_activation() {
    let node = Node::builder().start().await.unwrap();
    let victim = node.object::<Counter>("panicky");
    let bystander = node.object::<Counter>("bystander");
    victim.add(10).await.unwrap();
    bystander.add(1).await.unwrap();

    let error = victim.set_then_panic(99).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal);
    assert!(
        error.message().contains("Counter.set_then_panic"),
        "{error}"
    );
    assert!(error.message().contains("`panicky`"), "{error}");
    assert!(error.message().contains("boom at 99"), "{error}");

    // The half-updated state is gone: the next call starts a fresh activation.
    assert_eq!(victim.get().await.unwrap(), 0);
    assert_eq!(bystander.get().await.unwrap(), 1);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_queued_behind_a_panic_run_on_a_fresh_activation() {
    let node = Node::builder().start().await.unwrap();
    let counter = node.object::<Counter>("panic-queue");
    let panicking = {
        let counter = counter.clone();
        tokio::spawn(async move { counter.set_then_panic(5).await })
    };
    let queued: Vec<_> = (0..10)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move { counter.add(1).await })
        })
        .collect();
    assert!(panicking.await.unwrap().is_err());
    for call in queued {
        call.await.unwrap().unwrap();
    }
    assert!(counter.get().await.unwrap() <= 10);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_timeout_applies_and_the_object_stays_usable() {
    let node = Node::builder()
        .call_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let counter = node.object::<Counter>("slow-1");
    let started = std::time::Instant::now();
    let error = counter.slow_add(1, 60_000).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.message().contains("Counter.slow_add"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The timed-out turn was cancelled at its deadline: the object serves the next call.
    assert_eq!(counter.add(2).await.unwrap(), 2);
    // The deadline reaches the method through the context.
    let remaining = counter.remaining_ms().await.unwrap();
    assert!(remaining <= 300 && remaining > 0, "{remaining}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_can_override_the_timeout() {
    let node = Node::builder().start().await.unwrap();
    let counter = node.object::<Counter>("slow-2");
    let hurried = counter.with_timeout(Duration::from_millis(100));
    assert_eq!(
        hurried.slow_add(1, 60_000).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
    let remaining = hurried.remaining_ms().await.unwrap();
    assert!(remaining <= 100, "{remaining}");
    let patient = counter.with_timeout(Duration::from_secs(3600));
    assert!(patient.remaining_ms().await.unwrap() > 3_000_000);
    assert_eq!(patient.slow_add(1, 10).await.unwrap(), 1);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_calls_inherit_the_deadline() {
    let node = Node::builder()
        .call_timeout(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let alice = node
        .object::<Counter>("deadline-alice")
        .with_timeout(Duration::from_millis(200));
    // alice's turn calls bob.slow_add, which would take a minute: alice's deadline applies to it.
    let started = std::time::Instant::now();
    let error = alice
        .slow_add_on("deadline-bob".into(), 60_000)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // bob's turn was cancelled at the same deadline, so bob serves the next call at once.
    let bob = node
        .object::<Counter>("deadline-bob")
        .with_timeout(Duration::from_secs(10));
    assert_eq!(bob.add(1).await.unwrap(), 1);
    node.shutdown().await.unwrap();
}
