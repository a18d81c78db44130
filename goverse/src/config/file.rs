//! The cluster file: one YAML file that describes a whole cluster, from which each process picks
//! its own entry by node id.
//!
//! ```yaml
//! cluster:
//!   etcd: ["127.0.0.1:2379"]      # endpoints; empty or absent = embedded (no etcd)
//!   prefix: /goverse              # etcd key prefix
//!   shards: 8192
//!   min_quorum: 1
//!   stability_window: 1s          # durations are written like 500ms, 5s or 10m
//!   lease_ttl: 5s                 # at least 2s
//!   call_timeout: 30s
//!   idle_timeout: 10m
//! nodes:
//!   - id: n1                      # required, unique
//!     listen: 127.0.0.1:7001      # required socket address
//!     advertise: 127.0.0.1:7001   # optional host:port, default = listen
//!   - id: n2
//!     listen: 127.0.0.1:7002
//! ```
//!
//! Every key of `cluster` has a default, and so do the sections themselves: a file with only
//! `nodes` is complete. An unknown key, a value of the wrong type and a value out of range are
//! errors that name the key by its path (`cluster.lease_ttl`, `nodes[1].listen`) and give the
//! line and column where it is written.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_saphyr::granit_parser::{Event, Parser};
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use crate::error::{Error, Result};
use crate::sharding::DEFAULT_SHARD_COUNT;

/// Default etcd key prefix under which the cluster keeps its state.
pub const DEFAULT_PREFIX: &str = "/goverse";

/// Default number of nodes that must be present before shards are assigned.
pub const DEFAULT_MIN_QUORUM: usize = 1;

/// Default time the set of nodes must stay unchanged before shards are reassigned.
pub const DEFAULT_STABILITY_WINDOW: Duration = Duration::from_secs(1);

/// Default time-to-live of a node's etcd lease.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// Shortest etcd lease time-to-live a cluster file may set.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(2);

/// Default deadline of calls that do not set their own (the same as
/// [`DEFAULT_CALL_TIMEOUT`](super::DEFAULT_CALL_TIMEOUT)).
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default idle time after which an object is deactivated (the same as
/// [`DEFAULT_IDLE_TIMEOUT`](super::DEFAULT_IDLE_TIMEOUT)).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// A whole cluster file: the settings shared by every node and the list of nodes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Settings shared by the whole cluster; absent or empty means all defaults.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cluster: ClusterSection,
    /// Where persistent state and reliable calls are kept; absent means in memory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub database: DatabaseSection,
    /// The nodes of the cluster, each picked by its id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes: Vec<NodeEntry>,
    /// Who may call which methods, first match wins (see [`crate::access`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub access_rules: Vec<crate::access::AccessRule>,
    /// Who may create and delete which objects (see [`crate::access`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub lifecycle_rules: Vec<crate::access::LifecycleRule>,
    /// Rate limits of the gates (see [`crate::limits`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub rate_limits: Vec<crate::limits::RateLimit>,
    /// Settings of every gate in the file: queues, limits and who the clients are.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gate: GateSection,
}

/// The `gate` section: what every gate process (or node with a gate) of the file uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateSection {
    /// Push messages queued per client before new ones are dropped (and counted).
    pub client_queue: usize,
    /// Clients connected at once; more are refused.
    pub max_clients: usize,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The longest an HTTP request body may take to arrive (then 408).
    #[serde(deserialize_with = "human_duration")]
    pub body_read_timeout: Duration,
    /// How often an SSE stream sends a `heartbeat` event.
    #[serde(deserialize_with = "human_duration")]
    pub heartbeat: Duration,
    /// Refuse clients that no token or key identifies.
    pub require_authentication: bool,
    /// Bearer tokens (`Authorization: Bearer <token>`) and the identity each stands for.
    pub bearer_tokens: Vec<Credential>,
    /// API keys (`X-API-Key: <key>`) and the identity each stands for.
    pub api_keys: Vec<Credential>,
}

/// One token or key of the `gate` section and the identity a client presenting it gets.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The secret the client presents.
    pub secret: String,
    /// Who the client is then (what `Context::caller()` reports).
    pub identity: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("secret", &"<redacted>")
            .field("identity", &self.identity)
            .finish()
    }
}

impl Default for GateSection {
    fn default() -> Self {
        GateSection {
            client_queue: crate::config::DEFAULT_CLIENT_QUEUE,
            max_clients: crate::config::DEFAULT_MAX_CLIENTS,
            max_body_bytes: crate::config::DEFAULT_MAX_BODY,
            body_read_timeout: crate::config::DEFAULT_BODY_READ_TIMEOUT,
            heartbeat: crate::config::DEFAULT_HEARTBEAT,
            require_authentication: false,
            bearer_tokens: Vec::new(),
            api_keys: Vec::new(),
        }
    }
}

impl GateSection {
    /// Checks the sizes and the credentials (non-empty, no secret listed twice).
    fn validate(&self) -> Result<(), Problem> {
        for (key, value) in [
            ("client_queue", self.client_queue),
            ("max_clients", self.max_clients),
            ("max_body_bytes", self.max_body_bytes),
        ] {
            if value == 0 {
                return Err(Problem::new(
                    format!("gate.{key}"),
                    "must be greater than 0",
                ));
            }
        }
        for (key, value) in [
            ("heartbeat", self.heartbeat),
            ("body_read_timeout", self.body_read_timeout),
        ] {
            if value.is_zero() {
                return Err(Problem::new(
                    format!("gate.{key}"),
                    "must be greater than 0",
                ));
            }
        }
        for (list, credentials) in [
            ("bearer_tokens", &self.bearer_tokens),
            ("api_keys", &self.api_keys),
        ] {
            let mut seen = std::collections::HashSet::new();
            for (index, credential) in credentials.iter().enumerate() {
                for (field, value) in [
                    ("secret", &credential.secret),
                    ("identity", &credential.identity),
                ] {
                    if value.trim().is_empty() {
                        return Err(Problem::new(
                            format!("gate.{list}[{index}].{field}"),
                            "must not be empty",
                        ));
                    }
                }
                if !seen.insert(credential.secret.as_str()) {
                    return Err(Problem::new(
                        format!("gate.{list}[{index}].secret"),
                        "the same secret is listed twice",
                    ));
                }
            }
        }
        if self.require_authentication && self.bearer_tokens.is_empty() && self.api_keys.is_empty()
        {
            return Err(Problem::new(
                "gate.require_authentication",
                "no client could connect: list `bearer_tokens` or `api_keys`",
            ));
        }
        Ok(())
    }
}

/// The `database` section: where every node keeps persistent state and reliable calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `postgres://user:password@host:port/database`, `sqlite:path` or `memory:` (the default;
    /// nothing survives a restart and nodes do not share state).
    pub url: String,
    /// A changed `persist` object with the default policy is saved at least this often.
    #[serde(deserialize_with = "human_duration")]
    pub save_interval: Duration,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: "memory:".to_string(),
            save_interval: super::DEFAULT_SAVE_INTERVAL,
        }
    }
}

impl DatabaseSection {
    /// Checks the URL's scheme and the interval.
    fn validate(&self) -> Result<(), Problem> {
        let known = ["postgres://", "postgresql://", "sqlite:", "memory:"];
        if !known.iter().any(|scheme| self.url.starts_with(scheme)) {
            return Err(Problem::new(
                "database.url",
                format!(
                    "`{}` is not a database URL; use postgres://user@host:port/db, sqlite:path \
                     or memory:",
                    crate::persistence::redact(&self.url)
                ),
            ));
        }
        if self.url == "sqlite:" {
            return Err(Problem::new("database.url", "sqlite: needs a file path"));
        }
        if self.save_interval.is_zero() {
            return Err(Problem::new(
                "database.save_interval",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

/// The `cluster` section: settings shared by every node. Every key has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// etcd endpoints; empty means an embedded cluster without etcd.
    pub etcd: Vec<String>,
    /// etcd key prefix under which the cluster keeps its state.
    pub prefix: String,
    /// Number of shards in the cluster.
    pub shards: u32,
    /// Number of nodes that must be present before shards are assigned.
    pub min_quorum: usize,
    /// Time the set of nodes must stay unchanged before shards are reassigned.
    #[serde(deserialize_with = "human_duration")]
    pub stability_window: Duration,
    /// Time-to-live of each node's etcd lease; at least 2s.
    #[serde(deserialize_with = "human_duration")]
    pub lease_ttl: Duration,
    /// Deadline given to calls that do not set their own.
    #[serde(deserialize_with = "human_duration")]
    pub call_timeout: Duration,
    /// Objects without calls for this long are deactivated.
    #[serde(deserialize_with = "human_duration")]
    pub idle_timeout: Duration,
    /// The secret every node and gate shares; requests between nodes must prove it.
    pub secret: Option<String>,
    /// PEM file of the CA that node certificates are checked against; connections between
    /// nodes use TLS when set.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            etcd: Vec::new(),
            prefix: DEFAULT_PREFIX.to_string(),
            shards: DEFAULT_SHARD_COUNT,
            min_quorum: DEFAULT_MIN_QUORUM,
            stability_window: DEFAULT_STABILITY_WINDOW,
            lease_ttl: DEFAULT_LEASE_TTL,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            secret: None,
            tls_ca: None,
        }
    }
}

/// One entry of the `nodes` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// The node's id, unique in the file: ASCII letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// Socket address the node listens on.
    #[serde(deserialize_with = "socket_address")]
    pub listen: SocketAddr,
    /// `host:port` other nodes reach this node at; `None` means the `listen` address.
    #[serde(default)]
    pub advertise: Option<String>,
    /// The node service's certificate and key (`{cert: path, key: path}`): it serves TLS.
    #[serde(default)]
    pub tls: Option<TlsEntry>,
    /// Where this process's gate serves gRPC (`gate.GateService`); a gate runs when this or
    /// `gate_http` is set (cargo feature `gate`).
    #[serde(default, deserialize_with = "optional_socket_address")]
    pub gate_grpc: Option<SocketAddr>,
    /// Where this process's gate serves HTTP (GoVerse's API, SSE, the JSON API).
    #[serde(default, deserialize_with = "optional_socket_address")]
    pub gate_http: Option<SocketAddr>,
    /// The gate's certificate and key (`{cert: path, key: path}`): both gate listeners serve
    /// TLS.
    #[serde(default)]
    pub gate_tls: Option<TlsEntry>,
    /// A gate-only process: it hosts no objects, only routes for its gate's clients.
    #[serde(default)]
    pub gate_only: bool,
}

/// `nodes[].tls`: PEM files of the node service's certificate chain and private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsEntry {
    /// The certificate chain.
    pub cert: std::path::PathBuf,
    /// The private key.
    pub key: std::path::PathBuf,
}

/// Everything one node needs from the cluster file: its own entry merged with the shared section.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Where the gate serves gRPC, if this process runs one.
    pub gate_grpc: Option<SocketAddr>,
    /// Where the gate serves HTTP, if this process runs one.
    pub gate_http: Option<SocketAddr>,
    /// Whether this is a gate-only process.
    pub gate_only: bool,
    /// The gate's TLS certificate and key, if its listeners serve TLS.
    pub gate_tls: Option<crate::tls::TlsFiles>,
    /// The file's `gate` section.
    pub gate: GateSection,
    /// This node's id.
    pub node_id: String,
    /// Socket address this node listens on.
    pub listen: SocketAddr,
    /// `host:port` other nodes reach this node at.
    pub advertise: String,
    /// etcd endpoints; empty means an embedded cluster without etcd.
    pub etcd: Vec<String>,
    /// etcd key prefix under which the cluster keeps its state.
    pub prefix: String,
    /// Number of shards in the cluster.
    pub shards: u32,
    /// Number of nodes that must be present before shards are assigned.
    pub min_quorum: usize,
    /// Time the set of nodes must stay unchanged before shards are reassigned.
    pub stability_window: Duration,
    /// Time-to-live of this node's etcd lease.
    pub lease_ttl: Duration,
    /// Deadline given to calls that do not set their own.
    pub call_timeout: Duration,
    /// Objects without calls for this long are deactivated.
    pub idle_timeout: Duration,
    /// Where persistent state and reliable calls are kept.
    pub database_url: String,
    /// A changed `persist` object with the default policy is saved at least this often.
    pub save_interval: Duration,
    /// Access and lifecycle rules, rate limits, the cluster secret and TLS.
    pub security: crate::security::SecuritySettings,
}

impl ClusterFile {
    /// Parses and validates a cluster file given as text.
    ///
    /// Errors are [`ErrorKind::InvalidArgument`](crate::error::ErrorKind::InvalidArgument) and
    /// name the offending key by its path, with its line and column.
    pub fn parse(yaml: &str) -> Result<Self> {
        Self::parse_from(yaml, "cluster file")
    }

    /// Reads, parses and validates the cluster file at `path`; errors also name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let origin = format!("cluster file {}", path.display());
        let yaml = std::fs::read_to_string(path)
            .map_err(|err| Error::invalid_argument(format!("{origin}: cannot read it: {err}")))?;
        Self::parse_from(&yaml, &origin)
    }

    /// The settings of the node with id `id`: its entry merged with the `cluster` section.
    pub fn node(&self, id: &str) -> Result<NodeSettings> {
        self.validate()
            .map_err(|problem| Error::invalid_argument(problem.to_string()))?;
        let Some(entry) = self.nodes.iter().find(|node| node.id == id) else {
            let known = if self.nodes.is_empty() {
                "the file lists no nodes".to_string()
            } else {
                let ids: Vec<&str> = self.nodes.iter().map(|node| node.id.as_str()).collect();
                format!("known: {}", ids.join(", "))
            };
            return Err(Error::invalid_argument(format!(
                "nodes: no node with id `{id}` ({known})"
            )));
        };
        let cluster = &self.cluster;
        Ok(NodeSettings {
            gate_grpc: entry.gate_grpc,
            gate_http: entry.gate_http,
            gate_only: entry.gate_only,
            gate_tls: entry
                .gate_tls
                .as_ref()
                .map(|tls| crate::tls::TlsFiles::new(&tls.cert, &tls.key)),
            gate: self.gate.clone(),
            node_id: entry.id.clone(),
            listen: entry.listen,
            advertise: entry
                .advertise
                .clone()
                .unwrap_or_else(|| entry.listen.to_string()),
            etcd: cluster.etcd.clone(),
            prefix: cluster.prefix.clone(),
            shards: cluster.shards,
            min_quorum: cluster.min_quorum,
            stability_window: cluster.stability_window,
            lease_ttl: cluster.lease_ttl,
            call_timeout: cluster.call_timeout,
            idle_timeout: cluster.idle_timeout,
            database_url: self.database.url.clone(),
            save_interval: self.database.save_interval,
            security: crate::security::SecuritySettings {
                access_rules: self.access_rules.clone(),
                lifecycle_rules: self.lifecycle_rules.clone(),
                rate_limits: self.rate_limits.clone(),
                cluster_secret: cluster.secret.clone(),
                tls: entry
                    .tls
                    .as_ref()
                    .map(|tls| crate::tls::TlsFiles::new(&tls.cert, &tls.key)),
                tls_ca: cluster.tls_ca.clone(),
            },
        })
    }

    /// Parses and validates `yaml`; `origin` starts every error message.
    fn parse_from(yaml: &str, origin: &str) -> Result<Self> {
        let file = serde_saphyr::from_str::<Option<ClusterFile>>(yaml)
            .map_err(|err| {
                let (position, message) = describe_yaml_error(&err, &SourceMap::build(yaml));
                located_error(origin, position, message)
            })?
            .unwrap_or_default();
        file.validate().map_err(|problem| {
            let position = SourceMap::build(yaml).position_of(&problem.path);
            located_error(origin, position, problem)
        })?;
        Ok(file)
    }

    /// Checks what the types alone do not: ranges, id syntax, unique ids, addresses.
    fn validate(&self) -> Result<(), Problem> {
        self.cluster.validate()?;
        self.database.validate()?;
        self.gate.validate()?;
        self.validate_security()?;
        let mut first_index_of_id: HashMap<&str, usize> = HashMap::new();
        for (index, node) in self.nodes.iter().enumerate() {
            node.validate(index)?;
            if let Some(first) = first_index_of_id.insert(&node.id, index) {
                return Err(Problem::new(
                    format!("nodes[{index}].id"),
                    format!(
                        "node id `{}` appears twice (also at nodes[{first}].id)",
                        node.id
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl ClusterFile {
    /// Compiles the rules and checks the rate limits and the secret; the problem's path is the
    /// one the checks name (`access_rules[2].id`).
    fn validate_security(&self) -> Result<(), Problem> {
        let named = |error: Error| match error.message().split_once(": ") {
            Some((path, message)) => Problem::new(path, message),
            None => Problem::new("access_rules", error.message()),
        };
        crate::access::AccessPolicy::new(&self.access_rules, &self.lifecycle_rules)
            .map_err(named)?;
        for (index, limit) in self.rate_limits.iter().enumerate() {
            limit
                .validate(&format!("rate_limits[{index}]"))
                .map_err(named)?;
        }
        if self.cluster.secret.as_deref() == Some("") {
            return Err(Problem::new(
                "cluster.secret",
                "must not be empty (remove the key for no secret)",
            ));
        }
        Ok(())
    }
}

impl ClusterSection {
    /// Checks the ranges of the shared settings.
    fn validate(&self) -> Result<(), Problem> {
        if let Some(index) = self.etcd.iter().position(|e| e.trim().is_empty()) {
            return Err(Problem::new(
                format!("cluster.etcd[{index}]"),
                "must not be empty",
            ));
        }
        if self.shards == 0 {
            return Err(Problem::new("cluster.shards", "must be at least 1"));
        }
        if self.min_quorum == 0 {
            return Err(Problem::new("cluster.min_quorum", "must be at least 1"));
        }
        if self.stability_window.is_zero() {
            return Err(Problem::new(
                "cluster.stability_window",
                "must be greater than 0",
            ));
        }
        if self.lease_ttl < MIN_LEASE_TTL {
            return Err(Problem::new(
                "cluster.lease_ttl",
                format!(
                    "must be at least {}",
                    humantime::format_duration(MIN_LEASE_TTL)
                ),
            ));
        }
        if self.call_timeout.is_zero() {
            return Err(Problem::new(
                "cluster.call_timeout",
                "must be greater than 0",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(Problem::new(
                "cluster.idle_timeout",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

impl NodeEntry {
    /// Checks the id and the advertised address of the entry at `nodes[index]`.
    fn validate(&self, index: usize) -> Result<(), Problem> {
        if self.id.is_empty() {
            return Err(Problem::new(
                format!("nodes[{index}].id"),
                "must not be empty",
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !self.id.chars().all(allowed) {
            return Err(Problem::new(
                format!("nodes[{index}].id"),
                format!(
                    "`{}` may only contain ASCII letters, digits, `-`, `_` and `.`",
                    self.id
                ),
            ));
        }
        if self.gate_tls.is_some() && self.gate_grpc.is_none() && self.gate_http.is_none() {
            return Err(Problem::new(
                format!("nodes[{index}].gate_tls"),
                "this entry runs no gate: set `gate_grpc` or `gate_http`",
            ));
        }
        if self.gate_only && self.gate_grpc.is_none() && self.gate_http.is_none() {
            return Err(Problem::new(
                format!("nodes[{index}].gate_only"),
                "a gate-only process needs `gate_grpc` or `gate_http`",
            ));
        }
        if let Some(advertise) = &self.advertise
            && !is_host_port(advertise)
        {
            return Err(Problem::new(
                format!("nodes[{index}].advertise"),
                format!("{advertise:?} is not a host:port address like node1.example.com:7001"),
            ));
        }
        Ok(())
    }
}

/// Whether `address` is a non-empty host without spaces, a colon and a numeric port.
fn is_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
        }
        None => false,
    }
}

/// An invalid value found after parsing, with the path of its key.
#[derive(Debug)]
struct Problem {
    path: String,
    message: String,
}

impl Problem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A line and column in the file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    line: u64,
    column: u64,
}

/// `origin: message`, with the position after `origin` when it is known.
fn located_error(origin: &str, position: Option<Position>, message: impl fmt::Display) -> Error {
    Error::invalid_argument(match position {
        Some(Position { line, column }) => {
            format!("{origin}, line {line}, column {column}: {message}")
        }
        None => format!("{origin}: {message}"),
    })
}

/// Turns a serde-saphyr error, which locates the problem by line and column only, into a
/// message that names the key path found at that position.
fn describe_yaml_error(
    err: &serde_saphyr::Error,
    source: &SourceMap,
) -> (Option<Position>, String) {
    use serde_saphyr::Error as Yaml;

    let err = err.without_snippet();
    let position = err
        .location()
        .filter(|location| location.line() > 0)
        .map(|location| Position {
            line: location.line(),
            column: location.column(),
        });
    let node = position.and_then(|position| source.value_at(position));
    let path = node.map_or("", |node| node.path.as_str());
    let key = if path.is_empty() { "top level" } else { path };
    let found = || node.map_or_else(|| "something else".to_string(), SourceNode::describe);
    let message = match err {
        Yaml::SerdeUnknownField {
            field, expected, ..
        } => {
            let path = position
                .and_then(|position| source.key_at(position))
                .map_or_else(|| join(path, field), |key| key.path.clone());
            format!(
                "unknown key `{path}` (expected one of: {})",
                expected.join(", ")
            )
        }
        Yaml::SerdeMissingField { field, .. } => format!("missing key `{}`", join(path, field)),
        Yaml::DuplicateMappingKey { .. } => {
            let path = position
                .and_then(|position| source.key_at(position))
                .map_or(path, |key| key.path.as_str());
            format!("key `{path}` appears twice")
        }
        Yaml::Message { msg, .. } => format!("{key}: {msg}"),
        Yaml::InvalidScalar { ty, .. } => {
            format!("{key}: {} is not {}", found(), describe_type(ty))
        }
        Yaml::Unexpected { expected, .. } => {
            format!(
                "{key}: expected {}, found {}",
                describe_expected(expected),
                found()
            )
        }
        Yaml::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("{key}: expected {expected}, found {unexpected}"),
        Yaml::ExternalMessage { .. } => format!(
            "invalid YAML: {}",
            DefaultMessageFormatter.format_message(err)
        ),
        other => {
            let message = DefaultMessageFormatter.format_message(other);
            if path.is_empty() {
                message.into_owned()
            } else {
                format!("{path}: {message}")
            }
        }
    };
    (position, message)
}

/// What a scalar of type `ty` (as serde-saphyr names it) must look like.
fn describe_type(ty: &str) -> String {
    let max = match ty {
        "u32" => u64::from(u32::MAX),
        "u64" => u64::MAX,
        "usize" => u64::try_from(usize::MAX).unwrap_or(u64::MAX),
        _ => return format!("a valid {ty}"),
    };
    format!("a whole number from 0 to {max}")
}

/// serde-saphyr's name for an expected token, in words.
fn describe_expected(expected: &str) -> &str {
    match expected {
        "mapping start" => "a mapping of keys",
        "sequence start" => "a list",
        "string scalar" => "a single value",
        other => other,
    }
}

/// `parent.key`, or `key` at the top level.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Where each node of a YAML document starts and the key path that leads to it.
///
/// serde-saphyr reports errors by line and column; this map names the key found there. Built
/// only when there is an error to describe.
struct SourceMap {
    /// Every node in document order, so a container comes before what it holds.
    nodes: Vec<SourceNode>,
}

/// One node of the document.
struct SourceNode {
    position: Position,
    /// Key path such as `nodes[1].listen`; a key and its value share the path.
    path: String,
    /// Whether the node is a mapping key rather than a value.
    is_key: bool,
    shape: Shape,
}

/// What kind of node a [`SourceNode`] is.
enum Shape {
    Scalar(String),
    List,
    Mapping,
    Alias,
}

/// A container being walked while building a [`SourceMap`].
enum Frame {
    /// A mapping, with the key whose value comes next (`None` while a key is expected).
    Mapping { path: String, key: Option<String> },
    /// A list, with the index of its next item.
    List { path: String, next_index: usize },
}

impl SourceMap {
    /// Walks the events of `yaml`, stopping at the first syntax error.
    fn build(yaml: &str) -> Self {
        let mut nodes = Vec::new();
        let mut frames: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(yaml);
        while let Some(Ok((event, span))) = parser.next_event() {
            let shape = match event {
                Event::Scalar(text, ..) => Shape::Scalar(text.into_owned()),
                Event::Alias(..) => Shape::Alias,
                Event::SequenceStart(..) => Shape::List,
                Event::MappingStart(..) => Shape::Mapping,
                Event::SequenceEnd | Event::MappingEnd => {
                    frames.pop();
                    continue;
                }
                _ => continue,
            };
            let (path, is_key) = match frames.last_mut() {
                None => (String::new(), false),
                Some(Frame::List { path, next_index }) => {
                    let item = format!("{path}[{next_index}]");
                    *next_index += 1;
                    (item, false)
                }
                Some(Frame::Mapping { path, key }) => match key.take() {
                    Some(key) => (join(path, &key), false),
                    None => {
                        let name = match &shape {
                            Shape::Scalar(text) => text.clone(),
                            _ => "?".to_string(),
                        };
                        let key_path = join(path, &name);
                        *key = Some(name);
                        (key_path, true)
                    }
                },
            };
            match shape {
                Shape::Mapping => frames.push(Frame::Mapping {
                    path: path.clone(),
                    key: None,
                }),
                Shape::List => frames.push(Frame::List {
                    path: path.clone(),
                    next_index: 0,
                }),
                Shape::Scalar(_) | Shape::Alias => {}
            }
            let start = span.start;
            nodes.push(SourceNode {
                position: Position {
                    line: start.line() as u64,
                    column: start.col() as u64 + 1,
                },
                path,
                is_key,
                shape,
            });
        }
        SourceMap { nodes }
    }

    /// The outermost value starting at `position`, else the last node starting before it.
    fn value_at(&self, position: Position) -> Option<&SourceNode> {
        self.nodes
            .iter()
            .find(|node| node.position == position && !node.is_key)
            .or_else(|| {
                self.nodes
                    .iter()
                    .rev()
                    .find(|node| node.position <= position)
            })
    }

    /// The mapping key starting at `position`.
    fn key_at(&self, position: Position) -> Option<&SourceNode> {
        self.nodes
            .iter()
            .find(|node| node.position == position && node.is_key)
    }

    /// Where the value at `path` starts.
    fn position_of(&self, path: &str) -> Option<Position> {
        self.nodes
            .iter()
            .find(|node| !node.is_key && node.path == path)
            .map(|node| node.position)
    }
}

impl SourceNode {
    /// The node in a few words, for "found ..." in messages.
    fn describe(&self) -> String {
        match &self.shape {
            Shape::Scalar(text) if text.is_empty() => "nothing".to_string(),
            Shape::Scalar(text) => format!("{text:?}"),
            Shape::List => "a list".to_string(),
            Shape::Mapping => "a mapping".to_string(),
            Shape::Alias => "an alias".to_string(),
        }
    }
}

/// Reads an absent or null section as its default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a duration written for people, such as `500ms`, `5s` or `10m`.
fn human_duration<'de, D>(deserializer: D) -> Result<Duration, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map_err(|_| D::Error::custom(format!("{text:?} is not a duration like 500ms, 5s or 10m")))
}

/// Reads a socket address such as `127.0.0.1:7001`.
fn optional_socket_address<'de, D>(deserializer: D) -> Result<Option<SocketAddr>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    socket_address(deserializer).map(Some)
}

fn socket_address<'de, D>(deserializer: D) -> Result<SocketAddr, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(|_| {
        D::Error::custom(format!(
            "{text:?} is not a socket address like 127.0.0.1:7001"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// The message of the error `ClusterFile::parse` returns for `yaml`.
    fn parse_error(yaml: &str) -> String {
        let err = ClusterFile::parse(yaml).expect_err("the file should be rejected");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        err.message().to_string()
    }

    const TWO_NODES: &str = "\
nodes:
  - id: n1
    listen: 127.0.0.1:7001
  - id: n2
    listen: 127.0.0.1:7002
";

    #[test]
    fn full_file_round_trip() {
        let file = ClusterFile::parse(
            "\
cluster:
  etcd: [\"127.0.0.1:2379\", \"127.0.0.1:2380\"]
  prefix: /test
  shards: 64
  min_quorum: 2
  stability_window: 500ms
  lease_ttl: 3s
  call_timeout: 5s
  idle_timeout: 1h
database:
  url: postgres://app:secret@db:5432/objects
  save_interval: 2s
nodes:
  - id: n1
    listen: 0.0.0.0:7001
    advertise: node1.example.com:7001
  - id: n2
    listen: 127.0.0.1:7002
",
        )
        .unwrap();
        let n1 = file.node("n1").unwrap();
        assert_eq!(n1.node_id, "n1");
        assert_eq!(n1.listen, "0.0.0.0:7001".parse().unwrap());
        assert_eq!(n1.advertise, "node1.example.com:7001");
        assert_eq!(n1.etcd, ["127.0.0.1:2379", "127.0.0.1:2380"]);
        assert_eq!(n1.prefix, "/test");
        assert_eq!(n1.shards, 64);
        assert_eq!(n1.min_quorum, 2);
        assert_eq!(n1.stability_window, Duration::from_millis(500));
        assert_eq!(n1.lease_ttl, Duration::from_secs(3));
        assert_eq!(n1.call_timeout, Duration::from_secs(5));
        assert_eq!(n1.idle_timeout, Duration::from_secs(3600));
        assert_eq!(n1.database_url, "postgres://app:secret@db:5432/objects");
        assert_eq!(n1.save_interval, Duration::from_secs(2));

        let n2 = file.node("n2").unwrap();
        assert_eq!(n2.node_id, "n2");
        assert_eq!(
            n2.advertise, "127.0.0.1:7002",
            "advertise defaults to listen"
        );
        assert_eq!(n2.shards, 64);
    }

    #[test]
    fn database_settings_are_checked_by_key() {
        let message = parse_error("database:\n  url: mysql://u:pw@h/db\n");
        assert!(message.contains("database.url"), "{message}");
        assert!(message.contains("mysql://u:***@h/db"), "{message}");
        assert!(!message.contains("pw"), "{message}");
        let message = parse_error("database:\n  save_interval: 0s\n");
        assert!(message.contains("database.save_interval"), "{message}");
        let message = parse_error("database:\n  uri: sqlite:x\n");
        assert!(message.contains("uri"), "{message}");
        let file = ClusterFile::parse(&format!("database:\n  url: sqlite:/tmp/x.db\n{TWO_NODES}"))
            .unwrap();
        assert_eq!(file.node("n1").unwrap().database_url, "sqlite:/tmp/x.db");
    }

    #[test]
    fn gates_are_entries_with_gate_addresses() {
        let file = ClusterFile::parse(
            "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n    gate_http: 127.0.0.1:8080\n  \
             - id: g1\n    listen: 127.0.0.1:7009\n    gate_grpc: 127.0.0.1:9000\n    gate_only: true\n",
        )
        .unwrap();
        let n1 = file.node("n1").unwrap();
        assert_eq!(n1.gate_http, Some("127.0.0.1:8080".parse().unwrap()));
        assert!(!n1.gate_only);
        let g1 = file.node("g1").unwrap();
        assert!(g1.gate_only);
        assert_eq!(g1.gate_grpc, Some("127.0.0.1:9000".parse().unwrap()));
        let message =
            parse_error("nodes:\n  - id: g\n    listen: 127.0.0.1:1\n    gate_only: true\n");
        assert!(message.contains("nodes[0].gate_only"), "{message}");
        let message =
            parse_error("nodes:\n  - id: g\n    listen: 127.0.0.1:1\n    gate_http: nowhere\n");
        assert!(message.contains("gate_http"), "{message}");
    }

    #[test]
    fn a_file_with_only_nodes_uses_all_defaults() {
        let settings = ClusterFile::parse(TWO_NODES).unwrap().node("n2").unwrap();
        assert!(settings.etcd.is_empty(), "no etcd means embedded");
        assert_eq!(settings.prefix, "/goverse");
        assert_eq!(settings.shards, DEFAULT_SHARD_COUNT);
        assert_eq!(settings.min_quorum, 1);
        assert_eq!(settings.stability_window, Duration::from_secs(1));
        assert_eq!(settings.lease_ttl, Duration::from_secs(5));
        assert_eq!(settings.call_timeout, Duration::from_secs(30));
        assert_eq!(settings.idle_timeout, Duration::from_secs(600));
        assert_eq!(settings.listen, "127.0.0.1:7002".parse().unwrap());
        assert_eq!(settings.advertise, "127.0.0.1:7002");
    }

    #[test]
    fn empty_sections_and_empty_files_mean_defaults() {
        let file = ClusterFile::parse("cluster:\nnodes:\n").unwrap();
        assert_eq!(file.cluster.shards, DEFAULT_SHARD_COUNT);
        assert!(file.nodes.is_empty());
        for empty in ["", "# nothing yet\n", "---\n"] {
            let file = ClusterFile::parse(empty).unwrap();
            assert_eq!(file.cluster.lease_ttl, DEFAULT_LEASE_TTL);
            assert!(file.nodes.is_empty());
        }
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = std::env::temp_dir().join(format!("goverse-cluster-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cluster.yaml");
        std::fs::write(&path, format!("cluster:\n  shardz: 3\n{TWO_NODES}")).unwrap();
        let err = ClusterFile::load(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            err.message(),
            format!(
                "cluster file {}, line 2, column 3: unknown key `cluster.shardz` (expected one \
                 of: etcd, prefix, shards, min_quorum, stability_window, lease_ttl, \
                 call_timeout, idle_timeout, secret, tls_ca)",
                path.display()
            )
        );

        std::fs::write(&path, TWO_NODES).unwrap();
        assert_eq!(ClusterFile::load(&path).unwrap().nodes.len(), 2);

        let missing = dir.join("missing.yaml");
        let err = ClusterFile::load(&missing).unwrap_err();
        assert!(
            err.message().starts_with(&format!(
                "cluster file {}: cannot read it: ",
                missing.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_gate_section_configures_every_gate() {
        let file = ClusterFile::parse(
            "gate:\n  client_queue: 8\n  max_body_bytes: 1024\n  heartbeat: 2s\n  \
             require_authentication: true\n  api_keys:\n    - {secret: k1, identity: svc}\n  \
             bearer_tokens:\n    - {secret: t1, identity: alice}\n\
             nodes:\n  - id: g1\n    listen: 127.0.0.1:7009\n    gate_http: 127.0.0.1:8080\n    \
             gate_tls: {cert: /etc/g.pem, key: /etc/g.key}\n",
        )
        .unwrap();
        let g1 = file.node("g1").unwrap();
        assert_eq!(g1.gate.client_queue, 8);
        assert_eq!(g1.gate.max_body_bytes, 1024);
        assert_eq!(g1.gate.heartbeat, Duration::from_secs(2));
        assert_eq!(
            g1.gate.body_read_timeout,
            crate::config::DEFAULT_BODY_READ_TIMEOUT
        );
        assert!(g1.gate.require_authentication);
        assert_eq!(g1.gate.api_keys[0].identity, "svc");
        assert_eq!(g1.gate.bearer_tokens[0].identity, "alice");
        assert!(g1.gate_tls.is_some());
        assert!(
            !format!("{:?}", g1.gate).contains("k1"),
            "secrets stay out of Debug"
        );
        // Defaults when the section is absent.
        let n1 = ClusterFile::parse(TWO_NODES).unwrap().node("n1").unwrap();
        assert_eq!(n1.gate.client_queue, crate::config::DEFAULT_CLIENT_QUEUE);
        assert!(!n1.gate.require_authentication);
    }

    #[test]
    fn bad_gate_settings_name_the_key() {
        let nodes =
            "nodes:\n  - id: g1\n    listen: 127.0.0.1:7009\n    gate_http: 127.0.0.1:8080\n";
        for (gate, key) in [
            ("gate:\n  client_queue: 0\n", "gate.client_queue"),
            ("gate:\n  heartbeat: 0s\n", "gate.heartbeat"),
            ("gate:\n  body_read_timeout: 0s\n", "gate.body_read_timeout"),
            (
                "gate:\n  require_authentication: true\n",
                "gate.require_authentication",
            ),
            (
                "gate:\n  api_keys: [{secret: \"\", identity: a}]\n",
                "gate.api_keys[0].secret",
            ),
            (
                "gate:\n  bearer_tokens: [{secret: t, identity: a}, {secret: t, identity: b}]\n",
                "gate.bearer_tokens[1].secret",
            ),
            ("gate:\n  colour: blue\n", "gate.colour"),
        ] {
            let message = parse_error(&format!("{gate}{nodes}"));
            assert!(message.contains(key), "{key}: {message}");
        }
        let message = parse_error(
            "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n    gate_tls: {cert: a, key: b}\n",
        );
        assert!(message.contains("nodes[0].gate_tls"), "{message}");
    }

    #[test]
    fn unknown_keys_are_named_by_their_path() {
        assert_eq!(
            parse_error(&format!("{TWO_NODES}bogus: 1\n")),
            "cluster file, line 6, column 1: unknown key `bogus` (expected one of: cluster, database, nodes, access_rules, lifecycle_rules, rate_limits, gate)"
        );
        assert_eq!(
            parse_error("nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n    port: 7\n"),
            "cluster file, line 4, column 5: unknown key `nodes[0].port` (expected one of: id, \
             listen, advertise, tls, gate_grpc, gate_http, gate_tls, gate_only)"
        );
        assert_eq!(
            parse_error("nodes: [{id: n1, listen: \"127.0.0.1:7001\", x: 1}]\n"),
            "cluster file, line 1, column 44: unknown key `nodes[0].x` (expected one of: id, \
             listen, advertise, tls, gate_grpc, gate_http, gate_tls, gate_only)"
        );
    }

    #[test]
    fn a_bad_listen_address_names_the_node() {
        assert_eq!(
            parse_error(
                "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n  - id: n2\n    listen: abc\n"
            ),
            "cluster file, line 5, column 13: nodes[1].listen: \"abc\" is not a socket address \
             like 127.0.0.1:7001"
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        assert_eq!(
            parse_error("nodes:\n  - id: n1\n"),
            "cluster file, line 2, column 5: missing key `nodes[0].listen`"
        );
    }

    #[test]
    fn a_bad_duration_is_named() {
        assert_eq!(
            parse_error("cluster:\n  stability_window: 5 parsecs\n"),
            "cluster file, line 2, column 21: cluster.stability_window: \"5 parsecs\" is not a \
             duration like 500ms, 5s or 10m"
        );
        assert_eq!(
            parse_error("cluster:\n  call_timeout: 30\n"),
            "cluster file, line 2, column 17: cluster.call_timeout: \"30\" is not a duration \
             like 500ms, 5s or 10m"
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_named() {
        assert_eq!(
            parse_error("cluster:\n  shards: abc\n"),
            "cluster file, line 2, column 11: cluster.shards: \"abc\" is not a whole number \
             from 0 to 4294967295"
        );
        assert_eq!(
            parse_error("cluster:\n  min_quorum: -1\n"),
            "cluster file, line 2, column 15: cluster.min_quorum: \"-1\" is not a whole number \
             from 0 to 18446744073709551615"
        );
        assert_eq!(
            parse_error("cluster:\n  shards: [1]\n"),
            "cluster file, line 2, column 11: cluster.shards: expected a single value, found a \
             list"
        );
        assert_eq!(
            parse_error("cluster:\n  etcd: 127.0.0.1:2379\n"),
            "cluster file, line 2, column 9: cluster.etcd: expected a list, found \
             \"127.0.0.1:2379\""
        );
        assert_eq!(
            parse_error("cluster: 5\n"),
            "cluster file, line 1, column 10: cluster: expected a mapping of keys, found \"5\""
        );
        assert_eq!(
            parse_error("- id: n1\n"),
            "cluster file, line 1, column 1: top level: expected a mapping of keys, found a list"
        );
    }

    #[test]
    fn a_key_written_twice_is_named() {
        assert_eq!(
            parse_error("cluster:\n  shards: 1\n  shards: 2\n"),
            "cluster file, line 3, column 3: key `cluster.shards` appears twice"
        );
    }

    #[test]
    fn a_yaml_syntax_error_gives_its_line() {
        assert_eq!(
            parse_error("cluster:\n  shards: 1\nnodes: [\n"),
            "cluster file, line 3, column 8: invalid YAML: unclosed bracket '['"
        );
        assert_eq!(
            parse_error("cluster:\n\tshards: 1\n"),
            "cluster file, line 2, column 2: invalid YAML: tabs disallowed within this context \
             (block indentation)"
        );
    }

    #[test]
    fn out_of_range_values_are_named() {
        let cases = [
            (
                "lease_ttl: 1s",
                14,
                "cluster.lease_ttl: must be at least 2s",
            ),
            ("shards: 0", 11, "cluster.shards: must be at least 1"),
            (
                "min_quorum: 0",
                15,
                "cluster.min_quorum: must be at least 1",
            ),
            (
                "stability_window: 0s",
                21,
                "cluster.stability_window: must be greater than 0",
            ),
            (
                "call_timeout: 0s",
                17,
                "cluster.call_timeout: must be greater than 0",
            ),
            (
                "idle_timeout: 0ms",
                17,
                "cluster.idle_timeout: must be greater than 0",
            ),
        ];
        for (line, column, message) in cases {
            assert_eq!(
                parse_error(&format!("cluster:\n  {line}\n{TWO_NODES}")),
                format!("cluster file, line 2, column {column}: {message}")
            );
        }
        assert_eq!(
            parse_error("cluster:\n  etcd: [\"127.0.0.1:2379\", \"\"]\n"),
            "cluster file, line 2, column 28: cluster.etcd[1]: must not be empty"
        );
    }

    #[test]
    fn node_ids_must_be_unique_and_well_formed() {
        assert_eq!(
            parse_error(
                "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n  - id: n1\n    listen: \
                 127.0.0.1:7002\n"
            ),
            "cluster file, line 4, column 9: nodes[1].id: node id `n1` appears twice (also at \
             nodes[0].id)"
        );
        assert_eq!(
            parse_error("nodes:\n  - id: \"\"\n    listen: 127.0.0.1:7001\n"),
            "cluster file, line 2, column 9: nodes[0].id: must not be empty"
        );
        assert_eq!(
            parse_error("nodes:\n  - id: node one\n    listen: 127.0.0.1:7001\n"),
            "cluster file, line 2, column 9: nodes[0].id: `node one` may only contain ASCII \
             letters, digits, `-`, `_` and `.`"
        );
    }

    #[test]
    fn advertise_must_be_host_and_port() {
        for bad in ["\"\"", "node1", "node1:http", ":7001", "node1:70000"] {
            let message = parse_error(&format!(
                "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n    advertise: {bad}\n"
            ));
            assert!(
                message.starts_with("cluster file, line 4, column 16: nodes[0].advertise: "),
                "{message}"
            );
            assert!(
                message.ends_with("is not a host:port address like node1.example.com:7001"),
                "{message}"
            );
        }
        for good in ["node1.example.com:7001", "10.0.0.1:80", "[::1]:7001"] {
            let yaml = format!(
                "nodes:\n  - id: n1\n    listen: 127.0.0.1:7001\n    advertise: \"{good}\"\n"
            );
            assert_eq!(
                ClusterFile::parse(&yaml)
                    .unwrap()
                    .node("n1")
                    .unwrap()
                    .advertise,
                good
            );
        }
    }

    #[test]
    fn node_names_the_known_ids_when_the_id_is_unknown() {
        let file = ClusterFile::parse(TWO_NODES).unwrap();
        let err = file.node("n9").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.message(), "nodes: no node with id `n9` (known: n1, n2)");
    }

    #[test]
    fn node_fails_on_an_empty_node_list() {
        let file = ClusterFile::parse("cluster:\n  shards: 16\nnodes: []\n").unwrap();
        assert_eq!(
            file.node("n1").unwrap_err().message(),
            "nodes: no node with id `n1` (the file lists no nodes)"
        );
    }

    #[test]
    fn node_validates_a_file_built_in_code() {
        let mut file = ClusterFile::parse(TWO_NODES).unwrap();
        file.cluster.lease_ttl = Duration::from_millis(1500);
        assert_eq!(
            file.node("n1").unwrap_err().message(),
            "cluster.lease_ttl: must be at least 2s"
        );
    }
}
