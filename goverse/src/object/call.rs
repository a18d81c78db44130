//! A call on its way to an activation: typed arguments, the reply path and the call's metadata.
//!
//! A call made through a proxy on the same node carries its arguments as Rust values and replies
//! through a typed channel (nothing is serialized); an encoded call carries its decoded arguments
//! and replies with an encoded payload. Both become the same [`Job`] for the activation.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::context::{CallChain, Caller, Context};
use super::{ExclusiveMethod, Method, SharedMethod};
use crate::access::Origin;
use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::persistence::CallOutcome;
use crate::routing::{IntoJob, Router};

/// Everything about a call except its arguments.
#[derive(Debug, Clone)]
pub(crate) struct CallMeta {
    /// The wire name of the method.
    pub(crate) method: &'static str,
    /// When the caller stops waiting.
    pub(crate) deadline: Instant,
    /// The objects whose turns are waiting on this call, innermost last.
    pub(crate) chain: CallChain,
    /// Who made the call, when it came from outside the cluster.
    pub(crate) caller: Option<Caller>,
    /// Timer-made calls do not keep an object from going idle.
    pub(crate) from_timer: bool,
    /// Who the call is made by, for the access rules; travels to the node that runs it.
    pub(crate) origin: Origin,
}

/// Where a call's result goes.
pub(crate) trait Reply<O>: Send + 'static {
    /// Delivers the result; a caller that stopped waiting is ignored.
    fn send(self, result: Result<O>);
}

impl<O: Send + 'static> Reply<O> for oneshot::Sender<Result<O>> {
    fn send(self, result: Result<O>) {
        let _ = oneshot::Sender::send(self, result);
    }
}

/// Replies with the result encoded in the caller's codec.
#[derive(Debug)]
pub(crate) struct EncodedReply {
    pub(crate) codec: Codec,
    pub(crate) tx: oneshot::Sender<Result<Payload>>,
}

impl<O: Serialize + Send + 'static> Reply<O> for EncodedReply {
    fn send(self, result: Result<O>) {
        let codec = self.codec;
        let _ = self.tx.send(result.and_then(|value| codec.encode(&value)));
    }
}

/// How a turn ended, as far as the activation is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnOutcome {
    /// The method returned (successfully or with an error).
    Finished,
    /// The deadline passed first; the method's future was dropped.
    TimedOut,
    /// The method panicked; the activation must be dropped.
    Panicked,
    /// The turn ran but its state could not be saved (storage down, or another owner wrote the
    /// object): the activation must be dropped so that the state is reloaded.
    Unsaved,
}

impl TurnOutcome {
    /// Whether the activation must be dropped after this turn.
    pub(crate) fn drops_activation(self) -> bool {
        matches!(self, TurnOutcome::Panicked | TurnOutcome::Unsaved)
    }
}

/// Saves the state after an exclusive turn and before its reply (the every-turn policy).
pub(crate) trait TurnSaver<T>: Sync {
    /// Writes `state`; an error replaces the call's result.
    fn save_turn<'a>(&'a self, state: &'a T) -> BoxFuture<'a, Result<()>>;
}

/// What every pending call can do besides running.
pub(crate) trait Pending: Send {
    /// The call's metadata.
    fn meta(&self) -> &CallMeta;
    /// Answers the call with an error without running it.
    fn fail(self: Box<Self>, error: Error);
}

/// A call to an `&mut self` method of `T`.
pub(crate) trait ExclusiveCall<T>: Pending {
    /// Runs the turn; `saver`, if given, saves the state before the reply is sent.
    fn run<'a>(
        self: Box<Self>,
        this: &'a mut T,
        ctx: &'a Context,
        saver: Option<&'a dyn TurnSaver<T>>,
    ) -> BoxFuture<'a, TurnOutcome>;
    /// Routes the call again, in a task of its own (this node does not serve the object).
    fn reroute(self: Box<Self>, router: Router, key: ObjectKey);
}

/// A call to an `&self` method of `T`.
pub(crate) trait SharedCall<T>: Pending {
    fn run<'a>(self: Box<Self>, this: &'a T, ctx: &'a Context) -> BoxFuture<'a, TurnOutcome>;
    /// Routes the call again, in a task of its own (this node does not serve the object).
    fn reroute(self: Box<Self>, router: Router, key: ObjectKey);
}

/// What an activation's mailbox holds.
pub(crate) enum Job<T> {
    /// A call that needs the object to itself.
    Exclusive(Box<dyn ExclusiveCall<T>>),
    /// A call that may share its turn with other shared calls.
    Shared(Box<dyn SharedCall<T>>),
    /// Answered once the object is active (explicit create).
    Ensure(oneshot::Sender<Result<()>>),
    /// Deactivate once the jobs ahead of this one are done.
    Deactivate(DeactivateRequest),
    /// Save the state if it changed (the periodic policy).
    Save,
    /// A reliable call whose row is in the store: runs as an exclusive turn, at most once.
    Reliable(Box<ReliableJob>),
}

/// A reliable call on its way to its turn. The call's row (method and arguments) is already in
/// the store; the turn checks it is still pending, runs the method and commits the outcome
/// together with the object's state.
#[derive(Debug)]
pub(crate) struct ReliableJob {
    pub(crate) call_id: Arc<str>,
    /// The wire name of the method.
    pub(crate) method: &'static str,
    /// The named arguments as a JSON object.
    pub(crate) args_json: Arc<str>,
    pub(crate) meta: CallMeta,
    /// Where the outcome goes; `None` for calls found pending at activation.
    pub(crate) reply: Option<oneshot::Sender<Result<CallOutcome>>>,
}

impl ReliableJob {
    /// Delivers the outcome, if someone waits for it.
    pub(crate) fn finish(self, result: Result<CallOutcome>) {
        if let Some(reply) = self.reply {
            let _ = reply.send(result);
        }
    }
}

impl<T> Job<T> {
    /// Answers the job with `error` without running it.
    pub(crate) fn fail(self, error: Error) {
        match self {
            Job::Exclusive(call) => call.fail(error),
            Job::Shared(call) => call.fail(error),
            Job::Ensure(tx) => {
                let _ = tx.send(Err(error));
            }
            Job::Deactivate(request) => request.finish(Ok(())),
            Job::Save => {}
            Job::Reliable(job) => job.finish(Err(error)),
        }
    }

    /// Whether this job counts as activity for idle collection.
    pub(crate) fn keeps_active(&self) -> bool {
        match self {
            Job::Exclusive(call) => !call.meta().from_timer,
            Job::Shared(call) => !call.meta().from_timer,
            Job::Ensure(_) | Job::Reliable(_) => true,
            Job::Deactivate(_) | Job::Save => false,
        }
    }
}

/// Why an activation is being deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeactivateReason {
    /// No calls for the idle timeout; skipped if calls arrived meanwhile.
    Idle,
    /// `delete` was called.
    Delete,
    /// The node stops serving the object's shard (hand-off, shutdown); calls queued behind go
    /// to the next owner. An object whose state cannot be saved stays active instead, and the
    /// request fails with the save's error.
    Drain,
    /// The node lost its cluster registration: the object goes even if its state cannot be
    /// saved, since another node may own its shard already.
    Fence,
}

/// A request to deactivate, with an optional completion signal.
#[derive(Debug)]
pub(crate) struct DeactivateRequest {
    pub(crate) reason: DeactivateReason,
    pub(crate) done: Option<oneshot::Sender<Result<()>>>,
}

impl DeactivateRequest {
    pub(crate) fn finish(self, result: Result<()>) {
        if let Some(done) = self.done {
            let _ = done.send(result);
        }
    }
}

/// A call to method `M` with its arguments and reply path `R`.
pub(crate) struct TypedCall<M: Method, R> {
    args: M::Args,
    reply: R,
    meta: CallMeta,
}

impl<M: Method, R: Reply<M::Output>> TypedCall<M, R> {
    pub(crate) fn new(args: M::Args, reply: R, meta: CallMeta) -> Self {
        TypedCall { args, reply, meta }
    }
}

impl<M: Method, R: Reply<M::Output>> Pending for TypedCall<M, R> {
    fn meta(&self) -> &CallMeta {
        &self.meta
    }

    fn fail(self: Box<Self>, error: Error) {
        self.reply.send(Err(error));
    }
}

impl<M: ExclusiveMethod, R: Reply<M::Output>> ExclusiveCall<M::Object> for TypedCall<M, R> {
    fn run<'a>(
        self: Box<Self>,
        this: &'a mut M::Object,
        ctx: &'a Context,
        saver: Option<&'a dyn TurnSaver<M::Object>>,
    ) -> BoxFuture<'a, TurnOutcome> {
        let TypedCall { args, reply, meta } = *self;
        Box::pin(async move {
            let turn = M::invoke(&mut *this, ctx, args);
            let (result, outcome) = guarded(turn, meta.deadline, meta.method, ctx).await;
            let (result, outcome) = save_after_turn(result, outcome, &*this, saver).await;
            reply.send(result);
            outcome
        })
    }

    fn reroute(self: Box<Self>, router: Router, key: ObjectKey) {
        let TypedCall { args, reply, meta } = *self;
        let into_job: IntoJob<M> = |call| Job::Exclusive(Box::new(call));
        router.spawn_typed::<M>(key, meta, args, into_job, move |result| reply.send(result));
    }
}

impl<M: SharedMethod, R: Reply<M::Output>> SharedCall<M::Object> for TypedCall<M, R> {
    fn run<'a>(
        self: Box<Self>,
        this: &'a M::Object,
        ctx: &'a Context,
    ) -> BoxFuture<'a, TurnOutcome> {
        let TypedCall { args, reply, meta } = *self;
        Box::pin(guarded_turn(M::invoke(this, ctx, args), reply, meta, ctx))
    }

    fn reroute(self: Box<Self>, router: Router, key: ObjectKey) {
        let TypedCall { args, reply, meta } = *self;
        let into_job: IntoJob<M> = |call| Job::Shared(Box::new(call));
        router.spawn_typed::<M>(key, meta, args, into_job, move |result| reply.send(result));
    }
}

/// Saves the state after an exclusive turn if `saver` is given and the turn did not panic; a
/// failed save becomes the call's error and drops the activation.
pub(crate) async fn save_after_turn<T, O>(
    result: Result<O>,
    outcome: TurnOutcome,
    state: &T,
    saver: Option<&dyn TurnSaver<T>>,
) -> (Result<O>, TurnOutcome) {
    let Some(saver) = saver else {
        return (result, outcome);
    };
    if outcome == TurnOutcome::Panicked {
        return (result, outcome);
    }
    match saver.save_turn(state).await {
        Ok(()) => (result, outcome),
        Err(error) => (Err(error), TurnOutcome::Unsaved),
    }
}

/// Runs one turn bounded by the call's deadline, turning a panic into an error for the caller.
async fn guarded_turn<O, R: Reply<O>>(
    turn: impl Future<Output = Result<O>>,
    reply: R,
    meta: CallMeta,
    ctx: &Context,
) -> TurnOutcome {
    let (result, outcome) = guarded(turn, meta.deadline, meta.method, ctx).await;
    reply.send(result);
    outcome
}

/// Runs one turn until `deadline`: the method's result, or the error for a panic or a missed
/// deadline, with how the turn ended.
pub(crate) async fn guarded<O>(
    turn: impl Future<Output = Result<O>>,
    deadline: Instant,
    method: &str,
    ctx: &Context,
) -> (Result<O>, TurnOutcome) {
    let mut turn = std::pin::pin!(AssertUnwindSafe(turn).catch_unwind());
    // Most turns finish without waiting: poll once before arming the deadline's timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(turn.as_mut().poll(cx))).await;
    let finished = match first {
        Poll::Ready(finished) => finished,
        Poll::Pending => match tokio::time::timeout_at(deadline, turn).await {
            Ok(finished) => finished,
            Err(_) => {
                let error = deadline_error(ctx.object_type(), method, ctx.object_id());
                return (Err(error), TurnOutcome::TimedOut);
            }
        },
    };
    match finished {
        Ok(result) => (result, TurnOutcome::Finished),
        Err(panic) => {
            let error = Error::internal(format!(
                "method {}.{method} on object `{}` panicked: {}; the activation was dropped",
                ctx.object_type(),
                ctx.object_id(),
                panic_message(&*panic)
            ));
            (Err(error), TurnOutcome::Panicked)
        }
    }
}

/// The error for a call whose deadline passed.
pub(crate) fn deadline_error(type_name: &str, method: &str, id: &str) -> Error {
    Error::timeout(format!(
        "call {type_name}.{method} on object `{id}` did not finish before its deadline"
    ))
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "non-string panic payload"
    }
}
