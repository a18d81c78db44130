//! The node-to-node transport: one tonic gRPC service (`goverse.v1.NodeService`), its server
//! and a pool of clients that follows cluster membership.
//!
//! Payloads keep their codec tag; errors keep their kind, code and message; a call carries the
//! caller's remaining time (`timeout_micros`), its call chain and its caller in the request
//! itself (creates, deletes and pushes carry their deadline as the gRPC timeout).

mod client;
#[cfg(all(test, feature = "gate"))]
mod fuzz_tests;
mod security;
mod server;

pub(crate) use client::PeerPool;
pub(crate) use security::TransportSecurity;
pub(crate) use server::serve;

use std::sync::Arc;
use std::time::Duration;

use crate::codec::{Codec, Payload};
use crate::error::{Error, ErrorKind};
use crate::object::Caller;
use crate::persistence::{CallOutcome, CallStatus};

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub(crate) mod proto {
    tonic::include_proto!("goverse.v1");
}

impl From<Codec> for proto::Codec {
    fn from(codec: Codec) -> Self {
        match codec {
            Codec::MsgPack => proto::Codec::Msgpack,
            Codec::Json => proto::Codec::Json,
            #[cfg(feature = "proto")]
            Codec::Protobuf => proto::Codec::Protobuf,
        }
    }
}

/// The codec a payload's tag names, if this build knows it.
fn codec_from_wire(tag: i32) -> Result<Codec, Error> {
    let known = match proto::Codec::try_from(tag) {
        Ok(proto::Codec::Msgpack) => Some(Codec::MsgPack),
        Ok(proto::Codec::Json) => Some(Codec::Json),
        #[cfg(feature = "proto")]
        Ok(proto::Codec::Protobuf) => Some(Codec::Protobuf),
        _ => None,
    };
    known.ok_or_else(|| {
        let name = proto::Codec::try_from(tag)
            .map(|codec| codec.as_str_name().to_string())
            .unwrap_or_else(|_| format!("number {tag}"));
        Error::invalid_argument(format!(
            "unknown payload codec {name}; this node knows {}",
            Codec::known_names()
        ))
    })
}

impl From<Payload> for proto::Payload {
    fn from(payload: Payload) -> Self {
        proto::Payload {
            codec: proto::Codec::from(payload.codec).into(),
            data: payload.bytes,
        }
    }
}

fn payload_from_wire(payload: Option<proto::Payload>) -> Result<Payload, Error> {
    let payload =
        payload.ok_or_else(|| Error::invalid_argument("the request carries no payload"))?;
    Ok(Payload::new(codec_from_wire(payload.codec)?, payload.data))
}

impl From<&CallOutcome> for proto::ReliableOutcome {
    fn from(outcome: &CallOutcome) -> Self {
        proto::ReliableOutcome {
            status: outcome.status().as_str().to_string(),
            result_json: outcome.result_json().unwrap_or_default().to_string(),
            error: outcome.error().map(proto::WireError::from),
        }
    }
}

fn outcome_from_wire(wire: proto::ReliableOutcome) -> Result<CallOutcome, Error> {
    let error = || -> Result<Error, Error> {
        wire.error.clone().map(Error::from).ok_or_else(|| {
            Error::internal("a failed or skipped reliable call came without its error")
        })
    };
    Ok(match CallStatus::parse(&wire.status)? {
        CallStatus::Success => CallOutcome::Success(wire.result_json),
        CallStatus::Failed => CallOutcome::Failed(error()?),
        CallStatus::Skipped => CallOutcome::Skipped(error()?),
        CallStatus::Pending => {
            return Err(Error::internal(
                "a peer answered a reliable call with no outcome",
            ));
        }
    })
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not_found",
        ErrorKind::InvalidArgument => "invalid_argument",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::PermissionDenied => "permission_denied",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::ResourceExhausted => "resource_exhausted",
        ErrorKind::Deadlock => "deadlock",
        ErrorKind::App => "app",
        ErrorKind::Internal => "internal",
    }
}

fn kind_from_name(name: &str) -> ErrorKind {
    match name {
        "not_found" => ErrorKind::NotFound,
        "invalid_argument" => ErrorKind::InvalidArgument,
        "timeout" => ErrorKind::Timeout,
        "unavailable" => ErrorKind::Unavailable,
        "permission_denied" => ErrorKind::PermissionDenied,
        "unauthenticated" => ErrorKind::Unauthenticated,
        "resource_exhausted" => ErrorKind::ResourceExhausted,
        "deadlock" => ErrorKind::Deadlock,
        "app" => ErrorKind::App,
        _ => ErrorKind::Internal,
    }
}

impl From<&Error> for proto::WireError {
    fn from(error: &Error) -> Self {
        proto::WireError {
            kind: kind_name(error.kind()).to_string(),
            code: error.code().unwrap_or_default().to_string(),
            message: error.message().to_string(),
        }
    }
}

impl From<proto::WireError> for Error {
    fn from(wire: proto::WireError) -> Self {
        Error::from_parts(
            kind_from_name(&wire.kind),
            (!wire.code.is_empty()).then_some(wire.code),
            wire.message,
        )
    }
}

fn caller_to_wire(caller: &Caller) -> proto::Caller {
    proto::Caller {
        client_id: caller.client_id.clone().unwrap_or_default(),
        identity: caller.identity.clone().unwrap_or_default(),
    }
}

fn caller_from_wire(caller: proto::Caller) -> Caller {
    Caller {
        client_id: (!caller.client_id.is_empty()).then_some(caller.client_id),
        identity: (!caller.identity.is_empty()).then_some(caller.identity),
    }
}

/// The timeout a gRPC request carries in its `grpc-timeout` header, if any (and readable).
pub(crate) fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
}

/// Reads a gRPC timeout header value (`<digits><unit>`, units `H M S m u n`).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A shared string for ids that arrive over the wire.
fn shared_id(id: String) -> Arc<str> {
    Arc::from(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_every_unit() {
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("150m"), Some(Duration::from_millis(150)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout(""), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
    }

    #[test]
    fn payload_codecs_survive_the_wire_and_unknown_tags_are_named() {
        for codec in [Codec::MsgPack, Codec::Json] {
            let payload = Payload::new(codec, bytes::Bytes::from_static(b"x"));
            let back = payload_from_wire(Some(payload.clone().into())).unwrap();
            assert_eq!(back.codec, codec);
        }
        for (tag, named) in [(77, "number 77"), (0, "CODEC_UNSPECIFIED")] {
            let unknown = proto::Payload {
                codec: tag,
                data: bytes::Bytes::new(),
            };
            let error = payload_from_wire(Some(unknown)).unwrap_err();
            assert!(error.message().contains(named), "{error}");
        }
    }

    #[test]
    fn errors_survive_the_wire() {
        let error = Error::app("insufficient", "not enough");
        let back = Error::from(proto::WireError::from(&error));
        assert_eq!(back, error);
        let error = Error::deadlock("cycle");
        assert_eq!(Error::from(proto::WireError::from(&error)), error);
    }
}
