//! [`Node`] and [`NodeBuilder`]: the only place that wires every subsystem together.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::codec::Payload;
use crate::config::NodeConfig;
use crate::coordinator::{Coordinator, LocalCoordinator};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::registry::Registry;
use crate::object::{MethodInfo, Object, Proxy};
use crate::routing::{CallOptions, ObjectHandle, Router};

/// Configures and starts a [`Node`].
///
/// With no cluster options the node runs **embedded**: it owns every shard, keeps state in
/// memory and opens no network listener.
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct NodeBuilder {
    config: NodeConfig,
}

impl NodeBuilder {
    /// This node's id, unique in the cluster (default `embedded`).
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.config.node_id = id.into();
        self
    }

    /// The number of shards (default 8192). A cluster's count is fixed when it is created.
    pub fn shards(mut self, count: u32) -> Self {
        self.config.shards = count;
        self
    }

    /// The deadline given to calls that set none, queueing included (default 30 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// How long an object may go without calls before it is deactivated (default 10 min).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Starts the node. Must be called inside a tokio runtime.
    pub async fn start(self) -> Result<Node> {
        let config = self.config;
        if config.shards == 0 {
            return Err(Error::invalid_argument("shards must be at least 1"));
        }
        if config.call_timeout.is_zero() || config.idle_timeout.is_zero() {
            return Err(Error::invalid_argument(
                "call_timeout and idle_timeout must be greater than zero",
            ));
        }
        let registry = Registry::collect()?;
        let coordinator: Arc<dyn Coordinator> =
            Arc::new(LocalCoordinator::new(config.node_id.clone(), config.shards));
        coordinator.join().await?;
        let router = Router::new(config.clone(), registry, coordinator.clone(), None, None);
        // Serve the shards this node owns before `start` returns.
        let view = coordinator.view().borrow().clone();
        router.apply_view(&view).await;
        let tasks = vec![
            tokio::spawn(router.clone().follow_view()),
            tokio::spawn(collect_idle(router.clone(), config.idle_timeout)),
        ];
        tracing::info!(node = %config.node_id, shards = config.shards, "node started");
        Ok(Node {
            router,
            coordinator,
            tasks,
        })
    }
}

/// Deactivates idle objects, checking a few times per idle timeout.
async fn collect_idle(router: Router, idle: Duration) {
    let period = (idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(30));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        router.activations().collect_idle(&router, idle);
    }
}

/// A registered object type and its methods.
#[derive(Debug, Clone)]
pub struct ObjectTypeInfo {
    /// The wire type name.
    pub name: &'static str,
    /// The type's methods.
    pub methods: Vec<MethodInfo>,
}

/// A running goverse node: hosts activations and serves calls to them.
#[derive(Debug)]
pub struct Node {
    router: Router,
    coordinator: Arc<dyn Coordinator>,
    /// Background tasks that end with the node.
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// A builder for a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.coordinator.node_id()
    }

    /// A typed proxy to object `id` of type `T`. Nothing happens until a method is called.
    pub fn object<T: Object>(&self, id: &str) -> T::Proxy {
        T::Proxy::from_handle(ObjectHandle::new(
            self.router.clone(),
            Arc::from(id),
            CallOptions::default(),
        ))
    }

    /// Activates object `id` of type `T` if it is not active (idempotent).
    pub async fn create<T: Object>(&self, id: &str) -> Result<()> {
        self.router.create::<T>(Arc::from(id)).await
    }

    /// Deactivates object `id` of type `T` after its queued calls (idempotent: deleting an
    /// object that is not active succeeds).
    pub async fn delete<T: Object>(&self, id: &str) -> Result<()> {
        self.router.delete::<T>(Arc::from(id)).await
    }

    /// Creates an object of the type registered as `type_name` (for callers without the Rust type).
    pub async fn create_by_name(&self, type_name: &str, id: &str) -> Result<()> {
        let object_type = self.router.registry().get(type_name)?.clone();
        object_type.create(&self.router, Arc::from(id)).await
    }

    /// Deletes an object of the type registered as `type_name`.
    pub async fn delete_by_name(&self, type_name: &str, id: &str) -> Result<()> {
        let object_type = self.router.registry().get(type_name)?.clone();
        object_type.delete(&self.router, Arc::from(id)).await
    }

    /// Calls a method by type and method name with encoded arguments (a map of named
    /// parameters); the result comes back in the same codec. This is the entry point for
    /// gateways and tools that do not link the object's Rust type.
    pub async fn call_by_name(
        &self,
        type_name: &str,
        id: &str,
        method: &str,
        args: Payload,
    ) -> Result<Payload> {
        self.router
            .call_by_name(type_name, id, method, args, CallOptions::default())
            .await
    }

    /// The objects active on this node, sorted.
    pub fn list_objects(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self
            .router
            .activations()
            .all()
            .iter()
            .map(|activation| activation.key().clone())
            .collect();
        keys.sort();
        keys
    }

    /// Every object type linked into this binary, with its methods.
    pub fn object_types(&self) -> Vec<ObjectTypeInfo> {
        self.router
            .registry()
            .describe()
            .into_iter()
            .map(|(name, methods)| ObjectTypeInfo { name, methods })
            .collect()
    }

    /// Stops the node gracefully, in this order: refuses new calls, lets queued turns finish,
    /// deactivates every object (running `on_deactivate`), releases its shards so that other
    /// nodes take over at once, then leaves the cluster.
    pub async fn shutdown(self) -> Result<()> {
        self.router.stop_serving().await;
        self.coordinator.leave().await?;
        tracing::info!(node = %self.coordinator.node_id(), "node stopped");
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
