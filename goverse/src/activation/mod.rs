//! The activation table: which objects are active on this node, and the idle collector.

mod mailbox;

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::Object;
use crate::object::call::DeactivateReason;
use crate::routing::Router;
use crate::sharding::fnv1a32;

pub(crate) use mailbox::Activation;

/// How many independently locked parts the table is split into.
const TABLE_PARTS: usize = 64;

/// An activation seen without its object type.
pub(crate) trait AnyActivation: Any + Send + Sync {
    /// The object's identity.
    fn key(&self) -> &ObjectKey;
    /// Starts deactivation if the object has had no calls for `idle`.
    fn collect_if_idle(self: Arc<Self>, router: &Router, now: Instant, idle: Duration);
    /// Queues a save if the object is `persist`, changed, and unsaved for its save interval.
    fn save_if_due(self: Arc<Self>, router: &Router, now: Instant);
    /// Queues a deactivation behind the calls already queued; `None` if already gone.
    fn request_deactivation(
        self: Arc<Self>,
        router: &Router,
        reason: DeactivateReason,
    ) -> Option<oneshot::Receiver<Result<()>>>;
}

type Part = Mutex<HashMap<ObjectKey, Arc<dyn AnyActivation>>>;

/// Every activation on this node, by object key.
pub(crate) struct ActivationTable {
    parts: Box<[Part]>,
}

impl std::fmt::Debug for ActivationTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationTable")
            .field("len", &self.len())
            .finish()
    }
}

impl ActivationTable {
    pub(crate) fn new() -> Self {
        ActivationTable {
            parts: (0..TABLE_PARTS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn part(&self, key: &ObjectKey) -> &Part {
        &self.parts[fnv1a32(key.id().as_bytes()) as usize % TABLE_PARTS]
    }

    /// The activation of `key`, created (not yet activated) if there is none and `admit` allows
    /// it. `admit` is asked under the table's lock, so that a shard that stops being served
    /// here can be drained without racing a new activation.
    pub(crate) fn get_or_insert<T: Object>(
        &self,
        key: &ObjectKey,
        admit: impl FnOnce() -> bool,
    ) -> Result<Arc<Activation<T>>> {
        let mut part = self.part(key).lock();
        if let Some(existing) = part.get(key) {
            return downcast::<T>(existing.clone());
        }
        if !admit() {
            return Err(Error::moved(format!("this node does not serve {key}")));
        }
        let activation = Arc::new(Activation::<T>::new(key.clone()));
        part.insert(key.clone(), activation.clone());
        Ok(activation)
    }

    /// The activation of `key` with its type, if there is one.
    pub(crate) fn get_typed<T: Object>(&self, key: &ObjectKey) -> Option<Arc<Activation<T>>> {
        downcast::<T>(self.get(key)?).ok()
    }

    /// The activation of `key`, if there is one.
    pub(crate) fn get(&self, key: &ObjectKey) -> Option<Arc<dyn AnyActivation>> {
        self.part(key).lock().get(key).cloned()
    }

    /// Removes `key` if it still maps to `activation`.
    pub(crate) fn remove(&self, key: &ObjectKey, activation: &dyn AnyActivation) {
        let mut part = self.part(key).lock();
        if let Some(existing) = part.get(key) {
            let same = std::ptr::addr_eq(
                Arc::as_ptr(existing),
                activation as *const dyn AnyActivation,
            );
            if same {
                part.remove(key);
            }
        }
    }

    /// A snapshot of every activation.
    pub(crate) fn all(&self) -> Vec<Arc<dyn AnyActivation>> {
        self.parts
            .iter()
            .flat_map(|part| part.lock().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// The number of activations.
    pub(crate) fn len(&self) -> usize {
        self.parts.iter().map(|part| part.lock().len()).sum()
    }

    /// Queues a save for every changed object whose save interval has passed.
    pub(crate) fn save_due(&self, router: &Router) {
        let now = Instant::now();
        for activation in self.all() {
            activation.save_if_due(router, now);
        }
    }

    /// Starts deactivation of every object idle for at least `idle`.
    pub(crate) fn collect_idle(&self, router: &Router, idle: Duration) {
        let now = Instant::now();
        for activation in self.all() {
            activation.collect_if_idle(router, now, idle);
        }
    }
}

fn downcast<T: Object>(activation: Arc<dyn AnyActivation>) -> Result<Arc<Activation<T>>> {
    let any: Arc<dyn Any + Send + Sync> = activation;
    any.downcast::<Activation<T>>().map_err(|_| {
        Error::internal(format!(
            "two object types share the wire name `{}`; give one of them another name with \
             #[goverse::object(name = \"...\")]",
            T::TYPE_NAME
        ))
    })
}
