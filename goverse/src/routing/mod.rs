//! Routing: object id → shard → owning node → local activation or a peer.
//!
//! Every way of calling an object — typed proxies, encoded calls by name, calls arriving from
//! peers, create and delete — goes through the [`Router`]. It checks the id, refuses call cycles,
//! applies the deadline and finds where the object lives. A call to a shard that is moving or not
//! yet claimed waits (bounded by its deadline) for the cluster view to change instead of failing,
//! and a call that reaches a node which no longer owns the object is routed again; so callers see
//! no error while shards move.

mod attempt;
mod handle;
mod ownership;
mod push;
mod reliable;
#[cfg(feature = "etcd")]
mod serve;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::activation::ActivationTable;
use crate::codec::Payload;
use crate::config::NodeConfig;
use crate::coordinator::{ClusterView, Coordinator};
use crate::error::{Error, Result};
use crate::id::{ObjectKey, validate_id};
use crate::object::call::{CallMeta, DeactivateReason, Job, deadline_error};
use crate::object::context::Caller;
use crate::object::registry::Registry;
use crate::object::{ExclusiveMethod, MethodEntry, Object, SharedMethod};
use crate::persistence::{CallOutcome, Database, Store};
use crate::sharding::{IdForm, ShardId, parse_id_form, shard_of};

pub(crate) use attempt::IntoJob;
use attempt::{Attempt, EncodedAttempt, LifecycleAttempt, Step, TypedAttempt};
pub(crate) use handle::CallOptions;
pub use handle::ObjectHandle;
pub use push::PushStats;
pub(crate) use push::{PushReport, PushSink, SentPushCounters};
pub use reliable::{MAX_CALL_ID_LEN, new_call_id};
#[cfg(feature = "etcd")]
pub(crate) use serve::IncomingCall;

/// A call on its way to a peer.
// Read by the transport, which the `etcd` feature brings in.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct OutgoingCall {
    pub(crate) type_name: &'static str,
    pub(crate) id: Arc<str>,
    pub(crate) method: String,
    pub(crate) args: Payload,
    /// `(type, id)` of the waiting turns, outermost first.
    pub(crate) chain: Vec<(String, String)>,
    pub(crate) caller: Option<Caller>,
    /// Made by a gate for a client ([`Origin::Client`](crate::access::Origin::Client)).
    pub(crate) from_client: bool,
    pub(crate) deadline: Instant,
}

/// The other nodes, as the router sees them.
pub(crate) trait Peers: Send + Sync + std::fmt::Debug {
    /// Runs a call on the node at `address`.
    fn call(&self, address: String, call: OutgoingCall) -> BoxFuture<'static, Result<Payload>>;
    /// Drops the connections to nodes whose address is not in `live`.
    fn retain(&self, live: &[String]);
    /// Runs a reliable call on the node at `address`.
    fn reliable(
        &self,
        address: String,
        call: OutgoingCall,
        call_id: Arc<str>,
    ) -> BoxFuture<'static, Result<CallOutcome>>;
    /// Queues `message` for clients of the gate at `address` (every client if `broadcast`).
    fn push(
        &self,
        address: &str,
        client_ids: Vec<String>,
        message: Payload,
        broadcast: bool,
        deadline: Instant,
    ) -> BoxFuture<'static, Result<PushReport>>;
    /// Creates or deletes an object on the node at `address`.
    fn lifecycle(
        &self,
        address: &str,
        type_name: &str,
        id: &str,
        op: Lifecycle,
        deadline: Instant,
    ) -> BoxFuture<'static, Result<()>>;
}

/// Where a call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Wherever the object lives, waiting while its shard moves.
    Routed,
    /// Only on this node, because a peer sent it here; answered `moved` if this node does not
    /// serve the object (the call then did not run).
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    Here,
}

/// Activate or deactivate an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Activate it if it is not active.
    Create,
    /// Deactivate it (after its queued calls) if it is active.
    Delete,
}

impl Lifecycle {
    /// The operation's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lifecycle::Create => "create",
            Lifecycle::Delete => "delete",
        }
    }
}

/// Where a call goes now.
#[derive(Debug)]
enum Route {
    /// This node serves the object.
    Local,
    /// The node at this address serves it.
    Remote(String),
    /// Nobody serves it right now (the shard is moving or unclaimed): wait for a change.
    Wait(String),
}

struct RouterInner {
    config: NodeConfig,
    registry: Registry,
    activations: ActivationTable,
    coordinator: Arc<dyn Coordinator>,
    view: watch::Receiver<Arc<ClusterView>>,
    peers: Option<Arc<dyn Peers>>,
    /// This node's address, for node-pinned ids.
    advertise: Option<String>,
    /// Per shard: whether this node serves it now.
    serving: Box<[AtomicBool]>,
    /// Bumped after every change of `serving` or of the view, to wake waiting calls.
    epoch: watch::Sender<u64>,
    admitting: AtomicBool,
    /// Views are applied one at a time.
    ownership: tokio::sync::Mutex<()>,
    /// Where persistent objects' state and reliable calls are kept.
    database: Database,
    /// The gate embedded in this node, if any.
    push_sink: std::sync::OnceLock<Arc<dyn PushSink>>,
    /// What happened to the push messages this node sent.
    push_counters: SentPushCounters,
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
        peers: Option<Arc<dyn Peers>>,
        advertise: Option<String>,
        database: Database,
    ) -> Self {
        let view = coordinator.view();
        let serving = (0..config.shards).map(|_| AtomicBool::new(false)).collect();
        Router {
            inner: Arc::new(RouterInner {
                config,
                registry,
                activations: ActivationTable::new(),
                coordinator,
                view,
                peers,
                advertise,
                serving,
                epoch: watch::Sender::new(0),
                admitting: AtomicBool::new(true),
                ownership: tokio::sync::Mutex::new(()),
                database,
                push_sink: std::sync::OnceLock::new(),
                push_counters: SentPushCounters::default(),
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

    /// The store of object state and reliable calls.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        self.inner.database.store()
    }

    /// The database handle.
    pub(crate) fn database(&self) -> &Database {
        &self.inner.database
    }

    fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    fn is_self(&self, node: &str) -> bool {
        node == self.node_id() || self.inner.advertise.as_deref() == Some(node)
    }

    /// The shard an object belongs to, or `None` for an object pinned to a node.
    fn shard_of_key(&self, key: &ObjectKey) -> Option<ShardId> {
        match parse_id_form(key.id()) {
            IdForm::NodePinned { .. } => None,
            _ => Some(shard_of(key.id(), self.inner.config.shards)),
        }
    }

    /// Whether an activation of `key` may be created here now.
    pub(crate) fn may_activate(&self, key: &ObjectKey) -> bool {
        match self.shard_of_key(key) {
            Some(shard) => self.inner.serving[shard as usize].load(Ordering::Acquire),
            None => true,
        }
    }

    /// The shards this node serves now.
    pub(crate) fn served_shards(&self) -> Vec<ShardId> {
        (0..self.inner.config.shards)
            .filter(|shard| self.inner.serving[*shard as usize].load(Ordering::Acquire))
            .collect()
    }

    fn shutting_down(&self) -> Error {
        Error::unavailable(format!(
            "node `{}` is shutting down and takes no new calls",
            self.node_id()
        ))
    }

    /// Where a call to `key` goes now.
    fn route(&self, key: &ObjectKey) -> Result<Route> {
        validate_id(key.id())?;
        let admitting = self.inner.admitting.load(Ordering::Acquire);
        if !admitting && self.inner.peers.is_none() {
            return Err(self.shutting_down());
        }
        let shard = match parse_id_form(key.id()) {
            IdForm::NodePinned { node, .. } => return self.route_pinned(key, node, admitting),
            _ => shard_of(key.id(), self.inner.config.shards),
        };
        if self.inner.serving[shard as usize].load(Ordering::Acquire) {
            return Ok(Route::Local);
        }
        let view = self.inner.view.borrow();
        if view.fenced {
            return Ok(Route::Wait(
                "this node lost its cluster registration".into(),
            ));
        }
        let owner = view.owners.owner(shard);
        let target = view.targets.owner(shard);
        Ok(match owner {
            Some(owner) if self.is_self(owner) => Route::Wait(format!("shard {shard} is moving")),
            Some(owner) if Some(owner) == target => match view.address_of(owner) {
                Some(address) => Route::Remote(address.to_string()),
                None => Route::Wait(format!("node `{owner}` has no address")),
            },
            Some(owner) => Route::Wait(format!(
                "shard {shard} is moving from node `{owner}` to `{}`",
                target.unwrap_or("nobody")
            )),
            None => Route::Wait(format!("shard {shard} has no owner yet")),
        })
    }

    fn route_pinned(&self, key: &ObjectKey, node: &str, admitting: bool) -> Result<Route> {
        if self.is_self(node) {
            return if admitting {
                Ok(Route::Local)
            } else {
                Err(self.shutting_down())
            };
        }
        let view = self.inner.view.borrow();
        let address = view
            .nodes
            .iter()
            .find(|(id, info)| id.as_str() == node || info.advertise.as_deref() == Some(node))
            .and_then(|(_, info)| info.advertise.clone());
        match (address, &self.inner.peers) {
            (Some(address), Some(_)) => Ok(Route::Remote(address)),
            _ => Err(Error::unavailable(format!(
                "object `{}` is pinned to node `{node}`, which is not in the cluster",
                key.id()
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
        validate_id(key.id())?;
        options.chain.check(key)?;
        let origin = crate::access::check_routed_call(self, key, method, options)?;
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
            origin,
        })
    }

    /// Routes `attempt` until it finishes, waiting for the cluster to change whenever the
    /// object has no reachable owner; fails only at the deadline.
    async fn routed<A: Attempt>(&self, mut attempt: A) -> Result<A::Output> {
        let mut epoch = self.inner.epoch.subscribe();
        let mut backoff = Duration::from_millis(10);
        loop {
            let step = match self.route(attempt.key())? {
                Route::Local => attempt.local(self).await,
                Route::Remote(address) => match &self.inner.peers {
                    Some(peers) => attempt.remote(self, peers.clone(), address).await,
                    None => Step::Done(Err(Error::unavailable(
                        "this node has no transport to peers",
                    ))),
                },
                Route::Wait(why) => Step::Retry(why),
            };
            let (why, pause) = match step {
                Step::Done(result) => return result,
                Step::Retry(why) => (why, None),
                Step::Backoff(why) => {
                    let pause = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    (why, Some(pause))
                }
            };
            let change = async {
                match pause {
                    None => {
                        let _ = epoch.changed().await;
                    }
                    Some(pause) => {
                        tokio::select! {
                            _ = epoch.changed() => {}
                            () = tokio::time::sleep(pause) => {}
                        }
                    }
                }
            };
            if tokio::time::timeout_at(attempt.deadline(), change)
                .await
                .is_err()
            {
                let error = deadline_error(
                    attempt.key().type_name(),
                    attempt.what(),
                    attempt.key().id(),
                );
                return Err(error.prefixed(format_args!("{why}")));
            }
        }
    }

    /// Runs `attempt` as `delivery` says: routed, or here only.
    async fn deliver<A: Attempt>(&self, mut attempt: A, delivery: Delivery) -> Result<A::Output> {
        if delivery == Delivery::Routed {
            return self.routed(attempt).await;
        }
        let serving = matches!(self.route(attempt.key()), Ok(Route::Local))
            && self.inner.admitting.load(Ordering::Acquire);
        if !serving {
            return Err(Error::moved(format!(
                "node `{}` does not serve {}",
                self.node_id(),
                attempt.key()
            )));
        }
        match attempt.local(self).await {
            Step::Done(result) => result,
            Step::Retry(why) | Step::Backoff(why) => Err(Error::moved(why)),
        }
    }

    /// Wakes calls waiting for the cluster to change.
    fn bump_epoch(&self) {
        self.inner.epoch.send_modify(|epoch| *epoch += 1);
    }

    /// Queues `job` on the local activation of `key`, or routes it again if this node no longer
    /// serves the object.
    pub(crate) fn enqueue<T: Object>(&self, key: &ObjectKey, mut job: Job<T>) {
        loop {
            let activation = match self
                .inner
                .activations
                .get_or_insert::<T>(key, || self.may_activate(key))
            {
                Ok(activation) => activation,
                Err(_) => return self.reroute(key.clone(), job),
            };
            match activation.enqueue(self, job) {
                Ok(()) => return,
                Err(returned) => job = returned,
            }
        }
    }

    /// Hands jobs left in a retired activation to wherever the object lives now.
    pub(crate) fn requeue<T: Object>(&self, key: &ObjectKey, jobs: Vec<Job<T>>) {
        for job in jobs {
            match job {
                Job::Deactivate(request) => request.finish(Ok(())),
                Job::Save => {}
                job => self.enqueue(key, job),
            }
        }
    }

    /// Routes a job that could not run here from the start, in a task of its own.
    fn reroute<T: Object>(&self, key: ObjectKey, job: Job<T>) {
        let router = self.clone();
        match job {
            Job::Exclusive(call) => call.reroute(router, key),
            Job::Shared(call) => call.reroute(router, key),
            Job::Ensure(done) => {
                tokio::spawn(async move {
                    let deadline = Instant::now() + router.inner.config.call_timeout;
                    let create = LifecycleAttempt::<T>::new(key, Lifecycle::Create, deadline);
                    let _ = done.send(router.routed(create).await);
                });
            }
            Job::Deactivate(request) => request.finish(Ok(())),
            Job::Save => {}
            Job::Reliable(job) => router.reroute_reliable::<T>(key, *job),
        }
    }

    /// Waits for the reply of a queued job.
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
            Err(_) => Err(deadline_error(key.type_name(), method, key.id())),
        }
    }

    /// A typed call to an `&mut self` method. When the object is active and idle here, the
    /// caller's task runs the turn itself; otherwise the call is routed like any other.
    pub(crate) async fn call_exclusive<M: ExclusiveMethod>(
        &self,
        id: &Arc<str>,
        options: &CallOptions,
        args: M::Args,
    ) -> Result<M::Output> {
        let key = ObjectKey::new(<M::Object as Object>::TYPE_NAME, id.clone());
        let meta = self.prepare(&key, M::NAME, options)?;
        if let Ok(Route::Local) = self.route(&key)
            && let Ok(activation) = self
                .inner
                .activations
                .get_or_insert::<M::Object>(&key, || self.may_activate(&key))
            && let Some(state) = activation.try_claim(&meta)
        {
            let result = activation.run_claimed::<M>(self, state, args, meta).await;
            // The turn may have finished without ever waiting: take part in tokio's cooperative
            // budget, so that a loop of such calls still lets other tasks run.
            tokio::task::coop::consume_budget().await;
            return result;
        }
        self.routed(TypedAttempt::<M>::new(key, meta, args, |call| {
            Job::Exclusive(Box::new(call))
        }))
        .await
    }

    /// A typed call to an `&self` method.
    pub(crate) async fn call_shared<M: SharedMethod>(
        &self,
        id: &Arc<str>,
        options: &CallOptions,
        args: M::Args,
    ) -> Result<M::Output> {
        let key = ObjectKey::new(<M::Object as Object>::TYPE_NAME, id.clone());
        let meta = self.prepare(&key, M::NAME, options)?;
        self.routed(TypedAttempt::<M>::new(key, meta, args, |call| {
            Job::Shared(Box::new(call))
        }))
        .await
    }

    /// An encoded call: arguments and result travel as payloads in the caller's codec.
    pub(crate) async fn call_encoded<T: Object>(
        &self,
        id: Arc<str>,
        entry: &'static MethodEntry<T>,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> Result<Payload> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        let meta = self.prepare(&key, entry.info().name, &options)?;
        self.deliver(EncodedAttempt::new(key, entry, args, meta), delivery)
            .await
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
        let object_type = self.inner.registry.get(type_name)?;
        object_type
            .call(self, Arc::from(id), method, args, options, Delivery::Routed)
            .await
    }

    /// Creates (activates) or deletes (deactivates, after its queued calls) object `id`.
    pub(crate) async fn lifecycle<T: Object>(
        &self,
        id: Arc<str>,
        op: Lifecycle,
        delivery: Delivery,
    ) -> Result<()> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        validate_id(key.id())?;
        let deadline = Instant::now() + self.inner.config.call_timeout;
        self.deliver(LifecycleAttempt::<T>::new(key, op, deadline), delivery)
            .await
    }

    /// Creates or deletes an object of the type registered as `type_name`.
    pub(crate) async fn lifecycle_by_name(
        &self,
        type_name: &str,
        id: &str,
        op: Lifecycle,
    ) -> Result<()> {
        let object_type = self.inner.registry.get(type_name)?;
        object_type
            .lifecycle(self, Arc::from(id), op, Delivery::Routed)
            .await
    }

    /// Deactivates `key` here if it is active; `Ok` if it is not.
    async fn deactivate_local(&self, key: &ObjectKey, reason: DeactivateReason) -> Result<()> {
        loop {
            let Some(activation) = self.inner.activations.get(key) else {
                return Ok(());
            };
            if let Some(done) = activation.request_deactivation(self, reason) {
                return done.await.unwrap_or(Ok(()));
            }
        }
    }
}
