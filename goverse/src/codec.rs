//! The single place that turns values into bytes and back.
//!
//! Between processes values travel as a [`Payload`]: a codec tag and the bytes. MessagePack with
//! named fields is the default (it supports every serde feature); JSON serves HTTP clients;
//! protobuf (feature `proto`) carries one `google.protobuf.Any` for GoVerse-compatible clients.
//! The receiving side decodes whichever codec arrived and answers in the same one.

use bytes::Bytes;
use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed};

use crate::error::{Error, Result};
use crate::object::{Args, NamedArgsSeed};

/// A wire format for arguments, results and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Codec {
    /// MessagePack with named fields (`rmp-serde`): the default between processes.
    #[default]
    MsgPack,
    /// JSON (`serde_json`): for HTTP clients and readable storage.
    Json,
    /// One serialized `google.protobuf.Any` (feature `proto`): the request and response of
    /// GoVerse-compatible clients. A method called with it must take a single
    /// [`Proto<M>`](crate::Proto) (or nothing, from a `google.protobuf.Empty`) and return a
    /// `Proto<M>` (or `()`, answered as a `google.protobuf.Empty`); any other signature is an
    /// `InvalidArgument` error, raised before the method runs.
    #[cfg(feature = "proto")]
    Protobuf,
}

/// The buffer an encoding starts with: room for typical arguments and results.
const INITIAL_ENCODE_CAPACITY: usize = 128;

/// Every codec this build knows.
const CODECS: &[Codec] = &[
    Codec::MsgPack,
    Codec::Json,
    #[cfg(feature = "proto")]
    Codec::Protobuf,
];

impl Codec {
    /// The codec's name as used in envelopes and content types.
    pub fn name(self) -> &'static str {
        match self {
            Codec::MsgPack => "msgpack",
            Codec::Json => "json",
            #[cfg(feature = "proto")]
            Codec::Protobuf => "protobuf",
        }
    }

    /// The codec called `name` (as [`Codec::name`] spells it), if this build has it.
    pub fn from_name(name: &str) -> Option<Codec> {
        CODECS.iter().copied().find(|codec| codec.name() == name)
    }

    /// The names of every codec this build has, for messages: "`msgpack`, `json`".
    pub fn known_names() -> String {
        let names: Vec<String> = CODECS.iter().map(|c| format!("`{}`", c.name())).collect();
        names.join(", ")
    }

    /// The codec's name in error messages.
    fn label(self) -> &'static str {
        match self {
            Codec::MsgPack => "MessagePack",
            Codec::Json => "JSON",
            #[cfg(feature = "proto")]
            Codec::Protobuf => "protobuf",
        }
    }

    /// Serializes `value` with this codec. In [`Codec::Protobuf`] only a
    /// [`Proto<M>`](crate::Proto) or `()` can be encoded; anything else is an
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) error that names the
    /// type.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Payload> {
        // Most values are small: one allocation up front instead of a doubling series.
        let mut bytes = Vec::with_capacity(INITIAL_ENCODE_CAPACITY);
        match self {
            Codec::MsgPack => rmp_serde::encode::write_named(&mut bytes, value)
                .map_err(|e| Error::internal(format!("cannot encode as MessagePack: {e}")))?,
            Codec::Json => serde_json::to_writer(&mut bytes, value)
                .map_err(|e| Error::internal(format!("cannot encode as JSON: {e}")))?,
            #[cfg(feature = "proto")]
            Codec::Protobuf => {
                bytes = crate::proto::encode(value).map_err(Error::invalid_argument)?
            }
        }
        Ok(Payload {
            codec: self,
            bytes: Bytes::from(bytes),
        })
    }
}

/// Encoded bytes together with the codec that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// How `bytes` are encoded.
    pub codec: Codec,
    /// The encoded value.
    pub bytes: Bytes,
}

impl Payload {
    /// Wraps bytes produced by `codec`.
    pub fn new(codec: Codec, bytes: impl Into<Bytes>) -> Self {
        Payload {
            codec,
            bytes: bytes.into(),
        }
    }

    /// Decodes the payload into `T`; a malformed payload is an [`ErrorKind::InvalidArgument`]
    /// error that says what could not be read.
    ///
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    ///
    /// A [`Codec::Protobuf`] payload decodes only into a [`Proto<M>`](crate::Proto) (or `()`,
    /// from a `google.protobuf.Empty`).
    pub fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        self.decode_described(what)
    }

    /// [`Payload::decode`] with a description that is only written out when needed (on the
    /// call path, `format_args!` instead of a `String` per call).
    pub(crate) fn decode_described<T: DeserializeOwned>(
        &self,
        what: impl std::fmt::Display,
    ) -> Result<T> {
        let decoded = match self.codec {
            Codec::MsgPack => {
                T::deserialize(&mut msgpack_reader(&self.bytes)).map_err(|e| e.to_string())
            }
            Codec::Json => serde_json::from_slice(&self.bytes).map_err(|e| e.to_string()),
            #[cfg(feature = "proto")]
            Codec::Protobuf => {
                crate::proto::decode(&self.bytes, &what.to_string()).map_err(|e| e.to_string())
            }
        };
        decoded.map_err(|e| self.decode_error(what, e))
    }

    fn decode_error(&self, what: impl std::fmt::Display, error: String) -> Error {
        Error::invalid_argument(format!(
            "cannot decode {what} from {}: {error}",
            self.codec.label()
        ))
    }

    /// Decodes the named arguments of method `method` of `type_name` (parameters as in
    /// `seed`). A protobuf request is one message for a single `Proto<M>` parameter.
    pub(crate) fn decode_args<A: Args>(
        &self,
        seed: NamedArgsSeed<A>,
        type_name: &str,
        method: &str,
    ) -> Result<A> {
        let decoded = match self.codec {
            Codec::MsgPack => seed
                .deserialize(&mut msgpack_reader(&self.bytes))
                .map_err(|e| e.to_string()),
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(&self.bytes);
                let value = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
                value.map_err(|e| e.to_string())
            }
            #[cfg(feature = "proto")]
            Codec::Protobuf => {
                crate::proto::decode_args(&self.bytes, seed, &format!("{type_name}.{method}"))
                    .map_err(|e| e.to_string())
            }
        };
        decoded.map_err(|e| {
            self.decode_error(format_args!("the arguments of {type_name}.{method}"), e)
        })
    }

    /// Checks, before method `method` of `type_name` runs, that its result type `O` can be
    /// answered in this payload's codec (only protobuf restricts it).
    #[cfg_attr(
        not(feature = "proto"),
        allow(unused_variables, clippy::extra_unused_type_parameters)
    )]
    pub(crate) fn check_result<O: DeserializeOwned>(
        &self,
        type_name: &str,
        method: &str,
    ) -> Result<()> {
        #[cfg(feature = "proto")]
        if self.codec == Codec::Protobuf {
            return crate::proto::check_result::<O>(&format!("{type_name}.{method}"))
                .map_err(Error::invalid_argument);
        }
        Ok(())
    }
}

/// How deeply MessagePack values may nest (serde_json's limit): deeper input is refused
/// before the decoder's recursion can exhaust the stack.
const MSGPACK_MAX_DEPTH: usize = 128;

/// A MessagePack decoder over `bytes` with the nesting limit.
fn msgpack_reader(
    bytes: &[u8],
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MSGPACK_MAX_DEPTH);
    de
}

/// Encodes a push message: a protobuf message (`Proto<M>`) as its `google.protobuf.Any`, what
/// GoVerse clients expect; anything else as JSON.
pub(crate) fn push_payload<M: Serialize + ?Sized>(message: &M) -> Result<Payload> {
    #[cfg(feature = "proto")]
    if let Ok(payload) = Codec::Protobuf.encode(message) {
        return Ok(payload);
    }
    Codec::Json.encode(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
        #[serde(flatten)]
        extra: std::collections::BTreeMap<String, i64>,
    }

    #[test]
    fn both_codecs_round_trip_serde_features() {
        let value = Sample {
            name: "a".into(),
            note: None,
            extra: [("x".to_string(), 1)].into_iter().collect(),
        };
        for codec in [Codec::MsgPack, Codec::Json] {
            let payload = codec.encode(&value).unwrap();
            assert_eq!(payload.decode::<Sample>("sample").unwrap(), value);
        }
    }

    #[test]
    fn garbage_is_an_invalid_argument() {
        let err = Payload::new(Codec::Json, &b"{not json"[..])
            .decode::<Sample>("arguments")
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.message().contains("cannot decode arguments from JSON"));
    }
}
