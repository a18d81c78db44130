//! The etcd coordinator: membership, leader, shard map and shard ownership in etcd (v3 API,
//! etcd 3.4 and later).
//!
//! Keys under the prefix (default `/goverse`):
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `config` | `{"shards": N}`, set once when the cluster is created | the first node |
//! | `nodes/<id>` | [`NodeInfo`] as JSON, on the node's lease | each node that hosts objects |
//! | `gates/<id>` | [`NodeInfo`] as JSON, on the lease | each gate (a gate-only process, or a node with an embedded gate) |
//! | `leader` | the leader's node id, on its lease | whoever takes it by transaction |
//! | `shards/<n>` | target, current owner (with the owner's lease id) and flags | leader (target), owners (current), always by compare-and-swap on the key's mod revision |
//!
//! An owner counts only while its registration is alive *with the same lease*: a node that lost
//! its lease and rejoined never mistakes its old entries for current ownership. A node that
//! cannot renew its lease in time fences itself: it publishes a view with `fenced` set, stops
//! serving, and rejoins with a new lease once etcd answers again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KeyValue, PutOptions, Txn,
    TxnOp, WatchOptions,
};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ClusterView, Coordinator, NodeInfo};
use crate::error::{Error, Result};
use crate::sharding::{ShardId, ShardMap, rebalance};

/// How many shard entries one transaction writes.
const BATCH: usize = 64;

/// How a node takes part in an etcd cluster.
#[derive(Debug, Clone)]
pub(crate) struct EtcdSettings {
    /// etcd endpoints (`host:port`).
    pub(crate) endpoints: Vec<String>,
    /// Key prefix of the cluster.
    pub(crate) prefix: String,
    /// Lifetime of the node's registration without renewal.
    pub(crate) lease_ttl: Duration,
    /// How long membership must be unchanged before the leader moves shards.
    pub(crate) stability_window: Duration,
    /// Shards are assigned only when at least this many nodes are live.
    pub(crate) min_quorum: usize,
    /// This node's address for peers.
    pub(crate) advertise: String,
    /// Whether this process hosts objects (registers under `nodes/`, may lead and own shards).
    pub(crate) hosts_objects: bool,
    /// Whether this process runs a gate (registers under `gates/`).
    pub(crate) gate: bool,
}

/// One `shards/<n>` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ShardEntry {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    current: Option<String>,
    /// The lease of `current`'s registration when it claimed the shard.
    #[serde(default)]
    lease: i64,
    /// Set by an operator: the leader does not move a pinned shard.
    #[serde(default)]
    pinned: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClusterRecord {
    shards: u32,
}

/// What this node knows of the keys under the prefix.
#[derive(Debug)]
struct Mirror {
    /// Live nodes with the lease their key is on.
    nodes: BTreeMap<String, (NodeInfo, i64)>,
    /// Live gates.
    gates: BTreeMap<String, NodeInfo>,
    /// Shard entries with their mod revision.
    shards: BTreeMap<ShardId, (ShardEntry, i64)>,
    /// The leader's id and the key's mod revision.
    leader: Option<(String, i64)>,
    /// Whether a full load has happened.
    loaded: bool,
    /// When the set of live nodes last changed.
    membership_since: Instant,
    /// Bumped by every change that can move shard targets (membership, shard entries, a reload),
    /// so the leader recomputes targets only when something changed.
    generation: u64,
}

struct Inner {
    node_id: String,
    shard_count: u32,
    settings: EtcdSettings,
    /// What this node publishes about itself (the load part changes).
    info: Mutex<NodeInfo>,
    client: Client,
    mirror: Mutex<Mirror>,
    /// The lease this node's registration is on (0 while it has none).
    lease: AtomicI64,
    fenced: AtomicBool,
    /// The mirror generation the leader last assigned targets for (see `Mirror::generation`).
    assigned_generation: AtomicU64,
    view: watch::Sender<Arc<ClusterView>>,
    /// Wakes the leader loop when the mirror changes.
    changed: Notify,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The coordinator of a node in an etcd cluster.
#[derive(Clone)]
pub(crate) struct EtcdCoordinator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtcdCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCoordinator")
            .field("node", &self.inner.node_id)
            .field("endpoints", &self.inner.settings.endpoints)
            .field("prefix", &self.inner.settings.prefix)
            .finish()
    }
}

fn etcd_error(what: &str, error: etcd_client::Error) -> Error {
    Error::unavailable(format!("etcd: {what} failed: {error}"))
}

/// Runs an etcd request with a bound, so that a dead etcd cannot hang the caller.
async fn bounded<T>(
    what: &str,
    request: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
) -> Result<T> {
    match tokio::time::timeout(Duration::from_secs(5), request).await {
        Ok(result) => result.map_err(|e| etcd_error(what, e)),
        Err(_) => Err(Error::unavailable(format!("etcd: {what} timed out"))),
    }
}

impl EtcdCoordinator {
    /// Connects to etcd and checks (or sets, for a new cluster) the shard count.
    pub(crate) async fn connect(
        node_id: String,
        shard_count: u32,
        settings: EtcdSettings,
    ) -> Result<Self> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
        let client = bounded(
            "connecting",
            Client::connect(settings.endpoints.clone(), Some(options)),
        )
        .await?;
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let info = NodeInfo {
            advertise: Some(settings.advertise.clone()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_ms,
            objects: 0,
        };
        let empty = ClusterView {
            nodes: BTreeMap::new(),
            gates: BTreeMap::new(),
            targets: ShardMap::new(shard_count),
            owners: ShardMap::new(shard_count),
            leader: None,
            ready: false,
            fenced: false,
        };
        let coordinator = EtcdCoordinator {
            inner: Arc::new(Inner {
                node_id,
                shard_count,
                settings,
                info: Mutex::new(info),
                client,
                mirror: Mutex::new(Mirror {
                    nodes: BTreeMap::new(),
                    gates: BTreeMap::new(),
                    shards: BTreeMap::new(),
                    leader: None,
                    loaded: false,
                    membership_since: Instant::now(),
                    generation: 0,
                }),
                lease: AtomicI64::new(0),
                fenced: AtomicBool::new(false),
                assigned_generation: AtomicU64::new(u64::MAX),
                view: watch::Sender::new(Arc::new(empty)),
                changed: Notify::new(),
                tasks: Mutex::new(Vec::new()),
            }),
        };
        coordinator.inner.ensure_shard_count().await?;
        Ok(coordinator)
    }
}

impl Inner {
    fn key(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.settings.prefix.trim_end_matches('/'))
    }

    fn shard_key(&self, shard: ShardId) -> String {
        self.key(&format!("shards/{shard}"))
    }

    async fn ensure_shard_count(&self) -> Result<()> {
        let key = self.key("config");
        let record = serde_json::to_string(&ClusterRecord {
            shards: self.shard_count,
        })
        .expect("plain JSON");
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), record, None)])
            .or_else([TxnOp::get(key.clone(), None)]);
        let mut client = self.client.clone();
        let response = bounded("creating the cluster config", client.txn(txn)).await?;
        if response.succeeded() {
            return Ok(());
        }
        let mut client = self.client.clone();
        let existing = bounded("reading the cluster config", client.get(key.clone(), None)).await?;
        let Some(kv) = existing.kvs().first() else {
            return Ok(());
        };
        let record: ClusterRecord = serde_json::from_slice(kv.value()).map_err(|e| {
            Error::invalid_argument(format!(
                "etcd key {key} is not a goverse cluster config: {e}"
            ))
        })?;
        if record.shards != self.shard_count {
            return Err(Error::invalid_argument(format!(
                "the cluster under {} was created with {} shards, but this node is configured with {}; \
                 set shards to {} (the shard count of a cluster cannot change)",
                self.settings.prefix, record.shards, self.shard_count, record.shards
            )));
        }
        Ok(())
    }

    fn ttl_seconds(&self) -> i64 {
        self.settings.lease_ttl.as_secs().max(1) as i64
    }

    /// Takes a new lease and writes this node's key on it.
    async fn register(&self) -> Result<()> {
        let mut client = self.client.clone();
        let lease = bounded(
            "granting a lease",
            client.lease_grant(self.ttl_seconds(), None),
        )
        .await?
        .id();
        self.write_registration(lease, "registering the node")
            .await?;
        self.lease.store(lease, Ordering::Release);
        self.fenced.store(false, Ordering::Release);
        Ok(())
    }

    /// The keys this process registers under: `nodes/<id>` and/or `gates/<id>`.
    fn registration_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(2);
        if self.settings.hosts_objects {
            keys.push(self.key(&format!("nodes/{}", self.node_id)));
        }
        if self.settings.gate {
            keys.push(self.key(&format!("gates/{}", self.node_id)));
        }
        keys
    }

    /// Writes every registration key on `lease`, in one transaction.
    async fn write_registration(&self, lease: i64, what: &str) -> Result<()> {
        let value = serde_json::to_string(&*self.info.lock()).expect("plain JSON");
        let puts: Vec<TxnOp> = self
            .registration_keys()
            .into_iter()
            .map(|key| {
                TxnOp::put(
                    key,
                    value.clone(),
                    Some(PutOptions::new().with_lease(lease)),
                )
            })
            .collect();
        let mut client = self.client.clone();
        bounded(what, client.txn(Txn::new().and_then(puts))).await?;
        Ok(())
    }

    /// Rebuilds the mirror from a full read; returns the revision to watch from.
    async fn load(&self) -> Result<i64> {
        let mut client = self.client.clone();
        let response = bounded(
            "reading the cluster state",
            client.get(self.key(""), Some(GetOptions::new().with_prefix())),
        )
        .await?;
        let revision = response.header().map_or(0, |h| h.revision());
        {
            let mut mirror = self.mirror.lock();
            let before: Vec<String> = mirror.nodes.keys().cloned().collect();
            mirror.nodes.clear();
            mirror.gates.clear();
            mirror.shards.clear();
            mirror.leader = None;
            for kv in response.kvs() {
                self.apply_put(&mut mirror, kv);
            }
            mirror.loaded = true;
            mirror.generation += 1;
            if mirror.nodes.keys().ne(before.iter()) {
                mirror.membership_since = Instant::now();
            }
        }
        self.publish();
        Ok(revision)
    }

    fn apply_put(&self, mirror: &mut Mirror, kv: &KeyValue) {
        let Ok(key) = kv.key_str() else { return };
        let Some(rest) = key.strip_prefix(&self.key("")) else {
            return;
        };
        if let Some(id) = rest.strip_prefix("nodes/") {
            if let Ok(info) = serde_json::from_slice::<NodeInfo>(kv.value())
                && mirror
                    .nodes
                    .insert(id.to_string(), (info, kv.lease()))
                    .is_none()
            {
                mirror.membership_since = Instant::now();
                mirror.generation += 1;
            }
        } else if let Some(id) = rest.strip_prefix("gates/") {
            if let Ok(info) = serde_json::from_slice::<NodeInfo>(kv.value()) {
                mirror.gates.insert(id.to_string(), info);
            }
        } else if let Some(shard) = rest.strip_prefix("shards/") {
            if let (Ok(shard), Ok(entry)) = (
                shard.parse::<ShardId>(),
                serde_json::from_slice::<ShardEntry>(kv.value()),
            ) {
                mirror.shards.insert(shard, (entry, kv.mod_revision()));
                mirror.generation += 1;
            }
        } else if rest == "leader"
            && let Ok(id) = kv.value_str()
        {
            mirror.leader = Some((id.to_string(), kv.mod_revision()));
        }
    }

    fn apply_delete(&self, mirror: &mut Mirror, kv: &KeyValue) {
        let Ok(key) = kv.key_str() else { return };
        let Some(rest) = key.strip_prefix(&self.key("")) else {
            return;
        };
        if let Some(id) = rest.strip_prefix("nodes/") {
            if mirror.nodes.remove(id).is_some() {
                mirror.membership_since = Instant::now();
                mirror.generation += 1;
            }
        } else if let Some(id) = rest.strip_prefix("gates/") {
            mirror.gates.remove(id);
        } else if let Some(shard) = rest.strip_prefix("shards/") {
            if let Ok(shard) = shard.parse::<ShardId>()
                && mirror.shards.remove(&shard).is_some()
            {
                mirror.generation += 1;
            }
        } else if rest == "leader" {
            mirror.leader = None;
        }
    }

    /// Follows every change under the prefix; returns when the watch breaks.
    async fn watch_once(&self) -> Result<()> {
        let revision = self.load().await?;
        let mut client = self.client.clone();
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let mut stream = bounded(
            "watching the cluster",
            client.watch(self.key(""), Some(options)),
        )
        .await?;
        loop {
            let response = stream
                .message()
                .await
                .map_err(|e| etcd_error("watching", e))?;
            let Some(response) = response else {
                return Err(Error::unavailable("etcd: the watch ended"));
            };
            if response.canceled() {
                return Err(Error::unavailable(format!(
                    "etcd: the watch was cancelled: {}",
                    response.cancel_reason()
                )));
            }
            {
                let mut mirror = self.mirror.lock();
                for event in response.events() {
                    let Some(kv) = event.kv() else { continue };
                    match event.event_type() {
                        EventType::Put => self.apply_put(&mut mirror, kv),
                        EventType::Delete => self.apply_delete(&mut mirror, kv),
                    }
                }
            }
            self.publish();
        }
    }

    /// Publishes the view computed from the mirror.
    fn publish(&self) {
        let view = {
            let mirror = self.mirror.lock();
            self.compute_view(&mirror)
        };
        self.view.send_replace(Arc::new(view));
        self.changed.notify_one();
    }

    fn compute_view(&self, mirror: &Mirror) -> ClusterView {
        let mut targets = ShardMap::new(self.shard_count);
        let mut owners = ShardMap::new(self.shard_count);
        for (&shard, (entry, _)) in &mirror.shards {
            if shard >= self.shard_count {
                continue;
            }
            targets.set_owner(shard, entry.target.clone());
            if let Some(current) = &entry.current
                && mirror
                    .nodes
                    .get(current)
                    .is_some_and(|(_, lease)| *lease == entry.lease)
            {
                owners.set_owner(shard, Some(current.clone()));
            }
        }
        let fenced = self.fenced.load(Ordering::Acquire);
        let assigned = mirror.shards.len() as u32 >= self.shard_count;
        let stable = mirror.membership_since.elapsed() >= self.settings.stability_window;
        ClusterView {
            nodes: mirror
                .nodes
                .iter()
                .map(|(id, (info, _))| (id.clone(), info.clone()))
                .collect(),
            gates: mirror.gates.clone(),
            targets,
            owners,
            leader: mirror
                .leader
                .as_ref()
                .filter(|(id, _)| mirror.nodes.contains_key(id))
                .map(|(id, _)| id.clone()),
            ready: mirror.loaded
                && !fenced
                && assigned
                && stable
                && mirror.nodes.len() >= self.settings.min_quorum,
            fenced,
        }
    }

    fn fence(&self, why: &str) {
        if !self.fenced.swap(true, Ordering::AcqRel) {
            tracing::warn!(node = %self.node_id, why, "fencing: this node stops serving every shard");
            self.lease.store(0, Ordering::Release);
            self.publish();
        }
    }

    /// Keeps the registration alive; fences the node when renewal fails for too long and
    /// registers again once etcd answers.
    async fn keep_alive(self: Arc<Self>) {
        let ttl = self.settings.lease_ttl;
        // Stop serving a little before the lease can expire on the server.
        let fence_after = ttl.saturating_sub((ttl / 5).max(Duration::from_millis(500)));
        let period = (ttl / 4).max(Duration::from_millis(200));
        let mut last_renewal = Instant::now();
        loop {
            let lease = self.lease.load(Ordering::Acquire);
            if lease == 0 {
                match self.register().await {
                    Ok(()) => {
                        tracing::info!(node = %self.node_id, "registered in the cluster again");
                        last_renewal = Instant::now();
                        self.publish();
                    }
                    Err(_) => tokio::time::sleep(period).await,
                }
                continue;
            }
            let mut client = self.client.clone();
            let stream = bounded("keeping the lease alive", client.lease_keep_alive(lease)).await;
            if let Ok((mut keeper, mut responses)) = stream {
                loop {
                    if keeper.keep_alive().await.is_err() {
                        break;
                    }
                    match tokio::time::timeout(period, responses.message()).await {
                        Ok(Ok(Some(response))) if response.ttl() > 0 => {
                            last_renewal = Instant::now();
                            self.restore_registration(lease).await;
                        }
                        Ok(Ok(Some(_))) => {
                            self.fence("the lease expired");
                            break;
                        }
                        _ => break,
                    }
                    tokio::time::sleep(period).await;
                }
            }
            if self.lease.load(Ordering::Acquire) != 0 && last_renewal.elapsed() >= fence_after {
                self.fence("the lease could not be renewed in time");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Writes this node's key again if it vanished while the lease lives (someone deleted it).
    async fn restore_registration(&self, lease: i64) {
        let missing = {
            let mirror = self.mirror.lock();
            mirror.loaded
                && ((self.settings.hosts_objects && !mirror.nodes.contains_key(&self.node_id))
                    || (self.settings.gate && !mirror.gates.contains_key(&self.node_id)))
        };
        if missing
            && self
                .write_registration(lease, "restoring the registration")
                .await
                .is_ok()
        {
            tracing::warn!(node = %self.node_id, "this node's registration had vanished; wrote it again");
        }
    }

    /// Keeps the mirror in sync, reloading after any watch failure.
    async fn follow(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            if let Err(error) = self.watch_once().await {
                tracing::debug!(node = %self.node_id, %error, "etcd watch interrupted; reloading");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Takes leadership when nobody live holds it; as leader, assigns shard targets.
    async fn lead(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if self.fenced.load(Ordering::Acquire) || self.lease.load(Ordering::Acquire) == 0 {
                continue;
            }
            let (leader, leader_live) = {
                let mirror = self.mirror.lock();
                let leader = mirror.leader.clone();
                let live = leader
                    .as_ref()
                    .is_some_and(|(id, _)| mirror.nodes.contains_key(id));
                (leader, live)
            };
            match leader {
                Some((id, _)) if id == self.node_id && leader_live => {
                    if let Err(error) = self.assign_targets().await {
                        tracing::debug!(node = %self.node_id, %error, "assigning shard targets failed; retrying");
                    }
                }
                Some((_, _)) if leader_live => {}
                other => {
                    let revision = other.map_or(0, |(_, revision)| revision);
                    let _ = self.take_leadership(revision).await;
                }
            }
        }
    }

    async fn take_leadership(&self, seen_revision: i64) -> Result<()> {
        let key = self.key("leader");
        let lease = self.lease.load(Ordering::Acquire);
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.clone(),
                CompareOp::Equal,
                seen_revision,
            )])
            .and_then([TxnOp::put(
                key,
                self.node_id.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut client = self.client.clone();
        if bounded("taking leadership", client.txn(txn))
            .await?
            .succeeded()
        {
            tracing::info!(node = %self.node_id, "became the cluster leader");
        }
        Ok(())
    }

    /// Moves shard targets toward a balanced assignment over the live nodes, once membership
    /// has been stable for the window and the quorum is met. Does nothing when neither
    /// membership nor the shard map changed since the last complete assignment.
    async fn assign_targets(&self) -> Result<()> {
        let (generation, writes) = {
            let mirror = self.mirror.lock();
            if mirror.generation == self.assigned_generation.load(Ordering::Acquire) {
                return Ok(());
            }
            if !mirror.loaded
                || mirror.nodes.len() < self.settings.min_quorum
                || mirror.membership_since.elapsed() < self.settings.stability_window
            {
                return Ok(());
            }
            let live: Vec<String> = mirror.nodes.keys().cloned().collect();
            let mut current = ShardMap::new(self.shard_count);
            for (&shard, (entry, _)) in &mirror.shards {
                if shard < self.shard_count {
                    current.set_owner(shard, entry.target.clone());
                }
            }
            let desired = rebalance(&current, &live);
            let mut writes = Vec::new();
            for shard in 0..self.shard_count {
                let stored = mirror.shards.get(&shard);
                let target = desired.owner(shard);
                if let Some((entry, _)) = stored {
                    let keep = entry.pinned
                        && entry
                            .target
                            .as_ref()
                            .is_some_and(|t| mirror.nodes.contains_key(t));
                    if keep || entry.target.as_deref() == target {
                        continue;
                    }
                }
                let (entry, revision) = stored.cloned().unwrap_or_default();
                let target = target.map(str::to_string);
                writes.push((shard, ShardEntry { target, ..entry }, revision));
            }
            (mirror.generation, writes)
        };
        self.write_entries(writes, "assigning shard targets")
            .await?;
        self.assigned_generation
            .store(generation, Ordering::Release);
        Ok(())
    }

    /// Writes shard entries, each conditional on the mod revision it was read at.
    async fn write_entries(
        &self,
        writes: Vec<(ShardId, ShardEntry, i64)>,
        what: &str,
    ) -> Result<()> {
        for batch in writes.chunks(BATCH) {
            let compares: Vec<Compare> = batch
                .iter()
                .map(|(shard, _, revision)| {
                    Compare::mod_revision(self.shard_key(*shard), CompareOp::Equal, *revision)
                })
                .collect();
            let puts: Vec<TxnOp> = batch
                .iter()
                .map(|(shard, entry, _)| {
                    TxnOp::put(
                        self.shard_key(*shard),
                        serde_json::to_string(entry).expect("plain JSON"),
                        None,
                    )
                })
                .collect();
            let mut client = self.client.clone();
            let response =
                bounded(what, client.txn(Txn::new().when(compares).and_then(puts))).await?;
            if !response.succeeded() {
                return Err(Error::unavailable(format!(
                    "etcd: {what}: the shard map changed meanwhile"
                )));
            }
        }
        Ok(())
    }

    /// The entries of `shards` rewritten by `change`, where `eligible` allows it.
    fn rewrite(
        &self,
        shards: &[ShardId],
        eligible: impl Fn(&Mirror, &ShardEntry) -> bool,
        change: impl Fn(&mut ShardEntry),
    ) -> Vec<(ShardId, ShardEntry, i64)> {
        let mirror = self.mirror.lock();
        shards
            .iter()
            .filter_map(|shard| {
                let (entry, revision) = mirror.shards.get(shard)?;
                if !eligible(&mirror, entry) {
                    return None;
                }
                let mut entry = entry.clone();
                change(&mut entry);
                Some((*shard, entry, *revision))
            })
            .collect()
    }
}

impl Coordinator for EtcdCoordinator {
    fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    fn shard_count(&self) -> u32 {
        self.inner.shard_count
    }

    fn join(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.register().await?;
            inner.load().await?;
            let mut tasks = inner.tasks.lock();
            tasks.push(tokio::spawn(inner.clone().keep_alive()));
            tasks.push(tokio::spawn(inner.clone().follow()));
            if inner.settings.hosts_objects {
                tasks.push(tokio::spawn(inner.clone().lead()));
            }
            // The stability window elapses without any event: republish when it does.
            let republish = inner.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_millis(100));
                loop {
                    ticks.tick().await;
                    let (loaded, stable) = {
                        let mirror = republish.mirror.lock();
                        (
                            mirror.loaded,
                            mirror.membership_since.elapsed()
                                >= republish.settings.stability_window,
                        )
                    };
                    if loaded && stable != republish.view.borrow().ready {
                        republish.publish();
                    }
                }
            }));
            Ok(())
        })
    }

    fn view(&self) -> watch::Receiver<Arc<ClusterView>> {
        self.inner.view.subscribe()
    }

    fn claim(&self, shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner = &self.inner;
            let me = inner.node_id.clone();
            let lease = inner.lease.load(Ordering::Acquire);
            if lease == 0 {
                return Err(Error::unavailable("this node is not registered"));
            }
            let writes = inner.rewrite(
                &shards,
                |mirror, entry| {
                    entry.target.as_deref() == Some(me.as_str())
                        && !entry.current.as_ref().is_some_and(|current| {
                            mirror
                                .nodes
                                .get(current)
                                .is_some_and(|(_, live_lease)| *live_lease == entry.lease)
                        })
                },
                |entry| {
                    entry.current = Some(me.clone());
                    entry.lease = lease;
                },
            );
            inner.write_entries(writes, "claiming shards").await
        })
    }

    fn release(&self, shards: Vec<ShardId>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner = &self.inner;
            let me = inner.node_id.clone();
            let writes = inner.rewrite(
                &shards,
                |_, entry| entry.current.as_deref() == Some(me.as_str()),
                |entry| {
                    entry.current = None;
                    entry.lease = 0;
                },
            );
            inner.write_entries(writes, "releasing shards").await
        })
    }

    fn report_load(&self, objects: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner = &self.inner;
            let value = {
                let mut info = inner.info.lock();
                if info.objects == objects {
                    return Ok(());
                }
                info.objects = objects;
                serde_json::to_string(&*info).expect("plain JSON")
            };
            let lease = inner.lease.load(Ordering::Acquire);
            if lease == 0 || !inner.settings.hosts_objects {
                return Ok(());
            }
            let key = inner.key(&format!("nodes/{}", inner.node_id));
            let mut client = inner.client.clone();
            let options = PutOptions::new().with_lease(lease);
            bounded("reporting the load", client.put(key, value, Some(options))).await?;
            Ok(())
        })
    }

    fn leave(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let inner = &self.inner;
            for task in inner.tasks.lock().drain(..) {
                task.abort();
            }
            let leader = inner.mirror.lock().leader.clone();
            if let Some((id, revision)) = leader
                && id == inner.node_id
            {
                let key = inner.key("leader");
                let txn = Txn::new()
                    .when([Compare::mod_revision(
                        key.clone(),
                        CompareOp::Equal,
                        revision,
                    )])
                    .and_then([TxnOp::delete(key, None)]);
                let mut client = inner.client.clone();
                let _ = bounded("resigning leadership", client.txn(txn)).await;
            }
            let lease = inner.lease.swap(0, Ordering::AcqRel);
            if lease != 0 {
                let mut client = inner.client.clone();
                bounded("revoking the lease", client.lease_revoke(lease)).await?;
            }
            Ok(())
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().drain(..) {
            task.abort();
        }
    }
}
