//! The one error type of goverse: a kind a program can match and a message a person can act on.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What went wrong, in a form a program can match on.
///
/// Every kind maps one to one onto a gRPC status code ([`ErrorKind::grpc_code`]) and an HTTP
/// status ([`ErrorKind::http_status`]), so an error keeps its meaning across every hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object type, method or object does not exist.
    NotFound,
    /// The request is malformed: bad id, bad arguments, undecodable payload.
    InvalidArgument,
    /// The call did not finish before its deadline.
    Timeout,
    /// The target cannot be reached right now (node stopping, shard moving, storage down).
    Unavailable,
    /// The caller is known but not allowed to do this.
    PermissionDenied,
    /// The caller could not be authenticated.
    Unauthenticated,
    /// A rate limit or a bounded queue is full; retry later.
    ResourceExhausted,
    /// The call would wait on itself: a cycle of calls between objects.
    Deadlock,
    /// An error raised by application code, with an application-defined code.
    App,
    /// A bug or an unexpected failure inside goverse or inside a method (for example a panic).
    Internal,
}

impl ErrorKind {
    /// The gRPC status code this kind travels as.
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => 5,
            ErrorKind::InvalidArgument => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::Unavailable => 14,
            ErrorKind::PermissionDenied => 7,
            ErrorKind::Unauthenticated => 16,
            ErrorKind::ResourceExhausted => 8,
            ErrorKind::Deadlock => 10,
            ErrorKind::App => 9,
            ErrorKind::Internal => 13,
        }
    }

    /// The HTTP status code this kind is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::InvalidArgument => 400,
            ErrorKind::Timeout => 504,
            ErrorKind::Unavailable => 503,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::ResourceExhausted => 429,
            ErrorKind::Deadlock => 409,
            ErrorKind::App => 422,
            ErrorKind::Internal => 500,
        }
    }

    /// The kind's name as the JSON API's error bodies and the gate's `goverse-error-kind`
    /// metadata spell it (`NotFound`, `ResourceExhausted`, …).
    #[cfg(feature = "gate")]
    pub(crate) fn wire_name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => unreachable!("an ErrorKind serializes as its variant name"),
        }
    }

    /// The kind named `name` as [`wire_name`](Self::wire_name) spells it, if any.
    #[cfg(feature = "gate")]
    pub(crate) fn from_wire_name(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }

    /// A short lowercase name, used in messages and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::ResourceExhausted => "resource exhausted",
            ErrorKind::Deadlock => "deadlock",
            ErrorKind::App => "application error",
            ErrorKind::Internal => "internal error",
        }
    }
}

/// The error returned by every goverse operation and by proxies.
///
/// Application code raises its own errors with [`Error::app`]; they reach the caller with the same
/// code and message, on whichever node the object lives.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    kind: ErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<Arc<str>>,
    message: Arc<str>,
}

/// The code of an `Unavailable` error for a call that reached a node which no longer owns the
/// object: the method did not run, and the caller routes the call again.
pub(crate) const MOVED: &str = "goverse.moved";

/// The code of an `Unavailable` error for a peer that could not be reached.
pub(crate) const UNREACHABLE: &str = "goverse.unreachable";

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of the given kind with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: None,
            message: message.into().into(),
        }
    }

    /// An application error with a code a program can match and a message a person can read.
    pub fn app(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::App,
            code: Some(code.into().into()),
            message: message.into().into(),
        }
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// [`ErrorKind::Timeout`].
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// [`ErrorKind::Deadlock`].
    pub fn deadlock(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Deadlock, message)
    }

    /// [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The same error (kind and code) with `prefix` put before its message.
    pub(crate) fn prefixed(&self, prefix: impl std::fmt::Display) -> Self {
        Error {
            kind: self.kind,
            code: self.code.clone(),
            message: format!("{prefix}: {}", self.message).into(),
        }
    }

    /// An error rebuilt from its parts (as received over the wire).
    pub(crate) fn from_parts(kind: ErrorKind, code: Option<String>, message: String) -> Self {
        Error {
            kind,
            code: code.map(Into::into),
            message: message.into(),
        }
    }

    /// The error for a call that reached a node that does not own the object.
    pub(crate) fn moved(message: impl Into<String>) -> Self {
        Error::from_parts(
            ErrorKind::Unavailable,
            Some(MOVED.to_string()),
            message.into(),
        )
    }

    /// Whether this is a [`Error::moved`] error.
    pub(crate) fn is_moved(&self) -> bool {
        self.code() == Some(MOVED)
    }

    /// Whether this error says a peer could not be reached.
    pub(crate) fn is_unreachable(&self) -> bool {
        self.code() == Some(UNREACHABLE)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The application code of an [`ErrorKind::App`] error.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} [{}]: {}", self.kind.as_str(), code, self.message),
            None => write!(f, "{}: {}", self.kind.as_str(), self.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_errors_keep_code_and_message() {
        let err = Error::app("insufficient", "not enough to give");
        assert_eq!(err.kind(), ErrorKind::App);
        assert_eq!(err.code(), Some("insufficient"));
        assert_eq!(
            err.to_string(),
            "application error [insufficient]: not enough to give"
        );
    }

    #[test]
    fn kinds_map_to_distinct_statuses() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::InvalidArgument,
            ErrorKind::Timeout,
            ErrorKind::Unavailable,
            ErrorKind::PermissionDenied,
            ErrorKind::Unauthenticated,
            ErrorKind::ResourceExhausted,
            ErrorKind::Deadlock,
            ErrorKind::App,
            ErrorKind::Internal,
        ];
        let grpc: std::collections::HashSet<_> = kinds.iter().map(|k| k.grpc_code()).collect();
        let http: std::collections::HashSet<_> = kinds.iter().map(|k| k.http_status()).collect();
        assert_eq!(grpc.len(), kinds.len());
        assert_eq!(http.len(), kinds.len());
        #[cfg(feature = "gate")]
        {
            for kind in kinds {
                assert_eq!(ErrorKind::from_wire_name(&kind.wire_name()), Some(kind));
            }
            assert_eq!(
                ErrorKind::ResourceExhausted.wire_name(),
                "ResourceExhausted"
            );
            assert_eq!(ErrorKind::from_wire_name("Bogus"), None);
        }
    }
}
