//! Protobuf (prost) messages as method arguments and results, travelling as
//! `google.protobuf.Any` (feature `proto`).
//!
//! [`Proto<M>`] wraps a prost message so that it is an ordinary serde type: a method takes and
//! returns it like any other argument or result. Its serde form is the `Any` itself,
//! `{"@type": <type URL>, "value": <the serialized message>}`, in every codec:
//!
//! - in JSON (and any human-readable format) `value` is a base64 string (standard alphabet,
//!   padded; unpadded input is accepted), like the protobuf JSON mapping of `bytes`;
//! - in MessagePack (and any binary format) `value` is a `bin`.
//!
//! The [`Codec::Protobuf`](crate::Codec::Protobuf) codec carries one serialized
//! `google.protobuf.Any` (prost-types `Any`) as its payload: the request and the response of a
//! GoVerse-compatible client. Its arguments decode only into a method whose one parameter is a
//! `Proto<M>` (or a method without parameters, from a `google.protobuf.Empty`), and only a
//! `Proto<M>` or `()` (sent as `google.protobuf.Empty`) can be its result.
//!
//! Both directions go through serde: `Proto<M>` serializes as a newtype struct with a private
//! name around the `Any`, and this module's serializer and deserializers recognise that name.

use std::fmt;
use std::ops::{Deref, DerefMut};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use prost::{Message, Name};
use serde::de::value::{BytesDeserializer, StrDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::ser::{self, Impossible, Serializer};
use serde::{Deserialize, Serialize};

use crate::object::{Args, NamedArgsSeed};

/// A protobuf (prost) message as a method argument or result.
///
/// Any `M: prost::Message + prost::Name + Default` works: `Proto<M>` implements serde's
/// `Serialize` and `Deserialize`, so `#[method] async fn f(&mut self, req: Proto<Req>) ->
/// Proto<Resp>` needs nothing else. In JSON and MessagePack it travels as the
/// `google.protobuf.Any` of the message, `{"@type": "type.googleapis.com/pkg.Msg", "value":
/// …}` (`value` is base64 in JSON, binary in MessagePack); with
/// [`Codec::Protobuf`](crate::Codec::Protobuf) the payload is the serialized `Any` itself.
///
/// The type URL written is `M::type_url()` when that has a host part (prost-build's
/// `type_name_domain`), else `type.googleapis.com/` followed by `M::full_name()` — prost's
/// default `type_url()` is `/pkg.Msg`, which Go's `anypb` and other libraries do not expect.
/// Reading checks the type URL: the part after its last `/` must be the message's full name
/// (`pkg.Msg`), whatever the host part, as Go's `anypb` does. A mismatch is an error that names
/// both URLs.
///
/// ```
/// use goverse::Proto;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Ping {
///     #[prost(string, tag = "1")]
///     text: String,
/// }
///
/// impl prost::Name for Ping {
///     const NAME: &'static str = "Ping";
///     const PACKAGE: &'static str = "demo";
/// }
///
/// let ping = Proto(Ping { text: "hi".into() });
/// let json = serde_json::to_string(&ping).unwrap();
/// assert_eq!(json, r#"{"@type":"type.googleapis.com/demo.Ping","value":"CgJoaQ=="}"#);
/// assert_eq!(serde_json::from_str::<Proto<Ping>>(&json).unwrap(), ping);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Proto<M>(pub M);

impl<M> Proto<M> {
    /// The wrapped message.
    pub fn into_inner(self) -> M {
        self.0
    }
}

impl<M> Deref for Proto<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.0
    }
}

impl<M> DerefMut for Proto<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.0
    }
}

impl<M> From<M> for Proto<M> {
    fn from(message: M) -> Self {
        Proto(message)
    }
}

/// The name of the newtype struct `Proto<M>` serializes as; this module's serializer and
/// deserializers recognise it. Other formats see a plain newtype around the `Any`.
const PROTO_NEWTYPE: &str = "goverse::Proto";

/// The full name of `google.protobuf.Empty`, what `()` travels as.
const EMPTY: &str = "google.protobuf.Empty";

/// The host part of the type URLs goverse sends, as Go's `anypb` and the protobuf libraries do.
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// The type URL of `M`: its `prost::Name::type_url` if that has a host part (prost-build's
/// `type_name_domain`), else `type.googleapis.com/` and the full name (prost's own default,
/// `/pkg.Msg`, has no host, which other protobuf libraries do not accept).
fn type_url_of<M: Name>() -> String {
    let url = M::type_url();
    match url.rsplit_once('/') {
        Some((host, _)) if !host.is_empty() => url,
        _ => format!("{TYPE_URL_PREFIX}{}", M::full_name()),
    }
}

/// The type URL `()` is sent with.
fn empty_type_url() -> String {
    format!("{TYPE_URL_PREFIX}{EMPTY}")
}

/// The serde form of a `google.protobuf.Any`.
#[derive(Deserialize)]
#[serde(rename = "Any", deny_unknown_fields)]
struct AnyRepr {
    #[serde(rename = "@type")]
    type_url: String,
    /// Absent means empty, as in the protobuf JSON mapping.
    #[serde(default, deserialize_with = "deserialize_value")]
    value: Vec<u8>,
}

impl Serialize for AnyRepr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeStruct as _;
        let mut any = serializer.serialize_struct("Any", 2)?;
        any.serialize_field("@type", &self.type_url)?;
        any.serialize_field("value", &Value(&self.value))?;
        any.end()
    }
}

impl From<prost_types::Any> for AnyRepr {
    fn from(any: prost_types::Any) -> Self {
        AnyRepr {
            type_url: any.type_url,
            value: any.value,
        }
    }
}

/// The JSON form of an `Any`, as a [`Proto<M>`] serializes in JSON:
/// `{"@type": <type URL>, "value": <base64>}`.
#[cfg_attr(not(feature = "gate"), allow(dead_code))]
pub(crate) fn any_to_json(any: prost_types::Any) -> serde_json::Value {
    serde_json::to_value(AnyRepr::from(any)).expect("an Any always serializes")
}

/// The `Any` whose JSON form `value` is (`{"@type", "value"}` and no other field), if it is one.
#[cfg_attr(not(feature = "gate"), allow(dead_code))]
pub(crate) fn any_from_json(value: &serde_json::Value) -> Option<prost_types::Any> {
    let any = AnyRepr::deserialize(value).ok()?;
    Some(prost_types::Any {
        type_url: any.type_url,
        value: any.value,
    })
}

/// The bytes of an `Any`: base64 in human-readable formats, bytes in binary ones.
struct Value<'a>(&'a [u8]);

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&STANDARD.encode(self.0))
        } else {
            serializer.serialize_bytes(self.0)
        }
    }
}

/// Base64 with or without padding.
const BASE64_IN: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the serialized message, as bytes or a base64 string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
            BASE64_IN
                .decode(text)
                .map_err(|e| E::custom(format!("`value` is not valid base64: {e}")))
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(byte) = seq.next_element::<u8>()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }

    if deserializer.is_human_readable() {
        deserializer.deserialize_str(ValueVisitor)
    } else {
        deserializer.deserialize_byte_buf(ValueVisitor)
    }
}

/// Whether `type_url` names the message `full_name`: its part after the last `/` is the name.
fn names_message(type_url: &str, full_name: &str) -> bool {
    type_url.rsplit('/').next() == Some(full_name)
}

/// The message inside `any`, if its type URL names `M`.
fn unpack<M: Message + Name + Default>(any: &AnyRepr) -> Result<M, String> {
    if !names_message(&any.type_url, &M::full_name()) {
        return Err(format!(
            "expected a protobuf message of type `{}`, got `{}`",
            type_url_of::<M>(),
            any.type_url
        ));
    }
    M::decode(&any.value[..]).map_err(|e| format!("cannot decode `{}`: {e}", M::full_name()))
}

impl<M: Message + Name> Serialize for Proto<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let any = AnyRepr {
            type_url: type_url_of::<M>(),
            value: self.0.encode_to_vec(),
        };
        serializer.serialize_newtype_struct(PROTO_NEWTYPE, &any)
    }
}

impl<'de, M: Message + Name + Default> Deserialize<'de> for Proto<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyVisitor;

        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = AnyRepr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a google.protobuf.Any: {"@type": <type URL>, "value": <bytes>}"#)
            }

            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<AnyRepr, D::Error> {
                AnyRepr::deserialize(deserializer)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyRepr, A::Error> {
                AnyRepr::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        let any = deserializer.deserialize_newtype_struct(PROTO_NEWTYPE, AnyVisitor)?;
        unpack(&any).map(Proto).map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// The Protobuf codec.

/// What went wrong inside the codec; callers turn it into an `InvalidArgument` error.
#[derive(Debug)]
pub(crate) struct ProtoError(String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtoError {}

impl de::Error for ProtoError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ProtoError(msg.to_string())
    }
}

impl ser::Error for ProtoError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ProtoError(msg.to_string())
    }
}

/// Reads a payload's bytes as a `google.protobuf.Any`.
fn read_any(bytes: &[u8]) -> Result<AnyRepr, ProtoError> {
    prost_types::Any::decode(bytes)
        .map(AnyRepr::from)
        .map_err(|e| ProtoError(format!("the payload is not a google.protobuf.Any: {e}")))
}

/// Encodes a result: only a `Proto<M>` (its `Any`) or `()` (a `google.protobuf.Empty`).
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    match value.serialize(ResultSerializer { in_proto: false }) {
        Ok(Piece::Any(bytes)) => Ok(bytes),
        Ok(_) | Err(_) => Err(format!(
            "the result type `{}` cannot travel as protobuf: a protobuf response is one message, \
             so the method must return a `goverse::Proto<M>` (or `()`, sent as a \
             google.protobuf.Empty); call it with JSON or MessagePack instead",
            std::any::type_name::<T>()
        )),
    }
}

/// Decodes a whole payload into `T`, which must be a `Proto<M>` (or `()` for an Empty).
/// `subject` names the value in errors ("the result of Counter.add").
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], subject: &str) -> Result<T, ProtoError> {
    T::deserialize(MessageDeserializer { bytes, subject })
}

/// Decodes the arguments of `method` ("Type.method") from a protobuf request: the one message
/// goes to the one parameter, which must be a `Proto<M>`; a method without parameters accepts a
/// `google.protobuf.Empty`.
pub(crate) fn decode_args<A: Args>(
    bytes: &[u8],
    seed: NamedArgsSeed<A>,
    method: &str,
) -> Result<A, ProtoError> {
    let names = seed.names;
    seed.deserialize(RequestDeserializer {
        bytes,
        method,
        names,
    })
}

/// Checks, before a method runs, that its result type can be answered in protobuf (a
/// `Proto<M>` or `()`), so that a call is not run only to fail on its reply. The check asks
/// `O`'s `Deserialize` which shape it wants, without any data.
pub(crate) fn check_result<O: DeserializeOwned>(method: &str) -> Result<(), String> {
    match O::deserialize(ShapeProbe) {
        Err(Shape::Message | Shape::Unit) | Ok(_) => Ok(()),
        Err(Shape::Other) => Err(format!(
            "method {method} returns `{}`, which cannot travel as protobuf: a protobuf response \
             is one message, so the method must return a `goverse::Proto<M>` (or `()`, sent as \
             a google.protobuf.Empty); call it with JSON or MessagePack instead",
            std::any::type_name::<O>()
        )),
    }
}

/// The arguments of a method, from one `Any`: a one-element sequence for a method with one
/// parameter, a unit (from an Empty) for a method without.
struct RequestDeserializer<'a> {
    bytes: &'a [u8],
    method: &'a str,
    names: &'static [&'static str],
}

impl<'de> Deserializer<'de> for RequestDeserializer<'_> {
    type Error = ProtoError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProtoError> {
        match self.names {
            [name] => visitor.visit_seq(OneMessage {
                bytes: Some(self.bytes),
                subject: format!("argument `{name}`"),
            }),
            [] => {
                let any = read_any(self.bytes)?;
                if !names_message(&any.type_url, EMPTY) {
                    return Err(ProtoError(format!(
                        "method {} takes no arguments, so a protobuf request for it must be a \
                         google.protobuf.Empty, not `{}`",
                        self.method, any.type_url
                    )));
                }
                visitor.visit_unit()
            }
            names => Err(ProtoError(format!(
                "method {} takes {} arguments; a protobuf request carries exactly one message, \
                 so the method must take a single `Proto<M>`",
                self.method,
                names.len()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The one element of a protobuf request.
struct OneMessage<'a> {
    bytes: Option<&'a [u8]>,
    subject: String,
}

impl<'de> SeqAccess<'de> for OneMessage<'_> {
    type Error = ProtoError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProtoError> {
        let Some(bytes) = self.bytes.take() else {
            return Ok(None);
        };
        seed.deserialize(MessageDeserializer {
            bytes,
            subject: &self.subject,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.bytes.is_some()))
    }
}

/// One `Any` handed to the value that asks for it: a `Proto<M>` gets the message, `()` accepts
/// an Empty, anything else is an error naming what was asked for.
struct MessageDeserializer<'a> {
    bytes: &'a [u8],
    /// The value being read, for errors: "argument `req`", "the result of T.m".
    subject: &'a str,
}

impl MessageDeserializer<'_> {
    fn not_a_message(&self, shape: &str) -> ProtoError {
        ProtoError(format!(
            "{} is {shape}, not a protobuf message: a protobuf payload can only be read into a \
             `goverse::Proto<M>`",
            self.subject
        ))
    }
}

/// Rejects every shape but the ones a protobuf payload can fill.
macro_rules! reject_shapes {
    ($($method:ident => $shape:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProtoError> {
            Err(self.not_a_message($shape))
        }
    )*};
}

impl<'de> Deserializer<'de> for MessageDeserializer<'_> {
    type Error = ProtoError;

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProtoError> {
        if name != PROTO_NEWTYPE {
            return Err(self.not_a_message(&format!("a newtype struct `{name}`")));
        }
        visitor.visit_newtype_struct(AnyDeserializer(read_any(self.bytes)?))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProtoError> {
        let any = read_any(self.bytes)?;
        if !names_message(&any.type_url, EMPTY) {
            return Err(ProtoError(format!(
                "{} is `()`, which travels as a google.protobuf.Empty, not `{}`",
                self.subject, any.type_url
            )));
        }
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, ProtoError> {
        Err(self.not_a_message(&format!("a unit struct `{name}`")))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, ProtoError> {
        Err(self.not_a_message("a tuple"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, ProtoError> {
        Err(self.not_a_message(&format!("a tuple struct `{name}`")))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProtoError> {
        Err(self.not_a_message(&format!("a struct `{name}`")))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProtoError> {
        Err(self.not_a_message(&format!("an enum `{name}`")))
    }

    reject_shapes! {
        deserialize_any => "a self-describing value",
        deserialize_bool => "a bool",
        deserialize_i8 => "an i8",
        deserialize_i16 => "an i16",
        deserialize_i32 => "an i32",
        deserialize_i64 => "an i64",
        deserialize_i128 => "an i128",
        deserialize_u8 => "a u8",
        deserialize_u16 => "a u16",
        deserialize_u32 => "a u32",
        deserialize_u64 => "a u64",
        deserialize_u128 => "a u128",
        deserialize_f32 => "an f32",
        deserialize_f64 => "an f64",
        deserialize_char => "a char",
        deserialize_str => "a string",
        deserialize_string => "a string",
        deserialize_bytes => "bytes",
        deserialize_byte_buf => "bytes",
        deserialize_option => "an option",
        deserialize_seq => "a sequence",
        deserialize_map => "a map",
        deserialize_identifier => "an identifier",
        deserialize_ignored_any => "an ignored value",
    }
}

/// A decoded `Any`, presented as the map `{"@type": …, "value": <bytes>}` that `Proto<M>`
/// reads in every format.
struct AnyDeserializer(AnyRepr);

impl<'de> Deserializer<'de> for AnyDeserializer {
    type Error = ProtoError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProtoError> {
        visitor.visit_map(AnyFields {
            any: self.0,
            next: 0,
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The two entries of an `Any`.
struct AnyFields {
    any: AnyRepr,
    /// Entries handed out so far (keys and values alternate).
    next: u8,
}

impl<'de> MapAccess<'de> for AnyFields {
    type Error = ProtoError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProtoError> {
        let key = match self.next {
            0 => "@type",
            2 => "value",
            _ => return Ok(None),
        };
        self.next += 1;
        let key: StrDeserializer<'_, ProtoError> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProtoError> {
        self.next += 1;
        if self.next == 2 {
            let url: StringDeserializer<ProtoError> =
                std::mem::take(&mut self.any.type_url).into_deserializer();
            seed.deserialize(url)
        } else {
            seed.deserialize(BytesDeserializer::new(&self.any.value))
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(match self.next {
            0 => 2,
            1 | 2 => 1,
            _ => 0,
        })
    }
}

/// What a result serializes into, on the way to one `Any`.
enum Piece {
    /// A finished `Any`.
    Any(Vec<u8>),
    /// A string field (the type URL).
    Str(String),
    /// A bytes field (the message).
    Bytes(Vec<u8>),
    /// Anything else: not a message.
    Other,
}

/// Serializes a result into one `Any`: accepts the newtype `Proto<M>` serializes as, the `Any`
/// struct inside it, and `()`; everything else becomes [`Piece::Other`] or an error.
struct ResultSerializer {
    /// Inside `Proto<M>`'s newtype: the `Any` struct is expected.
    in_proto: bool,
}

/// Serializer methods that do not make an `Any`.
macro_rules! other_shapes {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<Piece, ProtoError> {
            Ok(Piece::Other)
        }
    )*};
}

/// Serializer methods for compound shapes, which are never an `Any`.
macro_rules! no_compounds {
    ($($method:ident($($ty:ty),*) -> $ret:ty),* $(,)?) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ret, ProtoError> {
            Err(ProtoError("not a protobuf message".into()))
        }
    )*};
}

impl Serializer for ResultSerializer {
    type Ok = Piece;
    type Error = ProtoError;
    type SerializeSeq = Impossible<Piece, ProtoError>;
    type SerializeTuple = Impossible<Piece, ProtoError>;
    type SerializeTupleStruct = Impossible<Piece, ProtoError>;
    type SerializeTupleVariant = Impossible<Piece, ProtoError>;
    type SerializeMap = Impossible<Piece, ProtoError>;
    type SerializeStruct = AnyStruct;
    type SerializeStructVariant = Impossible<Piece, ProtoError>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_str(self, v: &str) -> Result<Piece, ProtoError> {
        Ok(Piece::Str(v.to_string()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Piece, ProtoError> {
        Ok(Piece::Bytes(v.to_vec()))
    }

    fn serialize_unit(self) -> Result<Piece, ProtoError> {
        let empty = prost_types::Any {
            type_url: empty_type_url(),
            value: Vec::new(),
        };
        Ok(Piece::Any(empty.encode_to_vec()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Piece, ProtoError> {
        if name != PROTO_NEWTYPE {
            return Ok(Piece::Other);
        }
        value.serialize(ResultSerializer { in_proto: true })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<AnyStruct, ProtoError> {
        if !self.in_proto {
            return Err(ProtoError("not a protobuf message".into()));
        }
        Ok(AnyStruct::default())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Piece, ProtoError> {
        Ok(Piece::Other)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Piece, ProtoError> {
        Ok(Piece::Other)
    }

    other_shapes! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_none(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    no_compounds! {
        serialize_seq(Option<usize>) -> Self::SerializeSeq,
        serialize_tuple(usize) -> Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant,
        serialize_map(Option<usize>) -> Self::SerializeMap,
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant,
    }
}

/// The fields of the `Any` inside a `Proto<M>`.
#[derive(Default)]
struct AnyStruct {
    type_url: Option<String>,
    value: Option<Vec<u8>>,
}

impl ser::SerializeStruct for AnyStruct {
    type Ok = Piece;
    type Error = ProtoError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ProtoError> {
        match (key, value.serialize(ResultSerializer { in_proto: false })?) {
            ("@type", Piece::Str(url)) => self.type_url = Some(url),
            ("value", Piece::Bytes(bytes)) => self.value = Some(bytes),
            _ => return Err(ProtoError(format!("unexpected field `{key}` in an Any"))),
        }
        Ok(())
    }

    fn end(self) -> Result<Piece, ProtoError> {
        let (Some(type_url), Some(value)) = (self.type_url, self.value) else {
            return Err(ProtoError("an incomplete Any".into()));
        };
        Ok(Piece::Any(
            prost_types::Any { type_url, value }.encode_to_vec(),
        ))
    }
}

/// The shape a type's `Deserialize` asks for first.
#[derive(Debug)]
enum Shape {
    /// A `Proto<M>`.
    Message,
    /// `()`.
    Unit,
    /// Anything else.
    Other,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Shape {}

impl de::Error for Shape {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Shape::Other
    }
}

/// A deserializer with no data that reports, as its error, the shape it was asked for.
struct ShapeProbe;

impl<'de> Deserializer<'de> for ShapeProbe {
    type Error = Shape;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Shape> {
        Err(Shape::Other)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, Shape> {
        Err(if name == PROTO_NEWTYPE {
            Shape::Message
        } else {
            Shape::Other
        })
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Shape> {
        Err(Shape::Unit)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::marker::PhantomData;

    use super::*;
    use crate::codec::{Codec, Payload};
    use crate::error::ErrorKind;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Greet {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(int64, tag = "2")]
        times: i64,
    }

    impl Name for Greet {
        const NAME: &'static str = "Greet";
        const PACKAGE: &'static str = "test.v1";
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Other {
        #[prost(bool, tag = "1")]
        flag: bool,
    }

    impl Name for Other {
        const NAME: &'static str = "Other";
        const PACKAGE: &'static str = "test.v1";
    }

    fn greet() -> Proto<Greet> {
        Proto(Greet {
            name: "ada".into(),
            times: 3,
        })
    }

    fn any_bytes(type_url: &str, value: Vec<u8>) -> Vec<u8> {
        prost_types::Any {
            type_url: type_url.into(),
            value,
        }
        .encode_to_vec()
    }

    fn args<A: Args>(payload: &Payload, names: &'static [&'static str]) -> crate::Result<A> {
        payload.decode_args(
            NamedArgsSeed::<A> {
                names,
                marker: PhantomData,
            },
            "Greeter",
            "hello",
        )
    }

    #[test]
    fn messages_round_trip_in_every_codec() {
        for codec in [Codec::MsgPack, Codec::Json, Codec::Protobuf] {
            let payload = codec.encode(&greet()).unwrap();
            assert_eq!(payload.codec, codec);
            assert_eq!(payload.decode::<Proto<Greet>>("it").unwrap(), greet());
        }
    }

    #[test]
    fn the_serde_form_is_the_any() {
        let json = Codec::Json.encode(&greet()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
        let expected_bytes = STANDARD.encode(greet().encode_to_vec());
        assert_eq!(
            value,
            serde_json::json!({
                "@type": "type.googleapis.com/test.v1.Greet",
                "value": expected_bytes,
            })
        );
        // MessagePack carries the message as `bin`.
        let msgpack = Codec::MsgPack.encode(&greet()).unwrap();
        let value: rmpv_like::Map = rmp_serde::from_slice(&msgpack.bytes).unwrap();
        assert_eq!(value.type_url, "type.googleapis.com/test.v1.Greet");
        assert_eq!(value.value.into_vec(), greet().encode_to_vec());
        // The protobuf payload is the Any itself.
        let protobuf = Codec::Protobuf.encode(&greet()).unwrap();
        let any = prost_types::Any::decode(&protobuf.bytes[..]).unwrap();
        assert_eq!(any.type_url, "type.googleapis.com/test.v1.Greet");
        assert_eq!(any.value, greet().encode_to_vec());
    }

    /// Reads the MessagePack form back with a plain struct, to see `value` is `bin`.
    mod rmpv_like {
        #[derive(serde::Deserialize)]
        pub(super) struct Map {
            #[serde(rename = "@type")]
            pub(super) type_url: String,
            pub(super) value: serde_bytes_like::Bin,
        }

        pub(super) mod serde_bytes_like {
            /// Accepts only `bin`, not an array of numbers.
            pub(in super::super) struct Bin(Vec<u8>);

            impl Bin {
                pub(in super::super) fn into_vec(self) -> Vec<u8> {
                    self.0
                }
            }

            impl<'de> serde::Deserialize<'de> for Bin {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    struct V;
                    impl serde::de::Visitor<'_> for V {
                        type Value = Bin;
                        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.write_str("bin")
                        }
                        fn visit_bytes<E>(self, v: &[u8]) -> Result<Bin, E> {
                            Ok(Bin(v.to_vec()))
                        }
                    }
                    d.deserialize_bytes(V)
                }
            }
        }
    }

    #[test]
    fn json_accepts_unpadded_base64_and_a_missing_value() {
        let unpadded = format!(
            r#"{{"@type": "type.googleapis.com/test.v1.Greet", "value": "{}"}}"#,
            STANDARD
                .encode(greet().encode_to_vec())
                .trim_end_matches('=')
        );
        assert_eq!(
            serde_json::from_str::<Proto<Greet>>(&unpadded).unwrap(),
            greet()
        );
        let empty = r#"{"@type": "type.googleapis.com/test.v1.Greet"}"#;
        assert_eq!(
            serde_json::from_str::<Proto<Greet>>(empty).unwrap(),
            Proto(Greet::default())
        );
        let bad = r#"{"@type": "type.googleapis.com/test.v1.Greet", "value": "%%%"}"#;
        let err = serde_json::from_str::<Proto<Greet>>(bad).unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
    }

    #[test]
    fn type_urls_get_a_host() {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Custom {}

        impl Name for Custom {
            const NAME: &'static str = "Custom";
            const PACKAGE: &'static str = "test.v1";

            fn type_url() -> String {
                "example.com/test.v1.Custom".into()
            }
        }

        // prost's default `type_url()` is "/test.v1.Greet".
        assert_eq!(type_url_of::<Greet>(), "type.googleapis.com/test.v1.Greet");
        assert_eq!(type_url_of::<Custom>(), "example.com/test.v1.Custom");
    }

    #[test]
    fn any_host_in_the_type_url_is_accepted() {
        let bytes = any_bytes("example.com/x/test.v1.Greet", greet().encode_to_vec());
        let payload = Payload::new(Codec::Protobuf, bytes);
        assert_eq!(payload.decode::<Proto<Greet>>("it").unwrap(), greet());
    }

    #[test]
    fn a_type_url_mismatch_names_both_urls() {
        let wrong = Codec::Protobuf
            .encode(&Proto(Other { flag: true }))
            .unwrap();
        for payload in [
            wrong.clone(),
            Codec::Json.encode(&Proto(Other { flag: true })).unwrap(),
            Codec::MsgPack.encode(&Proto(Other { flag: true })).unwrap(),
        ] {
            let err = payload.decode::<Proto<Greet>>("the request").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(
                err.message()
                    .contains("`type.googleapis.com/test.v1.Greet`")
                    && err
                        .message()
                        .contains("`type.googleapis.com/test.v1.Other`"),
                "{err}"
            );
        }
        let err = args::<(Proto<Greet>,)>(&wrong, &["req"]).unwrap_err();
        assert!(
            err.message()
                .starts_with("cannot decode the arguments of Greeter.hello from protobuf"),
            "{err}"
        );
        assert!(err.message().contains("test.v1.Other"), "{err}");
    }

    #[test]
    fn unit_travels_as_empty() {
        let payload = Codec::Protobuf.encode(&()).unwrap();
        let any = prost_types::Any::decode(&payload.bytes[..]).unwrap();
        assert_eq!(any.type_url, "type.googleapis.com/google.protobuf.Empty");
        assert!(any.value.is_empty());
        payload.decode::<()>("the result").unwrap();
        // prost's own Empty is `()`: `Proto<()>` and `()` are the same on the wire.
        assert_eq!(payload.decode::<Proto<()>>("it").unwrap(), Proto(()));
        assert_eq!(Codec::Protobuf.encode(&Proto(())).unwrap(), payload);
        let err = Codec::Protobuf
            .encode(&greet())
            .unwrap()
            .decode::<()>("the result")
            .unwrap_err();
        assert!(err.message().contains("google.protobuf.Empty"), "{err}");
    }

    #[test]
    fn one_message_fills_one_proto_parameter() {
        let payload = Codec::Protobuf.encode(&greet()).unwrap();
        let (req,) = args::<(Proto<Greet>,)>(&payload, &["req"]).unwrap();
        assert_eq!(req, greet());
    }

    #[test]
    fn methods_without_parameters_take_an_empty() {
        let empty = Codec::Protobuf.encode(&()).unwrap();
        args::<()>(&empty, &[]).unwrap();
        let greet = Codec::Protobuf.encode(&greet()).unwrap();
        let err = args::<()>(&greet, &[]).unwrap_err();
        assert!(
            err.message().contains(
                "method Greeter.hello takes no arguments, so a protobuf request for it must be a \
                 google.protobuf.Empty, not `type.googleapis.com/test.v1.Greet`"
            ),
            "{err}"
        );
    }

    #[test]
    fn other_parameter_shapes_are_refused() {
        let payload = Codec::Protobuf.encode(&greet()).unwrap();
        let err = args::<(String, i64)>(&payload, &["to", "n"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(
            err.message().contains(
                "method Greeter.hello takes 2 arguments; a protobuf request carries exactly one \
                 message, so the method must take a single `Proto<M>`"
            ),
            "{err}"
        );
        let err = args::<(i64,)>(&payload, &["n"]).unwrap_err();
        assert!(
            err.message()
                .contains("argument `n` is an i64, not a protobuf message"),
            "{err}"
        );
        let err = args::<(String,)>(&payload, &["name"]).unwrap_err();
        assert!(
            err.message().contains("argument `name` is a string"),
            "{err}"
        );
        let err = args::<(serde_json::Value,)>(&payload, &["v"]).unwrap_err();
        assert!(err.message().contains("argument `v` is"), "{err}");
        let err = args::<(Option<Proto<Greet>>,)>(&payload, &["o"]).unwrap_err();
        assert!(err.message().contains("argument `o` is an option"), "{err}");
    }

    #[test]
    fn only_messages_and_unit_encode_as_protobuf() {
        for err in [
            Codec::Protobuf.encode(&5_i64).unwrap_err(),
            Codec::Protobuf.encode(&Some(greet())).unwrap_err(),
            Codec::Protobuf.encode(&vec![greet()]).unwrap_err(),
            Codec::Protobuf.encode("text").unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(
                err.message().contains("cannot travel as protobuf")
                    && err.message().contains("JSON or MessagePack"),
                "{err}"
            );
        }
        let err = Codec::Protobuf.encode(&5_i64).unwrap_err();
        assert!(err.message().contains("the result type `i64`"), "{err}");
    }

    #[test]
    fn results_are_checked_before_a_call_runs() {
        let protobuf = Payload::new(Codec::Protobuf, Vec::new());
        protobuf.check_result::<Proto<Greet>>("T", "m").unwrap();
        protobuf.check_result::<()>("T", "m").unwrap();
        let err = protobuf.check_result::<i64>("T", "m").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("method T.m returns `i64`"), "{err}");
        assert!(
            protobuf
                .check_result::<Option<Proto<Greet>>>("T", "m")
                .is_err()
        );
        Payload::new(Codec::Json, Vec::new())
            .check_result::<i64>("T", "m")
            .unwrap();
    }

    #[test]
    fn codec_names_round_trip() {
        for codec in [Codec::MsgPack, Codec::Json, Codec::Protobuf] {
            assert_eq!(Codec::from_name(codec.name()), Some(codec));
        }
        assert_eq!(Codec::from_name("protobuf"), Some(Codec::Protobuf));
        assert_eq!(Codec::from_name("xml"), None);
        assert!(Codec::known_names().contains("`protobuf`"));
    }

    /// xorshift64*: reproducible random bytes without a dependency.
    fn random_bytes(state: &mut u64) -> Vec<u8> {
        let mut next = || {
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let len = (next() % 64) as usize;
        (0..len).map(|_| next() as u8).collect()
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for i in 0..10_000 {
            let mut bytes = random_bytes(&mut state);
            // Every fourth case is a well-formed Any around garbage, to reach the message decoder.
            if i % 4 == 0 {
                bytes = any_bytes("type.googleapis.com/test.v1.Greet", bytes);
            }
            let protobuf = Payload::new(Codec::Protobuf, bytes.clone());
            let _ = protobuf.decode::<Proto<Greet>>("it");
            let _ = protobuf.decode::<()>("it");
            let _ = protobuf.decode::<serde_json::Value>("it");
            let _ = args::<(Proto<Greet>,)>(&protobuf, &["req"]);
            let _ = args::<()>(&protobuf, &[]);
            let _ = Payload::new(Codec::MsgPack, bytes.clone()).decode::<Proto<Greet>>("it");
            let _ = Payload::new(Codec::Json, bytes).decode::<Proto<Greet>>("it");
        }
    }
}
