//! Gates in a cluster with real etcd: a node pushes to a client of another process's gate
//! (PUSH-01), a gate-only process reaches a node restarted on the same address (NODE-03),
//! nodes forget a stopped gate and see it again when it comes back (GATE-04), and a call
//! through a gate gets the default call timeout (TMO-01).

use std::net::SocketAddr;
use std::time::Duration;

use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Client, ErrorKind, Node, NodeBuilder};
use goverse_tests::harness::{Etcd, free_port};
use goverse_tests::{Counter, cluster_builder, wait_until};
use serde::{Deserialize, Serialize};

const SHARDS: u32 = 16;

/// Pushes a greeting to a client, from whichever node hosts it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    /// Pushes `Hello from <node>` to `client`.
    #[method]
    pub async fn greet(&self, ctx: &Context, client: String) -> goverse::Result<String> {
        let text = format!("Hello from {}", ctx.node_id());
        ctx.push(&client, &text).await?;
        Ok(ctx.node_id().to_string())
    }
}

fn grpc_only() -> GateConfig {
    GateConfig {
        http_listen: None,
        ..GateConfig::default()
    }
}

fn node(etcd: &Etcd, prefix: &str, id: &str) -> NodeBuilder {
    cluster_builder(etcd, prefix, id, SHARDS)
        .stability_window(Duration::from_millis(300))
        .lease_ttl(Duration::from_secs(2))
}

async fn ready(nodes: &[&Node]) {
    for node in nodes {
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }
}

/// Ids of `Greeter`s whose shards `node_id` owns in `viewer`'s view.
fn ids_on(viewer: &Node, node_id: &str, count: usize) -> Vec<String> {
    let view = viewer.cluster_view();
    (0..)
        .map(|i| format!("greeter-{i}"))
        .filter(|id| view.owners.owner(goverse::sharding::shard_of(id, SHARDS)) == Some(node_id))
        .take(count)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_cross_nodes_and_gates_follow_restarts() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/gate-cluster";
    let n2_listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let gate = node(&etcd, prefix, "g1")
        .gate_only(grpc_only())
        .start()
        .await
        .unwrap();
    let n1 = node(&etcd, prefix, "n1").start().await.unwrap();
    let n2 = node(&etcd, prefix, "n2")
        .listen(n2_listen)
        .start()
        .await
        .unwrap();
    ready(&[&n1, &n2]).await;
    wait_until(
        "the gate is seen by the nodes",
        Duration::from_secs(10),
        || n1.cluster_view().gates.contains_key("g1") && n2.cluster_view().gates.contains_key("g1"),
    )
    .await;
    assert!(
        !n1.cluster_view().nodes.contains_key("g1"),
        "a gate is not a node"
    );

    let client = Client::connect(&format!("http://{}", gate.gate_grpc_address().unwrap()))
        .await
        .unwrap();
    let me = client.client_id().unwrap();

    // PUSH-01: objects on both nodes push to the client of the gate-only process.
    for node_id in ["n1", "n2"] {
        let id = &ids_on(&n1, node_id, 1)[0];
        let served_by = n1.object::<Greeter>(id).greet(me.clone()).await.unwrap();
        assert_eq!(served_by, node_id);
        let message = client.next_message().await.unwrap();
        assert_eq!(
            message.decode::<String>().unwrap(),
            format!("Hello from {node_id}")
        );
    }

    // NODE-03: n2 stops and a new node starts on the same address; the gate reaches it.
    n2.shutdown().await.unwrap();
    let n2 = node(&etcd, prefix, "n2")
        .listen(n2_listen)
        .start()
        .await
        .unwrap();
    ready(&[&n1, &n2]).await;
    wait_until(
        "the restarted n2 owns shards",
        Duration::from_secs(30),
        || !ids_on(&n1, "n2", 1).is_empty() && !ids_on(&gate, "n2", 1).is_empty(),
    )
    .await;
    let id = &ids_on(&gate, "n2", 1)[0];
    let served_by = client
        .object::<Greeter>(id)
        .greet(me.clone())
        .await
        .unwrap();
    assert_eq!(served_by, "n2");
    assert_eq!(
        client
            .next_message()
            .await
            .unwrap()
            .decode::<String>()
            .unwrap(),
        "Hello from n2"
    );

    // GATE-04: the gate stops; nodes drop it at once (its lease is revoked), and see it again
    // when a gate with the same id comes back.
    drop(client);
    gate.shutdown().await.unwrap();
    wait_until(
        "the nodes drop the stopped gate",
        Duration::from_secs(1),
        || {
            !n1.cluster_view().gates.contains_key("g1")
                && !n2.cluster_view().gates.contains_key("g1")
        },
    )
    .await;
    let gate = node(&etcd, prefix, "g1")
        .gate_only(grpc_only())
        .start()
        .await
        .unwrap();
    wait_until(
        "the returning gate is seen",
        Duration::from_secs(10),
        || n1.cluster_view().gates.contains_key("g1"),
    )
    .await;
    gate.shutdown().await.unwrap();
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_a_gate_get_the_default_timeout() {
    let node = Node::builder()
        .call_timeout(Duration::from_secs(2))
        .gate(grpc_only())
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .gate(format!("http://{}", node.gate_grpc_address().unwrap()))
        .call_timeout(Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    let began = tokio::time::Instant::now();
    let error = client
        .object::<Counter>("tmo-1")
        .slow_add(1, 3_000)
        .await
        .unwrap_err();
    let took = began.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "the call failed after {took:?}"
    );
    node.shutdown().await.unwrap();
}
