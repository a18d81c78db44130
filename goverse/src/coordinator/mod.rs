//! Cluster coordination: membership, the shard map and shard ownership.
//!
//! A [`Coordinator`] tells the router which node currently owns each shard. The embedded
//! [`LocalCoordinator`] owns every shard itself; the etcd-backed coordinator (cargo feature
//! `etcd`) implements the same trait for a cluster.

mod local;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::error::Result;
use crate::sharding::ShardMap;

pub use local::LocalCoordinator;

/// What the cluster looks like from one node at one moment.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// The live nodes by id, with the address other nodes reach them at (if any).
    pub nodes: BTreeMap<String, Option<String>>,
    /// The node each shard should move to.
    pub targets: ShardMap,
    /// The node each shard is served by now.
    pub owners: ShardMap,
    /// The node that assigns shard targets, if one is elected.
    pub leader: Option<String>,
    /// Whether this node may serve calls (membership known and stable, shard map loaded).
    pub ready: bool,
}

/// The engine that keeps membership and the shard map.
pub trait Coordinator: Send + Sync + std::fmt::Debug + 'static {
    /// This node's id.
    fn node_id(&self) -> &str;

    /// The number of shards in the cluster.
    fn shard_count(&self) -> u32;

    /// Joins the cluster: registers this node and starts following the shard map.
    fn join(&self) -> BoxFuture<'_, Result<()>>;

    /// The current view, updated whenever membership or ownership changes.
    fn view(&self) -> watch::Receiver<Arc<ClusterView>>;

    /// Hands every shard this node owns back to the cluster.
    fn release_all(&self) -> BoxFuture<'_, Result<()>>;

    /// Leaves the cluster: resigns leadership and removes this node's registration.
    fn leave(&self) -> BoxFuture<'_, Result<()>>;
}
