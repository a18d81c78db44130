//! The main loop of a node process for multi-process tests and benchmarks: joins the cluster
//! given on the command line, prints `ready <address>` once it serves, and shuts down gracefully
//! on SIGTERM (printing `stopped`). Optional seventh and eighth arguments: the database URL and
//! the save interval of periodic-policy objects in milliseconds. The environment variable
//! `TEST_NODE_CLUSTER_SECRET`, when set, is the cluster secret. With `GOVERSE_TEST_GATE_ONLY`
//! set in the environment it is a gate-only process serving gRPC, and prints
//! `gate-grpc <gRPC address>` before `ready`.

use std::time::Duration;

use goverse::Node;

fn arg(args: &[String], index: usize, name: &str) -> String {
    args.get(index)
        .cloned()
        .unwrap_or_else(|| panic!("missing argument {index}: {name}"))
}

fn millis(text: &str) -> Duration {
    Duration::from_millis(text.parse().expect("a number of milliseconds"))
}

/// Runs a node from `<etcd endpoint> <prefix> <node id> <shards> <lease ttl ms> <stability window ms>`
/// until SIGTERM. Runtime logs go to stderr, filtered by `RUST_LOG` (default `goverse=info`).
pub async fn run(args: &[String]) -> goverse::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("goverse=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let mut builder = Node::builder();
    if let Some(url) = args.get(6) {
        builder = builder.database_url(url);
    }
    if let Some(interval) = args.get(7) {
        builder = builder.save_interval(millis(interval));
    }
    if let Ok(secret) = std::env::var("TEST_NODE_CLUSTER_SECRET") {
        builder = builder.cluster_secret(secret);
    }
    let gate_only = std::env::var_os("GOVERSE_TEST_GATE_ONLY").is_some();
    if gate_only {
        builder = builder.gate_only(goverse::gate::GateConfig {
            http_listen: None,
            ..goverse::gate::GateConfig::default()
        });
    }
    let node = builder
        .etcd([arg(args, 0, "etcd endpoint")])
        .prefix(arg(args, 1, "prefix"))
        .node_id(arg(args, 2, "node id"))
        .shards(arg(args, 3, "shards").parse().expect("a shard count"))
        .lease_ttl(millis(&arg(args, 4, "lease ttl ms")))
        .stability_window(millis(&arg(args, 5, "stability window ms")))
        .start()
        .await?;
    if gate_only {
        let grpc = node
            .gate_grpc_address()
            .expect("a gate-only process serves gRPC");
        println!("gate-grpc {grpc}");
    } else {
        node.wait_ready(Duration::from_secs(60)).await?;
    }
    println!("ready {}", node.address().unwrap_or_default());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    terminate.recv().await;
    node.shutdown().await?;
    println!("stopped");
    Ok(())
}
