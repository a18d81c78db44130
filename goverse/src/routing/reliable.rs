//! Reliable calls: exactly once per caller-supplied call id.
//!
//! The call is routed to the object's owner like any call. There its row is inserted in the
//! store (or the existing row with that id is found); a row that already has an outcome is
//! answered from the store, and a pending one is queued on the activation as a reliable job,
//! which runs the method and commits the outcome with the object's state in one transaction.
//! Retrying with the same id is therefore always safe, from any node, at any time.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::attempt::{Attempt, Step, outgoing};
use super::{CallOptions, Delivery, Peers, Router};
use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::call::{CallMeta, Job, ReliableJob};
use crate::object::{Method, MethodEntry, NamedArgs, Object};
use crate::persistence::{CallOutcome, NewCall};

/// The longest call id accepted.
pub const MAX_CALL_ID_LEN: usize = 255;

/// A reliable call routed to the object's owner.
pub(crate) struct ReliableAttempt<T: Object> {
    key: ObjectKey,
    entry: &'static MethodEntry<T>,
    call_id: Arc<str>,
    args_json: Arc<str>,
    meta: CallMeta,
}

impl<T: Object> Attempt for ReliableAttempt<T> {
    type Output = CallOutcome;

    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn what(&self) -> &str {
        self.entry.info().name
    }

    fn deadline(&self) -> Instant {
        self.meta.deadline
    }

    async fn local(&mut self, router: &Router) -> Step<CallOutcome> {
        match self.record_and_run(router).await {
            // The object left this node before the call's turn: route it again.
            Err(error) if error.is_moved() => Step::Backoff(error.message().to_string()),
            result => Step::Done(result),
        }
    }

    async fn remote(
        &mut self,
        _router: &Router,
        peers: Arc<dyn Peers>,
        address: String,
    ) -> Step<CallOutcome> {
        let args = Payload::new(Codec::Json, self.args_json.as_bytes().to_vec());
        let call = outgoing(&self.key, self.entry.info().name, args, &self.meta);
        match peers.reliable(address, call, self.call_id.clone()).await {
            Ok(outcome) => Step::Done(Ok(outcome)),
            // Repeating a reliable call is always safe: its id makes it run at most once.
            Err(error) if error.is_moved() || error.is_unreachable() => {
                Step::Backoff(error.message().to_string())
            }
            Err(error) => Step::Done(Err(error)),
        }
    }
}

impl<T: Object> ReliableAttempt<T> {
    /// On the owner: records the call (or finds its row) and runs it unless it has an outcome.
    async fn record_and_run(&self, router: &Router) -> Result<CallOutcome> {
        let call = NewCall {
            call_id: &self.call_id,
            object_type: T::TYPE_NAME,
            object_id: self.key.id(),
            method: self.entry.info().name,
            args_json: &self.args_json,
        };
        let record = router.store().insert_call(call).await?;
        if !record.matches(&call) {
            return Err(Error::invalid_argument(format!(
                "call id `{}` was already used for {}.{} on object `{}` with arguments {}; a \
                 call id names one call: use a new id for a different call",
                self.call_id, record.object_type, record.method, record.object_id, record.args_json
            )));
        }
        if let Some(outcome) = record.outcome {
            return Ok(outcome);
        }
        let (tx, rx) = oneshot::channel();
        let job = ReliableJob {
            call_id: self.call_id.clone(),
            method: self.entry.info().name,
            args_json: self.args_json.clone(),
            meta: self.meta.clone(),
            reply: Some(tx),
        };
        router.enqueue::<T>(&self.key, Job::Reliable(Box::new(job)));
        router
            .await_reply(rx, self.meta.deadline, &self.key, self.entry.info().name)
            .await
    }
}

/// Checks a caller-supplied call id.
fn validate_call_id(call_id: &str) -> Result<()> {
    if call_id.is_empty() {
        return Err(Error::invalid_argument(
            "a reliable call needs a non-empty call id",
        ));
    }
    if call_id.len() > MAX_CALL_ID_LEN {
        return Err(Error::invalid_argument(format!(
            "call id is {} bytes long; the limit is {MAX_CALL_ID_LEN}",
            call_id.len()
        )));
    }
    Ok(())
}

/// Reads stored JSON arguments into the canonical form kept in the store.
fn args_json_of(args: &Payload, what: &str) -> Result<Arc<str>> {
    let value: serde_json::Value = args.decode(what)?;
    if !value.is_object() {
        return Err(Error::invalid_argument(format!(
            "{what} must be a map of named arguments for a reliable call"
        )));
    }
    Ok(value.to_string().into())
}

impl Router {
    /// A reliable call of method `entry` with encoded arguments.
    pub(crate) async fn call_reliable<T: Object>(
        &self,
        id: Arc<str>,
        entry: &'static MethodEntry<T>,
        call_id: Arc<str>,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> Result<CallOutcome> {
        validate_call_id(&call_id)?;
        let key = ObjectKey::new(T::TYPE_NAME, id);
        let meta = self.prepare(&key, entry.info().name, &options)?;
        let what = format!("the arguments of {}.{}", T::TYPE_NAME, entry.info().name);
        let args_json = args_json_of(&args, &what)?;
        let attempt = ReliableAttempt {
            key,
            entry,
            call_id,
            args_json,
            meta,
        };
        self.deliver(attempt, delivery).await
    }

    /// A reliable call through a typed proxy: Ok with the result for a success, the method's
    /// error for a failure, the reason for a skipped call.
    pub(crate) async fn call_reliable_typed<M: Method>(
        &self,
        id: &Arc<str>,
        options: &CallOptions,
        call_id: &Arc<str>,
        args: M::Args,
    ) -> Result<M::Output> {
        let entry = M::Object::METHODS
            .iter()
            .find(|entry| entry.info().name == M::NAME)
            .ok_or_else(|| Error::internal(format!("{} is not in its dispatch table", M::NAME)))?;
        let args = Codec::Json.encode(&NamedArgs {
            names: M::PARAMS,
            args: &args,
        })?;
        let outcome = self
            .call_reliable::<M::Object>(
                id.clone(),
                entry,
                call_id.clone(),
                args,
                options.clone(),
                Delivery::Routed,
            )
            .await?;
        match outcome {
            CallOutcome::Success(json) => Payload::new(Codec::Json, json.into_bytes()).decode(
                &format!("the result of {}.{}", M::Object::TYPE_NAME, M::NAME),
            ),
            CallOutcome::Failed(error) | CallOutcome::Skipped(error) => Err(error),
        }
    }

    /// A reliable call that names the type and method as strings.
    #[allow(clippy::too_many_arguments)] // the names of one call, plus its options and delivery
    pub(crate) async fn call_reliable_by_name(
        &self,
        type_name: &str,
        id: &str,
        method: &str,
        call_id: &str,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> Result<CallOutcome> {
        let object_type = self.registry().get(type_name)?;
        object_type
            .call_reliable(
                self,
                Arc::from(id),
                method,
                Arc::from(call_id),
                args,
                options,
                delivery,
            )
            .await
    }

    /// Routes a reliable job that could not run here; calls found pending at activation are
    /// dropped (their object's next owner runs them when it activates the object).
    ///
    /// A node that is stopping does not route the job itself (it leaves the cluster and stops
    /// following its changes, so it could wait for the next owner until the deadline): the
    /// call ends with a "moved" error, which its attempt answers by routing it again from the
    /// caller's node.
    pub(crate) fn reroute_reliable<T: Object>(&self, key: ObjectKey, job: ReliableJob) {
        let Some(reply) = job.reply else {
            return;
        };
        if !self
            .inner
            .admitting
            .load(std::sync::atomic::Ordering::Acquire)
        {
            let _ = reply.send(Err(Error::moved(format!(
                "node `{}` stopped before reliable call `{}` on {key} could run",
                self.node_id(),
                job.call_id
            ))));
            return;
        }
        let Some(entry) = T::METHODS.iter().find(|e| e.info().name == job.method) else {
            let _ = reply.send(Err(Error::internal(
                "a reliable job names an unknown method",
            )));
            return;
        };
        let ReliableJob {
            call_id,
            args_json,
            meta,
            ..
        } = job;
        let attempt = ReliableAttempt {
            key,
            entry,
            call_id,
            args_json,
            meta,
        };
        let router = self.clone();
        tokio::spawn(async move {
            let _ = reply.send(router.routed(attempt).await);
        });
    }
}

/// A new call id, unique across processes: time, process, a counter and random bits.
pub fn new_call_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(count);
    hasher.write_u128(nanos);
    format!(
        "{nanos:x}-{:x}-{count:x}-{:016x}",
        std::process::id(),
        hasher.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_call_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn call_ids_are_checked() {
        assert!(validate_call_id("").is_err());
        assert!(validate_call_id(&"x".repeat(256)).is_err());
        assert!(validate_call_id("order-17").is_ok());
    }
}
