//! goverse: distributed virtual objects for Rust.
//!
//! Write a plain struct, annotate its `impl` block, and the runtime gives every object an
//! identity, activates it on demand on exactly one node, runs its methods one turn at a time and
//! lets other objects and clients call it through generated typed proxies.
//!
//! ```
//! use goverse::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, Serialize, Deserialize)]
//! pub struct Counter {
//!     value: i64,
//! }
//!
//! #[goverse::object]
//! impl Counter {
//!     /// `&mut self`: an exclusive turn.
//!     #[method]
//!     pub async fn add(&mut self, n: i64) -> i64 {
//!         self.value += n;
//!         self.value
//!     }
//!
//!     /// `&self`: a shared turn, may overlap other shared turns.
//!     #[method]
//!     pub async fn get(&self) -> i64 {
//!         self.value
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> goverse::Result<()> {
//! let node = goverse::Node::builder().start().await?;
//! let visitors = node.object::<Counter>("visitors");
//! assert_eq!(visitors.add(5).await?, 5);
//! assert_eq!(visitors.get().await?, 5);
//! node.shutdown().await
//! # }
//! ```
//!
//! See the repository README for the guarantees, the options of the macros and of
//! [`NodeBuilder`], and the error kinds.

// Lets the macros' `::goverse::...` paths resolve inside this crate's own tests and doctests.
#[allow(unused_extern_crates)]
extern crate self as goverse;

pub mod access;
mod activation;
#[cfg(feature = "client")]
mod client;
pub mod codec;
pub mod config;
pub mod coordinator;
mod error;
#[cfg(feature = "gate")]
pub mod gate;
mod id;
pub mod limits;
mod object;
pub mod persistence;
pub mod prelude;
#[cfg(feature = "proto")]
mod proto;
mod routing;
mod runtime;
mod security;
pub mod sharding;
pub mod tls;
#[cfg(feature = "etcd")]
mod transport;

// Not public API.
#[doc(hidden)]
pub mod __private;

#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder, PushMessage};
pub use codec::{Codec, Payload};
pub use error::{Error, ErrorKind, Result};
pub use id::{MAX_ID_LEN, ObjectKey, validate_id};
pub use object::{
    Args, Caller, Context, ExclusiveMethod, MAX_ARGS, Method, MethodEntry, MethodInfo,
    MethodSchemas, Object, ObjectRegistration, Persistence, PersistentState, Proxy, SavePolicy,
    Schemas, SharedMethod, TimerHandle, TurnKind,
};
pub use persistence::{CallOutcome, CallStatus, Database};
#[cfg(feature = "proto")]
pub use proto::Proto;
pub use routing::{MAX_CALL_ID_LEN, PushStats, new_call_id};
pub use runtime::{Node, NodeBuilder, ObjectTypeInfo};
/// The `schemars` version whose `JsonSchema` the gate's OpenAPI document uses.
#[cfg(feature = "schemars")]
pub use schemars;

/// Turns an inherent `impl` block into a goverse object type.
///
/// Options: `name = "Wire"` (the type name on the wire; default the struct's name), `persist`
/// (the state is saved and loaded through serde), `crate = path` (where `goverse` is, for
/// re-exports). Inside the block, `#[method]` marks callable methods and `#[on_activate]` /
/// `#[on_deactivate]` mark lifecycle hooks.
///
/// Generated: the typed proxy `{Type}Proxy`, the dispatch table and the registration that makes
/// [`Node`] know the type. Misuse is a compile error that says how to fix it:
///
/// ```compile_fail
/// #[derive(Default)]
/// struct Counter;
///
/// #[goverse::object]
/// impl Counter {
///     #[method]
///     fn not_async(&self) {} // error: goverse methods must be `async fn`
/// }
/// ```
pub use goverse_macros::object;

/// Marks a method of a `#[goverse::object]` impl block as callable. Options: `name = "Wire"`,
/// `idempotent`. Only meaningful inside `#[goverse::object]`; alone it is a compile error.
pub use goverse_macros::method;

/// Marks the hook run after an object is activated and before its first call.
pub use goverse_macros::on_activate;

/// Marks the hook run when an object is deactivated (idle, deleted, node shutting down).
pub use goverse_macros::on_deactivate;
