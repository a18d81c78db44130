//! Shard ownership on this node: which shards it serves, and the hand-off of the others.
//!
//! The node serves a shard exactly while the view names it as the shard's owner and target.
//! When a shard's target moves away, the node stops serving it at once (new calls wait), lets
//! queued turns finish while deactivating the shard's objects, and only then releases the
//! shard, so that the new owner never activates an object that is still active here.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Router;
use crate::coordinator::ClusterView;
use crate::object::call::DeactivateReason;
use crate::sharding::ShardId;

impl Router {
    /// Follows the cluster view until the coordinator stops publishing it.
    pub(crate) async fn follow_view(self) {
        let mut views = self.inner.coordinator.view();
        loop {
            let view = views.borrow_and_update().clone();
            self.apply_view(&view).await;
            if views.changed().await.is_err() {
                return;
            }
        }
    }

    /// Applies one view: serve what this node owns, drain and release what moved away, claim
    /// what is targeted here and has no owner.
    pub(crate) async fn apply_view(&self, view: &Arc<ClusterView>) {
        let _one_at_a_time = self.inner.ownership.lock().await;
        let me = self.inner.coordinator.node_id().to_string();
        let admitting = self.inner.admitting.load(Ordering::Acquire);
        let shards = self.inner.config.shards;
        let mut leaving = BTreeSet::new();
        for shard in 0..shards {
            let owned = !view.fenced
                && admitting
                && view.owners.owner(shard) == Some(me.as_str())
                && view.targets.owner(shard) == Some(me.as_str());
            let was = self.inner.serving[shard as usize].swap(owned, Ordering::AcqRel);
            if was && !owned {
                leaving.insert(shard);
            }
        }
        self.bump_epoch();
        if let Some(peers) = &self.inner.peers {
            let live: Vec<String> = view
                .nodes
                .values()
                .filter_map(|info| info.advertise.clone())
                .collect();
            peers.retain(&live);
        }
        if view.fenced {
            tracing::warn!(node = %me, "lost the cluster registration: deactivating every object");
            self.drain(None).await;
            return;
        }
        if !leaving.is_empty() {
            tracing::info!(node = %me, shards = leaving.len(), "handing shards off");
            self.drain(Some(&leaving)).await;
        }
        let release: Vec<ShardId> = (0..shards)
            .filter(|&shard| {
                view.owners.owner(shard) == Some(me.as_str())
                    && view.targets.owner(shard) != Some(me.as_str())
            })
            .collect();
        let release = if admitting {
            release
        } else {
            (0..shards)
                .filter(|&shard| view.owners.owner(shard) == Some(me.as_str()))
                .collect()
        };
        if !release.is_empty()
            && let Err(error) = self.inner.coordinator.release(release).await
        {
            tracing::warn!(node = %me, %error, "releasing shards failed; will retry on the next change");
        }
        if !admitting {
            return;
        }
        let claim: Vec<ShardId> = (0..shards)
            .filter(|&shard| {
                view.targets.owner(shard) == Some(me.as_str()) && view.owners.owner(shard).is_none()
            })
            .collect();
        if !claim.is_empty()
            && let Err(error) = self.inner.coordinator.claim(claim).await
        {
            tracing::warn!(node = %me, %error, "claiming shards failed; will retry on the next change");
        }
    }

    /// Deactivates every object of `shards` (all objects for `None`), waiting for their queued
    /// turns; calls queued behind go wherever the object lives next.
    pub(crate) async fn drain(&self, shards: Option<&BTreeSet<ShardId>>) {
        loop {
            let victims: Vec<_> = self
                .inner
                .activations
                .all()
                .into_iter()
                .filter(
                    |activation| match (self.shard_of_key(activation.key()), shards) {
                        (_, None) => true,
                        (Some(shard), Some(set)) => set.contains(&shard),
                        (None, Some(_)) => false,
                    },
                )
                .collect();
            if victims.is_empty() {
                return;
            }
            let pending: Vec<_> = victims
                .into_iter()
                .filter_map(|activation| {
                    activation.request_deactivation(self, DeactivateReason::Drain)
                })
                .collect();
            for done in pending {
                let _ = done.await;
            }
        }
    }
}
