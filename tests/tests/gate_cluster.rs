//! Gates in a cluster with real etcd: a node pushes to a client of another process's gate
//! (PUSH-01), a gate-only process reaches a node restarted on the same address (NODE-03),
//! nodes forget a stopped gate and see it again when it comes back (GATE-04), a call
//! through a gate gets the default call timeout (TMO-01), and every outcome of a push over
//! sockets — delivered, broadcast to two gates, an id naming no gate, a full queue, a killed
//! gate — is the documented error and is counted.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Client, ErrorKind, Node, NodeBuilder};
use goverse_tests::harness::{Etcd, Process, free_port};
use goverse_tests::{Counter, cluster_builder, wait_until};
use prost::Message as _;
use serde::{Deserialize, Serialize};

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod gate {
    tonic::include_proto!("gate");
}

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

    /// Sends `text` to every client of every gate; returns how many queues took it.
    #[method]
    pub async fn announce(&self, ctx: &Context, text: String) -> goverse::Result<usize> {
        ctx.broadcast(&text).await
    }

    /// Pushes up to `limit` messages of `bytes` bytes to `client`, stopping at the first
    /// refusal (its error); returns `limit` if none was refused.
    #[method]
    pub async fn flood(
        &self,
        ctx: &Context,
        client: String,
        bytes: u64,
        limit: u32,
    ) -> goverse::Result<u32> {
        let text = "x".repeat(bytes as usize);
        for _ in 0..limit {
            ctx.push(&client, &text).await?;
        }
        Ok(limit)
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

/// A gate-only `test-node` process with gRPC and a lease of `lease_ttl`; returns it and the
/// address its gate serves gRPC at.
async fn spawn_gate(etcd: &Etcd, prefix: &str, id: &str, lease_ttl: Duration) -> (Process, String) {
    let process = Process::spawn(
        Path::new(env!("CARGO_BIN_EXE_test-node")),
        &[
            &etcd.endpoint(),
            prefix,
            id,
            &SHARDS.to_string(),
            &lease_ttl.as_millis().to_string(),
            "300",
        ],
        &[("GOVERSE_TEST_GATE_ONLY", "1")],
    );
    let line = process
        .wait_for_line_async("gate-grpc ", Duration::from_secs(30))
        .await;
    let address = line.split_once("gate-grpc ").unwrap().1.trim().to_string();
    (process, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_outcomes_over_sockets_are_defined_and_counted() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/push-outcomes";
    // g1: a gate process whose lease outlives a crash by 10 s; n2: a node with a gate whose
    // client queues hold 4 messages; n1: a node without a gate, where the pushing object lives.
    let (mut g1, g1_grpc) = spawn_gate(&etcd, prefix, "g1", Duration::from_secs(10)).await;
    let n1 = node(&etcd, prefix, "n1").start().await.unwrap();
    let n2 = node(&etcd, prefix, "n2")
        .gate(GateConfig {
            client_queue: 4,
            ..grpc_only()
        })
        .start()
        .await
        .unwrap();
    ready(&[&n1, &n2]).await;
    wait_until("n1 sees both gates", Duration::from_secs(10), || {
        let view = n1.cluster_view();
        view.gates.contains_key("g1") && view.gates.contains_key("n2")
    })
    .await;
    let on_g1 = Client::connect(&format!("http://{g1_grpc}")).await.unwrap();
    let on_n2 = Client::connect(&format!("http://{}", n2.gate_grpc_address().unwrap()))
        .await
        .unwrap();
    let greeter = n1.object::<Greeter>(&ids_on(&n1, "n1", 1)[0]);

    // A broadcast reaches the clients of both gates.
    assert_eq!(greeter.announce("to all".into()).await.unwrap(), 2);
    for client in [&on_g1, &on_n2] {
        let message = client.next_message().await.unwrap();
        assert_eq!(message.decode::<String>().unwrap(), "to all");
    }
    assert_eq!(n1.push_stats().pushes_delivered, 2);

    // An id naming an address that is no gate of the cluster is an unknown client, and the
    // node never connects there (a connection would sit in the listener's backlog by the time
    // the push returned).
    let bait = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    bait.set_nonblocking(true).unwrap();
    let error = greeter
        .greet(format!("{}/anyone", bait.local_addr().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert!(
        matches!(bait.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the node connected to an address named by a client id"
    );
    // So is n1 itself: a node, not a gate.
    let error = greeter
        .greet(format!("{}/anyone", n1.address().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert_eq!(n1.push_stats().pushes_unknown_client, 2);

    // An unknown client of a real gate: the gate counts it as well.
    let error = greeter
        .greet(format!("{}/nobody", n2.address().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert_eq!(n1.push_stats().pushes_unknown_client, 3);
    assert_eq!(n2.gate_stats().unwrap().pushes_unknown_client, 1);

    // A client that does not read its stream: once the stream and its queue are full, the
    // next push is dropped, and both the pushing node and the gate count it.
    let mut raw = gate::gate_service_client::GateServiceClient::connect(format!(
        "http://{}",
        n2.gate_grpc_address().unwrap()
    ))
    .await
    .unwrap();
    let mut stream = raw.register(gate::Empty {}).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap();
    let silent = gate::RegisterResponse::decode(&first.value[..])
        .unwrap()
        .client_id;
    let error = greeter.flood(silent, 64 * 1024, 1000).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResourceExhausted, "{error}");
    assert_eq!(n1.push_stats().pushes_dropped_full, 1);
    let stats = n2.gate_stats().unwrap();
    assert_eq!((stats.clients, stats.pushes_dropped_full), (2, 1));
    assert!(stats.pushes_delivered >= 5, "{stats:?}");
    drop(stream);
    wait_until(
        "n2's gate forgets the client that went away",
        Duration::from_secs(10),
        || n2.gate_stats().unwrap().clients == 1,
    )
    .await;

    // g1 crashes: until its lease expires it is still a gate of the cluster, so a push to its
    // client is `Unavailable` (lost), and after that `NotFound`.
    let lost = on_g1.client_id().unwrap();
    drop(on_g1);
    g1.kill_hard();
    assert!(
        n1.cluster_view().gates.contains_key("g1"),
        "the killed gate's lease is still live"
    );
    let error = greeter.greet(lost.clone()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert_eq!(n1.push_stats().pushes_gate_unreachable, 1);
    // A broadcast still reaches n2's client and counts the unreachable gate once.
    assert_eq!(greeter.announce("after the crash".into()).await.unwrap(), 1);
    let message = on_n2.next_message().await.unwrap();
    assert_eq!(message.decode::<String>().unwrap(), "after the crash");
    assert_eq!(n1.push_stats().pushes_gate_unreachable, 2);
    wait_until(
        "n1 drops the killed gate when its lease expires",
        Duration::from_secs(30),
        || !n1.cluster_view().gates.contains_key("g1"),
    )
    .await;
    let error = greeter.greet(lost).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    let stats = n1.push_stats();
    assert_eq!(
        (stats.pushes_unknown_client, stats.pushes_gate_unreachable),
        (4, 2)
    );
    // The remaining gate still gets broadcasts.
    assert_eq!(greeter.announce("still here".into()).await.unwrap(), 1);
    let message = on_n2.next_message().await.unwrap();
    assert_eq!(message.decode::<String>().unwrap(), "still here");
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}
