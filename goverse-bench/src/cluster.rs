//! Scenarios on a cluster with a real etcd: cross-node calls, failover after SIGKILL, errors
//! while the cluster grows under load, and the time a cluster takes to form.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use goverse::prelude::*;
use goverse_tests::Placed;
use goverse_tests::harness::{Etcd, Process};
use serde::{Deserialize, Serialize};

use crate::{Row, Scale};

use crate::tonic_echo::{self, EchoMessage};

/// Bytes carried by every cross-node call in both directions.
const PAYLOAD: usize = 64;
const SHARDS: u32 = 256;
const CALLERS: usize = 64;
/// Alternating goverse/baseline rounds of the cross-node scenarios.
const ROUNDS: usize = 3;

/// The benchmark object for cross-node calls: echoes its argument.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Echoer {
    calls: u64,
}

#[goverse::object]
impl Echoer {
    /// Returns `data` unchanged. Binary data as `Bytes` travels as one MessagePack `bin` (a
    /// `Vec<u8>` would be an array of numbers, one per byte).
    #[method]
    pub(crate) async fn echo(&mut self, data: Bytes) -> Bytes {
        self.calls += 1;
        data
    }
}

async fn node(etcd: &Etcd, prefix: &str, id: &str) -> Node {
    let node = Node::builder()
        .etcd([etcd.endpoint()])
        .prefix(prefix)
        .node_id(id)
        .shards(SHARDS)
        .lease_ttl(Duration::from_secs(5))
        .stability_window(Duration::from_millis(500))
        .start()
        .await
        .expect("cluster node starts");
    node.wait_ready(Duration::from_secs(60))
        .await
        .expect("node ready");
    node
}

/// The middle value of `values` (of an odd count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// An id whose shard `owner` serves, once `from` sees `owner` serving shards.
async fn id_owned_by(from: &Node, owner: &str, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = from.cluster_view();
        let found = (0..100_000)
            .map(|i| format!("{prefix}-{i}"))
            .find(|id| view.owners.owner(goverse::sharding::shard_of(id, SHARDS)) == Some(owner));
        if let Some(id) = found {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "node {owner} never served a shard"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs every cluster scenario.
pub(crate) async fn run(scale: Scale) -> Vec<Row> {
    let etcd = Etcd::start_async().await;
    eprintln!("cluster: cross-node calls");
    let mut rows = cross_node(&etcd, scale).await;
    eprintln!("cluster: formation");
    rows.push(formation(&etcd).await);
    eprintln!("cluster: growth under load");
    rows.push(growth_errors(&etcd, scale).await);
    eprintln!("cluster: failover after SIGKILL");
    rows.push(failover(&etcd).await);
    rows
}

async fn cross_node(etcd: &Etcd, scale: Scale) -> Vec<Row> {
    let n1 = node(etcd, "/bench/cross", "n1").await;
    let n2 = node(etcd, "/bench/cross", "n2").await;
    let bare = tonic_echo::start().await;
    let data = Bytes::from(vec![7u8; PAYLOAD]);

    let remote = n1.object::<Echoer>(&id_owned_by(&n1, "n2", "echo").await);
    let calls = scale.latency_calls / 10 / ROUNDS;
    for _ in 0..200 {
        remote.echo(data.clone()).await.unwrap();
        bare.clone()
            .echo(EchoMessage {
                payload: data.clone(),
            })
            .await
            .unwrap();
    }
    let mut targets = Vec::new();
    for i in 0..CALLERS {
        targets.push(n1.object::<Echoer>(&id_owned_by(&n1, "n2", &format!("echo-{i}")).await));
    }
    let targets: Arc<Vec<EchoerProxy>> = Arc::new(targets);
    let per_caller = scale.throughput_calls / 10 / ROUNDS / CALLERS;

    // Rounds alternate goverse and baseline, so that a change in the machine's load during the
    // run weighs on both; each row shows the median round.
    let mut latency = (Vec::new(), Vec::new());
    let mut throughput = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..calls {
            remote.echo(data.clone()).await.unwrap();
        }
        latency
            .0
            .push(started.elapsed().as_secs_f64() * 1e6 / calls as f64);
        let started = Instant::now();
        for _ in 0..calls {
            bare.clone()
                .echo(EchoMessage {
                    payload: data.clone(),
                })
                .await
                .unwrap();
        }
        latency
            .1
            .push(started.elapsed().as_secs_f64() * 1e6 / calls as f64);

        let started = Instant::now();
        join_all((0..CALLERS).map(|caller| {
            let targets = targets.clone();
            let data = data.clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    targets[caller].echo(data.clone()).await.unwrap();
                }
            })
        }))
        .await;
        throughput
            .0
            .push((per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        join_all((0..CALLERS).map(|_| {
            let mut bare = bare.clone();
            let data = data.clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    bare.echo(EchoMessage {
                        payload: data.clone(),
                    })
                    .await
                    .unwrap();
                }
            })
        }))
        .await;
        throughput
            .1
            .push((per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64());
    }
    let (goverse_latency, baseline_latency) = (median(latency.0), median(latency.1));
    let (goverse_throughput, baseline_throughput) = (median(throughput.0), median(throughput.1));
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
    vec![
        Row {
            scenario: "cross-node call latency, 64 B (vs tonic echo)",
            unit: "µs/call",
            goverse: goverse_latency,
            baseline: Some(baseline_latency),
            target: "ratio ≤ 1.3",
        },
        Row {
            scenario: "cross-node throughput, 64 callers (vs tonic)",
            unit: "calls/s",
            goverse: goverse_throughput,
            baseline: Some(baseline_throughput),
            target: "ratio ≥ 0.8",
        },
    ]
}

async fn formation(etcd: &Etcd) -> Row {
    let started = Instant::now();
    let nodes = join_all(["n1", "n2", "n3"].map(|id| node(etcd, "/bench/formation", id))).await;
    let seconds = started.elapsed().as_secs_f64();
    for node in nodes {
        node.shutdown().await.unwrap();
    }
    Row {
        scenario: "3-node cluster forms and is ready",
        unit: "s",
        goverse: seconds,
        baseline: None,
        target: "(window 0.5 s)",
    }
}

async fn growth_errors(etcd: &Etcd, scale: Scale) -> Row {
    let n1 = Arc::new(node(etcd, "/bench/growth", "n1").await);
    let n2 = node(etcd, "/bench/growth", "n2").await;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let objects = (scale.objects / 100).max(100);
    let load = join_all((0..16).map(|worker| {
        let (n1, stop, errors, calls) = (n1.clone(), stop.clone(), errors.clone(), calls.clone());
        tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                match n1
                    .object::<Placed>(&format!("grow-{}", i % objects))
                    .hit()
                    .await
                {
                    Ok(_) => calls.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
                i += 16;
            }
        })
    }));
    let load = tokio::spawn(load);
    let n3 = node(etcd, "/bench/growth", "n3").await;
    // Let the rebalance finish under load: until n3 serves a third of the objects' shards.
    let deadline = Instant::now() + Duration::from_secs(30);
    while n3.list_objects().len() < objects / 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("  rebalanced; stopping the load");
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load finished");
    eprintln!("  load stopped; shutting down");
    for node in [n2, n3] {
        node.shutdown().await.unwrap();
        eprintln!("  node down");
    }
    Arc::try_unwrap(n1)
        .expect("load done")
        .shutdown()
        .await
        .unwrap();
    Row {
        scenario: "caller errors while 2 nodes grow to 3 under load",
        unit: "errors",
        goverse: errors.load(Ordering::Relaxed) as f64,
        baseline: None,
        target: "0",
    }
}

async fn failover(etcd: &Etcd) -> Row {
    let program = std::env::current_exe().expect("own path");
    let endpoint = etcd.endpoint();
    let spawn = |id: &str| {
        Process::spawn(
            &program,
            &[
                "node",
                &endpoint,
                "/bench/failover",
                id,
                &SHARDS.to_string(),
                "5000",
                "500",
            ],
            &[],
        )
    };
    let mut victim = spawn("victim");
    let _other = spawn("other");
    victim
        .wait_for_line_async("ready", Duration::from_secs(60))
        .await;
    let client = node(etcd, "/bench/failover", "client").await;
    let id = id_owned_by(&client, "victim", "failover").await;
    let proxy = client
        .object::<Placed>(&id)
        .with_timeout(Duration::from_secs(2));
    proxy.hit().await.expect("served by the victim");
    victim.kill_hard();
    let killed = Instant::now();
    loop {
        if let Ok((node, _)) = proxy.hit().await
            && node != "victim"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = killed.elapsed().as_secs_f64();
    client.shutdown().await.unwrap();
    Row {
        scenario: "SIGKILL to first successful call (lease 5 s)",
        unit: "s",
        goverse: seconds,
        baseline: None,
        target: "≤ 8",
    }
}
