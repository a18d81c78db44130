//! Fuzz and property tests of every decoder that client bytes reach through a gate.
//!
//! Each decoder gets at least [`CASES`] inputs from a seeded generator (reproducible: a failure
//! names its seed and case) that mixes raw random bytes, mutations of valid encodings (flipped,
//! inserted, deleted and duplicated bytes, truncations), token soups for JSON and deep nesting.
//! Every answer must be a value or a precise error: `InvalidArgument` that says what could not
//! be decoded from which codec. Round trips are checked where the mapping is meant to be exact
//! (`Any` ↔ [`Payload`], `Proto<M>` in JSON and MessagePack, prost messages).
//!
//! The same decoders reached over real sockets (the gRPC and HTTP gates) are fuzzed in
//! `tests/tests/gate_fuzz.rs`. This file's generator ([`Rng`]) and object type ([`Fuzzed`]) also
//! drive the in-process fuzz tests of the node-to-node messages (`transport/fuzz_tests.rs`) and
//! of GoVerse's HTTP call body (`http/fuzz_tests.rs`).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use prost::Message as _;
use serde::{Deserialize, Serialize};

use super::any::{JSON_TYPE_URL, MSGPACK_TYPE_URL, any_from_payload, payload_from_any};
use super::proto::{
    CallObjectRequest, CreateObjectRequest, DeleteObjectRequest, ReliableCallObjectRequest,
};
use crate::codec::{Codec, Payload};
use crate::error::{Error, ErrorKind};
use crate::object::{Args, NamedArgsSeed};
use crate::proto::Proto;

/// Inputs per decoder.
pub(crate) const CASES: usize = 100_000;

/// The deepest MessagePack nesting the random inputs reach: beyond the decoders' limit of 128
/// (see [`deep_msgpack_is_refused_before_the_stack_overflows`]).
const MSGPACK_FUZZ_DEPTH: usize = 250;

/// The object type the in-process fuzz tests of the servers call (the node service in
/// `transport/fuzz_tests.rs`, GoVerse's HTTP API in `http/fuzz_tests.rs`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Fuzzed {
    total: i64,
}

#[crate::object(name = "Fuzzed")]
impl Fuzzed {
    /// Adds `n`.
    #[crate::method]
    pub(crate) async fn add(&mut self, n: i64) -> i64 {
        self.total = self.total.wrapping_add(n);
        self.total
    }

    /// Counts what it was given.
    #[crate::method]
    pub(crate) async fn count(&self, text: String, tags: Vec<String>) -> usize {
        text.len() + tags.len()
    }

    /// Always fails with the application error `refused`.
    #[crate::method]
    pub(crate) async fn refuse(&self, reason: String) -> crate::Result<i64> {
        Err(Error::app("refused", format!("refused: {reason}")))
    }
}

impl Rng {
    /// A name for the fuzzed requests: mostly one of `known` (what the server knows, and
    /// some names it does not), sometimes random text.
    pub(crate) fn name(&mut self, known: &[&str]) -> String {
        if self.chance(8) {
            self.text()
        } else {
            known[self.below(known.len())].to_string()
        }
    }

    /// Arguments in `codec` for `method` of [`Fuzzed`]: often right, often mutated, often any
    /// input for `codec`.
    pub(crate) fn fuzzed_args(&mut self, method: &str, codec: Codec) -> Vec<u8> {
        if codec == Codec::Protobuf || self.chance(3) {
            return self.input(codec);
        }
        let named = match method {
            "add" => serde_json::json!({ "n": self.next() as i64 }),
            "count" => serde_json::json!({
                "text": self.text(),
                "tags": (0..self.below(3)).map(|_| self.text()).collect::<Vec<_>>(),
            }),
            _ => serde_json::json!({ "reason": self.text() }),
        };
        let valid = codec
            .encode(&named)
            .expect("named arguments encode")
            .bytes
            .to_vec();
        if self.chance(2) {
            self.mutate(valid)
        } else {
            valid
        }
    }
}

/// The types fuzzed requests name: the [`Fuzzed`] type and others.
pub(crate) const FUZZED_TYPES: &[&str] = &["Fuzzed", "Fuzzed", "Fuzzed", "Fuzzed", "Nope", ""];

/// The methods fuzzed requests name: [`Fuzzed`]'s and others.
pub(crate) const FUZZED_METHODS: &[&str] = &["add", "count", "refuse", "nope", ""];

/// The object ids fuzzed requests name, few enough to keep the activations few.
pub(crate) const FUZZED_IDS: &[&str] = &["f1", "f2", "f3", "f4", "a/b", ""];

/// A node with a gate that serves no sockets: fuzzed requests reach its handlers in-process,
/// and pushes find its client table.
pub(crate) async fn socketless_gate_node() -> crate::Node {
    crate::Node::builder()
        .gate(super::GateConfig {
            grpc_listen: None,
            http_listen: None,
            ..super::GateConfig::default()
        })
        .start()
        .await
        .expect("the node starts")
}

/// xorshift64*: a reproducible stream of pseudo-random numbers.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// Random bytes, mostly short, sometimes up to 1 KiB.
    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        let len = if self.chance(8) {
            self.below(1024)
        } else {
            self.below(48)
        };
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A short string, mostly ASCII, with some multi-byte characters.
    pub(crate) fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "b", "z", "0", "9", " ", "/", "%", "é", "日本", "🦀", "\"", "\\", "\n", "\u{0}",
        ];
        (0..self.below(12))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    /// `bytes` changed by one to four random edits.
    pub(crate) fn mutate(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        for _ in 0..=self.below(4) {
            let at = if bytes.is_empty() {
                0
            } else {
                self.below(bytes.len())
            };
            match self.below(6) {
                0 if !bytes.is_empty() => bytes[at] ^= 1 << self.below(8),
                1 if !bytes.is_empty() => bytes[at] = self.next() as u8,
                2 => bytes.insert(at, self.next() as u8),
                3 if !bytes.is_empty() => {
                    bytes.remove(at);
                }
                4 => bytes.truncate(at),
                _ if !bytes.is_empty() => {
                    let end = (at + 1 + self.below(8)).min(bytes.len());
                    let slice = bytes[at..end].to_vec();
                    let to = self.below(bytes.len() + 1);
                    bytes.splice(to..to, slice);
                }
                _ => bytes.push(self.next() as u8),
            }
        }
        bytes
    }

    /// A soup of JSON tokens: mostly invalid, often nearly valid.
    pub(crate) fn json_soup(&mut self) -> Vec<u8> {
        const TOKENS: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"n\"",
            "\"text\"",
            "\"@type\"",
            "\"value\"",
            "1",
            "-0",
            "1e999",
            "0.5",
            "true",
            "null",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            " ",
            "\"type.googleapis.com/fuzz.v1.Greet\"",
            "\"CgJoaQ==\"",
            "\"%%\"",
        ];
        let mut out = Vec::new();
        for _ in 0..self.below(24) {
            out.extend_from_slice(TOKENS[self.below(TOKENS.len())].as_bytes());
        }
        out
    }
}

/// `fuzz.v1.Greet`: a prost message with every kind of field the wire format has.
#[derive(Clone, PartialEq, prost::Message)]
struct Greet {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "2")]
    times: i64,
    #[prost(bytes = "vec", tag = "3")]
    blob: Vec<u8>,
    #[prost(sint32, repeated, tag = "4")]
    numbers: Vec<i32>,
    #[prost(double, tag = "5")]
    ratio: f64,
    #[prost(message, optional, tag = "6")]
    inner: Option<Inner>,
    #[prost(fixed32, tag = "7")]
    fixed: u32,
}

impl prost::Name for Greet {
    const NAME: &'static str = "Greet";
    const PACKAGE: &'static str = "fuzz.v1";
}

/// A nested message.
#[derive(Clone, PartialEq, prost::Message)]
struct Inner {
    #[prost(bool, tag = "1")]
    flag: bool,
    #[prost(string, repeated, tag = "2")]
    tags: Vec<String>,
}

/// A serde type with the features method arguments use: options, defaults, flatten, enums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    kind: Kind,
    values: Vec<i64>,
    #[serde(flatten)]
    extra: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    Plain,
    Tagged(u8),
    Named { x: i32 },
}

impl Rng {
    fn greet(&mut self) -> Greet {
        Greet {
            name: self.text(),
            times: self.next() as i64,
            blob: self.bytes().into_iter().take(16).collect(),
            numbers: (0..self.below(4)).map(|_| self.next() as i32).collect(),
            ratio: f64::from(self.next() as u32) / 7.0,
            inner: self.chance(2).then(|| Inner {
                flag: self.chance(2),
                tags: (0..self.below(3)).map(|_| self.text()).collect(),
            }),
            fixed: self.next() as u32,
        }
    }

    fn sample(&mut self) -> Sample {
        Sample {
            name: self.text(),
            note: self.chance(2).then(|| self.text()),
            kind: match self.below(3) {
                0 => Kind::Plain,
                1 => Kind::Tagged(self.next() as u8),
                _ => Kind::Named {
                    x: self.next() as i32,
                },
            },
            values: (0..self.below(4)).map(|_| self.next() as i64).collect(),
            extra: (0..self.below(3))
                .map(|i| (format!("k{i}"), self.next() as u32))
                .collect(),
        }
    }

    /// A type URL: goverse's own, the message's, another message's, or junk.
    pub(crate) fn type_url(&mut self) -> String {
        match self.below(8) {
            0 => JSON_TYPE_URL.to_string(),
            1 => MSGPACK_TYPE_URL.to_string(),
            2 | 3 => "type.googleapis.com/fuzz.v1.Greet".to_string(),
            4 => "type.googleapis.com/google.protobuf.Empty".to_string(),
            5 => String::new(),
            6 => format!("{}/{}", self.text(), self.text()),
            _ => self.text(),
        }
    }

    /// A valid encoding of something in `codec`, for mutation.
    pub(crate) fn valid(&mut self, codec: Codec) -> Vec<u8> {
        let encoded = match (codec, self.below(3)) {
            (Codec::Protobuf, 0) => codec.encode(&()),
            (Codec::Protobuf, _) => codec.encode(&Proto(self.greet())),
            (_, 0) => codec.encode(&self.sample()),
            (_, 1) => codec.encode(&Proto(self.greet())),
            (_, _) => {
                let named = serde_json::json!({ "n": self.next() as i64, "text": self.text() });
                codec.encode(&named)
            }
        };
        encoded.expect("valid values encode").bytes.to_vec()
    }

    /// Deep nesting, to reach recursion limits: JSON up to 5,000 levels (serde_json refuses
    /// more than 128), MessagePack up to [`MSGPACK_FUZZ_DEPTH`] (see
    /// [`deep_msgpack_is_refused_before_the_stack_overflows`]).
    fn nested(&mut self, codec: Codec) -> Vec<u8> {
        let depth = match codec {
            Codec::MsgPack => 1 + self.below(MSGPACK_FUZZ_DEPTH),
            _ => 1 + self.below(5_000),
        };
        match codec {
            Codec::Json => {
                let mut out = vec![b'['; depth];
                if self.chance(2) {
                    out.extend(std::iter::repeat_n(b']', depth));
                }
                out
            }
            // fixarray(1) and fixmap(1) with a fixstr key, nested.
            Codec::MsgPack => {
                let mut out = Vec::new();
                for _ in 0..depth {
                    if self.chance(2) {
                        out.push(0x91);
                    } else {
                        out.extend_from_slice(&[0x81, 0xa1, b'n']);
                    }
                }
                out.push(0xc0);
                out
            }
            // An Any whose value is a Greet whose `inner` is nested again, and again.
            Codec::Protobuf => {
                let mut value = Vec::new();
                for _ in 0..depth.min(200) {
                    let mut outer = vec![0x32];
                    prost::encoding::encode_varint(value.len() as u64, &mut outer);
                    outer.extend_from_slice(&value);
                    value = outer;
                }
                prost_types::Any {
                    type_url: "type.googleapis.com/fuzz.v1.Greet".into(),
                    value,
                }
                .encode_to_vec()
            }
        }
    }

    /// One input for a decoder of `codec`.
    pub(crate) fn input(&mut self, codec: Codec) -> Vec<u8> {
        match self.below(10) {
            0..=2 => self.bytes(),
            3..=6 => {
                let valid = self.valid(codec);
                self.mutate(valid)
            }
            7 if codec == Codec::Json => self.json_soup(),
            7 => {
                let any = prost_types::Any {
                    type_url: self.type_url(),
                    value: self.bytes(),
                };
                any.encode_to_vec()
            }
            8 if self.chance(10) => self.nested(codec),
            _ => self.valid(codec),
        }
    }
}

/// Every codec.
const CODECS: [Codec; 3] = [Codec::MsgPack, Codec::Json, Codec::Protobuf];

/// A decode error must be `InvalidArgument`, say what was being decoded and from which codec,
/// and give a reason.
fn check_error(error: &Error, what: &str, codec: Codec, case: usize, input: &[u8]) {
    let label = match codec {
        Codec::MsgPack => "MessagePack",
        Codec::Json => "JSON",
        Codec::Protobuf => "protobuf",
    };
    let prefix = format!("cannot decode {what} from {label}: ");
    assert!(
        error.kind() == ErrorKind::InvalidArgument
            && error.message().starts_with(&prefix)
            && error.message().len() > prefix.len(),
        "case {case}: an imprecise error for {what} from {label} {input:02x?}: {error:?}"
    );
}

/// Decodes `payload` as `T`: a value, or a precise error.
fn decode<T: serde::de::DeserializeOwned>(payload: &Payload, case: usize) -> Option<T> {
    match payload.decode::<T>("the value") {
        Ok(value) => Some(value),
        Err(error) => {
            check_error(&error, "the value", payload.codec, case, &payload.bytes);
            None
        }
    }
}

/// Decodes `payload` as the arguments `A` named `names` of `Fuzz.call`.
fn args<A: Args>(payload: &Payload, names: &'static [&'static str], case: usize) -> Option<A> {
    let seed = NamedArgsSeed::<A> {
        names,
        marker: PhantomData,
    };
    match payload.decode_args(seed, "Fuzz", "call") {
        Ok(args) => Some(args),
        Err(error) => {
            check_error(
                &error,
                "the arguments of Fuzz.call",
                payload.codec,
                case,
                &payload.bytes,
            );
            None
        }
    }
}

/// Every decoder a call's arguments and results go through, on one payload.
fn decode_everything(payload: &Payload, case: usize) {
    let _ = decode::<serde_json::Value>(payload, case);
    let _ = decode::<Sample>(payload, case);
    let _ = decode::<i64>(payload, case);
    let _ = decode::<Vec<u8>>(payload, case);
    let _ = decode::<()>(payload, case);
    if let Some(message) = decode::<Proto<Greet>>(payload, case) {
        // What decoded re-encodes and decodes to the same message, in every codec.
        for codec in CODECS {
            let again = codec.encode(&message).expect("a message encodes");
            assert_eq!(
                again.decode::<Proto<Greet>>("it").unwrap(),
                message,
                "case {case}"
            );
        }
    }
    let _ = args::<(i64,)>(payload, &["n"], case);
    let _ = args::<(String, i64)>(payload, &["text", "n"], case);
    let _ = args::<(Proto<Greet>,)>(payload, &["req"], case);
    let _ = args::<()>(payload, &[], case);
    let _ = args::<(Sample, Option<String>)>(payload, &["sample", "note"], case);
}

/// Runs `CASES` inputs of `codec` through every payload decoder.
fn fuzz_payloads(codec: Codec, seed: u64) {
    let mut rng = Rng::new(seed);
    for case in 0..CASES {
        let input = rng.input(codec);
        decode_everything(&Payload::new(codec, input), case);
    }
}

#[test]
fn msgpack_payloads_decode_or_fail_precisely() {
    fuzz_payloads(Codec::MsgPack, 0x4d53_4750_4143_4b31);
}

#[test]
fn json_payloads_decode_or_fail_precisely() {
    fuzz_payloads(Codec::Json, 0x4a53_4f4e_4a53_4f4e);
}

#[test]
fn protobuf_payloads_decode_or_fail_precisely() {
    fuzz_payloads(Codec::Protobuf, 0x5052_4f54_4f42_5546);
}

/// Client `Any`s: the payload they map to maps back to the same `Any`, and decodes (or fails
/// precisely) like any payload.
#[test]
fn anys_round_trip_through_payloads() {
    let mut rng = Rng::new(0x414e_5921);
    for case in 0..CASES {
        let value = match rng.below(3) {
            0 => rng.bytes(),
            1 => {
                let codec = CODECS[rng.below(3)];
                let valid = rng.valid(codec);
                rng.mutate(valid)
            }
            _ => rng.greet().encode_to_vec(),
        };
        let any = prost_types::Any {
            type_url: rng.type_url(),
            value,
        };
        let payload = payload_from_any(any.clone());
        assert_eq!(
            any_from_payload(&payload).expect("a client's Any maps back"),
            any,
            "case {case}"
        );
        decode_everything(&payload, case);
    }
}

/// Random bytes as a serialized `Any` (what the HTTP API's base64 `request` holds): prost
/// refuses them or they map to a payload and back.
#[test]
fn random_bytes_as_an_any() {
    let mut rng = Rng::new(0x0052_4157_414e_5900);
    for case in 0..CASES {
        let bytes = if rng.chance(2) {
            rng.bytes()
        } else {
            let any = prost_types::Any {
                type_url: rng.type_url(),
                value: rng.bytes(),
            };
            rng.mutate(any.encode_to_vec())
        };
        let Ok(any) = prost_types::Any::decode(&bytes[..]) else {
            continue;
        };
        let payload = payload_from_any(any.clone());
        assert_eq!(any_from_payload(&payload).unwrap(), any, "case {case}");
        let _ = decode::<Proto<Greet>>(&payload, case);
        let _ = args::<(Proto<Greet>,)>(&payload, &["req"], case);
    }
    // A protobuf payload that is not an Any is an Internal error, never a panic.
    for case in 0..CASES {
        let payload = Payload::new(Codec::Protobuf, rng.bytes());
        if let Err(error) = any_from_payload(&payload) {
            assert_eq!(error.kind(), ErrorKind::Internal, "case {case}");
        }
    }
}

/// `Proto<M>`'s serde form, `{"@type", "value"}`, read straight from JSON and MessagePack (as
/// it arrives nested inside named arguments), and its exact round trips.
#[test]
fn proto_serde_forms() {
    let mut rng = Rng::new(0x0053_4552_4445);
    for case in 0..CASES {
        let greet = Proto(rng.greet());
        let json = serde_json::to_vec(&greet).unwrap();
        assert_eq!(
            serde_json::from_slice::<Proto<Greet>>(&json).unwrap(),
            greet,
            "case {case}"
        );
        let msgpack = rmp_serde::to_vec_named(&greet).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<Proto<Greet>>(&msgpack).unwrap(),
            greet,
            "case {case}"
        );
        let json = match rng.below(3) {
            0 => rng.mutate(json),
            1 => format!(
                r#"{{"@type": {:?}, "value": {:?}}}"#,
                rng.type_url(),
                String::from_utf8_lossy(&rng.bytes())
            )
            .into_bytes(),
            _ => rng.json_soup(),
        };
        if let Ok(decoded) = serde_json::from_slice::<Proto<Greet>>(&json) {
            let again = serde_json::to_vec(&decoded).unwrap();
            assert_eq!(
                serde_json::from_slice::<Proto<Greet>>(&again).unwrap(),
                decoded
            );
        }
        let _ = rmp_serde::from_slice::<Proto<Greet>>(&rng.mutate(msgpack));
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&json)
            && let Some(any) = crate::proto::any_from_json(&value)
        {
            assert_eq!(
                crate::proto::any_from_json(&crate::proto::any_to_json(any.clone())),
                Some(any),
                "case {case}"
            );
        }
    }
}

/// The gRPC gate's requests: random and mutated bytes through prost (what tonic does with a
/// request body), then the handler's conversion of the request `Any` into a payload.
#[test]
fn grpc_requests_decode_or_fail() {
    let mut rng = Rng::new(0x4752_5043);
    for case in 0..CASES {
        let valid = CallObjectRequest {
            client_id: rng.text(),
            r#type: rng.text(),
            id: rng.text(),
            method: rng.text(),
            request: rng.chance(4).then(|| prost_types::Any {
                type_url: rng.type_url(),
                value: rng.bytes(),
            }),
        }
        .encode_to_vec();
        let bytes = if rng.chance(3) {
            rng.bytes()
        } else {
            rng.mutate(valid)
        };
        if let Ok(request) = CallObjectRequest::decode(&bytes[..]) {
            let payload = match request.request {
                Some(any) => payload_from_any(any),
                None => Codec::Protobuf.encode(&()).unwrap(),
            };
            let _ = args::<(Proto<Greet>,)>(&payload, &["req"], case);
            let _ = args::<(i64,)>(&payload, &["n"], case);
        }
        if let Ok(request) = ReliableCallObjectRequest::decode(&bytes[..])
            && let Some(any) = request.request
        {
            let payload = payload_from_any(any);
            let _ = args::<()>(&payload, &[], case);
        }
        let _ = CreateObjectRequest::decode(&bytes[..]);
        let _ = DeleteObjectRequest::decode(&bytes[..]);
    }
}

/// `n` nested one-element MessagePack arrays around a nil: `[[[…nil…]]]`.
fn msgpack_nested(depth: usize) -> Vec<u8> {
    let mut out = vec![0x91; depth];
    out.push(0xc0);
    out
}

/// Regression test for a defect found by this suite: a client's MessagePack arguments nested
/// ~600 levels deep (`type.goverse.dev/msgpack` `Any` whose value is 600 bytes `0x91` and one
/// `0xc0`) decoded into a `serde_json::Value` argument overflow the stack of the tokio worker
/// running the turn and abort the whole process (debug build, 2 MiB stacks). rmp-serde's own
/// limit is 1,024 levels; `Payload::decode` and `decode_args` lower it to serde_json's 128, so
/// the answer is an `InvalidArgument` "depth limit exceeded".
///
/// Runs the decoding on a thread with a 64 MiB stack so that a regression fails the test
/// instead of aborting the test binary.
#[test]
fn deep_msgpack_is_refused_before_the_stack_overflows() {
    let outcome = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let payload = Payload::new(Codec::MsgPack, msgpack_nested(600));
            let value = payload.decode::<serde_json::Value>("the value");
            let mut named = vec![0x81, 0xa1, b'v'];
            named.extend(msgpack_nested(600));
            let named = Payload::new(Codec::MsgPack, named);
            let args = args::<(serde_json::Value,)>(&named, &["v"], 0);
            (value.map(|_| ()), args.is_some())
        })
        .expect("thread")
        .join()
        .expect("no panic");
    let error = outcome
        .0
        .expect_err("600 levels of MessagePack must be refused");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("depth"), "{error}");
    assert!(
        !outcome.1,
        "600 levels of MessagePack arguments must be refused"
    );
}
