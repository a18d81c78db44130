//! Push messages from objects to clients connected to gates.
//!
//! A client id is `<gate address>/<unique>`: the part before the first `/` names the gate that
//! holds the client's connection. A push goes straight to that gate — the local one when this
//! node embeds it, otherwise over the node transport — and the gate puts it in the client's
//! bounded queue. Delivery is at most once and ordered per object → client (an object awaits
//! each push); what happens otherwise is reported, never hidden:
//!
//! - the client is not connected (disconnected, never registered, or its gate is gone):
//!   [`ErrorKind::NotFound`](crate::ErrorKind::NotFound);
//! - the client's queue is full (it reads too slowly): the message is dropped,
//!   [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted);
//! - the gate cannot be reached: [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable).

use std::collections::BTreeMap;
use std::sync::Arc;

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
}

impl PushReport {
    /// Adds another gate's report to this one.
    pub(crate) fn merge(&mut self, other: PushReport) {
        self.delivered += other.delivered;
        self.unknown.extend(other.unknown);
        self.dropped.extend(other.dropped);
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
        Ok(report)
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
        let Some(peers) = &self.inner.peers else {
            // No transport: only the local gate exists.
            return PushReport {
                unknown: ids,
                ..PushReport::default()
            };
        };
        match peers
            .push(gate, ids.clone(), message.clone(), false, deadline)
            .await
        {
            Ok(report) => report,
            Err(error) => {
                tracing::debug!(gate, %error, "push to a gate failed");
                PushReport {
                    unknown: ids,
                    ..PushReport::default()
                }
            }
        }
    }

    /// Sends `message` to every client of every gate in the cluster.
    pub(crate) async fn broadcast(&self, message: Payload, deadline: Instant) -> PushReport {
        let mut report = PushReport::default();
        let local = self.push_sink().map(|sink| {
            report.merge(sink.broadcast(&message));
            sink.gate_address().to_string()
        });
        let Some(peers) = &self.inner.peers else {
            return report;
        };
        let view = self.inner.view.borrow().clone();
        let gates: Vec<String> = view
            .gates
            .values()
            .filter_map(|info| info.advertise.clone())
            .filter(|address| Some(address) != local.as_ref())
            .collect();
        let sends = gates
            .iter()
            .map(|gate| peers.push(gate, Vec::new(), message.clone(), true, deadline));
        for result in futures::future::join_all(sends).await {
            match result {
                Ok(gate_report) => report.merge(gate_report),
                Err(error) => tracing::debug!(%error, "broadcast to a gate failed"),
            }
        }
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
