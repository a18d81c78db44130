//! Shard ownership on this node: which shards it serves, and the hand-off of the others.
//!
//! The node serves a shard exactly while the view names it as the shard's owner and target.
//! When a shard's target moves away, the node stops serving it at once (new calls wait), lets
//! queued turns finish while deactivating the shard's objects, and only then releases the
//! shard, so that the new owner never activates an object that is still active here.
//!
//! An object whose changed state cannot be saved (the database is down) stays active here, and
//! its shard stays owned by this node (calls to it wait), until a later attempt saves it: a
//! planned hand-off never hands the next owner stale state. The node retries every
//! [`DRAIN_RETRY`] and on every view change, so other shards keep moving meanwhile.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Router;
use crate::coordinator::ClusterView;
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::call::DeactivateReason;
use crate::sharding::ShardId;

/// How long the node waits before draining again the objects it could not save.
const DRAIN_RETRY: Duration = Duration::from_millis(500);

/// An object that could not be saved while its shard was drained, with the reason.
pub(crate) type Unsaved = (ObjectKey, Error);

impl Router {
    /// Follows the cluster view until the coordinator stops publishing it.
    pub(crate) async fn follow_view(self) {
        let mut views = self.inner.coordinator.view();
        loop {
            let view = views.borrow_and_update().clone();
            let settled = self.apply_view(&view).await.is_empty();
            let changed = if settled {
                views.changed().await
            } else {
                // Some shard could not be handed off: try again soon even if nothing changes.
                tokio::select! {
                    changed = views.changed() => changed,
                    () = tokio::time::sleep(DRAIN_RETRY) => Ok(()),
                }
            };
            if changed.is_err() {
                return;
            }
        }
    }

    /// Applies one view: serve what this node owns, drain and release what moved away, claim
    /// what is targeted here and has no owner. Returns the objects that could not be saved;
    /// their shards are kept (not released) until a later call saves them.
    pub(crate) async fn apply_view(&self, view: &Arc<ClusterView>) -> Vec<Unsaved> {
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
            self.drain(|_| true, DeactivateReason::Fence).await;
            return Vec::new();
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
        if !leaving.is_empty() {
            tracing::info!(node = %me, shards = leaving.len(), "handing shards off");
        }
        // Shards kept after a failed save are drained again, with those that just moved away.
        leaving.extend(release.iter().copied());
        let unsaved = if leaving.is_empty() {
            Vec::new()
        } else {
            let leaving = |key: &ObjectKey| {
                self.shard_of_key(key)
                    .is_some_and(|shard| leaving.contains(&shard))
            };
            self.drain(leaving, DeactivateReason::Drain).await
        };
        let kept: BTreeSet<ShardId> = unsaved
            .iter()
            .filter_map(|(key, _)| self.shard_of_key(key))
            .collect();
        if !kept.is_empty() {
            tracing::warn!(
                node = %me,
                shards = ?kept,
                "{}; the shards stay here until they are saved",
                describe_unsaved(&unsaved)
            );
        }
        let release: Vec<ShardId> = release
            .into_iter()
            .filter(|shard| !kept.contains(shard))
            .collect();
        if !release.is_empty()
            && let Err(error) = self.inner.coordinator.release(release).await
        {
            tracing::warn!(node = %me, %error, "releasing shards failed; will retry on the next change");
        }
        if !admitting {
            return unsaved;
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
        unsaved
    }

    /// Stops serving: refuses new local activations, lets queued turns finish, deactivates
    /// every object and releases every shard. Calls queued meanwhile go to the next owners.
    ///
    /// Objects that cannot be saved are retried for up to the call timeout; after that the
    /// error names them (their changes since their last save are lost) and their shards are
    /// left to the cluster, which reassigns them once this node leaves.
    pub(crate) async fn stop_serving(&self) -> Result<()> {
        self.inner.admitting.store(false, Ordering::Release);
        let deadline = Instant::now() + self.inner.config.call_timeout;
        loop {
            let view = self.inner.view.borrow().clone();
            let mut unsaved = self.apply_view(&view).await;
            // Objects of no shard (pinned to this node), and any that came back meanwhile.
            let tried: HashSet<ObjectKey> = unsaved.iter().map(|(key, _)| key.clone()).collect();
            let rest = |key: &ObjectKey| !tried.contains(key);
            unsaved.extend(self.drain(rest, DeactivateReason::Drain).await);
            if unsaved.is_empty() {
                return Ok(());
            }
            if Instant::now() + DRAIN_RETRY >= deadline {
                let error = Error::unavailable(format!(
                    "shutdown gave up after {:?}: {}; their changes since their last save are \
                     lost",
                    self.inner.config.call_timeout,
                    describe_unsaved(&unsaved)
                ));
                tracing::error!(node = %self.node_id(), %error, "stopped with unsaved objects");
                return Err(error);
            }
            tokio::time::sleep(DRAIN_RETRY).await;
        }
    }

    /// Deactivates every object whose key is `selected`, waiting for their queued turns; calls
    /// queued behind go wherever the object lives next. Returns the objects that stayed active
    /// because their state could not be saved (never for [`DeactivateReason::Fence`]).
    async fn drain(
        &self,
        selected: impl Fn(&ObjectKey) -> bool,
        reason: DeactivateReason,
    ) -> Vec<Unsaved> {
        let mut unsaved: Vec<Unsaved> = Vec::new();
        // Objects that stayed active because their save failed: not asked again this time.
        let mut kept: HashSet<ObjectKey> = HashSet::new();
        loop {
            let victims: Vec<_> = self
                .inner
                .activations
                .all()
                .into_iter()
                .filter(|activation| !kept.contains(activation.key()) && selected(activation.key()))
                .collect();
            if victims.is_empty() {
                return unsaved;
            }
            let pending: Vec<_> = victims
                .into_iter()
                .filter_map(|activation| {
                    let done = activation.clone().request_deactivation(self, reason)?;
                    Some((activation, done))
                })
                .collect();
            for (activation, done) in pending {
                let Ok(Err(error)) = done.await else {
                    continue;
                };
                let key = activation.key();
                let still_here = self.inner.activations.get(key).is_some_and(|current| {
                    std::ptr::addr_eq(Arc::as_ptr(&current), Arc::as_ptr(&activation))
                });
                if still_here {
                    kept.insert(key.clone());
                    unsaved.push((key.clone(), error));
                }
            }
        }
    }
}

/// `N objects could not be saved: A (reason); B (reason); …` for logs and errors.
fn describe_unsaved(unsaved: &[Unsaved]) -> String {
    const NAMED: usize = 10;
    let noun = if unsaved.len() == 1 {
        "object"
    } else {
        "objects"
    };
    let mut text = format!("{} {noun} could not be saved:", unsaved.len());
    for (i, (key, error)) in unsaved.iter().take(NAMED).enumerate() {
        let separator = if i == 0 { " " } else { "; " };
        let _ = write!(text, "{separator}{key} ({error})");
    }
    if unsaved.len() > NAMED {
        let _ = write!(text, "; and {} more", unsaved.len() - NAMED);
    }
    text
}
