//! The gate: how clients outside the cluster reach objects (cargo feature `gate`).
//!
//! A gate routes calls by the shard map like a node and hosts no objects of its own. It runs
//! embedded in a node ([`NodeBuilder::gate`](crate::NodeBuilder::gate)) or as a gate-only
//! process ([`NodeBuilder::gate_only`](crate::NodeBuilder::gate_only)) that registers under
//! `gates/<id>` in etcd. It speaks GoVerse's gRPC `gate.GateService` and HTTP API (with
//! server-sent events for pushes) and our JSON-native HTTP API, and relays push messages from
//! objects to its clients ([`clients`]).

pub(crate) mod any;
mod auth;
mod clients;
#[cfg(test)]
pub(crate) mod fuzz_tests;
mod grpc;
mod http;
mod security;

/// The generated code of `proto/gate/gate.proto` (GoVerse's `gate.GateService`).
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub(crate) mod proto {
    tonic::include_proto!("gate");
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::codec::Payload;
use crate::error::Result;
use crate::object::Caller;
use crate::persistence::CallOutcome;
use crate::routing::{CallOptions, Router};

pub use auth::{
    ApiKeys, Authenticator, BearerTokens, FirstOf, GOVERSE_AUTH_HEADER, goverse_auth,
    unauthenticated,
};
pub use clients::PushCounters;
pub(crate) use clients::{ClientSession, Clients};
#[cfg(feature = "client")]
pub(crate) use grpc::{ERROR_CODE_KEY, ERROR_KIND_KEY};

pub use crate::config::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_CLIENT_QUEUE, DEFAULT_HEARTBEAT, DEFAULT_MAX_BODY,
    DEFAULT_MAX_CLIENTS,
};

/// How a gate listens and what it allows.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Where the GoVerse-compatible gRPC `gate.GateService` listens (`None`: not served).
    pub grpc_listen: Option<SocketAddr>,
    /// Where the HTTP APIs listen: GoVerse's `/api/v1/...` with SSE, and the JSON-native
    /// `/v1/objects/...` with its OpenAPI document (`None`: not served).
    pub http_listen: Option<SocketAddr>,
    /// Push messages queued per client before new ones are dropped (and counted).
    pub client_queue: usize,
    /// Clients connected at once (gRPC `Register` and SSE streams); more are refused with
    /// `RESOURCE_EXHAUSTED` / 429.
    pub max_clients: usize,
    /// The largest request body accepted; larger ones are refused with 413 / `RESOURCE_EXHAUSTED`.
    pub max_body_bytes: usize,
    /// How long an HTTP request body may take to arrive in full, however steadily its bytes
    /// trickle in; slower ones are refused with 408 (code `BODY_TIMEOUT`).
    pub body_read_timeout: Duration,
    /// How often an SSE stream sends a `heartbeat` event.
    pub heartbeat: Duration,
    /// Who clients are ([`BearerTokens`], [`ApiKeys`] or your own); `None`: every client is
    /// anonymous.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Refuse clients the authenticator does not identify (`Unauthenticated`).
    pub require_authentication: bool,
    /// Token buckets per client and per object type ([`crate::limits`]); empty: the cluster
    /// file's `rate_limits`, if any, else no limit.
    pub rate_limits: Vec<crate::limits::RateLimit>,
    /// Serve the gRPC and HTTP listeners over TLS with these PEM files.
    pub tls: Option<crate::tls::TlsFiles>,
}

impl GateConfig {
    /// The gate a cluster file describes: its listeners and TLS from the node's entry, the
    /// rest from the file's `gate` section (bearer tokens and API keys become the
    /// authenticator).
    pub fn from_file(
        grpc_listen: Option<SocketAddr>,
        http_listen: Option<SocketAddr>,
        tls: Option<crate::tls::TlsFiles>,
        section: &crate::config::GateSection,
    ) -> GateConfig {
        let pairs = |credentials: &[crate::config::Credential]| {
            credentials
                .iter()
                .map(|c| (c.secret.clone(), c.identity.clone()))
                .collect::<Vec<_>>()
        };
        let mut authenticators: Vec<Arc<dyn Authenticator>> = Vec::new();
        if !section.bearer_tokens.is_empty() {
            authenticators.push(Arc::new(BearerTokens::new(pairs(&section.bearer_tokens))));
        }
        if !section.api_keys.is_empty() {
            authenticators.push(Arc::new(ApiKeys::new(pairs(&section.api_keys))));
        }
        let authenticator: Option<Arc<dyn Authenticator>> = match authenticators.len() {
            0 => None,
            1 => authenticators.pop(),
            _ => Some(Arc::new(FirstOf(authenticators))),
        };
        GateConfig {
            grpc_listen,
            http_listen,
            client_queue: section.client_queue,
            max_clients: section.max_clients,
            max_body_bytes: section.max_body_bytes,
            body_read_timeout: section.body_read_timeout,
            heartbeat: section.heartbeat,
            authenticator,
            require_authentication: section.require_authentication,
            tls,
            ..GateConfig::default()
        }
    }

    /// The same configuration with `limits` when it sets none of its own.
    pub(crate) fn with_default_rate_limits(mut self, limits: &[crate::limits::RateLimit]) -> Self {
        if self.rate_limits.is_empty() {
            self.rate_limits = limits.to_vec();
        }
        self
    }
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            grpc_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            client_queue: DEFAULT_CLIENT_QUEUE,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_body_bytes: DEFAULT_MAX_BODY,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
            authenticator: None,
            require_authentication: false,
            rate_limits: Vec::new(),
            tls: None,
        }
    }
}

/// What the gate's servers use: the router, the client table and the configuration.
#[derive(Debug)]
pub(crate) struct GateCore {
    router: Router,
    clients: Arc<Clients>,
    config: GateConfig,
    limiter: crate::limits::RateLimiter,
}

impl GateCore {
    /// Registers a client bound to `identity` (if authenticated).
    pub(crate) fn register(&self, identity: Option<String>) -> Result<ClientSession> {
        self.clients.register(identity)
    }

    /// The client table.
    pub(crate) fn clients(&self) -> &Arc<Clients> {
        &self.clients
    }

    /// The gate's configuration.
    pub(crate) fn config(&self) -> &GateConfig {
        &self.config
    }

    /// The router calls go through.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// The options of a call for `caller` (a client, anonymous when `None`), due by `deadline`
    /// at the latest (the node's default call timeout applies when it is sooner or `deadline`
    /// is `None`).
    fn options(caller: Option<Caller>, deadline: Option<Instant>) -> CallOptions {
        CallOptions {
            caller,
            deadline,
            from_client: true,
            ..CallOptions::default()
        }
    }

    /// Calls `type_name.method` on object `id` with encoded named arguments; the result comes
    /// back in the arguments' codec.
    pub(crate) async fn call(
        &self,
        caller: Option<Caller>,
        type_name: &str,
        id: &str,
        method: &str,
        args: Payload,
    ) -> Result<Payload> {
        self.call_until(None, caller, type_name, id, method, args)
            .await
    }

    /// [`call`](Self::call), due by `deadline` (the client's, e.g. its gRPC timeout) when that
    /// is sooner than the node's default call timeout.
    pub(crate) async fn call_until(
        &self,
        deadline: Option<Instant>,
        caller: Option<Caller>,
        type_name: &str,
        id: &str,
        method: &str,
        args: Payload,
    ) -> Result<Payload> {
        self.router
            .call_by_name(type_name, id, method, args, Self::options(caller, deadline))
            .await
    }

    /// A reliable call (see [`Proxy::reliable`](crate::Proxy::reliable)).
    pub(crate) async fn reliable(
        &self,
        caller: Option<Caller>,
        type_name: &str,
        id: &str,
        method: &str,
        call_id: &str,
        args: Payload,
    ) -> Result<CallOutcome> {
        self.reliable_until(None, caller, type_name, id, method, call_id, args)
            .await
    }

    /// [`reliable`](Self::reliable), due by `deadline` when that is sooner than the node's
    /// default call timeout.
    #[allow(clippy::too_many_arguments)] // the names of one call, its caller and its deadline
    pub(crate) async fn reliable_until(
        &self,
        deadline: Option<Instant>,
        caller: Option<Caller>,
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
                Self::options(caller, deadline),
                crate::routing::Delivery::Routed,
            )
            .await
    }

    /// Activates object `id` of `type_name`.
    pub(crate) async fn create(&self, type_name: &str, id: &str) -> Result<()> {
        self.router
            .lifecycle_by_name(type_name, id, crate::routing::Lifecycle::Create)
            .await
    }

    /// Deletes object `id` of `type_name` (deactivates it and deletes its stored state).
    pub(crate) async fn delete(&self, type_name: &str, id: &str) -> Result<()> {
        self.router
            .lifecycle_by_name(type_name, id, crate::routing::Lifecycle::Delete)
            .await
    }
}

/// A snapshot of a gate's clients and push counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateStats {
    /// Clients connected now (gRPC `Register` streams and SSE streams).
    pub clients: usize,
    /// Push messages queued for a client.
    pub pushes_delivered: u64,
    /// Push messages dropped because the client's queue was full.
    pub pushes_dropped_full: u64,
    /// Push messages for clients not connected to this gate.
    pub pushes_unknown_client: u64,
}

impl GateCore {
    /// The gate's clients and push counters now.
    pub(crate) fn stats(&self) -> GateStats {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = &self.clients.counters;
        GateStats {
            clients: self.clients.len(),
            pushes_delivered: counters.delivered.load(Relaxed),
            pushes_dropped_full: counters.dropped_full.load(Relaxed),
            pushes_unknown_client: counters.unknown_client.load(Relaxed),
        }
    }
}

/// A running gate: its core and the addresses it listens on.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) core: Arc<GateCore>,
    /// The bound gRPC address, if served.
    pub(crate) grpc_address: Option<SocketAddr>,
    /// The bound HTTP address, if served.
    pub(crate) http_address: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Gate {
    /// Starts a gate on `router`; clients get ids prefixed with `gate_address` (the address
    /// nodes reach this process at). Pushes for them are delivered through the router.
    pub(crate) async fn start(
        router: Router,
        config: GateConfig,
        gate_address: String,
    ) -> Result<Gate> {
        let clients = Clients::new(gate_address, config.client_queue, config.max_clients);
        router.set_push_sink(clients.clone());
        let limiter = crate::limits::RateLimiter::new(config.rate_limits.clone())?;
        let core = Arc::new(GateCore {
            router,
            clients,
            config,
            limiter,
        });
        let mut gate = Gate {
            core: core.clone(),
            grpc_address: None,
            http_address: None,
            tasks: Vec::new(),
        };
        if let Some(address) = core.config.grpc_listen {
            let (bound, task) = grpc::serve(core.clone(), address).await?;
            gate.grpc_address = Some(bound);
            gate.tasks.push(task);
        }
        if let Some(address) = core.config.http_listen {
            let (bound, task) = http::serve(core.clone(), address).await?;
            gate.http_address = Some(bound);
            gate.tasks.push(task);
        }
        Ok(gate)
    }

    /// Stops the gate's servers; connected clients see their streams end.
    pub(crate) fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop();
    }
}
