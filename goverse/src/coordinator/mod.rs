//! Cluster coordination: membership, the shard map and shard ownership.
//!
//! A [`Coordinator`] publishes a [`ClusterView`]: the live nodes, the node each shard should be
//! on (its target) and the node serving it now (its owner). The router serves locally the shards
//! this node owns and targets; the ownership loop claims shards targeted here and releases
//! shards targeted elsewhere once their objects are deactivated. The embedded
//! [`LocalCoordinator`] owns every shard itself; the etcd-backed coordinator (cargo feature
//! `etcd`) implements the same trait for a cluster.

#[cfg(feature = "etcd")]
pub(crate) mod etcd;
mod local;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::Result;
use crate::sharding::{ShardId, ShardMap};

pub use local::LocalCoordinator;

/// What a node publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The address other nodes reach it at (`host:port`), if it listens.
    pub advertise: Option<String>,
    /// The goverse version it runs.
    pub version: String,
    /// When it started (milliseconds since the Unix epoch).
    pub started_ms: u64,
    /// Objects active on it at its last report.
    #[serde(default)]
    pub objects: u64,
}

/// What the cluster looks like from one node at one moment.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// The live nodes that host objects, by id.
    pub nodes: BTreeMap<String, NodeInfo>,
    /// The live gates by id (gate-only processes and nodes with an embedded gate).
    pub gates: BTreeMap<String, NodeInfo>,
    /// The node each shard should move to.
    pub targets: ShardMap,
    /// The live node serving each shard now (`None` while unclaimed or after its owner died).
    pub owners: ShardMap,
    /// The node that assigns shard targets, if one is elected.
    pub leader: Option<String>,
    /// Whether the shard map is loaded and membership is stable.
    pub ready: bool,
    /// Whether this node lost its registration (it then serves nothing until it rejoins).
    pub fenced: bool,
}

impl ClusterView {
    /// The address of node `id`, if it is live and listens.
    pub fn address_of(&self, id: &str) -> Option<&str> {
        self.nodes.get(id)?.advertise.as_deref()
    }
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

    /// Records this node as the owner of `shards` (each targeted here and without a live owner).
    fn claim(&self, shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>>;

    /// Gives up ownership of `shards`, whose objects are already deactivated.
    fn release(&self, shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>>;

    /// Publishes this node's load (active objects) in its registration.
    fn report_load(&self, objects: u64) -> BoxFuture<'_, Result<()>>;

    /// Leaves the cluster: resigns leadership and removes this node's registration.
    fn leave(&self) -> BoxFuture<'_, Result<()>>;
}
