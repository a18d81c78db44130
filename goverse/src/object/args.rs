//! Method arguments as named parameters.
//!
//! A method's arguments travel as one map from parameter name to value, so JSON clients send
//! `{"to": "bob", "n": 5}` and MessagePack carries the same shape. Positional arrays are accepted
//! too. The generated code represents the arguments as a tuple; this module gives tuples of up to
//! [`MAX_ARGS`] elements that map form.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor,
};
use serde::ser::{SerializeMap, Serializer};

/// The most arguments a method may take (besides the receiver and `&Context`).
pub const MAX_ARGS: usize = 12;

/// A tuple of method arguments that can be written and read as named parameters.
pub trait Args: Sized + Send + 'static {
    /// Writes the arguments as a map keyed by `names` (one name per element).
    fn serialize_named<S: Serializer>(
        &self,
        names: &[&str],
        serializer: S,
    ) -> Result<S::Ok, S::Error>;

    /// Reads the arguments from a map keyed by `names`, or from a positional sequence.
    fn deserialize_named<'de, D: Deserializer<'de>>(
        names: &'static [&'static str],
        deserializer: D,
    ) -> Result<Self, D::Error>;
}

/// Serializes `args` as a map of named parameters.
pub(crate) struct NamedArgs<'a, A> {
    pub(crate) names: &'static [&'static str],
    pub(crate) args: &'a A,
}

impl<A: Args> Serialize for NamedArgs<'_, A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.args.serialize_named(self.names, serializer)
    }
}

/// Deserializes a tuple of arguments from a map of named parameters.
pub(crate) struct NamedArgsSeed<A> {
    pub(crate) names: &'static [&'static str],
    pub(crate) marker: PhantomData<A>,
}

impl<'de, A: Args> DeserializeSeed<'de> for NamedArgsSeed<A> {
    type Value = A;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<A, D::Error> {
        A::deserialize_named(self.names, deserializer)
    }
}

struct Expecting(&'static [&'static str]);

impl fmt::Display for Expecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("an empty map (the method takes no arguments)");
        }
        f.write_str("a map of the arguments ")?;
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

macro_rules! impl_args {
    ($len:expr; $($idx:tt $T:ident $slot:ident),*) => {
        impl<$($T),*> Args for ($($T,)*)
        where
            $($T: Serialize + DeserializeOwned + Send + 'static,)*
        {
            #[allow(unused_variables, unused_mut)]
            fn serialize_named<Ser: Serializer>(&self, names: &[&str], serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
                let mut map = serializer.serialize_map(Some($len))?;
                $(map.serialize_entry(names[$idx], &self.$idx)?;)*
                map.end()
            }

            fn deserialize_named<'de, De: Deserializer<'de>>(
                names: &'static [&'static str],
                deserializer: De,
            ) -> Result<Self, De::Error> {
                struct ArgsVisitor<$($T),*>(&'static [&'static str], PhantomData<($($T,)*)>);

                impl<'de, $($T: DeserializeOwned),*> Visitor<'de> for ArgsVisitor<$($T),*> {
                    type Value = ($($T,)*);

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt::Display::fmt(&Expecting(self.0), f)
                    }

                    fn visit_map<Map: MapAccess<'de>>(self, mut map: Map) -> Result<Self::Value, Map::Error> {
                        $(let mut $slot: Option<$T> = None;)*
                        while let Some(key) = map.next_key::<String>()? {
                            match self.0.iter().position(|name| *name == key) {
                                $(Some($idx) => {
                                    if $slot.is_some() {
                                        return Err(Map::Error::custom(format!("argument `{key}` given twice")));
                                    }
                                    $slot = Some(map.next_value()?);
                                })*
                                _ => {
                                    return Err(Map::Error::custom(format!(
                                        "unknown argument `{key}`; expected {}",
                                        Expecting(self.0)
                                    )))
                                }
                            }
                        }
                        Ok(($(
                            $slot.ok_or_else(|| {
                                Map::Error::custom(format!("missing argument `{}`", self.0[$idx]))
                            })?,
                        )*))
                    }

                    #[allow(unused_mut)]
                    fn visit_seq<Seq: SeqAccess<'de>>(self, mut seq: Seq) -> Result<Self::Value, Seq::Error> {
                        let value = ($(
                            seq.next_element::<$T>()?.ok_or_else(|| {
                                Seq::Error::custom(format!("missing argument `{}`", self.0[$idx]))
                            })?,
                        )*);
                        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                            return Err(Seq::Error::custom(format!(
                                "too many arguments; expected {}",
                                Expecting(self.0)
                            )));
                        }
                        Ok(value)
                    }

                    fn visit_unit<Err: serde::de::Error>(self) -> Result<Self::Value, Err> {
                        if self.0.is_empty() {
                            // A method without arguments accepts an empty body (`null`).
                            return Ok(($(unreachable_slot::<$T>(),)*));
                        }
                        Err(Err::custom(format!("missing arguments; expected {}", Expecting(self.0))))
                    }
                }

                deserializer.deserialize_any(ArgsVisitor::<$($T),*>(names, PhantomData))
            }
        }
    };
}

/// Only ever instantiated for the empty tuple, where it is never called: the macro needs an
/// expression per element, and the zero-element case has none.
#[allow(dead_code)]
fn unreachable_slot<T>() -> T {
    unreachable!("a method without arguments has no argument slots")
}

impl_args!(0;);
impl_args!(1; 0 T0 v0);
impl_args!(2; 0 T0 v0, 1 T1 v1);
impl_args!(3; 0 T0 v0, 1 T1 v1, 2 T2 v2);
impl_args!(4; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3);
impl_args!(5; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4);
impl_args!(6; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5);
impl_args!(7; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6);
impl_args!(8; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6, 7 T7 v7);
impl_args!(9; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6, 7 T7 v7, 8 T8 v8);
impl_args!(10; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6, 7 T7 v7, 8 T8 v8, 9 T9 v9);
impl_args!(11; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6, 7 T7 v7, 8 T8 v8, 9 T9 v9, 10 T10 v10);
impl_args!(12; 0 T0 v0, 1 T1 v1, 2 T2 v2, 3 T3 v3, 4 T4 v4, 5 T5 v5, 6 T6 v6, 7 T7 v7, 8 T8 v8, 9 T9 v9, 10 T10 v10, 11 T11 v11);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, Payload};

    const NAMES: &[&str] = &["to", "n"];

    fn decode(codec: Codec, bytes: &[u8]) -> crate::Result<(String, i64)> {
        Payload::new(codec, bytes.to_vec()).decode_args(
            NamedArgsSeed::<(String, i64)> {
                names: NAMES,
                marker: PhantomData,
            },
            "T",
            "m",
        )
    }

    #[test]
    fn named_arguments_round_trip_in_every_codec() {
        let args = ("bob".to_string(), 5_i64);
        for codec in [Codec::MsgPack, Codec::Json] {
            let payload = codec
                .encode(&NamedArgs {
                    names: NAMES,
                    args: &args,
                })
                .unwrap();
            assert_eq!(decode(codec, &payload.bytes).unwrap(), args);
        }
        let json = Codec::Json
            .encode(&NamedArgs {
                names: NAMES,
                args: &args,
            })
            .unwrap();
        assert_eq!(&json.bytes[..], br#"{"to":"bob","n":5}"#);
    }

    #[test]
    fn json_arguments_may_come_in_any_order_or_by_position() {
        assert_eq!(
            decode(Codec::Json, br#"{"n":1,"to":"a"}"#).unwrap(),
            ("a".into(), 1)
        );
        assert_eq!(decode(Codec::Json, br#"["a",1]"#).unwrap(), ("a".into(), 1));
    }

    #[test]
    fn bad_arguments_are_named_in_the_error() {
        let missing = decode(Codec::Json, br#"{"to":"a"}"#).unwrap_err();
        assert!(
            missing.message().contains("missing argument `n`"),
            "{missing}"
        );
        let unknown = decode(Codec::Json, br#"{"to":"a","n":1,"x":2}"#).unwrap_err();
        assert!(
            unknown.message().contains("unknown argument `x`"),
            "{unknown}"
        );
        let twice = decode(Codec::Json, br#"{"to":"a","to":"b","n":1}"#).unwrap_err();
        assert!(twice.message().contains("given twice"), "{twice}");
        let wrong = decode(Codec::Json, br#"{"to":"a","n":"five"}"#).unwrap_err();
        assert!(wrong.message().contains("invalid type"), "{wrong}");
        let extra = decode(Codec::Json, br#"["a",1,2]"#).unwrap_err();
        assert!(extra.message().contains("too many arguments"), "{extra}");
    }

    #[test]
    fn methods_without_arguments_accept_empty_bodies() {
        let seed = || NamedArgsSeed::<()> {
            names: &[],
            marker: PhantomData,
        };
        for body in [&b"{}"[..], b"null", b"[]"] {
            Payload::new(Codec::Json, body.to_vec())
                .decode_args(seed(), "T", "m")
                .unwrap();
        }
    }
}
