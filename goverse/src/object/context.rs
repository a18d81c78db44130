//! The context a method runs in: who called, until when, and how to reach other objects.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{Object, Proxy};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::routing::{CallOptions, ObjectHandle, Router};

/// Who made a call that came from outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The id of the client connection (through a gate).
    pub client_id: Option<String>,
    /// The authenticated identity, when the gate authenticated the client.
    pub identity: Option<String>,
}

/// One link of the chain of turns waiting on a call.
#[derive(Debug)]
struct ChainLink {
    key: ObjectKey,
    parent: CallChain,
}

/// The objects whose turns wait on the current call: used to refuse calls that would wait on
/// themselves.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallChain(Option<Arc<ChainLink>>);

impl CallChain {
    /// The chain extended by a turn of `key`.
    pub(crate) fn push(&self, key: ObjectKey) -> CallChain {
        CallChain(Some(Arc::new(ChainLink {
            key,
            parent: self.clone(),
        })))
    }

    /// Fails with [`ErrorKind::Deadlock`](crate::ErrorKind::Deadlock) if `target` already waits in
    /// this chain: its turn could never start.
    pub(crate) fn check(&self, target: &ObjectKey) -> Result<()> {
        let mut link = self.0.as_deref();
        while let Some(current) = link {
            if current.key == *target {
                let mut cycle: Vec<String> = self.keys().map(|k| k.to_string()).collect();
                cycle.reverse();
                let start = cycle
                    .iter()
                    .position(|k| *k == target.to_string())
                    .unwrap_or(0);
                let mut path = cycle.split_off(start);
                path.push(target.to_string());
                return Err(Error::deadlock(format!(
                    "call cycle {}: {target} is waiting for this call to finish, so its turn \
                     could never start",
                    path.join(" -> ")
                )));
            }
            link = current.parent.0.as_deref();
        }
        Ok(())
    }

    /// The keys in the chain, innermost first.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        let mut link = self.0.as_deref();
        std::iter::from_fn(move || {
            let current = link?;
            link = current.parent.0.as_deref();
            Some(&current.key)
        })
    }
}

/// Registers the timers an object starts, so that they stop when it deactivates.
pub(crate) trait TimerOwner: Send + Sync {
    /// Takes ownership of a timer task; aborts it at once if the object is already gone.
    fn adopt_timer(&self, timer: AbortHandle);
}

/// The context of one turn: passed to methods that take a `&Context` parameter right after the
/// receiver, and to the lifecycle hooks.
pub struct Context {
    router: Router,
    key: ObjectKey,
    deadline: Instant,
    caller: Option<Caller>,
    /// The turns waiting on this one (this object not included).
    chain: CallChain,
    timers: Arc<dyn TimerOwner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("object", &self.key)
            .field("deadline", &self.deadline)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(
        router: Router,
        key: ObjectKey,
        deadline: Instant,
        caller: Option<Caller>,
        parent_chain: &CallChain,
        timers: Arc<dyn TimerOwner>,
    ) -> Self {
        Context {
            router,
            chain: parent_chain.clone(),
            key,
            deadline,
            caller,
            timers,
        }
    }

    /// A proxy to another object. Calls through it inherit this turn's deadline and caller, and
    /// a call back into an object waiting on this turn fails at once with
    /// [`ErrorKind::Deadlock`](crate::ErrorKind::Deadlock).
    pub fn object<T: Object>(&self, id: &str) -> T::Proxy {
        T::Proxy::from_handle(ObjectHandle::new(
            self.router.clone(),
            Arc::from(id),
            CallOptions {
                deadline: Some(self.deadline),
                chain: self.chain.push(self.key.clone()),
                caller: self.caller.clone(),
                ..CallOptions::default()
            },
        ))
    }

    /// The id of the object this turn runs on.
    pub fn object_id(&self) -> &str {
        self.key.id()
    }

    /// The registered type name of the object this turn runs on.
    pub fn object_type(&self) -> &'static str {
        self.key.type_name()
    }

    /// The id of the node this turn runs on.
    pub fn node_id(&self) -> &str {
        &self.router.config().node_id
    }

    /// Sends `message` to the client `client_id` (a client connected to any gate of the
    /// cluster; take its id from [`caller`](Context::caller)). Returns once the client's gate
    /// has queued it, so the pushes of one object reach a client in order.
    ///
    /// A [`Proto<M>`](crate::Proto) message travels as its `google.protobuf.Any` (what GoVerse
    /// clients expect); anything else serializable travels as JSON. Errors: `NotFound` if the
    /// client is not connected (or its id names no gate of the cluster), `ResourceExhausted`
    /// if its queue is full (the message is dropped), `Unavailable` if its gate is in the
    /// cluster but cannot be reached (the message is lost), `InvalidArgument` for a malformed
    /// client id.
    pub async fn push<M: serde::Serialize + ?Sized>(
        &self,
        client_id: &str,
        message: &M,
    ) -> Result<()> {
        let payload = crate::codec::push_payload(message)?;
        let report = self
            .router
            .push(&[client_id.to_string()], payload, self.deadline)
            .await?;
        if report.delivered == 1 {
            Ok(())
        } else if !report.dropped.is_empty() {
            Err(Error::new(
                crate::ErrorKind::ResourceExhausted,
                format!(
                    "client `{client_id}` is not reading its messages fast enough: its queue is full and the message was dropped"
                ),
            ))
        } else if !report.unreachable.is_empty() {
            Err(Error::unavailable(format!(
                "the gate of client `{client_id}` is in the cluster but could not be reached; \
                 the message is lost"
            )))
        } else {
            Err(Error::not_found(format!(
                "client `{client_id}` is not connected (it disconnected, or its id names no gate \
                 of the cluster)"
            )))
        }
    }

    /// Sends `message` to every client connected to any gate of the cluster; returns how many
    /// clients' queues took it (clients with a full queue miss it). Encoded as for
    /// [`push`](Context::push).
    pub async fn broadcast<M: serde::Serialize + ?Sized>(&self, message: &M) -> Result<usize> {
        let payload = crate::codec::push_payload(message)?;
        Ok(self
            .router
            .broadcast(payload, self.deadline)
            .await
            .delivered)
    }

    /// Who made the call, when it came through a gate.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// When the caller stops waiting; the turn is cancelled at this instant.
    pub fn deadline(&self) -> std::time::Instant {
        self.deadline.into_std()
    }

    /// Time left before [`Context::deadline`].
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Calls `tick` with a proxy to this object every `period`, starting one period from now,
    /// until the object deactivates or the returned handle is cancelled.
    ///
    /// Each tick is an ordinary call through the proxy, so it runs as a turn of its own and never
    /// overlaps the turn that set the timer. Timer calls do not keep the object from going idle.
    pub fn every<P, F, Fut>(&self, period: Duration, tick: F) -> TimerHandle
    where
        P: Proxy,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let proxy = self.timer_proxy::<P>();
        let period = period.max(Duration::from_millis(1));
        self.spawn_timer(async move {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                tick(proxy.clone()).await;
            }
        })
    }

    /// Calls `fire` once with a proxy to this object after `delay`, unless the object deactivates
    /// first or the returned handle is cancelled.
    pub fn after<P, F, Fut>(&self, delay: Duration, fire: F) -> TimerHandle
    where
        P: Proxy,
        F: FnOnce(P) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let proxy = self.timer_proxy::<P>();
        self.spawn_timer(async move {
            tokio::time::sleep(delay).await;
            fire(proxy).await;
        })
    }

    fn timer_proxy<P: Proxy>(&self) -> P {
        P::from_handle(ObjectHandle::new(
            self.router.clone(),
            self.key.id_arc().clone(),
            CallOptions {
                from_timer: true,
                ..CallOptions::default()
            },
        ))
    }

    fn spawn_timer(&self, timer: impl Future<Output = ()> + Send + 'static) -> TimerHandle {
        let task = tokio::spawn(timer);
        let handle = TimerHandle {
            abort: task.abort_handle(),
        };
        self.timers.adopt_timer(task.abort_handle());
        handle
    }
}

/// A running timer started with [`Context::every`] or [`Context::after`].
#[derive(Debug, Clone)]
pub struct TimerHandle {
    abort: AbortHandle,
}

impl TimerHandle {
    /// Stops the timer. A tick that is already running finishes.
    pub fn cancel(&self) {
        self.abort.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ObjectKey {
        ObjectKey::new("T", Arc::from(id))
    }

    #[test]
    fn a_call_back_into_the_chain_names_the_cycle() {
        let chain = CallChain::default()
            .push(key("a"))
            .push(key("b"))
            .push(key("c"));
        assert!(chain.check(&key("d")).is_ok());
        let err = chain.check(&key("b")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Deadlock);
        assert!(
            err.message().starts_with("call cycle T/b -> T/c -> T/b"),
            "{err}"
        );
        let err = chain.check(&key("a")).unwrap_err();
        assert!(
            err.message()
                .starts_with("call cycle T/a -> T/b -> T/c -> T/a"),
            "{err}"
        );
    }
}
