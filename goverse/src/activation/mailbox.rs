//! One activation: its mailbox and the turn scheduler that drains it.
//!
//! An activation holds the object's state and a queue of jobs. No task runs while the queue is
//! empty; the first job queued starts a runner task that activates the object if needed, drains
//! the queue and ends. Exclusive turns run one at a time in arrival order; consecutive shared
//! turns at the head of the queue run together, and an exclusive turn waits for them to finish.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::AnyActivation;
use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::call::{
    CallMeta, DeactivateReason, DeactivateRequest, EncodedReply, ExclusiveCall, Job, ReliableJob,
    SharedCall, TurnOutcome, TurnSaver, deadline_error, guarded, panic_message, save_after_turn,
};
use crate::object::context::{CallChain, Caller, TimerOwner};
use crate::object::{Context, ExclusiveMethod, Object, SavePolicy};
use crate::persistence::{CallOutcome, StateWrite, is_conflict};
use crate::routing::Router;

/// How long activating an object without `persist` waits for its pending reliable calls to be
/// read; past it (a store that is down or slow) the object starts without them.
const UNSTORED_PENDING_READ: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Created; the state is not built yet.
    Inactive,
    /// Activated and serving.
    Active,
    /// Removed from the table; jobs must go to a fresh activation.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// No task is running; the next job starts one.
    Idle,
    /// A task is draining the queue.
    Busy,
    /// A task is running shared turns and wants to hear about new jobs.
    AdmittingShared,
}

struct Inner<T> {
    phase: Phase,
    runner: Runner,
    queue: VecDeque<Job<T>>,
    /// The object's state while no runner holds it.
    state: Option<Box<T>>,
    last_active: Instant,
    timers: Vec<AbortHandle>,
    /// The stored version the state was loaded at or last saved as (0: no row).
    version: i64,
    /// Whether an exclusive turn ran since the last save.
    dirty: bool,
    /// When the state was last saved (or loaded).
    last_saved: Instant,
    /// Whether a `Job::Save` is queued.
    save_queued: bool,
}

/// One active (or activating) object.
pub(crate) struct Activation<T: Object> {
    key: ObjectKey,
    inner: Mutex<Inner<T>>,
    wakeup: Notify,
}

impl<T: Object> Activation<T> {
    pub(super) fn new(key: ObjectKey) -> Self {
        Activation {
            key,
            inner: Mutex::new(Inner {
                phase: Phase::Inactive,
                runner: Runner::Idle,
                queue: VecDeque::new(),
                state: None,
                last_active: Instant::now(),
                timers: Vec::new(),
                version: 0,
                dirty: false,
                last_saved: Instant::now(),
                save_queued: false,
            }),
            wakeup: Notify::new(),
        }
    }

    /// Claims the object for one exclusive turn run by the caller's own task, skipping the
    /// mailbox: possible when the object is active, idle and has nothing queued. A claim made
    /// for a timer does not count as activity for idle collection.
    pub(crate) fn try_claim(self: &Arc<Self>, meta: &CallMeta) -> Option<Box<T>> {
        let mut inner = self.inner.lock();
        if inner.phase != Phase::Active || inner.runner != Runner::Idle || !inner.queue.is_empty() {
            return None;
        }
        let state = inner.state.take()?;
        inner.runner = Runner::Busy;
        if !meta.from_timer {
            inner.last_active = Instant::now();
        }
        inner.dirty |= T::PERSISTENCE.is_some();
        Some(state)
    }

    /// Runs exclusive method `M` in the caller's task on a state taken with
    /// [`Activation::try_claim`]. The state goes back to the activation when the turn ends,
    /// also if the caller stops waiting midway.
    pub(crate) async fn run_claimed<M: ExclusiveMethod<Object = T>>(
        self: &Arc<Self>,
        router: &Router,
        state: Box<T>,
        args: M::Args,
        meta: CallMeta,
    ) -> Result<M::Output> {
        let mut lease = Lease {
            activation: self,
            router,
            state: Some(state),
            outcome: TurnOutcome::Finished,
        };
        let ctx = self.context_for(router, &meta);
        let state = lease
            .state
            .as_deref_mut()
            .expect("a lease holds the state until dropped");
        // Boxed: a method that calls its own type would otherwise give an infinitely sized future.
        let turn: BoxFuture<'_, Result<M::Output>> = Box::pin(M::invoke(&mut *state, &ctx, args));
        let (result, outcome) = guarded(turn, meta.deadline, meta.method, &ctx).await;
        let saver = Saver::every_turn(self, router);
        let saver = saver.as_ref().map(|s| s as &dyn TurnSaver<T>);
        let (result, outcome) = save_after_turn(result, outcome, &*state, saver).await;
        lease.outcome = outcome;
        result
    }

    /// Takes back the state after a turn run by a caller; starts a runner for jobs queued
    /// meanwhile.
    pub(crate) fn release(self: &Arc<Self>, state: Box<T>, router: &Router) {
        let mut inner = self.inner.lock();
        inner.state = Some(state);
        if inner.queue.is_empty() {
            inner.runner = Runner::Idle;
        } else {
            drop(inner);
            tokio::spawn(self.clone().run(router.clone()));
        }
    }

    /// Queues `job`, starting a runner if none is running. Gives the job back if this activation
    /// is gone, so the caller can look up the current one.
    pub(crate) fn enqueue(self: &Arc<Self>, router: &Router, job: Job<T>) -> Result<(), Job<T>> {
        let mut inner = self.inner.lock();
        if inner.phase == Phase::Dead {
            return Err(job);
        }
        if job.keeps_active() {
            inner.last_active = Instant::now();
        }
        inner.queue.push_back(job);
        match inner.runner {
            Runner::Idle => {
                inner.runner = Runner::Busy;
                drop(inner);
                tokio::spawn(self.clone().run(router.clone()));
            }
            Runner::AdmittingShared => {
                drop(inner);
                self.wakeup.notify_one();
            }
            Runner::Busy => {}
        }
        Ok(())
    }

    async fn run(self: Arc<Self>, router: Router) {
        let parked = self.inner.lock().state.take();
        let mut state = match parked {
            Some(state) => state,
            None => match self.activate(&router).await {
                Some(state) => state,
                None => return,
            },
        };
        loop {
            let job = {
                let mut inner = self.inner.lock();
                match inner.queue.pop_front() {
                    Some(job) => job,
                    None => {
                        inner.state = Some(state);
                        inner.runner = Runner::Idle;
                        return;
                    }
                }
            };
            match job {
                Job::Exclusive(call) => {
                    let outcome = self.run_exclusive(call, &mut state, &router).await;
                    if outcome.drops_activation() {
                        return self.crash(&router, outcome);
                    }
                }
                Job::Shared(call) => {
                    let outcome = self.run_shared(call, &state, &router).await;
                    if outcome.drops_activation() {
                        return self.crash(&router, outcome);
                    }
                }
                Job::Reliable(job) => {
                    let outcome = self.run_reliable(job, &mut state, &router).await;
                    if outcome.drops_activation() {
                        return self.crash(&router, outcome);
                    }
                }
                Job::Save => {
                    self.inner.lock().save_queued = false;
                    if let Err(error) = self.save(&router, &state).await {
                        tracing::warn!(object = %self.key, %error, "periodic save failed");
                        if is_conflict(&error) {
                            return self.crash(&router, TurnOutcome::Unsaved);
                        }
                    }
                }
                Job::Ensure(done) => {
                    let _ = done.send(Ok(()));
                }
                Job::Deactivate(request) => {
                    if request.reason == DeactivateReason::Idle
                        && self.active_within(router.config().idle_timeout)
                    {
                        request.finish(Ok(()));
                        continue;
                    }
                    match self.deactivate(state, &router, request).await {
                        Some(kept) => state = kept,
                        None => return,
                    }
                }
            }
        }
    }

    fn context(
        self: &Arc<Self>,
        router: &Router,
        deadline: Instant,
        caller: Option<Caller>,
        chain: &CallChain,
    ) -> Context {
        Context::new(
            router.clone(),
            self.key.clone(),
            deadline,
            caller,
            chain,
            self.clone(),
        )
    }

    fn context_for(self: &Arc<Self>, router: &Router, meta: &CallMeta) -> Context {
        self.context(router, meta.deadline, meta.caller.clone(), &meta.chain)
    }

    /// Builds the state and runs `on_activate`. On failure every queued job gets the error and
    /// the activation is retired, so the next call tries again.
    async fn activate(self: &Arc<Self>, router: &Router) -> Option<Box<T>> {
        let deadline = Instant::now() + router.config().call_timeout;
        let outcome = match self.load(router, deadline).await {
            Ok(mut state) => {
                let ctx = self.context(router, deadline, None, &CallChain::default());
                let hook = run_hook(state.on_activate(&ctx), deadline).await;
                drop(ctx);
                match hook {
                    Ok(()) => self
                        .pending_reliable(router)
                        .await
                        .map(|jobs| (state, jobs)),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok((state, pending)) => {
                let mut inner = self.inner.lock();
                inner.phase = Phase::Active;
                inner.last_saved = Instant::now();
                // Calls recorded while the object was inactive run first, oldest first.
                for job in pending.into_iter().rev() {
                    inner.queue.push_front(Job::Reliable(Box::new(job)));
                }
                Some(state)
            }
            Err(error) => {
                let error = error.prefixed(format_args!("activation of {} failed", self.key));
                tracing::warn!(object = %self.key, %error, "activation failed");
                for job in self.retire(router) {
                    job.fail(error.clone());
                }
                None
            }
        }
    }

    /// Reliable calls recorded for this object that never got an outcome (their owner stopped
    /// or crashed first), as jobs nobody waits for, oldest first. A call to a method the type
    /// no longer has is recorded as skipped. For a type without `persist` an unreadable store
    /// does not fail the activation (nothing else of it is stored): its pending calls then run
    /// at a later activation or when their caller retries them.
    async fn pending_reliable(&self, router: &Router) -> Result<Vec<ReliableJob>> {
        let store = router.store();
        let read = store.pending_calls(T::TYPE_NAME, self.key.id());
        let pending = if T::PERSISTENCE.is_some() {
            read.await
                .map_err(|error| error.prefixed("cannot read the pending reliable calls"))?
        } else {
            // A store that is down must not hold up (or fail) objects that keep nothing in it.
            match tokio::time::timeout(UNSTORED_PENDING_READ, read).await {
                Ok(Ok(pending)) => pending,
                Ok(Err(error)) => {
                    tracing::warn!(object = %self.key, %error, "pending reliable calls not read");
                    return Ok(Vec::new());
                }
                Err(_) => {
                    tracing::warn!(object = %self.key, "pending reliable calls not read in time");
                    return Ok(Vec::new());
                }
            }
        };
        let deadline = Instant::now() + router.config().call_timeout;
        let mut jobs = Vec::with_capacity(pending.len());
        for record in pending {
            let Some(entry) = T::METHODS.iter().find(|e| e.info().name == record.method) else {
                let error = Error::not_found(format!(
                    "object type `{}` has no method `{}`",
                    T::TYPE_NAME,
                    record.method
                ));
                store
                    .finish_call(&record.call_id, &CallOutcome::Skipped(error), None)
                    .await?;
                continue;
            };
            let method = entry.info().name;
            jobs.push(ReliableJob {
                call_id: record.call_id.into(),
                method,
                args_json: record.args_json.into(),
                meta: CallMeta {
                    method,
                    deadline,
                    chain: CallChain::default(),
                    caller: None,
                    from_timer: false,
                    origin: crate::access::Origin::Internal,
                },
                reply: None,
            });
        }
        Ok(jobs)
    }

    /// Runs one reliable call as an exclusive turn: unless the store already has its outcome,
    /// runs the method and commits the outcome together with the changed state, in one
    /// transaction. If the commit fails the activation is dropped, so the state is reloaded and
    /// the call, still pending, runs again on the next try.
    async fn run_reliable(
        self: &Arc<Self>,
        job: Box<ReliableJob>,
        state: &mut T,
        router: &Router,
    ) -> TurnOutcome {
        match router.store().call(&job.call_id).await {
            Ok(Some(record)) => {
                if let Some(outcome) = record.outcome {
                    job.finish(Ok(outcome));
                    return TurnOutcome::Finished;
                }
            }
            Ok(None) => {
                let error = Error::internal(format!(
                    "reliable call `{}` is not in the store",
                    job.call_id
                ));
                job.finish(Err(error));
                return TurnOutcome::Finished;
            }
            Err(error) => {
                job.finish(Err(error));
                return TurnOutcome::Finished;
            }
        }
        // A reliable turn always gets the node's full call timeout: its outcome is recorded
        // whether or not the caller still waits.
        let mut meta = job.meta.clone();
        meta.deadline = Instant::now() + router.config().call_timeout;
        let (outcome, turn) = self.invoke_reliable(&job, meta, state, router).await;
        // A panicked turn's state is not trusted: the outcome is recorded without it.
        let unsaved = if turn == TurnOutcome::Panicked {
            Ok(None)
        } else {
            self.unsaved_state(state)
        };
        let unsaved = match unsaved {
            Ok(unsaved) => unsaved,
            Err(error) => {
                job.finish(Err(error));
                return TurnOutcome::Unsaved;
            }
        };
        let write = unsaved
            .as_ref()
            .map(|(json, version)| self.state_write(json, *version));
        match router
            .store()
            .finish_call(&job.call_id, &outcome, write)
            .await
        {
            Ok(version) => {
                if let Some(version) = version {
                    self.mark_saved(version);
                }
                job.finish(Ok(outcome));
                turn
            }
            Err(error) => {
                let error = error.prefixed(format_args!(
                    "the outcome of reliable call `{}` could not be recorded",
                    job.call_id
                ));
                job.finish(Err(error));
                TurnOutcome::Unsaved
            }
        }
    }

    /// Decodes the stored arguments and runs the method; a method that cannot take them is
    /// `Skipped`, an error or a panic is `Failed`.
    async fn invoke_reliable(
        self: &Arc<Self>,
        job: &ReliableJob,
        meta: CallMeta,
        state: &mut T,
        router: &Router,
    ) -> (CallOutcome, TurnOutcome) {
        let Some(entry) = T::METHODS.iter().find(|e| e.info().name == job.method) else {
            let error = Error::not_found(format!(
                "object type `{}` has no method `{}`",
                T::TYPE_NAME,
                job.method
            ));
            return (CallOutcome::Skipped(error), TurnOutcome::Finished);
        };
        let args = Payload::new(Codec::Json, job.args_json.as_bytes().to_vec());
        let (tx, rx) = oneshot::channel();
        let reply = EncodedReply {
            codec: Codec::Json,
            tx,
        };
        let ctx = self.context_for(router, &meta);
        let turn = match entry.decode(&args, meta.clone(), reply) {
            Err(error) => return (CallOutcome::Skipped(error), TurnOutcome::Finished),
            Ok(Job::Exclusive(call)) => {
                if T::PERSISTENCE.is_some() {
                    self.inner.lock().dirty = true;
                }
                call.run(state, &ctx, None).await
            }
            Ok(Job::Shared(call)) => call.run(state, &ctx).await,
            Ok(other) => {
                other.fail(Error::internal("a method decoded to a non-call job"));
                TurnOutcome::Finished
            }
        };
        let result = rx
            .await
            .unwrap_or_else(|_| Err(Error::internal("the method finished without a result")));
        let outcome = match result {
            Ok(payload) => match String::from_utf8(payload.bytes.to_vec()) {
                Ok(json) => CallOutcome::Success(json),
                Err(e) => CallOutcome::Failed(Error::internal(format!(
                    "the result is not UTF-8 JSON: {e}"
                ))),
            },
            Err(error) => CallOutcome::Failed(error),
        };
        (outcome, turn)
    }

    /// The state saved, or a fresh one if none was saved (or the type is not `persist`).
    async fn load(&self, router: &Router, deadline: Instant) -> Result<Box<T>> {
        let Some(persistence) = T::PERSISTENCE.as_ref() else {
            return Ok(Box::new(T::construct(self.key.id())));
        };
        let load = router.store().load(T::TYPE_NAME, self.key.id());
        let stored = tokio::time::timeout_at(deadline, load)
            .await
            .map_err(|_| Error::timeout("loading the state did not finish before the deadline"))?
            .map_err(|error| error.prefixed("cannot load the state"))?;
        let Some(stored) = stored else {
            return Ok(Box::new(T::construct(self.key.id())));
        };
        let state = persistence.decode(&stored.state_json)?;
        self.inner.lock().version = stored.version;
        Ok(Box::new(state))
    }

    /// Writes the state if an exclusive turn ran since the last save. The write is conditional
    /// on the version this activation loaded; a conflict means another owner wrote the object.
    async fn save(&self, router: &Router, state: &T) -> Result<()> {
        let Some((state_json, expected_version)) = self.unsaved_state(state)? else {
            return Ok(());
        };
        let write = self.state_write(&state_json, expected_version);
        let version = router
            .store()
            .save(write)
            .await
            .map_err(|error| error.prefixed(format_args!("cannot save {}", self.key)))?;
        self.mark_saved(version);
        Ok(())
    }

    /// The state as JSON with the version it was loaded at, if the type is `persist` and an
    /// exclusive turn ran since the last save; `None` if there is nothing to write.
    fn unsaved_state(&self, state: &T) -> Result<Option<(String, i64)>> {
        let Some(persistence) = T::PERSISTENCE.as_ref() else {
            return Ok(None);
        };
        let expected_version = {
            let inner = self.inner.lock();
            if !inner.dirty {
                return Ok(None);
            }
            inner.version
        };
        Ok(Some((persistence.encode(state)?, expected_version)))
    }

    /// The conditional write of `state_json` over `expected_version`.
    fn state_write<'a>(&'a self, state_json: &'a str, expected_version: i64) -> StateWrite<'a> {
        StateWrite {
            object_type: T::TYPE_NAME,
            object_id: self.key.id(),
            state_json,
            expected_version,
        }
    }

    /// Records a successful write: the new version, nothing left unsaved.
    fn mark_saved(&self, version: i64) {
        let mut inner = self.inner.lock();
        inner.version = version;
        inner.dirty = false;
        inner.last_saved = Instant::now();
    }

    async fn run_exclusive(
        self: &Arc<Self>,
        call: Box<dyn ExclusiveCall<T>>,
        state: &mut T,
        router: &Router,
    ) -> TurnOutcome {
        let meta = call.meta();
        if meta.deadline <= Instant::now() {
            let error = deadline_error(T::TYPE_NAME, meta.method, self.key.id());
            call.fail(error);
            return TurnOutcome::TimedOut;
        }
        let ctx = self.context_for(router, meta);
        if T::PERSISTENCE.is_some() {
            self.inner.lock().dirty = true;
        }
        let saver = Saver::every_turn(self, router);
        call.run(state, &ctx, saver.as_ref().map(|s| s as &dyn TurnSaver<T>))
            .await
    }

    /// Runs `first` and every shared call that reaches the head of the queue while shared turns
    /// are running; returns when none is left running.
    async fn run_shared(
        self: &Arc<Self>,
        first: Box<dyn SharedCall<T>>,
        state: &T,
        router: &Router,
    ) -> TurnOutcome {
        let mut running = FuturesUnordered::new();
        let mut batch = vec![first];
        let mut outcome = TurnOutcome::Finished;
        loop {
            for call in batch.drain(..) {
                running.push(self.start_shared(call, state, router));
            }
            {
                let mut inner = self.inner.lock();
                while outcome != TurnOutcome::Panicked
                    && matches!(inner.queue.front(), Some(Job::Shared(_)))
                {
                    if let Some(Job::Shared(call)) = inner.queue.pop_front() {
                        batch.push(call);
                    }
                }
                inner.runner = if running.is_empty() && batch.is_empty() {
                    Runner::Busy
                } else {
                    Runner::AdmittingShared
                };
            }
            if !batch.is_empty() {
                continue;
            }
            if running.is_empty() {
                return outcome;
            }
            tokio::select! {
                biased;
                Some(finished) = running.next() => {
                    if finished == TurnOutcome::Panicked {
                        outcome = TurnOutcome::Panicked;
                    }
                }
                () = self.wakeup.notified() => {}
            }
        }
    }

    fn start_shared<'a>(
        self: &Arc<Self>,
        call: Box<dyn SharedCall<T>>,
        state: &'a T,
        router: &Router,
    ) -> impl Future<Output = TurnOutcome> + 'a {
        let expired = call.meta().deadline <= Instant::now();
        let ctx = self.context_for(router, call.meta());
        async move {
            if expired {
                let error = deadline_error(T::TYPE_NAME, call.meta().method, ctx.object_id());
                call.fail(error);
                return TurnOutcome::TimedOut;
            }
            call.run(state, &ctx).await
        }
    }

    /// Runs `on_deactivate`, saves a changed state (or deletes it, for `delete`), drops the
    /// state and retires the activation; jobs that arrived meanwhile go to a fresh activation.
    ///
    /// An object leaving idle or for a hand-off or shutdown whose state cannot be saved stays
    /// active (the state is given back) so that nothing is lost, and the request fails with the
    /// save's error; the next idle round or drain tries again (running `on_deactivate` again).
    /// A version conflict or a lost registration drops the state whatever happens.
    async fn deactivate(
        self: &Arc<Self>,
        mut state: Box<T>,
        router: &Router,
        request: DeactivateRequest,
    ) -> Option<Box<T>> {
        self.stop_timers();
        let deadline = Instant::now() + router.config().call_timeout;
        let ctx = self.context(router, deadline, None, &CallChain::default());
        let hook = run_hook(state.on_deactivate(&ctx), deadline).await;
        drop(ctx);
        if let Err(error) = &hook {
            tracing::warn!(object = %self.key, %error, "on_deactivate failed");
        }
        let stored = match request.reason {
            DeactivateReason::Delete => self.delete_stored(router).await,
            DeactivateReason::Idle | DeactivateReason::Drain | DeactivateReason::Fence => {
                self.save(router, &state).await
            }
        };
        if let Err(error) = &stored {
            let keep = matches!(
                request.reason,
                DeactivateReason::Idle | DeactivateReason::Drain
            );
            if keep && !is_conflict(error) {
                tracing::warn!(object = %self.key, %error, reason = ?request.reason, "cannot save the object; it stays active");
                request.finish(Err(error.clone()));
                // It stays active, so it is activated again: `on_activate` re-arms what
                // `on_deactivate` and the stopped timers took down (each `on_deactivate` pairs
                // with an `on_activate`).
                let deadline = Instant::now() + router.config().call_timeout;
                let ctx = self.context(router, deadline, None, &CallChain::default());
                if let Err(error) = run_hook(state.on_activate(&ctx), deadline).await {
                    tracing::warn!(object = %self.key, %error, "on_activate failed after a failed save");
                }
                return Some(state);
            }
            tracing::error!(object = %self.key, %error, "deactivated without saving: changes since the last save are lost");
        }
        drop(state);
        let leftovers = self.retire(router);
        request.finish(stored.and(hook));
        router.requeue::<T>(&self.key, leftovers);
        None
    }

    /// Deletes the stored state, if the type is `persist`.
    async fn delete_stored(&self, router: &Router) -> Result<()> {
        if T::PERSISTENCE.is_none() {
            return Ok(());
        }
        let version = self.inner.lock().version;
        router
            .store()
            .delete(T::TYPE_NAME, self.key.id(), version)
            .await
            .map_err(|error| {
                error.prefixed(format_args!("cannot delete the state of {}", self.key))
            })
    }

    /// Drops an activation after a panic or a failed save; its queued jobs go to a fresh
    /// activation.
    fn crash(self: &Arc<Self>, router: &Router, outcome: TurnOutcome) {
        if outcome == TurnOutcome::Panicked {
            tracing::error!(object = %self.key, "a method panicked; the activation was dropped");
        } else {
            tracing::warn!(object = %self.key, "the state could not be saved; the activation was dropped");
        }
        let leftovers = self.retire(router);
        router.requeue::<T>(&self.key, leftovers);
    }

    /// Removes the activation from the table and returns the jobs still queued.
    fn retire(self: &Arc<Self>, router: &Router) -> Vec<Job<T>> {
        router.activations().remove(&self.key, &**self);
        let mut inner = self.inner.lock();
        inner.phase = Phase::Dead;
        inner.runner = Runner::Busy;
        for timer in inner.timers.drain(..) {
            timer.abort();
        }
        inner.queue.drain(..).collect()
    }

    fn stop_timers(&self) {
        for timer in self.inner.lock().timers.drain(..) {
            timer.abort();
        }
    }

    fn active_within(&self, window: Duration) -> bool {
        self.inner.lock().last_active.elapsed() < window
    }
}

/// Saves after each exclusive turn, for types with the every-turn policy.
struct Saver<'a, T: Object> {
    activation: &'a Activation<T>,
    router: &'a Router,
}

impl<'a, T: Object> Saver<'a, T> {
    fn every_turn(activation: &'a Activation<T>, router: &'a Router) -> Option<Self> {
        let persistence = T::PERSISTENCE.as_ref()?;
        (persistence.policy() == SavePolicy::EveryTurn).then_some(Saver { activation, router })
    }
}

impl<T: Object> TurnSaver<T> for Saver<'_, T> {
    fn save_turn<'a>(&'a self, state: &'a T) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.activation.save(self.router, state))
    }
}

/// The state of an activation while a caller's task runs a turn on it.
struct Lease<'a, T: Object> {
    activation: &'a Arc<Activation<T>>,
    router: &'a Router,
    state: Option<Box<T>>,
    /// How the turn ended.
    outcome: TurnOutcome,
}

impl<T: Object> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        if self.outcome.drops_activation() {
            drop(state);
            self.activation.crash(self.router, self.outcome);
        } else {
            self.activation.release(state, self.router);
        }
    }
}

/// Runs a lifecycle hook bounded by `deadline`, turning a panic into an error.
async fn run_hook(hook: impl Future<Output = Result<()>>, deadline: Instant) -> Result<()> {
    match tokio::time::timeout_at(deadline, AssertUnwindSafe(hook).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(Error::internal(format!(
            "the hook panicked: {}",
            panic_message(&*panic)
        ))),
        Err(_) => Err(Error::timeout(
            "the hook did not finish before its deadline",
        )),
    }
}

impl<T: Object> TimerOwner for Activation<T> {
    fn adopt_timer(&self, timer: AbortHandle) {
        let mut inner = self.inner.lock();
        if inner.phase == Phase::Dead {
            timer.abort();
            return;
        }
        inner.timers.retain(|t| !t.is_finished());
        inner.timers.push(timer);
    }
}

impl<T: Object> AnyActivation for Activation<T> {
    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn collect_if_idle(self: Arc<Self>, router: &Router, now: Instant, idle: Duration) {
        let mut inner = self.inner.lock();
        let idle_enough = now.saturating_duration_since(inner.last_active) >= idle;
        if inner.phase == Phase::Active
            && inner.runner == Runner::Idle
            && inner.queue.is_empty()
            && idle_enough
        {
            inner.queue.push_back(Job::Deactivate(DeactivateRequest {
                reason: DeactivateReason::Idle,
                done: None,
            }));
            inner.runner = Runner::Busy;
            drop(inner);
            tokio::spawn(self.run(router.clone()));
        }
    }

    fn save_if_due(self: Arc<Self>, router: &Router, now: Instant) {
        let Some(SavePolicy::Periodic(interval)) = T::save_policy() else {
            return;
        };
        let interval = interval.unwrap_or(router.config().save_interval);
        let due = {
            let inner = self.inner.lock();
            inner.phase == Phase::Active
                && inner.dirty
                && !inner.save_queued
                && now.saturating_duration_since(inner.last_saved) >= interval
        };
        if due {
            self.inner.lock().save_queued = true;
            if self.enqueue(router, Job::Save).is_err() {
                self.inner.lock().save_queued = false;
            }
        }
    }

    fn request_deactivation(
        self: Arc<Self>,
        router: &Router,
        reason: DeactivateReason,
    ) -> Option<oneshot::Receiver<Result<()>>> {
        let (done, finished) = oneshot::channel();
        let job = Job::Deactivate(DeactivateRequest {
            reason,
            done: Some(done),
        });
        self.enqueue(router, job).ok().map(|()| finished)
    }
}
