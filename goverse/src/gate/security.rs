//! Who may do what through the gate: authentication, access and lifecycle rules, rate limits.
//!
//! Every entry point of the gate's servers asks these checks, in this order: authenticate the
//! request (or the stream, once), check the access or lifecycle rule for the object, then admit
//! the call under the rate limits.

use super::GateCore;
use crate::error::Result;

/// Create or delete, for lifecycle rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleOp {
    /// Activate an object.
    Create,
    /// Delete an object.
    Delete,
}

impl GateCore {
    /// The identity the request's headers (gRPC metadata or HTTP headers) prove, `None` for an
    /// anonymous client; an `Unauthenticated` error if they prove nothing acceptable.
    pub(crate) fn authenticate(&self, headers: &::http::HeaderMap) -> Result<Option<String>> {
        let _ = headers;
        Ok(None)
    }

    /// Whether a client may call `type_name.method` on object `id`; `PermissionDenied` if not.
    pub(crate) fn check_call(&self, type_name: &str, id: &str, method: &str) -> Result<()> {
        let _ = (type_name, id, method);
        Ok(())
    }

    /// Whether a client may create or delete object `id` of `type_name`.
    pub(crate) fn check_lifecycle(&self, type_name: &str, id: &str, op: LifecycleOp) -> Result<()> {
        let _ = (type_name, id, op);
        Ok(())
    }

    /// Admits one call from `client` (its identity or address) to `type_name`;
    /// `ResourceExhausted` with a retry hint when a rate limit is exceeded.
    pub(crate) fn admit(&self, client: &str, type_name: &str) -> Result<()> {
        let _ = (client, type_name);
        Ok(())
    }
}
