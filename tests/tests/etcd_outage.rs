//! Nodes in this process against an etcd that goes away: a short outage costs nothing (the
//! registration and its lease survive), the watch recovers after etcd restarts, a long outage
//! fences the node until etcd returns, and an unresponsive (paused) etcd does not stop a node
//! from serving the objects it has.
//!
//! Every test runs its own etcd with the lease TTL at 5 s.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use goverse::prelude::*;
use goverse_tests::harness::Etcd;
use goverse_tests::{POLL, Placed, cluster_builder, poll};
use tokio::time::Instant;

const SHARDS: u32 = 64;
const LEASE_TTL: Duration = Duration::from_secs(5);
const STABILITY_WINDOW: Duration = Duration::from_millis(500);

fn prefix(test: &str) -> String {
    format!("/goverse-etcd-outage/{test}")
}

async fn start_node(etcd: &Etcd, prefix: &str, id: &str) -> Node {
    cluster_builder(etcd, prefix, id, SHARDS)
        .lease_ttl(LEASE_TTL)
        .stability_window(STABILITY_WINDOW)
        .call_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap_or_else(|e| panic!("node {id} starts: {e}"))
}

/// Waits until every node sees `nodes.len()` members and is ready.
async fn converge(nodes: &[&Node]) {
    for node in nodes {
        let seen = poll(Duration::from_secs(30), || {
            node.cluster_view().nodes.len() == nodes.len()
        })
        .await;
        assert!(
            seen.is_some(),
            "{} sees {:?}",
            node.node_id(),
            node.cluster_view().nodes.keys().collect::<Vec<_>>()
        );
        node.wait_ready(Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{} ready: {e}", node.node_id()));
    }
}

/// [`poll`] with an async condition.
async fn poll_async<F: Future<Output = bool>>(
    limit: Duration,
    mut condition: impl FnMut() -> F,
) -> Option<Duration> {
    let began = Instant::now();
    loop {
        if condition().await {
            return Some(began.elapsed());
        }
        if began.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Watches nodes' views in the background and records every moment one of them is fenced.
struct FenceMonitor {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(String, Duration)>>,
}

impl FenceMonitor {
    fn start(nodes: Vec<Arc<Node>>) -> FenceMonitor {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let began = Instant::now();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for node in &nodes {
                        if node.cluster_view().fenced {
                            seen.push((node.node_id().to_string(), began.elapsed()));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen
            }
        });
        FenceMonitor { stop, task }
    }

    /// Stops watching; returns (node, time since the start) for every fenced view seen.
    async fn finish(self) -> Vec<(String, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("fence monitor")
    }
}

/// The lease that etcd key `key` is attached to (0 for none), read with `etcdctl`; `None` if
/// the key does not exist.
async fn lease_of(etcd: &Etcd, key: &str) -> Option<i64> {
    let endpoint = etcd.endpoint();
    let key = key.to_string();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "--command-timeout=5s"])
            .args(["get", &key, "-w", "json"])
            .output()
            .expect("run etcdctl");
        assert!(
            output.status.success(),
            "etcdctl get {key} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reply: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("etcdctl prints JSON");
        let kv = reply.get("kvs")?.get(0)?;
        Some(
            kv.get("lease")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
        )
    })
    .await
    .expect("etcdctl task")
}

/// Activates `Placed` objects `stem-0..count` through `node`.
async fn activate(node: &Node, stem: &str, count: usize) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|i| format!("{stem}-{i}")).collect();
    for id in &ids {
        node.object::<Placed>(id)
            .hit()
            .await
            .unwrap_or_else(|e| panic!("activating {id}: {e}"));
    }
    ids
}

/// Whether a `hit` on every id through `node`, each within `timeout`, succeeds.
async fn all_calls_succeed(node: &Node, ids: &[String], timeout: Duration) -> bool {
    for id in ids {
        if node
            .object::<Placed>(id)
            .with_timeout(timeout)
            .hit()
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_outage_keeps_the_registration() {
    let mut etcd = Etcd::start_async().await;
    let prefix = prefix("short-outage");
    let n1 = Arc::new(start_node(&etcd, &prefix, "n1").await);
    let n2 = Arc::new(start_node(&etcd, &prefix, "n2").await);
    converge(&[&n1, &n2]).await;
    let ids = activate(&n1, "short", 16).await;
    let leases = [
        lease_of(&etcd, &format!("{prefix}/nodes/n1")).await,
        lease_of(&etcd, &format!("{prefix}/nodes/n2")).await,
    ];
    assert!(
        leases.iter().all(|lease| lease.is_some_and(|l| l != 0)),
        "{leases:?}"
    );
    let monitor = FenceMonitor::start(vec![n1.clone(), n2.clone()]);

    etcd.stop();
    let stopped_at = Instant::now();
    // The outage itself, not a wait for anything to settle: 2 s is well below the 5 s lease
    // TTL (and below the TTL minus the fencing margin minus one renewal period, 2.75 s), so
    // the nodes must neither fence nor lose their registration.
    tokio::time::sleep(Duration::from_secs(2)).await;
    etcd.restart_async().await;
    let outage = stopped_at.elapsed();
    eprintln!("short outage: etcd was down for {outage:?}");

    let recovered = poll_async(Duration::from_secs(10), || async {
        let registered = [&n1, &n2].iter().all(|node| {
            let view = node.cluster_view();
            view.nodes.contains_key("n1") && view.nodes.contains_key("n2") && view.ready
        });
        registered
            && all_calls_succeed(&n1, &ids, Duration::from_secs(1)).await
            && all_calls_succeed(&n2, &ids, Duration::from_secs(1)).await
    })
    .await;
    let fenced = monitor.finish().await;
    assert!(
        fenced.is_empty(),
        "a {outage:?} etcd outage fenced a node (node, time since the outage began): {:?}",
        &fenced[..fenced.len().min(5)]
    );
    let view = |node: &Node| {
        let view = node.cluster_view();
        format!(
            "{}: nodes {:?}, ready {}, fenced {}",
            node.node_id(),
            view.nodes.keys().collect::<Vec<_>>(),
            view.ready,
            view.fenced
        )
    };
    let Some(took) = recovered else {
        panic!(
            "10 s after etcd restarted, the nodes are not both registered, ready and serving: \
             {}; {}\n--- etcd log ---\n{}",
            view(&n1),
            view(&n2),
            etcd.log()
        );
    };
    eprintln!("short outage: registered and serving {took:?} after the restart");
    let after = [
        lease_of(&etcd, &format!("{prefix}/nodes/n1")).await,
        lease_of(&etcd, &format!("{prefix}/nodes/n2")).await,
    ];
    assert_eq!(
        after, leases,
        "the registrations are not on the leases they had before the outage"
    );

    for node in [n1, n2] {
        Arc::try_unwrap(node)
            .expect("no task holds the node")
            .shutdown()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_recovers_after_restart() {
    let mut etcd = Etcd::start_async().await;
    let prefix = prefix("watch-restart");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    converge(&[&n1]).await;

    etcd.stop();
    etcd.restart_async().await;
    let restarted_at = Instant::now();
    let n2 = start_node(&etcd, &prefix, "n2").await;
    eprintln!(
        "watch recovery: n2 started {:?} after the restart",
        restarted_at.elapsed()
    );

    let seen = poll(Duration::from_secs(10), || {
        n1.cluster_view().nodes.contains_key("n2")
    })
    .await;
    let Some(took) = seen else {
        panic!(
            "10 s after n2 joined, n1 still sees only {:?} (its watch did not recover after \
             etcd restarted); n2 sees {:?}",
            n1.cluster_view().nodes.keys().collect::<Vec<_>>(),
            n2.cluster_view().nodes.keys().collect::<Vec<_>>()
        );
    };
    eprintln!("watch recovery: n1 saw n2 {took:?} after n2 started");
    // n1 may have read n2's registration in its reload after the restart; n2's shard claims
    // come at least a stability window after it joined, so only a live watch brings them.
    let claims = poll(Duration::from_secs(10), || {
        let view = n1.cluster_view();
        (0..SHARDS).any(|shard| view.owners.owner(shard) == Some("n2"))
    })
    .await;
    assert!(
        claims.is_some(),
        "n1 never saw n2 own a shard: its watch did not recover after etcd restarted"
    );

    // The two then share the shards and call each other.
    converge(&[&n1, &n2]).await;
    let ids = activate(&n2, "watch", 16).await;
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let (node, _) = n1.object::<Placed>(id).hit().await.expect("hit through n1");
        *served.entry(node).or_default() += 1;
    }
    assert_eq!(served.len(), 2, "objects live on both nodes: {served:?}");
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_outage_fences_and_recovers() {
    let mut etcd = Etcd::start_async().await;
    let prefix = prefix("long-outage");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    converge(&[&n1]).await;
    let ids = activate(&n1, "long", 8).await;
    assert_eq!(n1.list_objects().len(), ids.len());

    etcd.stop();
    let stopped_at = Instant::now();
    let fenced = poll(Duration::from_secs(15), || n1.cluster_view().fenced).await;
    let Some(took) = fenced else {
        panic!("n1 did not fence itself within 15 s of losing etcd");
    };
    eprintln!("long outage: n1 fenced {took:?} after etcd stopped");
    assert!(
        took < LEASE_TTL,
        "n1 fenced only {took:?} after etcd stopped: its lease (TTL {LEASE_TTL:?}) may have \
         expired while it still served"
    );
    // A fenced node deactivates its objects...
    let drained = poll(Duration::from_secs(5), || n1.list_objects().is_empty()).await;
    assert!(
        drained.is_some(),
        "n1 is fenced but still has active objects: {:?}",
        n1.list_objects()
    );
    // ...and serves nothing: the call waits for the cluster and misses its deadline.
    let error = n1
        .object::<Placed>(&ids[0])
        .with_timeout(Duration::from_millis(500))
        .hit()
        .await
        .expect_err("a fenced node served a call");
    eprintln!("long outage: the call while fenced failed with {error:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(n1.list_objects().is_empty(), "the call activated an object");
    assert!(n1.cluster_view().fenced, "still fenced: etcd is down");

    etcd.restart_async().await;
    let restarted_at = Instant::now();
    eprintln!(
        "long outage: etcd was down for {:?}",
        restarted_at - stopped_at
    );
    let limit = Duration::from_secs(15);
    let unfenced = poll(limit, || !n1.cluster_view().fenced).await;
    assert!(
        unfenced.is_some(),
        "n1 is still fenced 15 s after etcd restarted\n--- etcd log ---\n{}",
        etcd.log()
    );
    n1.wait_ready(limit.saturating_sub(restarted_at.elapsed()))
        .await
        .unwrap_or_else(|e| panic!("n1 after etcd returned: {e}"));
    let serving = poll_async(limit.saturating_sub(restarted_at.elapsed()), || {
        all_calls_succeed(&n1, &ids, Duration::from_secs(1))
    })
    .await;
    assert!(
        serving.is_some(),
        "n1 does not serve its objects 15 s after etcd restarted"
    );
    eprintln!(
        "long outage: unfenced, ready and serving {:?} after the restart",
        restarted_at.elapsed()
    );
    let view = n1.cluster_view();
    assert!(view.nodes.contains_key("n1") && !view.fenced && view.ready);
    n1.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paused_etcd_does_not_break_serving_briefly() {
    let mut etcd = Etcd::start_async().await;
    let prefix = prefix("paused");
    let n1 = Arc::new(start_node(&etcd, &prefix, "n1").await);
    converge(&[&n1]).await;
    let ids = activate(&n1, "paused", 8).await;
    let monitor = FenceMonitor::start(vec![n1.clone()]);

    tokio::task::block_in_place(|| etcd.pause());
    let paused_at = Instant::now();
    // Calls for as long as the pause lasts (1.5 s, well below the 5 s TTL): this loop *is* the
    // outage, not a wait for anything to settle.
    let mut calls = 0;
    while paused_at.elapsed() < Duration::from_millis(1500) {
        for id in &ids {
            let (node, _) = n1
                .object::<Placed>(id)
                .with_timeout(Duration::from_secs(1))
                .hit()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "{id} failed {:?} into the etcd pause: {e}",
                        paused_at.elapsed()
                    )
                });
            assert_eq!(node, "n1");
            calls += 1;
        }
    }
    assert!(
        etcd.is_running() && !etcd.is_healthy(Duration::from_millis(100)),
        "etcd was paused throughout"
    );
    etcd.resume();
    eprintln!("paused etcd: {calls} calls succeeded during a 1.5 s pause");
    assert!(
        calls >= ids.len() * 10,
        "calls ran during the pause ({calls})"
    );

    // After the pause, the node is still registered and serving.
    let fine = poll_async(Duration::from_secs(10), || async {
        let view = n1.cluster_view();
        view.nodes.contains_key("n1")
            && view.ready
            && all_calls_succeed(&n1, &ids, Duration::from_secs(1)).await
    })
    .await;
    assert!(fine.is_some(), "n1 did not serve normally after the pause");
    let fenced = monitor.finish().await;
    assert!(
        fenced.is_empty(),
        "a 1.5 s pause of etcd fenced the node: {:?}",
        &fenced[..fenced.len().min(5)]
    );
    Arc::try_unwrap(n1)
        .expect("no task holds the node")
        .shutdown()
        .await
        .unwrap();
}
