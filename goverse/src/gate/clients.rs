//! The clients connected to one gate: one bounded queue of push messages each.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::codec::Payload;
use crate::routing::{PushReport, PushSink};

/// Counters of what happened to push messages at this gate.
#[derive(Debug, Default)]
pub struct PushCounters {
    /// Messages queued for a client.
    pub delivered: AtomicU64,
    /// Messages dropped because the client's queue was full.
    pub dropped_full: AtomicU64,
    /// Messages for clients not connected here.
    pub unknown_client: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    queue: mpsc::Sender<Payload>,
    /// The authenticated identity bound to this client's session.
    identity: Option<String>,
}

/// The table of connected clients.
#[derive(Debug)]
pub(crate) struct Clients {
    gate_address: String,
    queue_len: usize,
    slots: Mutex<HashMap<String, Slot>>,
    next: AtomicU64,
    /// Makes ids unguessable: a client id is also what objects push to.
    salt: u64,
    pub(crate) counters: PushCounters,
}

/// A registered client: its id and its queue of push messages. Dropping it unregisters the
/// client.
#[derive(Debug)]
pub(crate) struct ClientSession {
    pub(crate) client_id: String,
    pub(crate) messages: mpsc::Receiver<Payload>,
    clients: Arc<Clients>,
}

impl Drop for ClientSession {
    fn drop(&mut self) {
        self.clients.slots.lock().remove(&self.client_id);
    }
}

impl Clients {
    /// An empty table for the gate at `gate_address`; each client queue holds `queue_len`
    /// messages.
    pub(crate) fn new(gate_address: String, queue_len: usize) -> Arc<Self> {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        Arc::new(Clients {
            gate_address,
            queue_len: queue_len.max(1),
            slots: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            salt: hasher.finish(),
            counters: PushCounters::default(),
        })
    }

    /// Registers a new client (bound to `identity`, if authenticated).
    pub(crate) fn register(self: &Arc<Self>, identity: Option<String>) -> ClientSession {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let client_id = format!("{}/{:016x}{:08x}", self.gate_address, self.salt ^ n, n);
        let (queue, messages) = mpsc::channel(self.queue_len);
        self.slots
            .lock()
            .insert(client_id.clone(), Slot { queue, identity });
        ClientSession {
            client_id,
            messages,
            clients: self.clone(),
        }
    }

    /// The identity bound to a connected client: `None` if the client is not connected here,
    /// `Some(None)` if it is anonymous.
    pub(crate) fn identity_of(&self, client_id: &str) -> Option<Option<String>> {
        self.slots
            .lock()
            .get(client_id)
            .map(|slot| slot.identity.clone())
    }

    /// How many clients are connected.
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().len()
    }

    fn offer(&self, client_id: &str, slot: &Slot, message: &Payload, report: &mut PushReport) {
        match slot.queue.try_send(message.clone()) {
            Ok(()) => {
                report.delivered += 1;
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                report.dropped.push(client_id.to_string());
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                report.unknown.push(client_id.to_string());
                self.counters.unknown_client.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl PushSink for Clients {
    fn gate_address(&self) -> &str {
        &self.gate_address
    }

    fn deliver(&self, client_ids: &[String], message: &Payload) -> PushReport {
        let mut report = PushReport::default();
        let slots = self.slots.lock();
        for id in client_ids {
            match slots.get(id) {
                Some(slot) => self.offer(id, slot, message, &mut report),
                None => {
                    report.unknown.push(id.clone());
                    self.counters.unknown_client.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        report
    }

    fn broadcast(&self, message: &Payload) -> PushReport {
        let mut report = PushReport::default();
        let slots = self.slots.lock();
        for (id, slot) in slots.iter() {
            self.offer(id, slot, message, &mut report);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    fn message(n: u32) -> Payload {
        Codec::Json.encode(&n).unwrap()
    }

    #[tokio::test]
    async fn queues_are_bounded_and_sessions_unregister() {
        let clients = Clients::new("gate:1".into(), 2);
        let mut session = clients.register(Some("alice".into()));
        assert!(session.client_id.starts_with("gate:1/"));
        assert_eq!(
            clients.identity_of(&session.client_id),
            Some(Some("alice".into()))
        );
        let ids = vec![session.client_id.clone(), "gate:1/nobody".to_string()];
        for n in 0..3 {
            let report = clients.deliver(&ids, &message(n));
            assert_eq!(report.unknown, ["gate:1/nobody"]);
            assert_eq!(report.delivered, usize::from(n < 2));
            assert_eq!(report.dropped.len(), usize::from(n >= 2));
        }
        assert_eq!(session.messages.recv().await.unwrap(), message(0));
        assert_eq!(session.messages.recv().await.unwrap(), message(1));
        assert_eq!(clients.counters.dropped_full.load(Ordering::Relaxed), 1);
        let id = session.client_id.clone();
        drop(session);
        assert_eq!(clients.identity_of(&id), None);
        assert_eq!(clients.len(), 0);
    }

    #[test]
    fn client_ids_are_unique() {
        let clients = Clients::new("g".into(), 1);
        let a = clients.register(None);
        let b = clients.register(None);
        assert_ne!(a.client_id, b.client_id);
    }
}
