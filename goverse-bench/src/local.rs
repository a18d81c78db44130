//! Scenarios on one embedded node: local calls, activations, memory per object.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use goverse::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::alloc_counter::live_bytes;
use crate::{Row, Scale};

/// The benchmark object: a counter with a small state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct BenchCounter {
    value: u64,
}

#[goverse::object]
impl BenchCounter {
    /// Adds `n`; returns the new value.
    #[method]
    pub(crate) async fn add(&mut self, n: u64) -> u64 {
        self.value += n;
        self.value
    }
}

type Request = (u64, oneshot::Sender<u64>);

/// The baseline "object": a task that owns a counter and answers over oneshot channels.
fn spawn_bare_counter() -> mpsc::Sender<Request> {
    let (tx, mut rx) = mpsc::channel::<Request>(1024);
    tokio::spawn(async move {
        let mut value = 0u64;
        while let Some((n, reply)) = rx.recv().await {
            value += n;
            let _ = reply.send(value);
        }
    });
    tx
}

async fn bare_call(counter: &mpsc::Sender<Request>, n: u64) -> u64 {
    let (tx, rx) = oneshot::channel();
    counter.send((n, tx)).await.expect("baseline counter alive");
    rx.await.expect("baseline counter replies")
}

const CALLERS: usize = 64;
const THROUGHPUT_OBJECTS: usize = 1_000;

/// Runs every local scenario.
pub(crate) async fn run(scale: Scale) -> Vec<Row> {
    eprintln!("local: calls, activations, memory");
    let node = Node::builder().start().await.expect("embedded node");
    let rows = vec![
        latency(&node, scale).await,
        throughput(&node, scale).await,
        activations(&node, scale).await,
        memory(&node, scale).await,
    ];
    node.shutdown().await.expect("clean shutdown");
    rows
}

async fn latency(node: &Node, scale: Scale) -> Row {
    let counter = node.object::<BenchCounter>("latency");
    let bare = spawn_bare_counter();
    for _ in 0..1_000 {
        counter.add(1).await.unwrap();
        bare_call(&bare, 1).await;
    }
    let started = Instant::now();
    for _ in 0..scale.latency_calls {
        counter.add(1).await.unwrap();
    }
    let goverse = per_call_micros(started.elapsed(), scale.latency_calls);
    let started = Instant::now();
    for _ in 0..scale.latency_calls {
        bare_call(&bare, 1).await;
    }
    let baseline = per_call_micros(started.elapsed(), scale.latency_calls);
    Row {
        scenario: "local call latency, 1 caller (vs mpsc+oneshot)",
        unit: "µs/call",
        goverse,
        baseline: Some(baseline),
        target: "ratio ≤ 2.0",
    }
}

fn per_call_micros(elapsed: Duration, calls: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / calls as f64
}

async fn throughput(node: &Node, scale: Scale) -> Row {
    let proxies: Arc<Vec<BenchCounterProxy>> = Arc::new(
        (0..THROUGHPUT_OBJECTS)
            .map(|i| node.object::<BenchCounter>(&format!("throughput-{i}")))
            .collect(),
    );
    let bare: Arc<Vec<mpsc::Sender<Request>>> = Arc::new(
        (0..THROUGHPUT_OBJECTS)
            .map(|_| spawn_bare_counter())
            .collect(),
    );
    let per_caller = scale.throughput_calls / CALLERS;
    // Warm up: activate every object.
    join_all(proxies.iter().map(|p| p.add(0))).await;

    let started = Instant::now();
    let callers = (0..CALLERS).map(|caller| {
        let proxies = proxies.clone();
        tokio::spawn(async move {
            for i in 0..per_caller {
                proxies[(caller * 7919 + i * 31) % THROUGHPUT_OBJECTS]
                    .add(1)
                    .await
                    .unwrap();
            }
        })
    });
    join_all(callers).await;
    let goverse = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let callers = (0..CALLERS).map(|caller| {
        let bare = bare.clone();
        tokio::spawn(async move {
            for i in 0..per_caller {
                bare_call(&bare[(caller * 7919 + i * 31) % THROUGHPUT_OBJECTS], 1).await;
            }
        })
    });
    join_all(callers).await;
    let baseline = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    Row {
        scenario: "local call throughput, 1000 objects, 64 callers",
        unit: "calls/s",
        goverse,
        baseline: Some(baseline),
        target: "ratio ≥ 0.5",
    }
}

async fn activations(node: &Node, scale: Scale) -> Row {
    let per_caller = scale.objects / CALLERS;
    let started = Instant::now();
    let callers = (0..CALLERS).map(|caller| {
        let proxies: Vec<BenchCounterProxy> = (0..per_caller)
            .map(|i| node.object::<BenchCounter>(&format!("fresh-{caller}-{i}")))
            .collect();
        tokio::spawn(async move {
            for proxy in proxies {
                proxy.add(1).await.unwrap();
            }
        })
    });
    join_all(callers).await;
    let goverse = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();

    // Baseline: a task and a channel per object, each answering its first call.
    let started = Instant::now();
    let callers = (0..CALLERS).map(|_| {
        tokio::spawn(async move {
            for _ in 0..per_caller {
                let counter = spawn_bare_counter();
                bare_call(&counter, 1).await;
            }
        })
    });
    join_all(callers).await;
    let baseline = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    Row {
        scenario: "activations (first calls on fresh objects)",
        unit: "objects/s",
        goverse,
        baseline: Some(baseline),
        target: "≥ 200000/s",
    }
}

async fn memory(node: &Node, scale: Scale) -> Row {
    // Proxies are built first so that only the activations are counted.
    let proxies: Vec<BenchCounterProxy> = (0..scale.objects)
        .map(|i| node.object::<BenchCounter>(&format!("idle-{i}")))
        .collect();
    let before = live_bytes();
    for chunk in proxies.chunks(CALLERS) {
        join_all(chunk.iter().map(|p| p.add(1))).await;
    }
    let after = live_bytes();
    let state = std::mem::size_of::<BenchCounter>() as f64;
    let goverse = (after - before) as f64 / scale.objects as f64 - state;
    Row {
        scenario: "memory per idle object, beyond its state",
        unit: "bytes",
        goverse,
        baseline: None,
        target: "≤ 1024",
    }
}
