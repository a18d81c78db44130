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
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::call::{
    CallMeta, DeactivateReason, DeactivateRequest, ExclusiveCall, Job, SharedCall, TurnOutcome,
    deadline_error, guarded, panic_message,
};
use crate::object::context::{CallChain, Caller, TimerOwner};
use crate::object::{Context, ExclusiveMethod, Object};
use crate::routing::Router;

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
            panicked: false,
        };
        let ctx = self.context_for(router, &meta);
        let state = lease
            .state
            .as_deref_mut()
            .expect("a lease holds the state until dropped");
        // Boxed: a method that calls its own type would otherwise give an infinitely sized future.
        let turn: BoxFuture<'_, Result<M::Output>> = Box::pin(M::invoke(state, &ctx, args));
        let (result, outcome) = guarded(turn, meta.deadline, meta.method, &ctx).await;
        lease.panicked = outcome == TurnOutcome::Panicked;
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
                    if self.run_exclusive(call, &mut state, &router).await == TurnOutcome::Panicked
                    {
                        return self.crash(&router);
                    }
                }
                Job::Shared(call) => {
                    if self.run_shared(call, &state, &router).await == TurnOutcome::Panicked {
                        return self.crash(&router);
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
                    return self.deactivate(state, &router, request).await;
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
        let mut state = Box::new(T::construct(self.key.id()));
        let deadline = Instant::now() + router.config().call_timeout;
        let ctx = self.context(router, deadline, None, &CallChain::default());
        let outcome = run_hook(state.on_activate(&ctx), deadline).await;
        drop(ctx);
        match outcome {
            Ok(()) => {
                self.inner.lock().phase = Phase::Active;
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
        call.run(state, &ctx).await
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

    /// Runs `on_deactivate`, drops the state and retires the activation; jobs that arrived
    /// meanwhile go to a fresh activation.
    async fn deactivate(
        self: &Arc<Self>,
        mut state: Box<T>,
        router: &Router,
        request: DeactivateRequest,
    ) {
        self.stop_timers();
        let deadline = Instant::now() + router.config().call_timeout;
        let ctx = self.context(router, deadline, None, &CallChain::default());
        let result = run_hook(state.on_deactivate(&ctx), deadline).await;
        drop(ctx);
        if let Err(error) = &result {
            tracing::warn!(object = %self.key, %error, "on_deactivate failed");
        }
        drop(state);
        let leftovers = self.retire(router);
        request.finish(result);
        router.requeue::<T>(&self.key, leftovers);
    }

    /// Drops a panicked activation; its queued jobs go to a fresh activation.
    fn crash(self: &Arc<Self>, router: &Router) {
        tracing::error!(object = %self.key, "a method panicked; the activation was dropped");
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

/// The state of an activation while a caller's task runs a turn on it.
struct Lease<'a, T: Object> {
    activation: &'a Arc<Activation<T>>,
    router: &'a Router,
    state: Option<Box<T>>,
    panicked: bool,
}

impl<T: Object> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        if self.panicked {
            drop(state);
            self.activation.crash(self.router);
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
