//! Node settings with their defaults.

use std::time::Duration;

use crate::sharding::DEFAULT_SHARD_COUNT;

pub mod file;

pub use crate::security::SecuritySettings;
pub use file::{
    ClusterFile, ClusterSection, Credential, DatabaseSection, GateSection, NodeEntry, NodeSettings,
    TlsEntry,
};

/// Default time a call may take, queueing included, unless the caller says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time an object may go without calls before it is deactivated.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default longest time a changed `persist` object goes unsaved (policy `Periodic(None)`).
pub const DEFAULT_SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// Default number of push messages a gate queues per client before new ones are dropped.
pub const DEFAULT_CLIENT_QUEUE: usize = 256;

/// Default number of clients one gate holds connected at once.
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

/// Default largest request body a gate accepts (4 MiB).
pub const DEFAULT_MAX_BODY: usize = 4 << 20;

/// Default longest time a gate waits for a whole HTTP request body.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default interval of a gate's SSE `heartbeat` events.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// The settings one node runs with. Built by [`NodeBuilder`](crate::NodeBuilder).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id, unique in the cluster.
    pub node_id: String,
    /// Number of shards in the cluster.
    pub shards: u32,
    /// Deadline given to calls that do not set their own.
    pub call_timeout: Duration,
    /// Objects without calls for this long are deactivated.
    pub idle_timeout: Duration,
    /// A changed `persist` object with the default policy is saved at least this often.
    pub save_interval: Duration,
    /// The access and lifecycle rules this process enforces (none: everything is allowed).
    pub access: crate::access::AccessPolicy,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            node_id: "embedded".to_string(),
            shards: DEFAULT_SHARD_COUNT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            save_interval: DEFAULT_SAVE_INTERVAL,
            access: crate::access::AccessPolicy::default(),
        }
    }
}
