//! The clients connected to one gate: one bounded queue of push messages each.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::{SecureRandom, SystemRandom};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::codec::Payload;
use crate::error::{Error, Result};
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
    /// Connected clients the table holds at most; more are refused (`ResourceExhausted`).
    max_clients: usize,
    slots: Mutex<HashMap<String, Slot>>,
    /// The operating system's CSPRNG: a client id is also what objects push to and what
    /// calls act under, so no id may tell anything about another.
    random: SystemRandom,
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
    /// An empty table for the gate at `gate_address` holding up to `max_clients` clients;
    /// each client queue holds `queue_len` messages.
    pub(crate) fn new(gate_address: String, queue_len: usize, max_clients: usize) -> Arc<Self> {
        Arc::new(Clients {
            gate_address,
            queue_len: queue_len.max(1),
            max_clients,
            slots: Mutex::new(HashMap::new()),
            random: SystemRandom::new(),
            counters: PushCounters::default(),
        })
    }

    /// A new client id, `<gate address>/<32 hex digits>`: 128 bits from the CSPRNG.
    fn new_client_id(&self) -> Result<String> {
        let mut unique = [0u8; 16];
        self.random.fill(&mut unique).map_err(|_| {
            Error::unavailable(
                "cannot register the client: the operating system's random number generator \
                 failed, and a client id must be unguessable",
            )
        })?;
        let mut id = String::with_capacity(self.gate_address.len() + 33);
        id.push_str(&self.gate_address);
        id.push('/');
        for byte in unique {
            id.push_str(&format!("{byte:02x}"));
        }
        Ok(id)
    }

    /// Registers a new client (bound to `identity`, if authenticated); `Unavailable` if no
    /// random id can be drawn.
    pub(crate) fn register(self: &Arc<Self>, identity: Option<String>) -> Result<ClientSession> {
        let (queue, messages) = mpsc::channel(self.queue_len);
        let client_id = {
            let mut slots = self.slots.lock();
            if slots.len() >= self.max_clients {
                return Err(Error::new(
                    crate::error::ErrorKind::ResourceExhausted,
                    format!(
                        "gate {} already holds its maximum of {} connected clients; retry \
                         later or use another gate",
                        self.gate_address, self.max_clients
                    ),
                ));
            }
            // 128 random bits do not collide in practice; never let one replace a session.
            let client_id = loop {
                let id = self.new_client_id()?;
                if !slots.contains_key(&id) {
                    break id;
                }
            };
            slots.insert(client_id.clone(), Slot { queue, identity });
            client_id
        };
        Ok(ClientSession {
            client_id,
            messages,
            clients: self.clone(),
        })
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
        let clients = Clients::new("gate:1".into(), 2, 10);
        let mut session = clients.register(Some("alice".into())).unwrap();
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
    fn the_table_refuses_clients_beyond_its_maximum() {
        let clients = Clients::new("gate:1".into(), 1, 2);
        let first = clients.register(None).unwrap();
        let _second = clients.register(None).unwrap();
        let refused = clients.register(None).unwrap_err();
        assert_eq!(refused.kind(), crate::error::ErrorKind::ResourceExhausted);
        assert!(refused.message().contains("maximum of 2"), "{refused}");
        drop(first);
        clients.register(None).expect("a slot is free again");
    }

    #[test]
    fn client_ids_are_128_random_bits_after_the_gate_address() {
        let clients = Clients::new("10.0.0.1:7000".into(), 1, 1000);
        let sessions: Vec<ClientSession> =
            (0..64).map(|_| clients.register(None).unwrap()).collect();
        let uniques: Vec<u128> = sessions
            .iter()
            .map(|session| {
                let unique = session
                    .client_id
                    .strip_prefix("10.0.0.1:7000/")
                    .expect("the id starts with the gate address");
                assert_eq!(unique.len(), 32, "{unique}");
                u128::from_str_radix(unique, 16).expect("the unique part is hex")
            })
            .collect();
        let distinct: std::collections::HashSet<u128> = uniques.iter().copied().collect();
        assert_eq!(distinct.len(), uniques.len());
        // No shared structure: consecutive ids are unrelated (no counter, no common salt). Two
        // independent 128-bit values differ in about 64 bits; a counter or an xor with one salt
        // would make them differ in a few.
        for pair in uniques.windows(2) {
            let differing = (pair[0] ^ pair[1]).count_ones();
            assert!(
                (20..=108).contains(&differing),
                "{pair:x?}: {differing} bits"
            );
        }
        // Every bit position takes both values across the ids: none is fixed.
        let ones = uniques.iter().fold(0u128, |acc, u| acc | u);
        let zeros = uniques.iter().fold(0u128, |acc, u| acc | !u);
        assert_eq!(ones, u128::MAX);
        assert_eq!(zeros, u128::MAX);
    }
}
