//! Routing: object id → shard → owning node → local activation (or, in a cluster, a peer).
//!
//! Every way of calling an object — typed proxies, encoded calls by name, create and delete —
//! goes through the [`Router`], which checks the id, finds where the object lives, refuses call
//! cycles, applies the deadline and hands the job to the activation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::activation::ActivationTable;
use crate::codec::Payload;
use crate::config::NodeConfig;
use crate::coordinator::{ClusterView, Coordinator};
use crate::error::{Error, Result};
use crate::id::{ObjectKey, validate_id};
use crate::object::call::{CallMeta, DeactivateReason, EncodedReply, Job, TypedCall};
use crate::object::context::{CallChain, Caller};
use crate::object::registry::Registry;
use crate::object::{ExclusiveMethod, MethodEntry, Object, SharedMethod};
use crate::sharding::{IdForm, parse_id_form, shard_of};

/// Per-proxy call settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    /// Overrides the node's default call timeout.
    pub(crate) timeout: Option<Duration>,
    /// An absolute deadline inherited from the calling turn.
    pub(crate) deadline: Option<Instant>,
    /// The turns waiting on calls made through this proxy.
    pub(crate) chain: CallChain,
    /// Who the calls are made for.
    pub(crate) caller: Option<Caller>,
    /// Calls made by an object's timer.
    pub(crate) from_timer: bool,
}

struct RouterInner {
    config: NodeConfig,
    registry: Registry,
    activations: ActivationTable,
    coordinator: Arc<dyn Coordinator>,
    view: watch::Receiver<Arc<ClusterView>>,
    admitting: AtomicBool,
}

/// The node's call path; cheap to clone.
#[derive(Clone)]
pub(crate) struct Router {
    inner: Arc<RouterInner>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("node", &self.inner.config.node_id)
            .finish_non_exhaustive()
    }
}

impl Router {
    pub(crate) fn new(
        config: NodeConfig,
        registry: Registry,
        coordinator: Arc<dyn Coordinator>,
    ) -> Self {
        let view = coordinator.view();
        Router {
            inner: Arc::new(RouterInner {
                config,
                registry,
                activations: ActivationTable::new(),
                coordinator,
                view,
                admitting: AtomicBool::new(true),
            }),
        }
    }

    pub(crate) fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn activations(&self) -> &ActivationTable {
        &self.inner.activations
    }

    /// Checks that `key` may be called and is served here.
    fn locate(&self, key: &ObjectKey) -> Result<()> {
        validate_id(key.id())?;
        if !self.inner.admitting.load(Ordering::Acquire) {
            return Err(Error::unavailable(format!(
                "node `{}` is shutting down and takes no new calls",
                self.inner.config.node_id
            )));
        }
        let local = self.inner.coordinator.node_id();
        let view = self.inner.view.borrow();
        let owner = match parse_id_form(key.id()) {
            IdForm::NodePinned { node, .. } => {
                if node == local
                    || view
                        .nodes
                        .values()
                        .any(|addr| addr.as_deref() == Some(node))
                {
                    Some(node)
                } else {
                    return Err(Error::unavailable(format!(
                        "object `{}` is pinned to node `{node}`, which is not in the cluster",
                        key.id()
                    )));
                }
            }
            _ => view
                .owners
                .owner(shard_of(key.id(), self.inner.config.shards)),
        };
        let node_addr = view.nodes.get(local).cloned().flatten();
        match owner {
            Some(owner) if owner == local || Some(owner) == node_addr.as_deref() => Ok(()),
            Some(owner) => Err(Error::unavailable(format!(
                "object {key} is owned by node `{owner}`, which this node cannot reach"
            ))),
            None => Err(Error::unavailable(format!(
                "the shard of object {key} has no owner yet"
            ))),
        }
    }

    /// Validates a call and computes its metadata.
    fn prepare(
        &self,
        key: &ObjectKey,
        method: &'static str,
        options: &CallOptions,
    ) -> Result<CallMeta> {
        self.locate(key)?;
        options.chain.check(key)?;
        let timeout = options.timeout.unwrap_or(self.inner.config.call_timeout);
        let mut deadline = Instant::now() + timeout;
        if let Some(inherited) = options.deadline {
            deadline = deadline.min(inherited);
        }
        Ok(CallMeta {
            method,
            deadline,
            chain: options.chain.clone(),
            caller: options.caller.clone(),
            from_timer: options.from_timer,
        })
    }

    /// Queues `job` on the activation of `key`, creating the activation if needed.
    pub(crate) fn enqueue<T: Object>(&self, key: &ObjectKey, mut job: Job<T>) {
        loop {
            if !self.inner.admitting.load(Ordering::Acquire) {
                job.fail(Error::unavailable(format!(
                    "node `{}` is shutting down and takes no new calls",
                    self.inner.config.node_id
                )));
                return;
            }
            let activation = match self.inner.activations.get_or_insert::<T>(key) {
                Ok(activation) => activation,
                Err(error) => return job.fail(error),
            };
            match activation.enqueue(self, job) {
                Ok(()) => return,
                Err(returned) => job = returned,
            }
        }
    }

    /// Hands jobs left in a retired activation to its successor.
    pub(crate) fn requeue<T: Object>(&self, key: &ObjectKey, jobs: Vec<Job<T>>) {
        for job in jobs {
            match job {
                Job::Deactivate(request) => request.finish(Ok(())),
                job => self.enqueue(key, job),
            }
        }
    }

    async fn await_reply<O>(
        &self,
        reply: oneshot::Receiver<Result<O>>,
        deadline: Instant,
        key: &ObjectKey,
        method: &str,
    ) -> Result<O> {
        match tokio::time::timeout_at(deadline, reply).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::unavailable(format!(
                "call {}.{method} on object `{}` was dropped before it ran (node stopping)",
                key.type_name(),
                key.id()
            ))),
            Err(_) => Err(crate::object::call::deadline_error(
                key.type_name(),
                method,
                key.id(),
            )),
        }
    }

    /// A typed call to an `&mut self` method. When the object is idle the caller's task runs
    /// the turn itself; otherwise the call waits in the mailbox. Either way nothing is
    /// serialized.
    async fn call_exclusive<M: ExclusiveMethod>(
        &self,
        id: &Arc<str>,
        options: &CallOptions,
        args: M::Args,
    ) -> Result<M::Output> {
        let key = ObjectKey::new(<M::Object as Object>::TYPE_NAME, id.clone());
        let meta = self.prepare(&key, M::NAME, options)?;
        let activation = self.inner.activations.get_or_insert::<M::Object>(&key)?;
        if let Some(state) = activation.try_claim(&meta) {
            return activation.run_claimed::<M>(self, state, args, meta).await;
        }
        let deadline = meta.deadline;
        let (tx, rx) = oneshot::channel();
        let job = Job::Exclusive(Box::new(TypedCall::<M, _>::new(args, tx, meta)));
        if let Err(job) = activation.enqueue(self, job) {
            self.enqueue(&key, job);
        }
        self.await_reply(rx, deadline, &key, M::NAME).await
    }

    /// A typed call to an `&self` method, through the mailbox so that it can share its turn.
    async fn call_shared<M: SharedMethod>(
        &self,
        id: &Arc<str>,
        options: &CallOptions,
        args: M::Args,
    ) -> Result<M::Output> {
        let key = ObjectKey::new(<M::Object as Object>::TYPE_NAME, id.clone());
        let meta = self.prepare(&key, M::NAME, options)?;
        let deadline = meta.deadline;
        let (tx, rx) = oneshot::channel();
        self.enqueue(&key, Job::Shared(Box::new(TypedCall::<M, _>::new(args, tx, meta))));
        self.await_reply(rx, deadline, &key, M::NAME).await
    }

    /// An encoded call: arguments and result travel as payloads in the caller's codec.
    pub(crate) async fn call_encoded<T: Object>(
        &self,
        id: Arc<str>,
        entry: &'static MethodEntry<T>,
        args: Payload,
        options: CallOptions,
    ) -> Result<Payload> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        let method = entry.info().name;
        let meta = self.prepare(&key, method, &options)?;
        let deadline = meta.deadline;
        let (tx, rx) = oneshot::channel();
        let job = entry.decode(
            &args,
            meta,
            EncodedReply {
                codec: args.codec,
                tx,
            },
        )?;
        self.enqueue(&key, job);
        self.await_reply(rx, deadline, &key, method).await
    }

    /// A call that names the type and method as strings.
    pub(crate) async fn call_by_name(
        &self,
        type_name: &str,
        id: &str,
        method: &str,
        args: Payload,
        options: CallOptions,
    ) -> Result<Payload> {
        let object_type = self.inner.registry.get(type_name)?.clone();
        object_type
            .call(self, Arc::from(id), method, args, options)
            .await
    }

    /// Activates the object if it is not active.
    pub(crate) async fn create<T: Object>(&self, id: Arc<str>) -> Result<()> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        self.locate(&key)?;
        let deadline = Instant::now() + self.inner.config.call_timeout;
        let (tx, rx) = oneshot::channel();
        self.enqueue(&key, Job::<T>::Ensure(tx));
        self.await_reply(rx, deadline, &key, "create").await
    }

    /// Deactivates the object (running `on_deactivate`) once its queued calls are done.
    pub(crate) async fn delete<T: Object>(&self, id: Arc<str>) -> Result<()> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        self.locate(&key)?;
        loop {
            let Some(activation) = self.inner.activations.get(&key) else {
                return Ok(());
            };
            if let Some(done) = activation.request_deactivation(self, DeactivateReason::Delete) {
                return done.await.unwrap_or(Ok(()));
            }
        }
    }

    /// Refuses new calls from now on.
    pub(crate) fn stop_admitting(&self) {
        self.inner.admitting.store(false, Ordering::Release);
    }

    /// Deactivates every object, running their hooks; returns once the table is empty.
    pub(crate) async fn deactivate_all(&self) {
        loop {
            let activations = self.inner.activations.all();
            if activations.is_empty() {
                return;
            }
            let pending: Vec<_> = activations
                .into_iter()
                .filter_map(|a| a.request_deactivation(self, DeactivateReason::Shutdown))
                .collect();
            for done in pending {
                let _ = done.await;
            }
        }
    }
}

/// The routing handle inside every proxy: which object, through which node, with which options.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct ObjectHandle {
    router: Router,
    id: Arc<str>,
    options: CallOptions,
}

impl ObjectHandle {
    pub(crate) fn new(router: Router, id: Arc<str>, options: CallOptions) -> Self {
        ObjectHandle {
            router,
            id,
            options,
        }
    }

    /// The object id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The same handle with another timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        let mut handle = self.clone();
        handle.options.timeout = Some(timeout);
        handle
    }

    /// Calls an `&mut self` method.
    pub async fn call_exclusive<M: ExclusiveMethod>(&self, args: M::Args) -> Result<M::Output> {
        self.router.call_exclusive::<M>(&self.id, &self.options, args).await
    }

    /// Calls an `&self` method.
    pub async fn call_shared<M: SharedMethod>(&self, args: M::Args) -> Result<M::Output> {
        self.router.call_shared::<M>(&self.id, &self.options, args).await
    }
}
