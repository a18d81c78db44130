//! Several nodes in one process against a real etcd: membership, routing between nodes,
//! hand-off without errors, graceful shutdown, shard count checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use goverse::prelude::*;
use goverse_tests::harness::Etcd;
use goverse_tests::{Counter, Placed, Relay, cluster_builder, double_activations, wait_until};

const SHARDS: u32 = 64;

fn prefix(test: &str) -> String {
    format!("/goverse-test/{test}")
}

async fn start_node(etcd: &Etcd, prefix: &str, id: &str) -> Node {
    cluster_builder(etcd, prefix, id, SHARDS)
        .stability_window(Duration::from_millis(300))
        .call_timeout(Duration::from_secs(20))
        .start()
        .await
        .unwrap_or_else(|e| panic!("node {id} starts: {e}"))
}

async fn ready(nodes: &[&Node]) {
    for node in nodes {
        node.wait_ready(Duration::from_secs(30))
            .await
            .expect("node ready");
    }
}

/// Waits until every node's view shows `count` live nodes and is ready again.
async fn converge(nodes: &[&Node], count: usize) {
    for node in nodes {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while node.cluster_view().nodes.len() != count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "membership did not converge"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ready(nodes).await;
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_the_shards_and_route_calls() {
    let etcd = Etcd::start_async().await;
    let prefix = prefix("three-nodes");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    let n2 = start_node(&etcd, &prefix, "n2").await;
    let n3 = start_node(&etcd, &prefix, "n3").await;
    converge(&[&n1, &n2, &n3], 3).await;
    // Ready means the targets are assigned; the new owners claim their shards right after.
    wait_until(
        "every shard is owned by its target",
        Duration::from_secs(30),
        || {
            let view = n1.cluster_view();
            (0..SHARDS).all(|shard| {
                view.owners.owner(shard).is_some()
                    && view.owners.owner(shard) == view.targets.owner(shard)
            })
        },
    )
    .await;

    let view = n1.cluster_view();
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for shard in 0..SHARDS {
        let owner = view.owners.owner(shard).expect("every shard has an owner");
        *per_node.entry(owner.to_string()).or_default() += 1;
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    assert!(
        per_node.values().all(|&n| (21..=22).contains(&n)),
        "balanced: {per_node:?}"
    );

    // Calls from any node reach the one owner of each object.
    let ids = ids("spread", 60);
    for id in &ids {
        assert_eq!(n1.object::<Counter>(id).add(1).await.unwrap(), 1);
        assert_eq!(n2.object::<Counter>(id).add(1).await.unwrap(), 2);
        assert_eq!(n3.object::<Counter>(id).get().await.unwrap(), 2);
    }
    let active: Vec<usize> = [&n1, &n2, &n3]
        .iter()
        .map(|n| n.list_objects().len())
        .collect();
    assert_eq!(
        active.iter().sum::<usize>(),
        60,
        "each object is active exactly once: {active:?}"
    );
    assert!(
        active.iter().all(|&n| n > 0),
        "objects live on every node: {active:?}"
    );

    // Calls by name and create/delete go to the owner too.
    let result = n2
        .call_by_name(
            "Counter",
            "spread-0",
            "add",
            goverse::Payload::new(goverse::Codec::Json, r#"{"n":5}"#),
        )
        .await
        .unwrap();
    assert_eq!(&result.bytes[..], b"7");
    n3.delete::<Counter>("spread-0").await.unwrap();
    assert_eq!(n1.object::<Counter>("spread-0").get().await.unwrap(), 0);

    // An id pinned to a node's address lives on that node, whichever node calls it.
    let pinned = format!("{}/pinned", n2.address().unwrap());
    assert_eq!(
        n1.object::<Placed>(&pinned).hit().await.unwrap(),
        ("n2".to_string(), 1)
    );
    assert_eq!(
        n3.object::<Placed>(&pinned).hit().await.unwrap(),
        ("n2".to_string(), 2)
    );

    // Every node publishes its load in its registration.
    wait_until("n1 sees the load of n2", Duration::from_secs(15), || {
        n1.cluster_view()
            .nodes
            .get("n2")
            .is_some_and(|info| info.objects > 0)
    })
    .await;

    for node in [n1, n2, n3] {
        node.shutdown().await.unwrap();
    }
}

/// Two nodes `n1` and `n2` of one cluster, both ready.
async fn two_nodes(etcd: &Etcd, test: &str) -> (Node, Node) {
    let prefix = prefix(test);
    let n1 = start_node(etcd, &prefix, "n1").await;
    let n2 = start_node(etcd, &prefix, "n2").await;
    converge(&[&n1, &n2], 2).await;
    (n1, n2)
}

/// The first id `<prefix>-<i>` whose shard `owner` serves, as `from` sees the cluster.
fn id_on(from: &Node, owner: &str, prefix: &str) -> String {
    let view = from.cluster_view();
    (0..1000)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| view.owners.owner(goverse::sharding::shard_of(id, SHARDS)) == Some(owner))
        .unwrap_or_else(|| panic!("node {owner} serves none of the first 1000 {prefix} ids"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_cycles_are_detected_across_nodes() {
    let etcd = Etcd::start_async().await;
    let (n1, n2) = two_nodes(&etcd, "cycles").await;
    // Two relays on different nodes.
    let a = id_on(&n1, "n1", "relay");
    let b = id_on(&n1, "n2", "relay");
    let relay = n1.object::<Relay>(&a);
    assert_eq!(
        relay.forward(vec![b.clone()]).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    let error = relay.forward(vec![b.clone(), a.clone()]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadlock, "{error}");
    assert!(
        error
            .message()
            .contains(&format!("Relay/{a} -> Relay/{b} -> Relay/{a}")),
        "{error}"
    );
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_callers_deadline_reaches_the_serving_node() {
    let etcd = Etcd::start_async().await;
    let (n1, n2) = two_nodes(&etcd, "deadline").await;
    let counter = n1.object::<Counter>(&id_on(&n1, "n2", "deadline"));
    // Both nodes default to 20 s; the turn on n2 sees the caller's 3 s.
    let remaining = counter
        .with_timeout(Duration::from_secs(3))
        .remaining_ms()
        .await
        .unwrap();
    assert!((1_000..=3_000).contains(&remaining), "{remaining} ms left");
    // A turn past the caller's deadline is stopped on n2 too: the object is free at once for
    // the next call instead of sleeping on for a minute.
    let hurried = counter.with_timeout(Duration::from_millis(200));
    assert_eq!(
        hurried.slow_add(1, 60_000).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
    let began = tokio::time::Instant::now();
    assert_eq!(
        counter
            .with_timeout(Duration::from_secs(10))
            .add(1)
            .await
            .unwrap(),
        1
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_with_another_shard_count_refuses_to_join() {
    let etcd = Etcd::start_async().await;
    let prefix = prefix("shard-count");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    let error = Node::builder()
        .etcd([etcd.endpoint()])
        .prefix(&prefix)
        .node_id("n2")
        .shards(128)
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(
        error.message().contains("created with 64 shards"),
        "{error}"
    );
    assert!(error.message().contains("configured with 128"), "{error}");
    n1.shutdown().await.unwrap();
}

/// Calls `hit` on every id in a loop from several tasks until `stop`; returns (calls, errors).
fn steady_load(
    node: Arc<Node>,
    ids: Vec<String>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    tokio::spawn(async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(parking_errors());
        let workers = (0..8).map(|worker| {
            let node = node.clone();
            let ids = ids.clone();
            let stop = stop.clone();
            let calls = calls.clone();
            let errors = errors.clone();
            tokio::spawn(async move {
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[i % ids.len()];
                    match node.object::<Placed>(id).hit().await {
                        Ok(_) => {
                            calls.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => errors.lock().unwrap().push(format!("{id}: {error}")),
                    }
                    i += 7;
                }
            })
        });
        join_all(workers).await;
        let errors = errors.lock().unwrap().clone();
        (calls.load(Ordering::Relaxed), errors)
    })
}

fn parking_errors() -> std::sync::Mutex<Vec<String>> {
    std::sync::Mutex::new(Vec::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn growing_and_shrinking_under_load_loses_no_call() {
    let etcd = Etcd::start_async().await;
    let prefix = prefix("rebalance");
    let n1 = Arc::new(start_node(&etcd, &prefix, "n1").await);
    let n2 = start_node(&etcd, &prefix, "n2").await;
    converge(&[&n1, &n2], 2).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(n1.clone(), ids("placed", 40), stop.clone());

    // Grow to three nodes: a third of the shards move while calls keep coming.
    let n3 = start_node(&etcd, &prefix, "n3").await;
    converge(&[&n1, &n2, &n3], 3).await;
    wait_until(
        "objects are served by the new node",
        Duration::from_secs(30),
        || !n3.list_objects().is_empty(),
    )
    .await;
    // Shrink: n2 leaves gracefully; its shards move to the others.
    assert!(
        !n2.list_objects().is_empty(),
        "n2 served objects before leaving"
    );
    n2.shutdown().await.unwrap();
    converge(&[&n1, &n3], 2).await;
    for id in ids("placed", 40) {
        let (node, _) = n1.object::<Placed>(&id).hit().await.unwrap();
        assert_ne!(node, "n2", "{id} is served by a node that left");
    }

    stop.store(true, Ordering::Relaxed);
    let (calls, errors) = load.await.unwrap();
    assert!(
        errors.is_empty(),
        "{} of {calls} calls failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(calls > 100, "the load ran ({calls} calls)");
    assert_eq!(
        double_activations(),
        0,
        "an object was active on two nodes at once"
    );
    let n1 = Arc::try_unwrap(n1).expect("load finished");
    n1.shutdown().await.unwrap();
    n3.shutdown().await.unwrap();
}
