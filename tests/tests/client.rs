//! `goverse::Client` against real gates: typed proxies from outside the cluster, create and
//! delete, push messages in order, reliable calls and their errors, registering again when the
//! gate restarts, and failover to another gate with a new client id.

use std::net::SocketAddr;
use std::time::Duration;

use goverse::access::{Access, AccessRule};
use goverse::gate::GateConfig;
use goverse::limits::{RATE_LIMITED, RateLimit, retry_after};
use goverse::prelude::*;
use goverse::{Client, ErrorKind, Node};
use goverse_tests::harness::{Etcd, free_port};
use goverse_tests::{Account, Counter, cluster_builder, count_of};
use serde::{Deserialize, Serialize};

/// Pushes to whoever calls it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Echoer {
    sent: u64,
}

#[goverse::object]
impl Echoer {
    /// Pushes `count` numbered messages to the calling client; returns its client id.
    #[method]
    pub async fn echo(&mut self, ctx: &Context, count: u64) -> goverse::Result<String> {
        let client = ctx
            .caller()
            .and_then(|caller| caller.client_id.clone())
            .ok_or_else(|| goverse::Error::invalid_argument("called without a client"))?;
        for n in 0..count {
            self.sent += 1;
            ctx.push(
                &client,
                &serde_json::json!({"n": n, "from": ctx.object_id()}),
            )
            .await?;
        }
        Ok(client)
    }

    /// Sends `text` to every connected client.
    #[method]
    pub async fn announce(&self, ctx: &Context, text: String) -> goverse::Result<usize> {
        ctx.broadcast(&text).await
    }
}

async fn node_with_gate() -> Node {
    Node::builder()
        .gate(GateConfig {
            http_listen: None,
            ..GateConfig::default()
        })
        .start()
        .await
        .unwrap()
}

fn gate_url(node: &Node) -> String {
    format!(
        "http://{}",
        node.gate_grpc_address().expect("the gate serves gRPC")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_proxies_work_through_a_gate() {
    let node = node_with_gate().await;
    let client = Client::connect(&gate_url(&node)).await.unwrap();
    let counter = client.object::<Counter>("client-1");
    assert_eq!(counter.add(5).await.unwrap(), 5);
    assert_eq!(counter.add(2).await.unwrap(), 7);
    assert_eq!(counter.get().await.unwrap(), 7);
    // The node sees the same object.
    assert_eq!(node.object::<Counter>("client-1").get().await.unwrap(), 7);
    // Errors keep their kind.
    let error = client
        .object::<Account>("client-1")
        .withdraw(10)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::App, "{error}");
    // Create and delete.
    client.create::<Counter>("client-2").await.unwrap();
    assert!(node.list_objects().iter().any(|k| k.id() == "client-2"));
    client.delete::<Counter>("client-2").await.unwrap();
    assert!(!node.list_objects().iter().any(|k| k.id() == "client-2"));
    drop(client);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_reach_the_client_in_order() {
    let node = node_with_gate().await;
    let client = Client::connect(&gate_url(&node)).await.unwrap();
    let my_id = client.client_id().expect("registered");
    let echoed = client.object::<Echoer>("echo-1").echo(100).await.unwrap();
    assert_eq!(echoed, my_id, "the object saw this client's id");
    for n in 0..100u64 {
        let message = client.next_message().await.expect("a message");
        let value: serde_json::Value = message.decode().unwrap();
        assert_eq!(value, serde_json::json!({"n": n, "from": "echo-1"}));
    }
    let other = Client::connect(&gate_url(&node)).await.unwrap();
    let reached = client
        .object::<Echoer>("echo-1")
        .announce("hello all".into())
        .await
        .unwrap();
    assert_eq!(reached, 2);
    for receiver in [&client, &other] {
        let message = receiver.next_message().await.unwrap();
        assert_eq!(message.decode::<String>().unwrap(), "hello all");
    }
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_calls_through_the_client_run_once() {
    let node = node_with_gate().await;
    let client = Client::connect(&gate_url(&node)).await.unwrap();
    let account = client.object::<Account>("client-rc");
    let call_id = goverse::new_call_id();
    assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
    assert_eq!(account.reliable(&call_id).deposit(5).await.unwrap(), 5);
    assert_eq!(count_of("client-rc", "deposit 5"), 1);
    let error = account.reliable(&call_id).deposit(6).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_call_errors_keep_their_kind_and_code() {
    let node = Node::builder()
        .access_rules([
            AccessRule::new("Account", Access::Internal).method("balance"),
            AccessRule::new("Account", Access::Allow),
            AccessRule::new("Counter", Access::Allow),
        ])
        .gate(GateConfig {
            http_listen: None,
            rate_limits: vec![RateLimit::per_type("Counter", 0.001, 1)],
            ..GateConfig::default()
        })
        .start()
        .await
        .unwrap();
    let client = Client::connect(&gate_url(&node)).await.unwrap();
    let account = client.object::<Account>("client-rc-errors");

    // FAILED: the method's own application error, code and message.
    let error = account
        .reliable(goverse::new_call_id())
        .withdraw(10)
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code(), error.message()),
        (
            ErrorKind::App,
            Some("insufficient"),
            "balance 0 is below 10"
        ),
    );

    // SKIPPED by the access rules: permission denied, as for a plain call.
    let error = account
        .reliable(goverse::new_call_id())
        .balance()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    let plain = account.balance().await.unwrap_err();
    assert_eq!(plain.kind(), ErrorKind::PermissionDenied, "{plain}");

    // SKIPPED by a rate limit: resource exhausted, with the limit's code and retry hint.
    let counter = client.object::<Counter>("client-rc-limited");
    assert_eq!(
        counter
            .reliable(goverse::new_call_id())
            .add(1)
            .await
            .unwrap(),
        1
    );
    let error = counter
        .reliable(goverse::new_call_id())
        .add(1)
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::ResourceExhausted, Some(RATE_LIMITED)),
        "{error}"
    );
    assert!(retry_after(&error).is_some(), "no retry hint in {error}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_registers_again_when_its_gate_restarts() {
    let grpc = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let start = || {
        Node::builder()
            .gate(GateConfig {
                grpc_listen: Some(grpc),
                http_listen: None,
                ..GateConfig::default()
            })
            .start()
    };
    let node = start().await.unwrap();
    let client = Client::builder()
        .gate(format!("http://{grpc}"))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let first_id = client.client_id().unwrap();
    assert_eq!(
        client.object::<Counter>("restart-1").add(1).await.unwrap(),
        1
    );

    node.shutdown().await.unwrap();
    let node = start().await.unwrap();
    let second_id = client
        .wait_registered(Some(&first_id), Duration::from_secs(30))
        .await
        .unwrap();
    assert_ne!(first_id, second_id);
    // Calls work again (the new node starts the counter afresh), and pushes reach the client
    // under its new id.
    assert_eq!(
        client.object::<Counter>("restart-1").add(1).await.unwrap(),
        1
    );
    let echoed = client
        .object::<Echoer>("echo-restart")
        .echo(2)
        .await
        .unwrap();
    assert_eq!(echoed, second_id);
    for n in 0..2u64 {
        let value: serde_json::Value = client.next_message().await.unwrap().decode().unwrap();
        assert_eq!(value, serde_json::json!({"n": n, "from": "echo-restart"}));
    }
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_client_fails_over_to_another_gate() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/client-failover";
    let start = |id: &'static str| {
        cluster_builder(&etcd, prefix, id, 16)
            .stability_window(Duration::from_millis(300))
            .gate(GateConfig {
                http_listen: None,
                ..GateConfig::default()
            })
            .start()
    };
    let n1 = start("n1").await.unwrap();
    let n2 = start("n2").await.unwrap();
    for node in [&n1, &n2] {
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }
    let client = Client::builder()
        .gate(gate_url(&n1))
        .gate(gate_url(&n2))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let first_id = client.client_id().unwrap();
    let counter = client.object::<Counter>("failover-1");
    assert_eq!(counter.add(1).await.unwrap(), 1);

    n1.shutdown().await.unwrap();
    let second_id = client
        .wait_registered(Some(&first_id), Duration::from_secs(30))
        .await
        .unwrap();
    assert_ne!(first_id, second_id);
    // Calls go through the second gate; the counter moved with its shard to n2 (its state is
    // in memory, so it starts again unless n2 already had it).
    let value = counter.add(1).await.unwrap();
    assert!(value >= 1);
    // And pushes reach the client under its new id.
    client.object::<Echoer>("echo-2").echo(3).await.unwrap();
    for n in 0..3u64 {
        let value: serde_json::Value = client.next_message().await.unwrap().decode().unwrap();
        assert_eq!(value["n"], n);
    }
    n2.shutdown().await.unwrap();
}
