//! The main loop of a node process for multi-process tests and benchmarks: joins the cluster
//! given on the command line, prints `ready <address>` once it serves, and shuts down gracefully
//! on SIGTERM (printing `stopped`). Optional seventh and eighth arguments: the database URL and
//! the save interval of periodic-policy objects in milliseconds.

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
    let node = builder
        .etcd([arg(args, 0, "etcd endpoint")])
        .prefix(arg(args, 1, "prefix"))
        .node_id(arg(args, 2, "node id"))
        .shards(arg(args, 3, "shards").parse().expect("a shard count"))
        .lease_ttl(millis(&arg(args, 4, "lease ttl ms")))
        .stability_window(millis(&arg(args, 5, "stability window ms")))
        .start()
        .await?;
    node.wait_ready(Duration::from_secs(60)).await?;
    println!("ready {}", node.address().unwrap_or_default());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    terminate.recv().await;
    node.shutdown().await?;
    println!("stopped");
    Ok(())
}
