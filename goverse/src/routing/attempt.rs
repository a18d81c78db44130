//! One try at running a call where the router sent it: here, or on a peer.
//!
//! Each kind of call (typed, encoded, create/delete) knows how to run locally and remotely and
//! says whether a failed try may be repeated; [`Router::routed`](super::Router) does the waiting.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Lifecycle, OutgoingCall, Peers, Router};
use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};
use crate::id::ObjectKey;
use crate::object::call::{CallMeta, DeactivateReason, EncodedReply, Job, TypedCall};
use crate::object::{Method, MethodEntry, NamedArgs, Object};

/// How a try ended.
pub(crate) enum Step<R> {
    /// Finished, successfully or not.
    Done(Result<R>),
    /// Did not run; try again once the cluster view changes.
    Retry(String),
    /// Did not run (a peer was unreachable); try again after a pause or a change.
    Backoff(String),
}

/// A call that can be tried locally or on a peer.
pub(crate) trait Attempt: Send {
    /// What a finished call yields.
    type Output: Send;
    /// The object called.
    fn key(&self) -> &ObjectKey;
    /// The method name (or `create` / `delete`), for messages.
    fn what(&self) -> &str;
    /// When the caller stops waiting.
    fn deadline(&self) -> Instant;
    /// Runs the call on this node.
    fn local(&mut self, router: &Router) -> impl Future<Output = Step<Self::Output>> + Send;
    /// Runs the call on the node at `address`.
    fn remote(
        &mut self,
        router: &Router,
        peers: Arc<dyn Peers>,
        address: String,
    ) -> impl Future<Output = Step<Self::Output>> + Send;
}

/// What a failed remote try means for the next one.
fn remote_failure<R>(error: Error, idempotent: bool) -> Step<R> {
    if error.is_moved() {
        // The peer's view may lag behind ours (it claimed the shard but has not seen its own
        // claim yet), so ours may not change again: retry after a pause too.
        Step::Backoff(error.message().to_string())
    } else if error.is_unreachable() && (idempotent || error.message().contains("connect")) {
        // Not connected: the call was not sent, so trying again is safe.
        Step::Backoff(error.message().to_string())
    } else {
        Step::Done(Err(error))
    }
}

/// The waiting turns of a call as `(type, id)`, outermost first.
fn wire_chain(meta: &CallMeta) -> Vec<(String, String)> {
    let mut chain: Vec<(String, String)> = meta
        .chain
        .keys()
        .map(|key| (key.type_name().to_string(), key.id().to_string()))
        .collect();
    chain.reverse();
    chain
}

pub(super) fn outgoing(
    key: &ObjectKey,
    method: &str,
    args: Payload,
    meta: &CallMeta,
) -> OutgoingCall {
    OutgoingCall {
        type_name: key.type_name(),
        id: key.id_arc().clone(),
        method: method.to_string(),
        args,
        chain: wire_chain(meta),
        caller: meta.caller.clone(),
        from_client: meta.origin == crate::access::Origin::Client,
        deadline: meta.deadline,
    }
}

/// Builds the job of a typed call.
pub(crate) type IntoJob<M> =
    fn(TypedCall<M, oneshot::Sender<Result<<M as Method>::Output>>>) -> Job<<M as Method>::Object>;

/// A call through a typed proxy: arguments stay Rust values unless the call leaves the node.
pub(crate) struct TypedAttempt<M: Method> {
    key: ObjectKey,
    meta: CallMeta,
    args: Option<M::Args>,
    into_job: IntoJob<M>,
}

impl<M: Method> TypedAttempt<M> {
    pub(crate) fn new(key: ObjectKey, meta: CallMeta, args: M::Args, into_job: IntoJob<M>) -> Self {
        TypedAttempt {
            key,
            meta,
            args: Some(args),
            into_job,
        }
    }
}

impl<M: Method> Attempt for TypedAttempt<M> {
    type Output = M::Output;

    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn what(&self) -> &str {
        M::NAME
    }

    fn deadline(&self) -> Instant {
        self.meta.deadline
    }

    async fn local(&mut self, router: &Router) -> Step<M::Output> {
        let Some(args) = self.args.take() else {
            return Step::Done(Err(Error::internal("a typed call ran twice")));
        };
        let (tx, rx) = oneshot::channel();
        router.enqueue(
            &self.key,
            (self.into_job)(TypedCall::new(args, tx, self.meta.clone())),
        );
        Step::Done(
            router
                .await_reply(rx, self.meta.deadline, &self.key, M::NAME)
                .await,
        )
    }

    async fn remote(
        &mut self,
        _router: &Router,
        peers: Arc<dyn Peers>,
        address: String,
    ) -> Step<M::Output> {
        let Some(args) = &self.args else {
            return Step::Done(Err(Error::internal("a typed call ran twice")));
        };
        let payload = match Codec::MsgPack.encode(&NamedArgs {
            names: M::PARAMS,
            args,
        }) {
            Ok(payload) => payload,
            Err(error) => return Step::Done(Err(error)),
        };
        match peers
            .call(address, outgoing(&self.key, M::NAME, payload, &self.meta))
            .await
        {
            Ok(result) => Step::Done(result.decode_described::<M::Output>(format_args!(
                "the result of {}.{}",
                self.key.type_name(),
                M::NAME
            ))),
            Err(error) => remote_failure(error, M::IDEMPOTENT),
        }
    }
}

/// A call with encoded arguments, answered in the same codec.
pub(crate) struct EncodedAttempt<T: Object> {
    key: ObjectKey,
    entry: &'static MethodEntry<T>,
    args: Payload,
    meta: CallMeta,
}

impl<T: Object> EncodedAttempt<T> {
    pub(crate) fn new(
        key: ObjectKey,
        entry: &'static MethodEntry<T>,
        args: Payload,
        meta: CallMeta,
    ) -> Self {
        EncodedAttempt {
            key,
            entry,
            args,
            meta,
        }
    }
}

impl<T: Object> Attempt for EncodedAttempt<T> {
    type Output = Payload;

    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn what(&self) -> &str {
        self.entry.info().name
    }

    fn deadline(&self) -> Instant {
        self.meta.deadline
    }

    async fn local(&mut self, router: &Router) -> Step<Payload> {
        // Only an existing activation: bad arguments must not leave an empty one behind.
        if let Some(activation) = router.activations().get_typed::<T>(&self.key)
            && let Some(turn) = self
                .entry
                .run_claimed(router, &activation, &self.args, &self.meta)
        {
            return Step::Done(turn.await);
        }
        let (tx, rx) = oneshot::channel();
        let reply = EncodedReply {
            codec: self.args.codec,
            tx,
        };
        match self.entry.decode(&self.args, self.meta.clone(), reply) {
            Ok(job) => router.enqueue(&self.key, job),
            Err(error) => return Step::Done(Err(error)),
        }
        Step::Done(
            router
                .await_reply(rx, self.meta.deadline, &self.key, self.entry.info().name)
                .await,
        )
    }

    async fn remote(
        &mut self,
        _router: &Router,
        peers: Arc<dyn Peers>,
        address: String,
    ) -> Step<Payload> {
        let call = outgoing(
            &self.key,
            self.entry.info().name,
            self.args.clone(),
            &self.meta,
        );
        match peers.call(address, call).await {
            Ok(result) => Step::Done(Ok(result)),
            Err(error) => remote_failure(error, self.entry.info().idempotent),
        }
    }
}

/// Create (activate) or delete (deactivate) an object.
pub(crate) struct LifecycleAttempt<T> {
    key: ObjectKey,
    op: Lifecycle,
    deadline: Instant,
    marker: PhantomData<fn() -> T>,
}

impl<T: Object> LifecycleAttempt<T> {
    pub(crate) fn new(key: ObjectKey, op: Lifecycle, deadline: Instant) -> Self {
        LifecycleAttempt {
            key,
            op,
            deadline,
            marker: PhantomData,
        }
    }
}

impl<T: Object> Attempt for LifecycleAttempt<T> {
    type Output = ();

    fn key(&self) -> &ObjectKey {
        &self.key
    }

    fn what(&self) -> &str {
        self.op.name()
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }

    async fn local(&mut self, router: &Router) -> Step<()> {
        match self.op {
            Lifecycle::Delete => Step::Done(
                router
                    .deactivate_local(&self.key, DeactivateReason::Delete)
                    .await,
            ),
            Lifecycle::Create => {
                let (tx, rx) = oneshot::channel();
                router.enqueue(&self.key, Job::<T>::Ensure(tx));
                Step::Done(
                    router
                        .await_reply(rx, self.deadline, &self.key, "create")
                        .await,
                )
            }
        }
    }

    async fn remote(
        &mut self,
        _router: &Router,
        peers: Arc<dyn Peers>,
        address: String,
    ) -> Step<()> {
        let call = peers.lifecycle(
            &address,
            self.key.type_name(),
            self.key.id(),
            self.op,
            self.deadline,
        );
        match call.await {
            Ok(()) => Step::Done(Ok(())),
            Err(error) => remote_failure(error, true),
        }
    }
}

impl Router {
    /// Routes a typed call whose first try could not run here, answering through `reply`.
    pub(crate) fn spawn_typed<M: Method>(
        &self,
        key: ObjectKey,
        meta: CallMeta,
        args: M::Args,
        into_job: IntoJob<M>,
        reply: impl FnOnce(Result<M::Output>) + Send + 'static,
    ) {
        let router = self.clone();
        tokio::spawn(async move {
            reply(
                router
                    .routed(TypedAttempt::<M>::new(key, meta, args, into_job))
                    .await,
            );
        });
    }
}
