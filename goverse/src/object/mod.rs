//! What an object is to the runtime: the [`Object`] trait the macro implements, the method
//! descriptions behind each proxy method, and the dispatch table used for encoded calls.

mod args;
pub(crate) mod call;
pub(crate) mod context;
mod persist;
pub(crate) mod registry;
pub(crate) mod schema;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::activation::Activation;
use crate::codec::Payload;
use crate::error::Result;
use crate::routing::{ObjectHandle, Router};

pub use args::{Args, MAX_ARGS};
pub(crate) use args::{NamedArgs, NamedArgsSeed};
pub use context::{Caller, Context, TimerHandle};
pub use persist::{Persistence, PersistentState, SavePolicy};
pub use registry::ObjectRegistration;
pub use schema::{MethodSchemas, Schemas};

use call::{CallMeta, EncodedReply, Job, TypedCall};

/// A virtual object type: implemented by `#[goverse::object]` on the type's `impl` block.
///
/// The items marked hidden are filled in by the macro and are not meant to be written by hand.
pub trait Object: Sized + Send + Sync + 'static {
    /// The type name on the wire (the `name = "..."` option, or the struct's name).
    const TYPE_NAME: &'static str;

    #[doc(hidden)]
    /// How the state is saved and loaded; `None` unless `#[goverse::object(persist)]`.
    const PERSISTENCE: Option<Persistence<Self>> = None;

    /// The generated typed proxy, `{Type}Proxy`.
    type Proxy: Proxy;

    /// When the state is saved, or `None` if the type is not `persist`.
    fn save_policy() -> Option<SavePolicy> {
        Self::PERSISTENCE.as_ref().map(Persistence::policy)
    }

    #[doc(hidden)]
    /// The dispatch table: every `#[method]`, by wire name.
    const METHODS: &'static [MethodEntry<Self>];

    #[doc(hidden)]
    /// Builds the state of a fresh activation.
    fn construct(id: &str) -> Self;

    #[doc(hidden)]
    /// Runs the `#[on_activate]` hook, if the type has one.
    fn on_activate<'a>(
        &'a mut self,
        ctx: &'a Context,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let _ = ctx;
        std::future::ready(Ok(()))
    }

    #[doc(hidden)]
    /// Runs the `#[on_deactivate]` hook, if the type has one.
    fn on_deactivate<'a>(
        &'a mut self,
        ctx: &'a Context,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let _ = ctx;
        std::future::ready(Ok(()))
    }
}

/// A typed proxy to one object: generated as `{Type}Proxy` for every object type.
///
/// Proxies are cheap to clone and can be sent anywhere; a call through a proxy activates the
/// object if needed and runs the method as one turn.
pub trait Proxy: Clone + Send + Sync + 'static {
    #[doc(hidden)]
    /// Wraps a routing handle.
    fn from_handle(handle: ObjectHandle) -> Self;

    #[doc(hidden)]
    /// The routing handle behind this proxy.
    fn handle(&self) -> &ObjectHandle;

    /// The id of the object this proxy calls.
    fn object_id(&self) -> &str {
        self.handle().id()
    }

    /// The same proxy with a different timeout for its calls (queueing included).
    fn with_timeout(&self, timeout: std::time::Duration) -> Self {
        Self::from_handle(self.handle().with_timeout(timeout))
    }

    /// The same proxy making **reliable** calls identified by `call_id`: the call runs at most
    /// once however often it is repeated with that id — from any node, across restarts and
    /// shard moves — and a repeat answers the first run's outcome. Generate ids with
    /// [`new_call_id`](crate::new_call_id); use one id per logical call (reusing it for another
    /// method or other arguments is an `InvalidArgument` error).
    ///
    /// The outcome is kept in the node's database; only a durable one (SQLite, PostgreSQL)
    /// keeps the promise across restarts.
    fn reliable(&self, call_id: impl Into<String>) -> Self {
        Self::from_handle(self.handle().reliable(call_id))
    }
}

/// Whether a method runs alone or may share its turn with other readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnKind {
    /// `&mut self`: runs alone, in arrival order.
    Exclusive,
    /// `&self`: may overlap other shared turns, never an exclusive one.
    Shared,
}

/// One `#[method]`, described at the type level: generated as a hidden marker type per method.
pub trait Method: Send + Sync + 'static {
    /// The object type the method belongs to.
    type Object: Object;
    /// The wire name.
    const NAME: &'static str;
    /// The parameter names, in order (the receiver and `&Context` excluded).
    const PARAMS: &'static [&'static str];
    /// Whether the runtime may retry the call after a transport failure.
    const IDEMPOTENT: bool;
    /// The arguments as a tuple.
    type Args: Args;
    /// What a successful call returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// The JSON schemas of the parameters and the result, where the types provide them (the
    /// macro fills this in from `schemars::JsonSchema`, feature `schemars`).
    fn schemas(schemas: &mut Schemas) -> MethodSchemas {
        let _ = schemas;
        MethodSchemas {
            params: vec![None; Self::PARAMS.len()],
            result: None,
        }
    }
}

/// A method with an `&mut self` receiver.
pub trait ExclusiveMethod: Method {
    /// Runs the method on the object's state.
    fn invoke<'a>(
        this: &'a mut Self::Object,
        ctx: &'a Context,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output>> + Send + 'a;
}

/// A method with an `&self` receiver.
pub trait SharedMethod: Method {
    /// Runs the method on the object's state.
    fn invoke<'a>(
        this: &'a Self::Object,
        ctx: &'a Context,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output>> + Send + 'a;
}

/// A description of one method, as other tools see it (for example an API document).
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    /// The wire name.
    pub name: &'static str,
    /// The parameter names, in order.
    pub params: &'static [&'static str],
    /// Exclusive or shared turn.
    pub kind: TurnKind,
    /// Whether the method is marked `idempotent`.
    pub idempotent: bool,
    /// The JSON schemas of its parameters and result, where the types provide them.
    pub schemas: fn(&mut Schemas) -> MethodSchemas,
}

/// One row of an object type's dispatch table: the method's description and how to turn an
/// encoded call into a job for the activation.
pub struct MethodEntry<T: Object> {
    info: MethodInfo,
    decode: fn(&Payload, CallMeta, EncodedReply) -> Result<Job<T>>,
    /// Runs an encoded exclusive call in the caller's task on an idle activation.
    claimed: Option<ClaimedCall<T>>,
}

/// Runs an encoded call on a claimed activation, or `None` if it could not be claimed.
type ClaimedCall<T> = for<'a> fn(
    &'a Router,
    &'a Arc<Activation<T>>,
    &'a Payload,
    &'a CallMeta,
) -> Option<BoxFuture<'a, Result<Payload>>>;

impl<T: Object> std::fmt::Debug for MethodEntry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.info.fmt(f)
    }
}

impl<T: Object> MethodEntry<T> {
    /// The entry for an `&mut self` method.
    pub const fn exclusive<M: ExclusiveMethod<Object = T>>() -> Self {
        MethodEntry {
            info: MethodInfo {
                name: M::NAME,
                params: M::PARAMS,
                kind: TurnKind::Exclusive,
                idempotent: M::IDEMPOTENT,
                schemas: M::schemas,
            },
            decode: decode_exclusive::<M>,
            claimed: Some(run_claimed_encoded::<M>),
        }
    }

    /// The entry for an `&self` method.
    pub const fn shared<M: SharedMethod<Object = T>>() -> Self {
        MethodEntry {
            info: MethodInfo {
                name: M::NAME,
                params: M::PARAMS,
                kind: TurnKind::Shared,
                idempotent: M::IDEMPOTENT,
                schemas: M::schemas,
            },
            decode: decode_shared::<M>,
            claimed: None,
        }
    }

    /// The method's description.
    pub fn info(&self) -> &MethodInfo {
        &self.info
    }

    pub(crate) fn decode(
        &self,
        args: &Payload,
        meta: CallMeta,
        reply: EncodedReply,
    ) -> Result<Job<T>> {
        (self.decode)(args, meta, reply)
    }

    /// Runs the call in the caller's task if the method is exclusive and the activation idle.
    pub(crate) fn run_claimed<'a>(
        &self,
        router: &'a Router,
        activation: &'a Arc<Activation<T>>,
        args: &'a Payload,
        meta: &'a CallMeta,
    ) -> Option<BoxFuture<'a, Result<Payload>>> {
        (self.claimed?)(router, activation, args, meta)
    }
}

/// Decodes the arguments of an encoded call to `M`, and checks that its result can be answered
/// in the caller's codec before the method runs.
fn decode_args<M: Method>(payload: &Payload) -> Result<M::Args> {
    let type_name = <M::Object as Object>::TYPE_NAME;
    let seed = NamedArgsSeed::<M::Args> {
        names: M::PARAMS,
        marker: std::marker::PhantomData,
    };
    let args = payload.decode_args(seed, type_name, M::NAME)?;
    payload.check_result::<M::Output>(type_name, M::NAME)?;
    Ok(args)
}

fn run_claimed_encoded<'a, M: ExclusiveMethod>(
    router: &'a Router,
    activation: &'a Arc<Activation<M::Object>>,
    args: &'a Payload,
    meta: &'a CallMeta,
) -> Option<BoxFuture<'a, Result<Payload>>> {
    let state = activation.try_claim(meta)?;
    let args_value = match decode_args::<M>(args) {
        Ok(value) => value,
        Err(error) => {
            activation.release(state, router);
            return Some(Box::pin(std::future::ready(Err(error))));
        }
    };
    Some(Box::pin(async move {
        let output = activation
            .run_claimed::<M>(router, state, args_value, meta.clone())
            .await?;
        args.codec.encode(&output)
    }))
}

fn decode_exclusive<M: ExclusiveMethod>(
    payload: &Payload,
    meta: CallMeta,
    reply: EncodedReply,
) -> Result<Job<M::Object>> {
    let args = decode_args::<M>(payload)?;
    Ok(Job::Exclusive(Box::new(TypedCall::<M, _>::new(
        args, reply, meta,
    ))))
}

fn decode_shared<M: SharedMethod>(
    payload: &Payload,
    meta: CallMeta,
    reply: EncodedReply,
) -> Result<Job<M::Object>> {
    let args = decode_args::<M>(payload)?;
    Ok(Job::Shared(Box::new(TypedCall::<M, _>::new(
        args, reply, meta,
    ))))
}
