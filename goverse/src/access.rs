//! Access and lifecycle rules: who may call which method, create and delete which object.
//!
//! The same rule engine runs at gates and at nodes (GoVerse's `object_access_rules` and
//! `object_lifecycle_rules`, with the same syntax and meaning):
//!
//! - An **access rule** is `{type, id?, method?, access}`; a **lifecycle rule** is
//!   `{type, id?, lifecycle: CREATE | DELETE | ALL, access}`.
//! - `type`, `id` and `method` are literals, or regular expressions written between slashes
//!   (`/Chat.*/`), anchored to the whole string. An omitted `id` or `method` matches everything.
//! - `access` is `REJECT` (nobody), `INTERNAL` (objects and nodes only), `EXTERNAL` (clients
//!   through a gate only) or `ALLOW` (both). Keywords are case-insensitive.
//! - Rules are scanned top to bottom; the **first match wins**. When no rule matches, a method
//!   call is **rejected**, a CREATE is allowed and a DELETE is internal-only.
//!
//! With no rule configured at all, nothing is checked and everything is allowed (a warning is
//! logged once when the node starts). As soon as one rule is configured, the defaults above
//! apply: an unmatched method is denied.
//!
//! Who is asking ([`Origin`]) is decided the same way on every process a call passes through:
//! a call made by an object (from one of its turns or timers) or by the node's own code is
//! [`Origin::Internal`]; a call that came through a gate for a client is [`Origin::Client`] at
//! the gate *and* at the node that runs it, so `EXTERNAL` rules work for gate traffic.

use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// Who may do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Nobody.
    Reject,
    /// Objects and nodes only (calls between objects, the node's own code).
    Internal,
    /// Clients through a gate only.
    External,
    /// Everybody.
    Allow,
}

impl Access {
    /// Parses a keyword, case-insensitively.
    pub fn parse(keyword: &str) -> Option<Access> {
        Some(match keyword.to_ascii_uppercase().as_str() {
            "REJECT" => Access::Reject,
            "INTERNAL" => Access::Internal,
            "EXTERNAL" => Access::External,
            "ALLOW" => Access::Allow,
            _ => return None,
        })
    }

    /// Whether this level admits a request from `origin`.
    pub fn admits(self, origin: Origin) -> bool {
        matches!(
            (self, origin),
            (Access::Allow, _)
                | (Access::Internal, Origin::Internal)
                | (Access::External, Origin::Client)
        )
    }

    /// The keyword, upper-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Reject => "REJECT",
            Access::Internal => "INTERNAL",
            Access::External => "EXTERNAL",
            Access::Allow => "ALLOW",
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A client outside the cluster, through a gate (GoVerse's client predicate: ALLOW, EXTERNAL).
    Client,
    /// An object or a node (GoVerse's node predicate: ALLOW, INTERNAL).
    Internal,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Origin::Client => "clients",
            Origin::Internal => "objects and nodes",
        }
    }
}

/// Create or delete, for lifecycle rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleOp {
    /// Activating an object (explicitly, or by calling it when it is not active).
    Create,
    /// Deleting an object.
    Delete,
}

impl LifecycleOp {
    fn name(self) -> &'static str {
        match self {
            LifecycleOp::Create => "create",
            LifecycleOp::Delete => "delete",
        }
    }
}

/// One access rule as written in the cluster file (`access_rules:`) or given to
/// [`NodeBuilder::access_rules`](crate::NodeBuilder::access_rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// The object type: a literal or a `/regex/` (required).
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The object id: a literal or a `/regex/`; `None` matches every id.
    #[serde(default)]
    pub id: Option<String>,
    /// The method: a literal or a `/regex/`; `None` matches every method.
    #[serde(default)]
    pub method: Option<String>,
    /// `REJECT`, `INTERNAL`, `EXTERNAL` or `ALLOW` (required, case-insensitive).
    #[serde(default)]
    pub access: String,
}

impl AccessRule {
    /// A rule for `type_name` (literal or `/regex/`) with `access`; every id and method.
    pub fn new(type_name: impl Into<String>, access: Access) -> Self {
        AccessRule {
            type_name: type_name.into(),
            id: None,
            method: None,
            access: access.as_str().to_string(),
        }
    }

    /// The same rule for ids matching `id` only.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The same rule for methods matching `method` only.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }
}

/// One lifecycle rule as written in the cluster file (`lifecycle_rules:`) or given to
/// [`NodeBuilder::lifecycle_rules`](crate::NodeBuilder::lifecycle_rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// The object type: a literal or a `/regex/` (required).
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The object id: a literal or a `/regex/`; `None` matches every id.
    #[serde(default)]
    pub id: Option<String>,
    /// `CREATE`, `DELETE` or `ALL` (required, case-insensitive).
    #[serde(default)]
    pub lifecycle: String,
    /// `REJECT`, `INTERNAL`, `EXTERNAL` or `ALLOW` (required, case-insensitive).
    #[serde(default)]
    pub access: String,
}

impl LifecycleRule {
    /// A rule for `type_name` (literal or `/regex/`): `lifecycle` is `CREATE`, `DELETE` or `ALL`.
    pub fn new(type_name: impl Into<String>, lifecycle: &str, access: Access) -> Self {
        LifecycleRule {
            type_name: type_name.into(),
            id: None,
            lifecycle: lifecycle.to_string(),
            access: access.as_str().to_string(),
        }
    }

    /// The same rule for ids matching `id` only.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// A compiled pattern: a literal, or a regular expression anchored to the whole string.
#[derive(Debug, Clone)]
enum Pattern {
    Any,
    Literal(String),
    Regex(Regex),
}

impl Pattern {
    fn compile(text: Option<&str>, field: &dyn Fn() -> String) -> Result<Pattern> {
        let Some(text) = text else {
            return Ok(Pattern::Any);
        };
        match text
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix('/'))
        {
            Some(expression) if text.len() >= 2 => Regex::new(&format!("^(?:{expression})$"))
                .map(Pattern::Regex)
                .map_err(|e| {
                    Error::invalid_argument(format!(
                        "{}: `{text}` is not a valid regular expression: {e}",
                        field()
                    ))
                }),
            _ => Ok(Pattern::Literal(text.to_string())),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Literal(literal) => literal == value,
            Pattern::Regex(regex) => regex.is_match(value),
        }
    }
}

/// Which lifecycle operations a rule covers.
#[derive(Debug, Clone, Copy)]
struct Ops {
    create: bool,
    delete: bool,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    type_name: Pattern,
    id: Pattern,
    /// The method pattern (access rules) — `Any` for lifecycle rules.
    method: Pattern,
    /// The operations covered (lifecycle rules).
    ops: Ops,
    access: Access,
}

/// The compiled access and lifecycle rules of a process; cheap to clone.
///
/// The default policy has no rules and allows everything.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    inner: Option<Arc<Rules>>,
}

#[derive(Debug)]
struct Rules {
    access: Vec<CompiledRule>,
    lifecycle: Vec<CompiledRule>,
}

fn required(value: &str, field: &dyn Fn() -> String) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_argument(format!("{}: is required", field())));
    }
    Ok(())
}

fn access_of(keyword: &str, field: &dyn Fn() -> String) -> Result<Access> {
    required(keyword, field)?;
    Access::parse(keyword).ok_or_else(|| {
        Error::invalid_argument(format!(
            "{}: `{keyword}` is not an access level; use REJECT, INTERNAL, EXTERNAL or ALLOW",
            field()
        ))
    })
}

impl AccessPolicy {
    /// Compiles and checks the rules. Errors name the list, the rule's index and the field
    /// (`access_rules[2].id: ...`).
    pub fn new(access: &[AccessRule], lifecycle: &[LifecycleRule]) -> Result<AccessPolicy> {
        if access.is_empty() && lifecycle.is_empty() {
            return Ok(AccessPolicy::default());
        }
        let mut compiled = Rules {
            access: Vec::with_capacity(access.len()),
            lifecycle: Vec::with_capacity(lifecycle.len()),
        };
        for (index, rule) in access.iter().enumerate() {
            let field = |name: &str| {
                let name = name.to_string();
                move || format!("access_rules[{index}].{name}")
            };
            required(&rule.type_name, &field("type"))?;
            compiled.access.push(CompiledRule {
                type_name: Pattern::compile(Some(&rule.type_name), &field("type"))?,
                id: Pattern::compile(rule.id.as_deref(), &field("id"))?,
                method: Pattern::compile(rule.method.as_deref(), &field("method"))?,
                ops: Ops {
                    create: false,
                    delete: false,
                },
                access: access_of(&rule.access, &field("access"))?,
            });
        }
        for (index, rule) in lifecycle.iter().enumerate() {
            let field = |name: &str| {
                let name = name.to_string();
                move || format!("lifecycle_rules[{index}].{name}")
            };
            required(&rule.type_name, &field("type"))?;
            required(&rule.lifecycle, &field("lifecycle"))?;
            let ops = match rule.lifecycle.to_ascii_uppercase().as_str() {
                "CREATE" => Ops {
                    create: true,
                    delete: false,
                },
                "DELETE" => Ops {
                    create: false,
                    delete: true,
                },
                "ALL" => Ops {
                    create: true,
                    delete: true,
                },
                other => {
                    return Err(Error::invalid_argument(format!(
                        "{}: `{other}` is not a lifecycle operation; use CREATE, DELETE or ALL",
                        field("lifecycle")()
                    )));
                }
            };
            compiled.lifecycle.push(CompiledRule {
                type_name: Pattern::compile(Some(&rule.type_name), &field("type"))?,
                id: Pattern::compile(rule.id.as_deref(), &field("id"))?,
                method: Pattern::Any,
                ops,
                access: access_of(&rule.access, &field("access"))?,
            });
        }
        Ok(AccessPolicy {
            inner: Some(Arc::new(compiled)),
        })
    }

    /// Whether any rule is configured (without rules everything is allowed).
    pub fn is_configured(&self) -> bool {
        self.inner.is_some()
    }

    /// The access level for calling `method` on object `id` of `type_name`: the first matching
    /// rule's, else `REJECT`; `ALLOW` when no rule is configured.
    pub fn call_access(&self, type_name: &str, id: &str, method: &str) -> Access {
        let Some(rules) = &self.inner else {
            return Access::Allow;
        };
        rules
            .access
            .iter()
            .find(|rule| {
                rule.type_name.matches(type_name)
                    && rule.id.matches(id)
                    && rule.method.matches(method)
            })
            .map_or(Access::Reject, |rule| rule.access)
    }

    /// The access level for creating or deleting object `id` of `type_name`: the first
    /// matching rule's, else `ALLOW` for CREATE and `INTERNAL` for DELETE; `ALLOW` when no rule
    /// is configured.
    pub fn lifecycle_access(&self, type_name: &str, id: &str, op: LifecycleOp) -> Access {
        let Some(rules) = &self.inner else {
            return Access::Allow;
        };
        rules
            .lifecycle
            .iter()
            .find(|rule| {
                (match op {
                    LifecycleOp::Create => rule.ops.create,
                    LifecycleOp::Delete => rule.ops.delete,
                }) && rule.type_name.matches(type_name)
                    && rule.id.matches(id)
            })
            .map_or(
                match op {
                    LifecycleOp::Create => Access::Allow,
                    LifecycleOp::Delete => Access::Internal,
                },
                |rule| rule.access,
            )
    }

    /// `Ok` if `origin` may call `method` on object `id` of `type_name`, else
    /// `PermissionDenied`.
    pub fn check_call(
        &self,
        origin: Origin,
        type_name: &str,
        id: &str,
        method: &str,
    ) -> Result<()> {
        let access = self.call_access(type_name, id, method);
        if access.admits(origin) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} may not call {type_name}.{method} on object `{id}` (access rule: {})",
                origin.describe(),
                Denied(access)
            ),
        ))
    }

    /// `Ok` if `origin` may create or delete object `id` of `type_name`, else
    /// `PermissionDenied`.
    pub fn check_lifecycle(
        &self,
        origin: Origin,
        type_name: &str,
        id: &str,
        op: LifecycleOp,
    ) -> Result<()> {
        let access = self.lifecycle_access(type_name, id, op);
        if access.admits(origin) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} may not {} object `{id}` of type {type_name} (lifecycle rule: {})",
                origin.describe(),
                op.name(),
                Denied(access)
            ),
        ))
    }
}

/// How a denying access level reads in an error.
struct Denied(Access);

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Access::Reject => f.write_str("REJECT"),
            Access::Internal => f.write_str("INTERNAL, objects and nodes only"),
            Access::External => f.write_str("EXTERNAL, clients only"),
            Access::Allow => f.write_str("ALLOW"),
        }
    }
}

/// Who a routed call is made by: a call a gate made for a client — identified or anonymous,
/// with or without a [`Caller`](crate::Caller) — is a client's, at the gate and (the flag
/// travels in the node-to-node request) on every node it reaches; everything else (calls from
/// turns and timers, which carry their client's `Caller` along, calls by the node's own code) is
/// internal.
pub(crate) fn origin_of(options: &crate::routing::CallOptions) -> Origin {
    let from_a_turn = options.chain.keys().next().is_some() || options.from_timer;
    if options.from_client && !from_a_turn {
        Origin::Client
    } else {
        Origin::Internal
    }
}

/// The access check of every call the router prepares — on the process where the call starts
/// and again on the node that runs it, with the same origin, which it returns. Calling an
/// object that is not active on the node that would activate it counts as creating it.
pub(crate) fn check_routed_call(
    router: &crate::routing::Router,
    key: &crate::ObjectKey,
    method: &str,
    options: &crate::routing::CallOptions,
) -> Result<Origin> {
    let origin = origin_of(options);
    let policy = &router.config().access;
    if !policy.is_configured() {
        return Ok(origin);
    }
    policy.check_call(origin, key.type_name(), key.id(), method)?;
    if router.may_activate(key) && router.activations().get(key).is_none() {
        policy.check_lifecycle(origin, key.type_name(), key.id(), LifecycleOp::Create)?;
    }
    Ok(origin)
}

/// The lifecycle check of a create or delete asked by the node's own code ([`Node::create`]
/// and friends). Gates check their clients' requests themselves; a node that a peer routes a
/// create or delete to trusts the peer's check (peers are authenticated by the cluster secret).
///
/// [`Node::create`]: crate::Node::create
pub(crate) fn check_node_lifecycle(
    router: &crate::routing::Router,
    type_name: &str,
    id: &str,
    op: crate::routing::Lifecycle,
) -> Result<()> {
    let op = match op {
        crate::routing::Lifecycle::Create => LifecycleOp::Create,
        crate::routing::Lifecycle::Delete => LifecycleOp::Delete,
    };
    router
        .config()
        .access
        .check_lifecycle(Origin::Internal, type_name, id, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_calls_are_client_calls_on_every_hop_and_object_calls_are_internal() {
        use crate::object::context::{CallChain, Caller};
        use crate::routing::CallOptions;
        let client = Caller {
            client_id: Some("gate/1".into()),
            identity: Some("alice".into()),
        };
        let from_gate = CallOptions {
            caller: Some(client.clone()),
            from_client: true,
            ..CallOptions::default()
        };
        assert_eq!(origin_of(&from_gate), Origin::Client);
        // An object called by a client calls another: the caller travels, but it is internal,
        // even where the chain of waiting turns is lost (a type the serving node lacks).
        let from_object = CallOptions {
            caller: Some(client.clone()),
            chain: CallChain::default().push(crate::ObjectKey::new("Room", "r".into())),
            ..CallOptions::default()
        };
        assert_eq!(origin_of(&from_object), Origin::Internal);
        let chain_lost = CallOptions {
            caller: Some(client),
            ..CallOptions::default()
        };
        assert_eq!(origin_of(&chain_lost), Origin::Internal);
        let from_timer = CallOptions {
            from_timer: true,
            ..CallOptions::default()
        };
        assert_eq!(origin_of(&from_timer), Origin::Internal);
        assert_eq!(origin_of(&CallOptions::default()), Origin::Internal);
    }

    #[test]
    fn anonymous_gate_calls_are_client_calls() {
        use crate::routing::CallOptions;
        // No identity and no client id: the gate passes no caller at all.
        let anonymous = CallOptions {
            from_client: true,
            ..CallOptions::default()
        };
        assert_eq!(origin_of(&anonymous), Origin::Client);
        let policy = AccessPolicy::new(
            &[AccessRule::new("Room", Access::External).method("Join")],
            &[],
        )
        .unwrap();
        let origin = origin_of(&anonymous);
        assert!(policy.check_call(origin, "Room", "r", "Join").is_ok());
        assert_eq!(
            policy
                .check_call(Origin::Internal, "Room", "r", "Join")
                .unwrap_err()
                .kind(),
            ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn slashes_alone_are_a_literal() {
        let policy = AccessPolicy::new(&[AccessRule::new("/", Access::Allow)], &[]).unwrap();
        assert_eq!(policy.call_access("/", "x", "m"), Access::Allow);
        assert_eq!(policy.call_access("A", "x", "m"), Access::Reject);
    }
}
