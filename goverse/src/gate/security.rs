//! Who may do what through the gate: authentication, access and lifecycle rules, rate limits.
//!
//! Every entry point of the gate's servers asks these checks, in this order:
//!
//! 1. [`GateCore::authenticate`] the request (or the stream / SSE session, once): the
//!    configured [`Authenticator`](super::Authenticator) decides; `Ok(None)` is an anonymous
//!    client, refused with `Unauthenticated` when
//!    [`GateConfig::require_authentication`](super::GateConfig::require_authentication) is set.
//! 2. [`GateCore::check_call`] or [`GateCore::check_lifecycle`]: the process's access and
//!    lifecycle rules ([`crate::access`]) for a client (`ALLOW` and `EXTERNAL` pass);
//!    `PermissionDenied` otherwise. The node that runs the call judges it again, the same way.
//! 3. [`GateCore::admit`] under the rate limits, keyed by the client's identity, else its client
//!    id, else its address: `ResourceExhausted`
//!    with the code [`RATE_LIMITED`](crate::limits::RATE_LIMITED) and a message ending in
//!    `retry after <n> ms`. [`crate::limits::retry_after`] reads the delay back: the HTTP
//!    server sends it as `Retry-After: <seconds, rounded up>` with status 429; gRPC sends the
//!    message as is with `RESOURCE_EXHAUSTED`. Opening a push stream (SSE or `Register`) is
//!    authenticated the same way and counts as one call against the per-client limits
//!    ([`GateCore::admit_stream`]); access rules do not apply to it (it names no object).

use super::GateCore;
use crate::access::Origin;
use crate::error::{ErrorKind, Result};

pub(crate) use crate::access::LifecycleOp;

impl GateCore {
    /// The identity the request's headers (gRPC metadata or HTTP headers) prove, `None` for an
    /// anonymous client; an `Unauthenticated` error if they prove nothing acceptable.
    pub(crate) fn authenticate(&self, headers: &::http::HeaderMap) -> Result<Option<String>> {
        let identity = match &self.config.authenticator {
            Some(authenticator) => authenticator.authenticate(headers).map_err(|error| {
                if error.kind() == ErrorKind::Unauthenticated {
                    error
                } else {
                    // Never let another kind (or its message) pass for a verdict.
                    tracing::warn!(%error, "the gate's authenticator failed");
                    super::auth::unauthenticated("the credentials could not be checked")
                }
            })?,
            None => None,
        };
        if identity.is_none() && self.config.require_authentication {
            return Err(super::auth::unauthenticated(
                "this gate requires authentication: send credentials (for example \
                 `Authorization: Bearer <token>` or `X-Api-Key: <key>`)",
            ));
        }
        Ok(identity)
    }

    /// Whether a client may call `type_name.method` on object `id`; `PermissionDenied` if not.
    pub(crate) fn check_call(&self, type_name: &str, id: &str, method: &str) -> Result<()> {
        self.router
            .config()
            .access
            .check_call(Origin::Client, type_name, id, method)
    }

    /// Whether a client may create or delete object `id` of `type_name`.
    pub(crate) fn check_lifecycle(&self, type_name: &str, id: &str, op: LifecycleOp) -> Result<()> {
        self.router
            .config()
            .access
            .check_lifecycle(Origin::Client, type_name, id, op)
    }

    /// Admits one call from `client` (its identity, else its client id, else its address) to
    /// `type_name`;
    /// `ResourceExhausted` with a retry hint when a rate limit is exceeded.
    pub(crate) fn admit(&self, client: &str, type_name: &str) -> Result<()> {
        self.limiter.admit(client, type_name)
    }

    /// Admits `client` (its identity, else its address) opening a push stream — an SSE stream
    /// or a gRPC `Register` — under the per-client rate limits, like one call.
    pub(crate) fn admit_stream(&self, client: &str) -> Result<()> {
        self.limiter.admit_stream(client)
    }
}
