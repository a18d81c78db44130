//! Fuzzing the gate over real sockets: random and mutated request bodies to every unary RPC of
//! the gRPC `gate.GateService` (sent as raw bytes, so tonic's own decoding is exercised too) and
//! random requests to every route of the HTTP APIs (paths, verbs, headers, bodies).
//!
//! Properties: the gate never panics nor drops a connection; every answer is a success or a
//! precise error — for gRPC, a body prost cannot decode is `INTERNAL` naming the decode failure
//! (what tonic and Go's grpc answer) and anything decodable gets a status of the request's
//! fault, never `INTERNAL`, `UNKNOWN` or `UNAVAILABLE`; for HTTP, every non-2xx answer carries
//! a JSON error body with a message, and no 5xx but a timeout the request asked for. After the
//! run, ordinary calls still work. Generators are seeded: a failure names its case.
//!
//! The decoders themselves get 100,000 inputs each in-process (`goverse/src/gate/fuzz_tests.rs`);
//! this file checks the same paths end to end with fewer cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Buf as _, BufMut as _, Bytes};
use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Node, Proto};
use http_body_util::{BodyExt as _, Full};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

/// Requests per RPC of the gRPC gate.
const GRPC_CASES: usize = 5_000;
/// Requests to the HTTP gate.
const HTTP_CASES: usize = 20_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 32;

/// `fuzz.v1.Greet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Greet {
    /// A name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// A count.
    #[prost(int64, tag = "2")]
    pub times: i64,
}

impl prost::Name for Greet {
    const NAME: &'static str = "Greet";
    const PACKAGE: &'static str = "fuzz.v1";
}

/// The object fuzzed requests reach.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fuzzed {
    runs: u64,
}

#[goverse::object(name = "Fuzzed")]
impl Fuzzed {
    /// A protobuf message in and out.
    #[method]
    pub async fn greet(&mut self, req: Proto<Greet>) -> Proto<Greet> {
        self.runs += 1;
        req
    }

    /// Named JSON arguments.
    #[method]
    pub async fn add(&mut self, n: i64, text: String) -> String {
        self.runs += 1;
        format!("{text}{n}")
    }

    /// No arguments.
    #[method]
    pub async fn runs(&self) -> u64 {
        self.runs
    }

    /// An application error.
    #[method]
    pub async fn fail(&mut self) -> goverse::Result<()> {
        Err(goverse::Error::app("refused", "always refused"))
    }
}

/// The requests of `gate.proto`, declared independently of goverse's generated code.
mod wire {
    /// `gate.CallObjectRequest` (and, with the same field numbers, `ReliableCallObjectRequest`
    /// whose field 1 is the call id).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct CallObjectRequest {
        /// Client id, or call id for a reliable call.
        #[prost(string, tag = "1")]
        pub(crate) first: String,
        /// Object type.
        #[prost(string, tag = "2")]
        pub(crate) r#type: String,
        /// Object id.
        #[prost(string, tag = "3")]
        pub(crate) id: String,
        /// Method.
        #[prost(string, tag = "4")]
        pub(crate) method: String,
        /// The request.
        #[prost(message, optional, tag = "5")]
        pub(crate) request: Option<prost_types::Any>,
    }

    /// `gate.CreateObjectRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct CreateObjectRequest {
        /// Object type.
        #[prost(string, tag = "1")]
        pub(crate) r#type: String,
        /// Object id.
        #[prost(string, tag = "2")]
        pub(crate) id: String,
    }

    /// `gate.DeleteObjectRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct DeleteObjectRequest {
        /// Object id.
        #[prost(string, tag = "1")]
        pub(crate) id: String,
        /// Object type.
        #[prost(string, tag = "2")]
        pub(crate) r#type: String,
    }
}

/// xorshift64*: reproducible pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A name: a real one most of the time, else junk.
    fn name(&mut self, real: &[&'static str]) -> String {
        if self.chance(4) {
            let junk = ["", "x", "é", "a/b", "%2F", "🦀", "\u{0}", "a b", "?", "#"];
            (0..self.below(4)).map(|_| self.pick(&junk)).collect()
        } else {
            self.pick(real).to_string()
        }
    }

    fn mutate(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        for _ in 0..=self.below(3) {
            let at = if bytes.is_empty() {
                0
            } else {
                self.below(bytes.len())
            };
            match self.below(4) {
                0 if !bytes.is_empty() => bytes[at] ^= 1 << self.below(8),
                1 => bytes.insert(at, self.next() as u8),
                2 if !bytes.is_empty() => {
                    bytes.remove(at);
                }
                _ => bytes.truncate(at),
            }
        }
        bytes
    }

    /// A request `Any`: a `Greet`, JSON or MessagePack named arguments, or junk.
    fn any(&mut self) -> prost_types::Any {
        let (type_url, value) = match self.below(5) {
            0 => (
                "type.googleapis.com/fuzz.v1.Greet".to_string(),
                Greet {
                    name: self.name(&["ada"]),
                    times: self.next() as i64,
                }
                .encode_to_vec(),
            ),
            1 => (
                "type.goverse.dev/json".to_string(),
                format!(r#"{{"n": {}, "text": "t"}}"#, self.next() as i64).into_bytes(),
            ),
            2 => (
                "type.goverse.dev/msgpack".to_string(),
                vec![0x82, 0xa1, b'n', 0x05, 0xa4, b't', b'e', b'x', b't', 0xa0],
            ),
            3 => (
                "type.googleapis.com/google.protobuf.Empty".to_string(),
                Vec::new(),
            ),
            _ => (
                self.name(&["type.goverse.dev/json", "x/y.Z", ""]),
                self.bytes(32),
            ),
        };
        let value = if self.chance(3) {
            self.mutate(value)
        } else {
            value
        };
        prost_types::Any { type_url, value }
    }
}

const TYPES: &[&str] = &["Fuzzed", "Fuzzed", "Fuzzed", "NoSuchType"];
const METHODS: &[&str] = &["greet", "add", "runs", "fail", "nope"];

/// Sends and receives gRPC message bodies as they are.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

/// One fuzzed gRPC request: the RPC and its body.
fn grpc_case(rng: &mut Rng, rpc: &str) -> Vec<u8> {
    let valid = match rpc {
        "CreateObject" => wire::CreateObjectRequest {
            r#type: rng.name(TYPES),
            id: rng.name(&["c1", "c2"]),
        }
        .encode_to_vec(),
        "DeleteObject" => wire::DeleteObjectRequest {
            id: rng.name(&["c1", "c2", "o1"]),
            r#type: rng.name(TYPES),
        }
        .encode_to_vec(),
        _ => wire::CallObjectRequest {
            first: if rpc == "ReliableCallObject" {
                format!("call-{}", rng.below(50))
            } else if rng.chance(8) {
                rng.name(&["127.0.0.1:1/forged"])
            } else {
                String::new()
            },
            r#type: rng.name(TYPES),
            id: rng.name(&["o1", "o2"]),
            method: rng.name(METHODS),
            request: (!rng.chance(8)).then(|| rng.any()),
        }
        .encode_to_vec(),
    };
    match rng.below(4) {
        0 => rng.bytes(64),
        1 => rng.mutate(valid),
        _ => valid,
    }
}

/// Whether `bytes` decode as the request of `rpc` (as the server's prost will see them).
fn decodable(rpc: &str, bytes: &[u8]) -> bool {
    match rpc {
        "CreateObject" => wire::CreateObjectRequest::decode(bytes).is_ok(),
        "DeleteObject" => wire::DeleteObjectRequest::decode(bytes).is_ok(),
        _ => wire::CallObjectRequest::decode(bytes).is_ok(),
    }
}

async fn start_node() -> Node {
    Node::builder()
        .gate(GateConfig::default())
        .start()
        .await
        .expect("node with a gate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gate_survives_random_request_bodies() {
    let node = start_node().await;
    let address = node.gate_grpc_address().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let rpcs = [
        "CallObject",
        "ReliableCallObject",
        "CreateObject",
        "DeleteObject",
    ];
    let seed = 0x6752_5043_u64;
    let next = Arc::new(AtomicUsize::new(0));
    // Requests answered with an error, and with a success.
    let outcomes = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let workers = (0..CONCURRENCY).map(|_| {
        let channel = channel.clone();
        let next = next.clone();
        let outcomes = outcomes.clone();
        tokio::spawn(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            loop {
                let case = next.fetch_add(1, Ordering::Relaxed);
                if case >= GRPC_CASES * rpcs.len() {
                    return;
                }
                let rpc = rpcs[case % rpcs.len()];
                let mut rng = Rng(seed ^ (case as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                let body = grpc_case(&mut rng, rpc);
                grpc.ready().await.expect("the channel stays usable");
                let path = PathAndQuery::try_from(format!("/gate.GateService/{rpc}")).unwrap();
                let answer = grpc
                    .unary(tonic::Request::new(body.clone()), path, RawCodec)
                    .await;
                let ok = answer.is_ok();
                check_grpc(case, rpc, &body, answer.map(tonic::Response::into_inner));
                outcomes[usize::from(ok)].fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker.expect("no worker panicked");
    }
    assert_balanced("gRPC", &outcomes);
    // Still serving: an ordinary call through the same channel.
    let request = wire::CallObjectRequest {
        first: String::new(),
        r#type: "Fuzzed".into(),
        id: "after".into(),
        method: "greet".into(),
        request: Some(prost_types::Any {
            type_url: "type.googleapis.com/fuzz.v1.Greet".into(),
            value: Greet {
                name: "ok".into(),
                times: 1,
            }
            .encode_to_vec(),
        }),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let answer = grpc
        .unary(
            tonic::Request::new(request.encode_to_vec()),
            PathAndQuery::from_static("/gate.GateService/CallObject"),
            RawCodec,
        )
        .await
        .expect("the gate still answers");
    assert!(!answer.into_inner().is_empty());
    node.shutdown().await.unwrap();
}

/// The generators must reach both the methods and the error paths: at least a tenth of the
/// requests each way.
fn assert_balanced(what: &str, outcomes: &[AtomicUsize; 2]) {
    let errors = outcomes[0].load(Ordering::Relaxed);
    let successes = outcomes[1].load(Ordering::Relaxed);
    eprintln!("{what}: {successes} successes, {errors} errors");
    let total = errors + successes;
    assert!(
        errors * 10 >= total && successes * 10 >= total,
        "{what}: {successes} successes and {errors} errors: the generator is lopsided"
    );
}

/// The answer to a fuzzed gRPC request must be a success or a precise status.
fn check_grpc(case: usize, rpc: &str, body: &[u8], answer: Result<Vec<u8>, Status>) {
    let status = match answer {
        Ok(_) => return,
        Err(status) => status,
    };
    let context = || format!("case {case}: {rpc} with body {body:02x?} answered {status:?}");
    assert!(!status.message().is_empty(), "{}", context());
    if !decodable(rpc, body) {
        assert_eq!(status.code(), Code::Internal, "{}", context());
        assert!(
            status.message().contains("decode"),
            "an undecodable body must be named as such: {}",
            context()
        );
        return;
    }
    assert!(
        matches!(
            status.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::PermissionDenied
                | Code::FailedPrecondition
                | Code::ResourceExhausted
        ),
        "a decodable request got a status that is not the request's fault: {}",
        context()
    );
}

/// One fuzzed HTTP request: verb, path and query, headers, body.
fn http_case(rng: &mut Rng, client_id: &str) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let object = rng.name(&["o1", "o2", "a%2Fb"]);
    let type_name = rng.name(TYPES);
    let method = rng.name(METHODS);
    let path = match rng.below(8) {
        0 | 1 => format!("/api/v1/objects/call/{type_name}/{object}/{method}"),
        2 => format!("/api/v1/objects/create/{type_name}/{object}"),
        3 => format!("/api/v1/objects/delete/{type_name}/{object}"),
        4 | 5 => format!("/v1/objects/{type_name}/{object}/{method}"),
        6 => format!("/v1/objects/{type_name}/{object}"),
        _ => rng
            .pick(&[
                "/",
                "/api/v1/objects/call/",
                "/api/v1/objects/call/Fuzzed//greet",
                "/v1/objects",
                "/v1/openapi.json",
                "/api/v1/events/nope",
                "/api/v1/objects/call/Fuzzed/o1/greet/extra",
                "/v1/objects/%ZZ/o1/add",
            ])
            .to_string(),
    };
    let verb = if rng.chance(10) {
        rng.pick(&["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
    } else {
        "POST"
    };
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if rng.chance(6) {
        let id = if rng.chance(2) {
            client_id.to_string()
        } else {
            rng.name(&["127.0.0.1:1/forged"])
        };
        headers.push(("x-client-id".into(), id));
    }
    if rng.chance(10) {
        let timeout = rng.pick(&["0", "-1", "abc", "1", "5000", "99999999999999999999"]);
        headers.push(("goverse-timeout-ms".into(), timeout.to_string()));
    }
    if rng.chance(10) {
        headers.push(("idempotency-key".into(), format!("key-{}", rng.below(20))));
    }
    let body = if path.starts_with("/api/") {
        use base64::Engine as _;
        let any = rng.any().encode_to_vec();
        let encoded = base64::engine::general_purpose::STANDARD.encode(rng.mutate(any.clone()));
        match rng.below(6) {
            0 => rng.bytes(48),
            1 => format!(r#"{{"request": "{encoded}"}}"#).into_bytes(),
            2 => br#"{"request": "%%% not base64"}"#.to_vec(),
            3 => b"{}".to_vec(),
            _ => format!(
                r#"{{"request": "{}"}}"#,
                base64::engine::general_purpose::STANDARD.encode(any)
            )
            .into_bytes(),
        }
    } else {
        let valid = format!(r#"{{"n": {}, "text": "x"}}"#, rng.next() as i32).into_bytes();
        match rng.below(6) {
            0 => rng.bytes(48),
            1 => rng.mutate(valid),
            2 => rng
                .pick(&[
                    "",
                    "null",
                    "[]",
                    "5",
                    "\"s\"",
                    "{\"n\": \"x\"}",
                    "{\"req\": {}}",
                ])
                .as_bytes()
                .to_vec(),
            _ => valid,
        }
    };
    (verb.to_string(), path, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_gate_survives_random_requests() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let node = start_node().await;
    let address = node.gate_http_address().unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    // A registered client, so that some requests carry a valid X-Client-ID. Its stream stays
    // open (and its push queue unread) for the whole run.
    let stream = client
        .get(
            format!("http://{address}/api/v1/events/stream")
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let mut stream = stream.into_body();
    let first = stream.frame().await.unwrap().unwrap().into_data().unwrap();
    let first = String::from_utf8_lossy(&first).to_string();
    let client_id = first
        .split("\"clientId\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no client id in {first}"))
        .to_string();

    let seed = 0x4854_5450_u64;
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let workers = (0..CONCURRENCY).map(|_| {
        let client = client.clone();
        let next = next.clone();
        let outcomes = outcomes.clone();
        let client_id = client_id.clone();
        tokio::spawn(async move {
            loop {
                let case = next.fetch_add(1, Ordering::Relaxed);
                if case >= HTTP_CASES {
                    return;
                }
                let mut rng = Rng(seed ^ (case as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                let (verb, path, headers, body) = http_case(&mut rng, &client_id);
                let Ok(uri) = format!("http://{address}{path}").parse::<hyper::Uri>() else {
                    continue;
                };
                let mut request = hyper::Request::builder().method(verb.as_str()).uri(uri);
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let Ok(request) = request.body(Full::new(Bytes::from(body.clone()))) else {
                    continue;
                };
                let response = client
                    .request(request)
                    .await
                    .unwrap_or_else(|e| panic!("case {case}: {verb} {path}: no answer: {e}"));
                let status = response.status().as_u16();
                let answer = response.into_body().collect().await.unwrap().to_bytes();
                check_http(case, &verb, &path, &headers, &body, status, &answer);
                let ok = (200..300).contains(&status);
                outcomes[usize::from(ok)].fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker.expect("no worker panicked");
    }
    assert_balanced("HTTP", &outcomes);
    // Still serving.
    let response = client
        .request(
            hyper::Request::post(format!("http://{address}/v1/objects/Fuzzed/after/add"))
                .body(Full::new(Bytes::from_static(br#"{"n": 1, "text": "ok"}"#)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#""ok1""#);
    drop(stream);
    node.shutdown().await.unwrap();
}

/// Every non-2xx answer is a JSON error with a message; the only 5xx are timeouts the request
/// asked for and GoVerse's `CALL_FAILED` for the application error of `fail`.
fn check_http(
    case: usize,
    verb: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    status: u16,
    answer: &[u8],
) {
    let context = || {
        format!(
            "case {case}: {verb} {path} {headers:?} body {:?} answered {status} {:?}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(answer)
        )
    };
    if (200..300).contains(&status) {
        return;
    }
    if verb == "OPTIONS" {
        assert_eq!(status, 204, "{}", context());
        return;
    }
    let error: serde_json::Value = serde_json::from_slice(answer)
        .unwrap_or_else(|e| panic!("not a JSON error ({e}): {}", context()));
    let message = match &error["error"] {
        serde_json::Value::String(message) => message.clone(),
        serde_json::Value::Object(fields) => fields
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    assert!(
        !message.is_empty(),
        "an error without message: {}",
        context()
    );
    let asked_timeout = headers.iter().any(|(name, _)| name == "goverse-timeout-ms");
    match status {
        400 | 403 | 404 | 405 | 409 | 413 | 422 | 429 => {}
        504 if asked_timeout => {}
        500 if path.ends_with("/fail") && message.contains("[refused]") => {}
        _ => panic!("an unexpected status: {}", context()),
    }
}
