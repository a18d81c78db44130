//! One node of a cluster described by a YAML file. Run one process per node:
//!
//! ```sh
//! cargo run --example cluster --features cluster -- --config examples/cluster/cluster.yaml --node n1
//! cargo run --example cluster --features cluster -- --config examples/cluster/cluster.yaml --node n2 --demo 12
//! ```
//!
//! With `--demo N` the node calls N counters every second and prints which node served each;
//! stop or start other nodes meanwhile to watch the counters move without errors. The counters
//! are saved in the SQLite file named in the YAML file after every call, so they keep counting
//! wherever they move. Ctrl-C (or SIGTERM) stops a node gracefully: its objects are saved and
//! deactivated and its shards handed over. The `g1` entry is a gate-only process: outside
//! clients reach the counters through it (`curl -X POST
//! http://127.0.0.1:8080/v1/objects/Counter/counter-1/add -d '{"n": 1}'`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use goverse::prelude::*;
use serde::{Deserialize, Serialize};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// The cluster YAML file.
    #[arg(long)]
    config: PathBuf,
    /// This node's id in the file.
    #[arg(long)]
    node: String,
    /// Call this many counters every second and print where each one lives.
    #[arg(long, default_value_t = 0)]
    demo: usize,
    /// Overrides the file's etcd endpoints.
    #[arg(long, value_delimiter = ',')]
    etcd: Vec<String>,
    /// Overrides the node's listening address.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Overrides the address peers reach the node at.
    #[arg(long)]
    advertise: Option<String>,
}

/// A counter that knows which node serves it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist(every_turn))]
impl Counter {
    /// Adds `n`; returns the new value and the node that served the call.
    #[method(idempotent)]
    pub async fn add(&mut self, ctx: &Context, n: i64) -> (i64, String) {
        self.value += n;
        (self.value, ctx.node_id().to_string())
    }
}

async fn demo_round(node: &Node, counters: usize) {
    let mut line = Vec::new();
    for i in 0..counters {
        let id = format!("counter-{i}");
        match node.object::<Counter>(&id).add(1).await {
            Ok((value, served_by)) => line.push(format!("{id}={value}@{served_by}")),
            Err(error) => line.push(format!("{id}: {error}")),
        }
    }
    println!("{}", line.join("  "));
}

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let args = Args::parse();
    let mut builder = Node::builder().config_file(&args.config, &args.node)?;
    if !args.etcd.is_empty() {
        builder = builder.etcd(args.etcd.clone());
    }
    if let Some(listen) = args.listen {
        builder = builder.listen(listen);
    }
    if let Some(advertise) = &args.advertise {
        builder = builder.advertise(advertise);
    }
    let node = builder.start().await?;
    node.wait_ready(Duration::from_secs(60)).await?;
    println!(
        "node {} serving at {}",
        node.node_id(),
        node.address().unwrap_or("?")
    );
    if let Some(http) = node.gate_http_address() {
        println!("gate: HTTP on {http}, OpenAPI at http://{http}/v1/openapi.json");
    }
    if let Some(grpc) = node.gate_grpc_address() {
        println!("gate: gRPC gate.GateService on {grpc}");
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = ticks.tick(), if args.demo > 0 => demo_round(&node, args.demo).await,
        }
    }
    println!("stopping node {}", node.node_id());
    node.shutdown().await?;
    println!("stopped");
    Ok(())
}
