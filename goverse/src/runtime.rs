//! [`Node`] and [`NodeBuilder`]: the only place that wires every subsystem together.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::codec::Payload;
use crate::config::NodeConfig;
use crate::config::file::{
    ClusterFile, DEFAULT_LEASE_TTL, DEFAULT_MIN_QUORUM, DEFAULT_PREFIX, DEFAULT_STABILITY_WINDOW,
};
use crate::coordinator::{ClusterView, Coordinator, LocalCoordinator};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::registry::Registry;
use crate::object::{MethodInfo, Object, Proxy};
use crate::persistence::{CallOutcome, Database};
use crate::routing::{CallOptions, Delivery, Lifecycle, ObjectHandle, Router};

/// Configures and starts a [`Node`].
///
/// With no cluster options the node runs **embedded**: it owns every shard, keeps state in
/// memory and opens no network listener.
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct NodeBuilder {
    config: NodeConfig,
    cluster: ClusterOptions,
    database: DatabaseOption,
    /// Access rules, rate limits, the cluster secret and TLS.
    pub(crate) security: crate::security::SecuritySettings,
    /// The gate to run in this process, if any.
    #[cfg(feature = "gate")]
    gate: Option<crate::gate::GateConfig>,
    /// A gate-only process hosts no objects.
    #[cfg(feature = "gate")]
    gate_only: bool,
}

/// Where the node keeps persistent state and reliable calls.
#[derive(Debug, Clone, Default)]
enum DatabaseOption {
    /// A fresh in-memory store.
    #[default]
    Memory,
    /// Opened (and migrated) at start.
    Url(String),
    /// An already opened store, possibly shared with other nodes in the process.
    Open(Database),
}

impl DatabaseOption {
    async fn open(self) -> Result<Database> {
        match self {
            DatabaseOption::Memory => Ok(Database::memory()),
            DatabaseOption::Url(url) => Database::connect(&url).await,
            DatabaseOption::Open(database) => Ok(database),
        }
    }
}

/// How the node joins a cluster; all empty for an embedded node.
#[derive(Debug, Clone)]
struct ClusterOptions {
    etcd: Vec<String>,
    prefix: String,
    listen: SocketAddr,
    advertise: Option<String>,
    lease_ttl: Duration,
    stability_window: Duration,
    min_quorum: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            etcd: Vec::new(),
            prefix: DEFAULT_PREFIX.to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise: None,
            lease_ttl: DEFAULT_LEASE_TTL,
            stability_window: DEFAULT_STABILITY_WINDOW,
            min_quorum: DEFAULT_MIN_QUORUM,
        }
    }
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

    /// A changed `persist` object with the default policy is saved at least this often
    /// (default 5 s). Deactivation, hand-off and shutdown always save changed objects.
    pub fn save_interval(mut self, interval: Duration) -> Self {
        self.config.save_interval = interval;
        self
    }

    /// Keeps state and reliable calls in the PostgreSQL database at `url`
    /// (`postgres://user:password@host:port/database`); the schema is created or migrated at
    /// start. Needs the `postgres` cargo feature.
    pub fn postgres(mut self, url: impl Into<String>) -> Self {
        self.database = DatabaseOption::Url(url.into());
        self
    }

    /// Keeps state and reliable calls in the SQLite file at `path` (created if missing): the
    /// durable choice for one machine. Needs the `sqlite` cargo feature.
    pub fn sqlite(mut self, path: impl AsRef<Path>) -> Self {
        self.database = DatabaseOption::Url(format!("sqlite:{}", path.as_ref().display()));
        self
    }

    /// Keeps state and reliable calls in the database at `url`: `postgres://…`, `sqlite:path`
    /// or `memory:` (see [`Database::connect`]).
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database = DatabaseOption::Url(url.into());
        self
    }

    /// Keeps state and reliable calls in an already opened [`Database`] (for example one
    /// in-memory store shared by several nodes of one process).
    pub fn database(mut self, database: Database) -> Self {
        self.database = DatabaseOption::Open(database);
        self
    }

    /// Runs a gate in this node: outside clients reach every object of the cluster through it
    /// (GoVerse-compatible gRPC and HTTP, server-sent events, the JSON API). Needs the `gate`
    /// cargo feature.
    #[cfg(feature = "gate")]
    pub fn gate(mut self, config: crate::gate::GateConfig) -> Self {
        self.gate = Some(config);
        self
    }

    /// Runs a gate-only process: it joins the cluster (which needs [`etcd`](Self::etcd)),
    /// registers as a gate, routes calls by the shard map and hosts no objects.
    #[cfg(feature = "gate")]
    pub fn gate_only(mut self, config: crate::gate::GateConfig) -> Self {
        self.gate = Some(config);
        self.gate_only = true;
        self
    }

    /// Joins the cluster kept in etcd at `endpoints` (`host:port`); without this the node runs
    /// embedded. Needs the `etcd` cargo feature.
    pub fn etcd<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.cluster.etcd = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// The etcd key prefix of the cluster (default `/goverse`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cluster.prefix = prefix.into();
        self
    }

    /// The address the node service listens on (default `127.0.0.1:0`, any free port).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.cluster.listen = address;
        self
    }

    /// The `host:port` other nodes reach this node at (default: the listening address).
    pub fn advertise(mut self, address: impl Into<String>) -> Self {
        self.cluster.advertise = Some(address.into());
        self
    }

    /// How long the node's registration lives without renewal (default 5 s). A node that cannot
    /// renew it in time stops serving; a node that dies loses its shards after it.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.cluster.lease_ttl = ttl;
        self
    }

    /// How long membership must be unchanged before shards are reassigned (default 1 s).
    pub fn stability_window(mut self, window: Duration) -> Self {
        self.cluster.stability_window = window;
        self
    }

    /// The number of live nodes needed before shards are assigned (default 1).
    pub fn min_quorum(mut self, nodes: usize) -> Self {
        self.cluster.min_quorum = nodes;
        self
    }

    /// Takes every setting of node `node_id` from a cluster YAML file (see
    /// [`ClusterFile`](crate::config::ClusterFile)); builder calls made after this one override it.
    pub fn config_file(mut self, path: impl AsRef<Path>, node_id: &str) -> Result<Self> {
        let settings = ClusterFile::load(path.as_ref())?.node(node_id)?;
        self.config.node_id = settings.node_id;
        self.config.shards = settings.shards;
        self.config.call_timeout = settings.call_timeout;
        self.config.idle_timeout = settings.idle_timeout;
        self.config.save_interval = settings.save_interval;
        self.database = DatabaseOption::Url(settings.database_url);
        self.security = settings.security;
        if settings.gate_grpc.is_some() || settings.gate_http.is_some() {
            #[cfg(feature = "gate")]
            {
                self.gate = Some(crate::gate::GateConfig::from_file(
                    settings.gate_grpc,
                    settings.gate_http,
                    settings.gate_tls,
                    &settings.gate,
                ));
                self.gate_only = settings.gate_only;
            }
            #[cfg(not(feature = "gate"))]
            return Err(Error::invalid_argument(format!(
                "node `{node_id}` runs a gate in the cluster file: build goverse with the `gate` \
                 cargo feature"
            )));
        }
        self.cluster = ClusterOptions {
            etcd: settings.etcd,
            prefix: settings.prefix,
            listen: settings.listen,
            advertise: Some(settings.advertise),
            lease_ttl: settings.lease_ttl,
            stability_window: settings.stability_window,
            min_quorum: settings.min_quorum,
        };
        Ok(self)
    }

    /// Starts the node. Must be called inside a tokio runtime.
    pub async fn start(self) -> Result<Node> {
        let mut config = self.config;
        config.access = self.security.policy()?;
        if config.shards == 0 {
            return Err(Error::invalid_argument("shards must be at least 1"));
        }
        if config.call_timeout.is_zero()
            || config.idle_timeout.is_zero()
            || config.save_interval.is_zero()
        {
            return Err(Error::invalid_argument(
                "call_timeout, idle_timeout and save_interval must be greater than zero",
            ));
        }
        let registry = Registry::collect()?;
        let database = self.database.open().await?;
        #[cfg(feature = "gate")]
        let (gate, gate_only) = (
            self.gate
                .map(|gate| gate.with_default_rate_limits(&self.security.rate_limits)),
            self.gate_only,
        );
        #[cfg(not(feature = "gate"))]
        let (gate, gate_only) = (None::<()>, false);
        if !self.cluster.etcd.is_empty() {
            return start_cluster(
                config,
                self.cluster,
                registry,
                database,
                gate,
                gate_only,
                self.security,
            )
            .await;
        }
        if gate_only {
            return Err(Error::invalid_argument(
                "a gate-only process joins a cluster: give it the etcd endpoints with .etcd(...)",
            ));
        }
        let coordinator: Arc<dyn Coordinator> =
            Arc::new(LocalCoordinator::new(config.node_id.clone(), config.shards));
        coordinator.join().await?;
        let router = Router::new(
            config.clone(),
            registry,
            coordinator.clone(),
            None,
            None,
            database,
        );
        // Serve the shards this node owns before `start` returns.
        let view = coordinator.view().borrow().clone();
        router.apply_view(&view).await;
        #[cfg_attr(not(feature = "gate"), allow(unused_mut))]
        let mut node = Node::running(router, coordinator, None, Vec::new());
        #[cfg(feature = "gate")]
        if let Some(gate) = gate {
            let address = node.router.config().node_id.clone();
            node.gate = Some(crate::gate::Gate::start(node.router.clone(), gate, address).await?);
        }
        #[cfg(not(feature = "gate"))]
        let _ = gate;
        Ok(node)
    }
}

/// Starts a node that joins an etcd cluster and serves peers over gRPC.
#[cfg(feature = "etcd")]
async fn start_cluster(
    mut config: NodeConfig,
    cluster: ClusterOptions,
    registry: Registry,
    database: Database,
    gate: Option<GateOption>,
    gate_only: bool,
    security: crate::security::SecuritySettings,
) -> Result<Node> {
    use crate::coordinator::etcd::{EtcdCoordinator, EtcdSettings};
    let transport = crate::transport::TransportSecurity::new(&security)?;
    if cluster.lease_ttl < Duration::from_secs(2) {
        return Err(Error::invalid_argument("lease_ttl must be at least 2s"));
    }
    if cluster.min_quorum == 0 {
        return Err(Error::invalid_argument("min_quorum must be at least 1"));
    }
    let listener = tokio::net::TcpListener::bind(cluster.listen)
        .await
        .map_err(|e| Error::unavailable(format!("cannot listen on {}: {e}", cluster.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::unavailable(format!("cannot read the listening address: {e}")))?;
    let advertise = cluster.advertise.unwrap_or_else(|| local.to_string());
    if config.node_id == NodeConfig::default().node_id {
        config.node_id = advertise.clone();
    }
    let settings = EtcdSettings {
        endpoints: cluster.etcd,
        prefix: cluster.prefix,
        lease_ttl: cluster.lease_ttl,
        stability_window: cluster.stability_window,
        min_quorum: cluster.min_quorum,
        advertise: advertise.clone(),
        hosts_objects: !gate_only,
        gate: gate.is_some(),
    };
    let coordinator =
        Arc::new(EtcdCoordinator::connect(config.node_id.clone(), config.shards, settings).await?);
    let peers = Arc::new(crate::transport::PeerPool::new(&transport)?);
    let router = Router::new(
        config,
        registry,
        coordinator.clone(),
        Some(peers),
        Some(advertise.clone()),
        database,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = crate::transport::serve(listener, router.clone(), &transport, async {
        let _ = stopped.await;
    })?;
    let server = tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "node service failed");
        }
    });
    #[cfg(feature = "gate")]
    let gate = match gate {
        Some(config) => {
            Some(crate::gate::Gate::start(router.clone(), config, advertise.clone()).await?)
        }
        None => None,
    };
    coordinator.join().await?;
    #[cfg_attr(not(feature = "gate"), allow(unused_mut))]
    let service = NodeService {
        address: advertise,
        stop,
        task: server,
    };
    let mut node = Node::running(router, coordinator, Some(service), Vec::new());
    #[cfg(feature = "gate")]
    {
        node.gate = gate;
    }
    Ok(node)
}

/// The node's gRPC service: its address, its stop signal and its task.
#[derive(Debug)]
struct NodeService {
    address: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl NodeService {
    /// Stops accepting, lets open requests finish (for a few seconds at most) and closes the
    /// listener, so that the address is free when this returns.
    async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

/// The gate configuration, where the `gate` feature provides one.
#[cfg(feature = "gate")]
type GateOption = crate::gate::GateConfig;
#[cfg(not(feature = "gate"))]
type GateOption = ();

/// Without the `etcd` feature there is no cluster to join.
#[cfg(not(feature = "etcd"))]
async fn start_cluster(
    _config: NodeConfig,
    _cluster: ClusterOptions,
    _registry: Registry,
    _database: Database,
    _gate: Option<GateOption>,
    _gate_only: bool,
    _security: crate::security::SecuritySettings,
) -> Result<Node> {
    Err(Error::invalid_argument(
        "etcd endpoints were given, but goverse was built without its `etcd` cargo feature; \
         enable it (goverse = { features = [\"etcd\"] }) to run a cluster",
    ))
}

/// Publishes the node's load in its registration every few seconds.
async fn report_load(router: Router, coordinator: Arc<dyn Coordinator>) {
    let mut ticks = tokio::time::interval(LOAD_REPORT_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let objects = router.activations().len() as u64;
        if let Err(error) = coordinator.report_load(objects).await {
            tracing::debug!(%error, "reporting the load failed; next period");
        }
    }
}

/// How often a node publishes its load.
const LOAD_REPORT_PERIOD: Duration = Duration::from_secs(2);

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

/// Queues saves of changed `persist` objects whose save interval has passed.
async fn save_periodically(router: Router, shortest: Duration) {
    let period = (shortest / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        router.activations().save_due(&router);
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
    /// The node service (cluster nodes only).
    service: Option<NodeService>,
    /// Background tasks that end with the node.
    tasks: Vec<JoinHandle<()>>,
    /// The gate running in this process, if any.
    #[cfg(feature = "gate")]
    gate: Option<crate::gate::Gate>,
}

impl Node {
    fn running(
        router: Router,
        coordinator: Arc<dyn Coordinator>,
        service: Option<NodeService>,
        mut tasks: Vec<JoinHandle<()>>,
    ) -> Node {
        let idle = router.config().idle_timeout;
        tasks.push(tokio::spawn(router.clone().follow_view()));
        tasks.push(tokio::spawn(collect_idle(router.clone(), idle)));
        let save_interval = router.config().save_interval;
        if let Some(shortest) = router.registry().shortest_save_interval(save_interval) {
            tasks.push(tokio::spawn(save_periodically(router.clone(), shortest)));
        }
        tasks.push(tokio::spawn(report_load(
            router.clone(),
            coordinator.clone(),
        )));
        tracing::info!(node = %coordinator.node_id(), "node started");
        Node {
            router,
            coordinator,
            service,
            tasks,
            #[cfg(feature = "gate")]
            gate: None,
        }
    }

    /// Where this process's gate serves gRPC (`gate.GateService`), if it runs one.
    #[cfg(feature = "gate")]
    pub fn gate_grpc_address(&self) -> Option<std::net::SocketAddr> {
        self.gate.as_ref()?.grpc_address
    }

    /// How many clients are connected to this process's gate, and what happened to the push
    /// messages for them, if it runs one.
    #[cfg(feature = "gate")]
    pub fn gate_stats(&self) -> Option<crate::gate::GateStats> {
        self.gate.as_ref().map(|gate| gate.core.stats())
    }

    /// What happened to the push messages this node's objects sent (`ctx.push`,
    /// `ctx.broadcast`): delivered, dropped on a full queue, for unknown clients, lost to an
    /// unreachable gate. Counted on every node, with or without a gate of its own.
    pub fn push_stats(&self) -> crate::PushStats {
        self.router.push_stats()
    }

    /// The router, for in-process tests of the servers built on it.
    #[cfg(all(test, feature = "gate"))]
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// The core of this process's gate, for in-process tests of its servers.
    #[cfg(all(test, feature = "gate"))]
    pub(crate) fn gate_core(&self) -> Option<&Arc<crate::gate::GateCore>> {
        self.gate.as_ref().map(|gate| &gate.core)
    }

    /// Where this process's gate serves HTTP, if it runs one.
    #[cfg(feature = "gate")]
    pub fn gate_http_address(&self) -> Option<std::net::SocketAddr> {
        self.gate.as_ref()?.http_address
    }

    /// The address peers reach this node at (cluster nodes only).
    pub fn address(&self) -> Option<&str> {
        self.service
            .as_ref()
            .map(|service| service.address.as_str())
    }

    /// The cluster as this node sees it now.
    pub fn cluster_view(&self) -> Arc<ClusterView> {
        self.coordinator.view().borrow().clone()
    }

    /// Waits until the node is ready: membership is stable, every shard has a target, and this
    /// node serves every shard targeted at it.
    pub async fn wait_ready(&self, limit: Duration) -> Result<()> {
        let mut views = self.coordinator.view();
        let me = self.coordinator.node_id().to_string();
        let check = async {
            loop {
                let view = views.borrow_and_update().clone();
                let mine = (0..view.targets.shard_count())
                    .filter(|&shard| view.targets.owner(shard) == Some(me.as_str()))
                    .count();
                if view.ready && self.router.served_shards().len() == mine {
                    return;
                }
                tokio::select! {
                    _ = views.changed() => {}
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        };
        tokio::time::timeout(limit, check)
            .await
            .map_err(|_| Error::timeout(format!("node `{me}` was not ready within {limit:?}")))
    }

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
        crate::access::check_node_lifecycle(&self.router, T::TYPE_NAME, id, Lifecycle::Create)?;
        self.router
            .lifecycle::<T>(Arc::from(id), Lifecycle::Create, Delivery::Routed)
            .await
    }

    /// Deactivates object `id` of type `T` after its queued calls (idempotent: deleting an
    /// object that is not active succeeds).
    pub async fn delete<T: Object>(&self, id: &str) -> Result<()> {
        crate::access::check_node_lifecycle(&self.router, T::TYPE_NAME, id, Lifecycle::Delete)?;
        self.router
            .lifecycle::<T>(Arc::from(id), Lifecycle::Delete, Delivery::Routed)
            .await
    }

    /// Creates an object of the type registered as `type_name` (for callers without the Rust type).
    pub async fn create_by_name(&self, type_name: &str, id: &str) -> Result<()> {
        crate::access::check_node_lifecycle(&self.router, type_name, id, Lifecycle::Create)?;
        self.router
            .lifecycle_by_name(type_name, id, Lifecycle::Create)
            .await
    }

    /// Deletes an object of the type registered as `type_name`.
    pub async fn delete_by_name(&self, type_name: &str, id: &str) -> Result<()> {
        crate::access::check_node_lifecycle(&self.router, type_name, id, Lifecycle::Delete)?;
        self.router
            .lifecycle_by_name(type_name, id, Lifecycle::Delete)
            .await
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

    /// Makes a reliable call by type and method name: the method runs at most once for
    /// `call_id`, and a repeat answers the stored outcome (see [`Proxy::reliable`]). Arguments
    /// are a map of named parameters in any codec. The outcome's status tells a success, a
    /// failure of the method (it ran) and a skipped call (it never ran; safe to retry).
    pub async fn reliable_call_by_name(
        &self,
        type_name: &str,
        id: &str,
        method: &str,
        call_id: &str,
        args: Payload,
    ) -> Result<CallOutcome> {
        self.router
            .call_reliable_by_name(
                type_name,
                id,
                method,
                call_id,
                args,
                CallOptions::default(),
                Delivery::Routed,
            )
            .await
    }

    /// The database that keeps this node's persistent state and reliable calls.
    pub fn database(&self) -> &Database {
        self.router.database()
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
    ///
    /// Objects whose changed state cannot be saved (the database is down) are retried for up
    /// to the call timeout; then the node leaves anyway and the error (`Unavailable`) names
    /// them: their changes since their last save are lost.
    pub async fn shutdown(mut self) -> Result<()> {
        #[cfg(feature = "gate")]
        if let Some(mut gate) = self.gate.take() {
            gate.stop();
        }
        let saved = self.router.stop_serving().await;
        let left = self.coordinator.leave().await;
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
        tracing::info!(node = %self.coordinator.node_id(), "node stopped");
        saved.and(left)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
