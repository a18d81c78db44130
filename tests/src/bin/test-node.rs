//! A node process for the multi-process tests; see `goverse_tests::node_process`.
//!
//! `test-node <etcd endpoint> <prefix> <node id> <shards> <lease ttl ms> <stability window ms>`

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    goverse_tests::node_process::run(&args).await
}
