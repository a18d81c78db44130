//! The embedded coordinator: one node that owns every shard, with no services.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{ClusterView, Coordinator, NodeInfo};
use crate::error::Result;
use crate::sharding::{ShardId, balanced_assignment};

/// A coordinator for a node that runs alone: it owns every shard from the start.
#[derive(Debug)]
pub struct LocalCoordinator {
    node_id: String,
    shard_count: u32,
    view: watch::Sender<Arc<ClusterView>>,
}

impl LocalCoordinator {
    /// A coordinator for `node_id` over `shard_count` shards.
    pub fn new(node_id: impl Into<String>, shard_count: u32) -> Self {
        let node_id = node_id.into();
        let owners = balanced_assignment(shard_count, std::slice::from_ref(&node_id));
        let info = NodeInfo {
            advertise: None,
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_ms: 0,
            objects: 0,
        };
        let view = ClusterView {
            nodes: BTreeMap::from([(node_id.clone(), info)]),
            gates: BTreeMap::new(),
            targets: owners.clone(),
            owners,
            leader: Some(node_id.clone()),
            ready: true,
            fenced: false,
        };
        LocalCoordinator {
            node_id,
            shard_count,
            view: watch::Sender::new(Arc::new(view)),
        }
    }
}

impl LocalCoordinator {
    /// A coordinator for a process that hosts nothing: every shard is owned by `owner`,
    /// reached at `address` (a client that sends every call to its gate).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn remote(
        node_id: impl Into<String>,
        owner: &str,
        address: &str,
        shard_count: u32,
    ) -> Self {
        let owners = balanced_assignment(shard_count, &[owner.to_string()]);
        let info = NodeInfo {
            advertise: Some(address.to_string()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_ms: 0,
            objects: 0,
        };
        let view = ClusterView {
            nodes: BTreeMap::from([(owner.to_string(), info)]),
            gates: BTreeMap::new(),
            targets: owners.clone(),
            owners,
            leader: None,
            ready: true,
            fenced: false,
        };
        LocalCoordinator {
            node_id: node_id.into(),
            shard_count,
            view: watch::Sender::new(Arc::new(view)),
        }
    }
}

impl Coordinator for LocalCoordinator {
    fn node_id(&self) -> &str {
        &self.node_id
    }

    fn shard_count(&self) -> u32 {
        self.shard_count
    }

    fn join(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn view(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.view.subscribe()
    }

    fn claim(&self, _shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn release(&self, _shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn report_load(&self, objects: u64) -> BoxFuture<'_, Result<()>> {
        self.view.send_modify(|view| {
            let mut updated = ClusterView::clone(view);
            if let Some(info) = updated.nodes.get_mut(&self.node_id) {
                info.objects = objects;
            }
            *view = Arc::new(updated);
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn leave(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_node_owns_every_shard() {
        let coordinator = LocalCoordinator::new("solo", 64);
        let view = coordinator.view().borrow().clone();
        assert!(view.ready);
        assert!((0..64).all(|shard| view.owners.owner(shard) == Some("solo")));
        assert!((0..64).all(|shard| view.targets.owner(shard) == Some("solo")));
    }
}
