//! Push messages from objects to clients connected to gates.
//!
//! A client id is `<gate address>/<unique>`: the part before the first `/` names the gate that
//! holds the client's connection. A push goes to that gate only if it is this node's embedded
//! gate or a gate of the cluster view (`ClusterView::gates`, by advertised address) — the
//! local one directly, others over the node transport — and the gate puts it in the client's
//! bounded queue. An id naming any other address is an unknown client: the node never dials
//! an address a caller made up. Delivery is at most once and ordered per object → client (an
//! object awaits each push); what happens otherwise is reported, never hidden:
//!
//! - the client is not connected (disconnected, never registered, or its gate is not in the
//!   cluster — stopped, or never was one): [`ErrorKind::NotFound`](crate::ErrorKind::NotFound);
//! - the client's queue is full (it reads too slowly): the message is dropped,
//!   [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted);
//! - the gate is in the cluster but cannot be reached (it crashed and its lease has not expired
//!   yet, or the network failed): the message is lost,
//!   [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable).
//!
//! The pushing node counts each outcome ([`PushStats`], `Node::push_stats`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tokio::time::Instant;

use super::Router;
use crate::codec::Payload;
use crate::error::{Error, Result};

/// What happened to one push or broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PushReport {
    /// How many client queues took the message.
    pub(crate) delivered: usize,
    /// Client ids that are not connected.
    pub(crate) unknown: Vec<String>,
    /// Client ids whose queue was full: the message was dropped for them.
    pub(crate) dropped: Vec<String>,
    /// Set by the pushing node only: the client ids (of a push) or the gate addresses (of a
    /// broadcast) whose gate is in the cluster but could not be reached.
    pub(crate) unreachable: Vec<String>,
}

impl PushReport {
    /// Adds another gate's report to this one.
    pub(crate) fn merge(&mut self, other: PushReport) {
        self.delivered += other.delivered;
        self.unknown.extend(other.unknown);
        self.dropped.extend(other.dropped);
        self.unreachable.extend(other.unreachable);
    }
}

/// What happened to the push messages this node sent (pushes and broadcasts by its objects),
/// counted since it started. A gate counts what it did with the messages it received
/// separately (`GateStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Messages a client's queue took.
    pub pushes_delivered: u64,
    /// Messages dropped because the client's queue was full.
    pub pushes_dropped_full: u64,
    /// Messages for a client that is not connected, or whose id names no gate of the cluster.
    pub pushes_unknown_client: u64,
    /// Messages lost because the client's gate could not be reached: one per client for a
    /// push, one per gate for a broadcast.
    pub pushes_gate_unreachable: u64,
}

/// The counters behind [`PushStats`].
#[derive(Debug, Default)]
pub(crate) struct SentPushCounters {
    delivered: AtomicU64,
    dropped_full: AtomicU64,
    unknown_client: AtomicU64,
    gate_unreachable: AtomicU64,
}

impl SentPushCounters {
    /// Counts the outcome of one push or broadcast.
    fn count(&self, report: &PushReport) {
        let add = |counter: &AtomicU64, n: usize| {
            counter.fetch_add(n as u64, Relaxed);
        };
        add(&self.delivered, report.delivered);
        add(&self.dropped_full, report.dropped.len());
        add(&self.unknown_client, report.unknown.len());
        add(&self.gate_unreachable, report.unreachable.len());
    }

    /// The counts now.
    pub(crate) fn stats(&self) -> PushStats {
        PushStats {
            pushes_delivered: self.delivered.load(Relaxed),
            pushes_dropped_full: self.dropped_full.load(Relaxed),
            pushes_unknown_client: self.unknown_client.load(Relaxed),
            pushes_gate_unreachable: self.gate_unreachable.load(Relaxed),
        }
    }
}

/// Where pushes for this node's gate end up: the gate's table of connected clients.
pub(crate) trait PushSink: Send + Sync + std::fmt::Debug {
    /// The gate address that prefixes the ids of its clients.
    fn gate_address(&self) -> &str;
    /// Queues `message` for each client in `client_ids` connected to this gate.
    fn deliver(&self, client_ids: &[String], message: &Payload) -> PushReport;
    /// Queues `message` for every client connected to this gate.
    fn broadcast(&self, message: &Payload) -> PushReport;
}

/// The gate part of a client id, or an error naming the malformed id.
fn gate_of(client_id: &str) -> Result<&str> {
    match client_id.split_once('/') {
        Some((gate, unique)) if !gate.is_empty() && !unique.is_empty() => Ok(gate),
        _ => Err(Error::invalid_argument(format!(
            "`{client_id}` is not a client id; client ids look like `<gate address>/<unique>` \
             (take them from `Context::caller()`)"
        ))),
    }
}

impl Router {
    /// Attaches the gate embedded in this node.
    #[cfg_attr(not(feature = "gate"), allow(dead_code))]
    pub(crate) fn set_push_sink(&self, sink: Arc<dyn PushSink>) {
        let _ = self.inner.push_sink.set(sink);
    }

    /// The gate embedded in this node, if any.
    pub(crate) fn push_sink(&self) -> Option<&Arc<dyn PushSink>> {
        self.inner.push_sink.get()
    }

    /// What happened to the push messages this node sent.
    pub(crate) fn push_stats(&self) -> PushStats {
        self.inner.push_counters.stats()
    }

    /// Sends `message` to each client in `client_ids`, grouped by gate.
    pub(crate) async fn push(
        &self,
        client_ids: &[String],
        message: Payload,
        deadline: Instant,
    ) -> Result<PushReport> {
        let mut by_gate: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for id in client_ids {
            by_gate.entry(gate_of(id)?).or_default().push(id.clone());
        }
        let mut report = PushReport::default();
        for (gate, ids) in by_gate {
            report.merge(self.push_to_gate(gate, ids, &message, deadline).await);
        }
        self.inner.push_counters.count(&report);
        Ok(report)
    }

    /// The gates of the cluster view other than this node's own, by advertised address.
    fn remote_gates(&self) -> Vec<String> {
        let local = self.push_sink().map(|sink| sink.gate_address());
        self.inner
            .view
            .borrow()
            .gates
            .values()
            .filter_map(|info| info.advertise.clone())
            .filter(|address| Some(address.as_str()) != local)
            .collect()
    }

    async fn push_to_gate(
        &self,
        gate: &str,
        ids: Vec<String>,
        message: &Payload,
        deadline: Instant,
    ) -> PushReport {
        if let Some(sink) = self.push_sink()
            && sink.gate_address() == gate
        {
            return sink.deliver(&ids, message);
        }
        let unknown = |ids| PushReport {
            unknown: ids,
            ..PushReport::default()
        };
        let Some(peers) = &self.inner.peers else {
            // No transport: only the local gate exists.
            return unknown(ids);
        };
        if !self.remote_gates().iter().any(|known| known == gate) {
            tracing::debug!(gate, "a push names a gate that is not in the cluster");
            return unknown(ids);
        }
        match peers
            .push(gate, ids.clone(), message.clone(), false, deadline)
            .await
        {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(gate, %error, "a push to a gate of the cluster failed");
                PushReport {
                    unreachable: ids,
                    ..PushReport::default()
                }
            }
        }
    }

    /// Sends `message` to every client of every gate in the cluster.
    pub(crate) async fn broadcast(&self, message: Payload, deadline: Instant) -> PushReport {
        let mut report = PushReport::default();
        if let Some(sink) = self.push_sink() {
            report.merge(sink.broadcast(&message));
        }
        if let Some(peers) = &self.inner.peers {
            let gates = self.remote_gates();
            let sends = gates
                .iter()
                .map(|gate| peers.push(gate, Vec::new(), message.clone(), true, deadline));
            for (gate, result) in gates.iter().zip(futures::future::join_all(sends).await) {
                match result {
                    Ok(gate_report) => report.merge(gate_report),
                    Err(error) => {
                        tracing::warn!(gate, %error, "a broadcast to a gate of the cluster failed");
                        report.unreachable.push(gate.clone());
                    }
                }
            }
        }
        self.inner.push_counters.count(&report);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_name_their_gate() {
        assert_eq!(gate_of("127.0.0.1:7000/abc").unwrap(), "127.0.0.1:7000");
        assert_eq!(gate_of("g/a/b").unwrap(), "g");
        for bad in ["", "nogate", "/x", "g/"] {
            assert!(gate_of(bad).is_err(), "{bad:?}");
        }
    }
}
