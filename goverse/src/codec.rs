//! The single place that turns values into bytes and back.
//!
//! Between processes values travel as a [`Payload`]: a codec tag and the bytes. MessagePack with
//! named fields is the default (it supports every serde feature); JSON serves HTTP clients. The
//! receiving side decodes whichever codec arrived and answers in the same one.

use bytes::Bytes;
use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed};

use crate::error::{Error, Result};

/// A wire format for arguments, results and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Codec {
    /// MessagePack with named fields (`rmp-serde`): the default between processes.
    #[default]
    MsgPack,
    /// JSON (`serde_json`): for HTTP clients and readable storage.
    Json,
}

impl Codec {
    /// The codec's name as used in envelopes and content types.
    pub fn name(self) -> &'static str {
        match self {
            Codec::MsgPack => "msgpack",
            Codec::Json => "json",
        }
    }

    /// Serializes `value` with this codec.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Payload> {
        let bytes = match self {
            Codec::MsgPack => rmp_serde::to_vec_named(value)
                .map_err(|e| Error::internal(format!("cannot encode as MessagePack: {e}")))?,
            Codec::Json => serde_json::to_vec(value)
                .map_err(|e| Error::internal(format!("cannot encode as JSON: {e}")))?,
        };
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
    pub fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        match self.codec {
            Codec::MsgPack => rmp_serde::from_slice(&self.bytes).map_err(|e| {
                Error::invalid_argument(format!("cannot decode {what} from MessagePack: {e}"))
            }),
            Codec::Json => serde_json::from_slice(&self.bytes).map_err(|e| {
                Error::invalid_argument(format!("cannot decode {what} from JSON: {e}"))
            }),
        }
    }

    /// Decodes the payload through a serde seed (for values whose shape is known only at run
    /// time, such as named method arguments).
    pub(crate) fn decode_seed<'de, S: DeserializeSeed<'de>>(
        &'de self,
        seed: S,
        what: &str,
    ) -> Result<S::Value> {
        match self.codec {
            Codec::MsgPack => {
                let mut de = rmp_serde::Deserializer::from_read_ref(&self.bytes[..]);
                seed.deserialize(&mut de).map_err(|e| {
                    Error::invalid_argument(format!("cannot decode {what} from MessagePack: {e}"))
                })
            }
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(&self.bytes);
                let value = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
                value.map_err(|e| {
                    Error::invalid_argument(format!("cannot decode {what} from JSON: {e}"))
                })
            }
        }
    }
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
