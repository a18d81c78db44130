//! `google.protobuf.Any` ↔ [`Payload`]: how GoVerse-compatible clients' requests, responses and
//! push messages map onto goverse's codecs, for the gRPC and the HTTP gate alike.
//!
//! - type URL [`JSON_TYPE_URL`] (`type.goverse.dev/json`): the `Any`'s value is a JSON document,
//!   a [`Codec::Json`] payload;
//! - type URL [`MSGPACK_TYPE_URL`] (`type.goverse.dev/msgpack`): a [`Codec::MsgPack`] payload;
//! - any other type URL: a protobuf message, a [`Codec::Protobuf`] payload whose bytes are the
//!   whole serialized `Any` (what [`Proto<M>`](crate::Proto) arguments decode from).

use prost::Message as _;

use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};

/// The type URL of an `Any` whose value is a JSON document.
pub(crate) const JSON_TYPE_URL: &str = "type.goverse.dev/json";

/// The type URL of an `Any` whose value is a MessagePack document (named fields).
pub(crate) const MSGPACK_TYPE_URL: &str = "type.goverse.dev/msgpack";

/// The payload an `Any` from a client stands for: JSON or MessagePack for goverse's own type
/// URLs, else the protobuf message (the payload's bytes are the serialized `Any`).
pub(crate) fn payload_from_any(any: prost_types::Any) -> Payload {
    match any.type_url.as_str() {
        JSON_TYPE_URL => Payload::new(Codec::Json, any.value),
        MSGPACK_TYPE_URL => Payload::new(Codec::MsgPack, any.value),
        _ => Payload::new(Codec::Protobuf, any.encode_to_vec()),
    }
}

/// The `Any` a payload travels to a client as: the inverse of [`payload_from_any`]. An
/// `Internal` error if a protobuf payload's bytes are not a serialized `Any`.
pub(crate) fn any_from_payload(payload: &Payload) -> Result<prost_types::Any> {
    let type_url = match payload.codec {
        Codec::Json => JSON_TYPE_URL,
        Codec::MsgPack => MSGPACK_TYPE_URL,
        Codec::Protobuf => {
            return prost_types::Any::decode(&payload.bytes[..]).map_err(|e| {
                Error::internal(format!(
                    "a protobuf payload is not a serialized google.protobuf.Any: {e}"
                ))
            });
        }
    };
    Ok(prost_types::Any {
        type_url: type_url.to_string(),
        value: payload.bytes.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goverse_type_urls_carry_json_and_msgpack() {
        let json = prost_types::Any {
            type_url: JSON_TYPE_URL.into(),
            value: br#"{"a":1}"#.to_vec(),
        };
        let payload = payload_from_any(json.clone());
        assert_eq!(payload, Payload::new(Codec::Json, &br#"{"a":1}"#[..]));
        assert_eq!(any_from_payload(&payload).unwrap(), json);

        let msgpack = prost_types::Any {
            type_url: MSGPACK_TYPE_URL.into(),
            value: vec![0x81, 0xa1, b'a', 1],
        };
        let payload = payload_from_any(msgpack.clone());
        assert_eq!(payload.codec, Codec::MsgPack);
        assert_eq!(any_from_payload(&payload).unwrap(), msgpack);
    }

    #[test]
    fn other_type_urls_are_protobuf_messages() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/demo.Ping".into(),
            value: vec![10, 2, b'h', b'i'],
        };
        let payload = payload_from_any(any.clone());
        assert_eq!(payload.codec, Codec::Protobuf);
        assert_eq!(&payload.bytes[..], &any.encode_to_vec()[..]);
        assert_eq!(any_from_payload(&payload).unwrap(), any);
    }

    #[test]
    fn a_broken_protobuf_payload_is_an_error() {
        let broken = Payload::new(Codec::Protobuf, vec![0xff, 0xff, 0xff]);
        let err = any_from_payload(&broken).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal);
    }
}
