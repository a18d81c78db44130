//! The typed description of one object type: what the expansion reads, and nothing else.

use proc_macro2::{Ident, Span};
use syn::{Attribute, Path, Type};

/// One `#[goverse::object]` impl block, validated.
pub(crate) struct ObjectModel {
    /// How generated code names the goverse crate (`::goverse` unless renamed).
    pub(crate) krate: Path,
    /// The object's Rust type as written after `impl`.
    pub(crate) self_ty: Type,
    /// The generated proxy's name: `{Type}Proxy`.
    pub(crate) proxy: Ident,
    /// The type name on the wire.
    pub(crate) wire_name: String,
    /// How the state is persisted, if `persist` is given.
    pub(crate) persist: Option<PersistModel>,
    /// The callable methods, in declaration order.
    pub(crate) methods: Vec<MethodModel>,
    /// The `#[on_activate]` hook.
    pub(crate) on_activate: Option<HookModel>,
    /// The `#[on_deactivate]` hook.
    pub(crate) on_deactivate: Option<HookModel>,
}

/// The `persist` option, validated.
pub(crate) struct PersistModel {
    /// The `persist` keyword.
    pub(crate) span: Span,
    /// When the state is saved.
    pub(crate) policy: SavePolicyModel,
}

/// When a persistent object is saved.
pub(crate) enum SavePolicyModel {
    /// `persist`: at the node's save interval.
    NodeInterval,
    /// `persist(every_turn)`.
    EveryTurn,
    /// `persist(interval = "...")`, in milliseconds.
    Interval(u64),
}

/// Whether a method takes the object alone or shares it with other readers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// `&mut self`.
    Exclusive,
    /// `&self`.
    Shared,
}

/// One `#[method]`.
pub(crate) struct MethodModel {
    /// The Rust method name.
    pub(crate) rust_name: Ident,
    /// The wire name (`name = "..."`, or the Rust name).
    pub(crate) wire_name: String,
    /// The receiver's kind.
    pub(crate) turn: Turn,
    /// Whether a `&Context` parameter follows the receiver.
    pub(crate) takes_context: bool,
    /// The parameters after the receiver and the context.
    pub(crate) params: Vec<Param>,
    /// What the method returns.
    pub(crate) output: Output,
    /// Whether the method is marked `idempotent`.
    pub(crate) idempotent: bool,
    /// The method's doc comments, copied onto the proxy method.
    pub(crate) docs: Vec<Attribute>,
}

/// One method parameter.
pub(crate) struct Param {
    /// The parameter's name (its wire name too).
    pub(crate) name: Ident,
    /// The parameter's type.
    pub(crate) ty: Type,
}

/// A method's return type.
pub(crate) enum Output {
    /// A plain value (`()` when the method returns nothing); `span` is where it was written.
    Plain { ty: Type, span: Span },
    /// A `Result`: the proxy returns `ok` and converts the error into `goverse::Error`.
    Result { ok: Type, span: Span },
}

impl Output {
    /// The type a successful call yields.
    pub(crate) fn ok_type(&self) -> &Type {
        match self {
            Output::Plain { ty, .. } | Output::Result { ok: ty, .. } => ty,
        }
    }

    /// Where the return type was written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Output::Plain { span, .. } | Output::Result { span, .. } => *span,
        }
    }
}

/// A lifecycle hook.
pub(crate) struct HookModel {
    /// The Rust method name.
    pub(crate) rust_name: Ident,
    /// Whether a `&Context` parameter follows the receiver.
    pub(crate) takes_context: bool,
    /// Where the hook's `Result` return type is written, if it returns one.
    pub(crate) result_span: Option<Span>,
}
