//! Gate scenarios on an embedded node (no etcd needed): a call through the JSON HTTP API
//! against a bare axum JSON echo, a gRPC `CallObject` against a bare tonic unary echo (the
//! cross-node row's `bench.v1.Echo`), and push fan-out from one object to 1,000 `Register`
//! streams.
//!
//! Both sides of each comparison use the same client (hyper's pooled keep-alive HTTP/1 client;
//! one tonic channel), the same body and the same number of callers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::future::join_all;
use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Node, Proto};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Request, Response};
use tonic_prost::ProstCodec;

use crate::{Row, Scale};

use crate::tonic_echo::{self, EchoMessage, channel_to};

/// Bytes carried by every call in both directions (as the cross-node row).
const PAYLOAD: usize = 64;
/// Concurrent callers of the throughput rows.
const CALLERS: usize = 64;
/// Clients of the fan-out row.
const PUSH_CLIENTS: usize = 1_000;
/// `Register` streams per gRPC connection in the fan-out row (under HTTP/2's usual limit).
const STREAMS_PER_CONNECTION: usize = 100;

/// `bench.v1.EchoMessage`, the message the gate carries as a `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Blob {
    /// The bytes echoed.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) payload: Vec<u8>,
}

impl prost::Name for Blob {
    const NAME: &'static str = "EchoMessage";
    const PACKAGE: &'static str = "bench.v1";
}

/// The JSON body of the HTTP rows, for the gate and the bare handler alike.
#[derive(Debug, Serialize, Deserialize)]
struct EchoBody {
    data: String,
}

/// The benchmark object for gate calls.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct GateEcho {
    calls: u64,
}

#[goverse::object]
impl GateEcho {
    /// Returns `data` unchanged (named JSON argument).
    #[method]
    pub(crate) async fn echo(&mut self, data: String) -> String {
        self.calls += 1;
        data
    }

    /// Returns the message unchanged (protobuf, as GoVerse clients call).
    #[method]
    pub(crate) async fn echo_proto(&mut self, req: Proto<Blob>) -> Proto<Blob> {
        self.calls += 1;
        req
    }

    /// Broadcasts `count` messages of `PAYLOAD` bytes to every client; returns how many
    /// client queues took them in all.
    #[method]
    pub(crate) async fn fan_out(&mut self, ctx: &Context, count: u32) -> goverse::Result<u64> {
        let message = Proto(Blob {
            payload: vec![1; PAYLOAD],
        });
        let mut delivered = 0;
        for _ in 0..count {
            delivered += ctx.broadcast(&message).await? as u64;
        }
        Ok(delivered)
    }
}

/// The gate's gRPC messages, declared here (`gate.proto`'s field numbers).
mod wire {
    /// `gate.CallObjectRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct CallObjectRequest {
        #[prost(string, tag = "1")]
        pub(crate) client_id: String,
        #[prost(string, tag = "2")]
        pub(crate) r#type: String,
        #[prost(string, tag = "3")]
        pub(crate) id: String,
        #[prost(string, tag = "4")]
        pub(crate) method: String,
        #[prost(message, optional, tag = "5")]
        pub(crate) request: Option<prost_types::Any>,
    }

    /// `gate.CallObjectResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct CallObjectResponse {
        #[prost(message, optional, tag = "1")]
        pub(crate) response: Option<prost_types::Any>,
    }

    /// `gate.Empty`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Empty {}
}

/// Runs every gate scenario.
pub(crate) async fn run(scale: Scale) -> Vec<Row> {
    let node = Node::builder()
        .gate(GateConfig {
            // Room for a whole fan-out round per client.
            client_queue: 1_024,
            ..GateConfig::default()
        })
        .start()
        .await
        .expect("node with a gate");
    eprintln!("gate: HTTP JSON calls");
    let mut rows = http_json(&node, scale).await;
    eprintln!("gate: gRPC CallObject");
    rows.extend(grpc_calls(&node, scale).await);
    eprintln!("gate: push fan-out to {PUSH_CLIENTS} clients");
    rows.push(fan_out(&node, scale).await);
    node.shutdown().await.expect("node stops");
    rows
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// POSTs `body` to `url` and returns the answer's body; panics unless it is a 200.
async fn post(client: &HttpClient, url: &hyper::Uri, body: &Bytes) -> Bytes {
    let request = hyper::Request::post(url.clone())
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .expect("request");
    let response = client.request(request).await.expect("HTTP answer");
    assert_eq!(response.status(), 200, "{url}");
    response
        .into_body()
        .collect()
        .await
        .expect("HTTP body")
        .to_bytes()
}

/// A bare axum server answering `{"data": s}` with `"s"`, as the gate's JSON API does.
async fn bare_axum() -> SocketAddr {
    use axum::serve::ListenerExt as _;

    async fn echo(axum::Json(body): axum::Json<EchoBody>) -> axum::Json<String> {
        axum::Json(body.data)
    }
    let app = axum::Router::new().route("/echo", axum::routing::post(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Sequential latency (µs per call) and `CALLERS`-caller throughput (calls/s) of POSTs to
/// `urls[i % urls.len()]`.
async fn measure_http(
    client: &HttpClient,
    urls: &[hyper::Uri],
    body: &Bytes,
    scale: Scale,
) -> (f64, f64) {
    let expected = serde_json::to_vec(&"x".repeat(PAYLOAD)).expect("JSON");
    for _ in 0..200 {
        assert_eq!(&post(client, &urls[0], body).await[..], &expected[..]);
    }
    let calls = scale.latency_calls / 10;
    let started = Instant::now();
    for _ in 0..calls {
        post(client, &urls[0], body).await;
    }
    let latency = started.elapsed().as_secs_f64() * 1e6 / calls as f64;

    let per_caller = scale.throughput_calls / 10 / CALLERS;
    let urls: Arc<Vec<hyper::Uri>> = Arc::new(urls.to_vec());
    let started = Instant::now();
    join_all((0..CALLERS).map(|caller| {
        let client = client.clone();
        let urls = urls.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let url = &urls[caller % urls.len()];
            for _ in 0..per_caller {
                post(&client, url, &body).await;
            }
        })
    }))
    .await
    .into_iter()
    .for_each(|caller| caller.expect("caller"));
    let throughput = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    (latency, throughput)
}

async fn http_json(node: &Node, scale: Scale) -> Vec<Row> {
    let gate = node.gate_http_address().expect("HTTP gate");
    let bare = bare_axum().await;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
    let body = Bytes::from(
        serde_json::to_vec(&EchoBody {
            data: "x".repeat(PAYLOAD),
        })
        .expect("JSON"),
    );
    // One object per caller, as the cross-node row: callers do not queue behind one object.
    let gate_urls: Vec<hyper::Uri> = (0..CALLERS)
        .map(|i| {
            format!("http://{gate}/v1/objects/GateEcho/http-{i}/echo")
                .parse()
                .expect("URL")
        })
        .collect();
    let bare_urls = vec![format!("http://{bare}/echo").parse().expect("URL")];
    let (goverse_latency, goverse_throughput) =
        measure_http(&client, &gate_urls, &body, scale).await;
    let (bare_latency, bare_throughput) = measure_http(&client, &bare_urls, &body, scale).await;
    vec![
        Row {
            scenario: "gate HTTP JSON call latency (vs axum echo)",
            unit: "µs/call",
            goverse: goverse_latency,
            baseline: Some(bare_latency),
            target: "ratio ≤ 1.5",
        },
        Row {
            scenario: "gate HTTP JSON throughput, 64 callers",
            unit: "calls/s",
            goverse: goverse_throughput,
            baseline: Some(bare_throughput),
            target: "ratio ≥ 0.67",
        },
    ]
}

/// A `CallObject` of `GateEcho.echo_proto` on object `id` with a `PAYLOAD`-byte message.
async fn call_object(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    id: &str,
) -> Vec<u8> {
    let request = wire::CallObjectRequest {
        client_id: String::new(),
        r#type: "GateEcho".into(),
        id: id.into(),
        method: "echo_proto".into(),
        request: Some(prost_types::Any {
            type_url: "type.googleapis.com/bench.v1.EchoMessage".into(),
            value: prost::Message::encode_to_vec(&Blob {
                payload: vec![7; PAYLOAD],
            }),
        }),
    };
    grpc.ready().await.expect("gate channel");
    let response: Response<wire::CallObjectResponse> = grpc
        .unary(
            Request::new(request),
            PathAndQuery::from_static("/gate.GateService/CallObject"),
            ProstCodec::default(),
        )
        .await
        .expect("CallObject");
    response.into_inner().response.expect("a response").value
}

async fn grpc_calls(node: &Node, scale: Scale) -> Vec<Row> {
    let gate = channel_to(node.gate_grpc_address().expect("gRPC gate")).await;
    let bare = tonic_echo::start().await;
    let mut grpc = tonic::client::Grpc::new(gate.clone());
    let expected = prost::Message::encode_to_vec(&Blob {
        payload: vec![7; PAYLOAD],
    });
    for _ in 0..200 {
        assert_eq!(call_object(&mut grpc, "grpc-0").await, expected);
        bare.clone()
            .echo(EchoMessage {
                payload: vec![7; PAYLOAD].into(),
            })
            .await
            .expect("bare echo");
    }
    let calls = scale.latency_calls / 10;
    let started = Instant::now();
    for _ in 0..calls {
        call_object(&mut grpc, "grpc-0").await;
    }
    let goverse_latency = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
    let started = Instant::now();
    for _ in 0..calls {
        bare.clone()
            .echo(EchoMessage {
                payload: vec![7; PAYLOAD].into(),
            })
            .await
            .expect("bare echo");
    }
    let baseline_latency = started.elapsed().as_secs_f64() * 1e6 / calls as f64;

    let per_caller = scale.throughput_calls / 10 / CALLERS;
    let started = Instant::now();
    join_all((0..CALLERS).map(|caller| {
        let mut grpc = tonic::client::Grpc::new(gate.clone());
        tokio::spawn(async move {
            let id = format!("grpc-{caller}");
            for _ in 0..per_caller {
                call_object(&mut grpc, &id).await;
            }
        })
    }))
    .await
    .into_iter()
    .for_each(|caller| caller.expect("caller"));
    let goverse_throughput = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    join_all((0..CALLERS).map(|_| {
        let mut bare = bare.clone();
        tokio::spawn(async move {
            for _ in 0..per_caller {
                bare.echo(EchoMessage {
                    payload: vec![7; PAYLOAD].into(),
                })
                .await
                .expect("bare echo");
            }
        })
    }))
    .await
    .into_iter()
    .for_each(|caller| caller.expect("caller"));
    let baseline_throughput = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    vec![
        Row {
            scenario: "gate gRPC CallObject latency, 64 B (vs tonic)",
            unit: "µs/call",
            goverse: goverse_latency,
            baseline: Some(baseline_latency),
            target: "ratio ≤ 1.5",
        },
        Row {
            scenario: "gate gRPC CallObject throughput, 64 callers",
            unit: "calls/s",
            goverse: goverse_throughput,
            baseline: Some(baseline_throughput),
            target: "ratio ≥ 0.67",
        },
    ]
}

/// One object broadcasts to `PUSH_CLIENTS` `Register` streams, in rounds that fit the client
/// queues; after each round every client has received the whole round (a barrier), so nothing
/// is dropped. Messages delivered per second, counted at the clients.
async fn fan_out(node: &Node, scale: Scale) -> Row {
    let (rounds, per_round) = if scale.latency_calls < 10_000 {
        (2_u32, 10_u32)
    } else {
        (10, 100)
    };
    let address = node.gate_grpc_address().expect("gRPC gate");
    let received = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(PUSH_CLIENTS + 1));
    let mut channels = Vec::new();
    for _ in 0..PUSH_CLIENTS.div_ceil(STREAMS_PER_CONNECTION) {
        channels.push(channel_to(address).await);
    }
    let (registered_tx, mut registered) = tokio::sync::mpsc::channel::<()>(PUSH_CLIENTS);
    let readers: Vec<_> = (0..PUSH_CLIENTS)
        .map(|i| {
            let mut grpc = tonic::client::Grpc::new(channels[i / STREAMS_PER_CONNECTION].clone());
            let received = received.clone();
            let barrier = barrier.clone();
            let registered = registered_tx.clone();
            tokio::spawn(async move {
                grpc.ready().await.expect("gate channel");
                let mut stream = grpc
                    .server_streaming(
                        Request::new(wire::Empty {}),
                        PathAndQuery::from_static("/gate.GateService/Register"),
                        ProstCodec::<wire::Empty, prost_types::Any>::default(),
                    )
                    .await
                    .expect("Register")
                    .into_inner();
                let first = stream.message().await.expect("register").expect("first");
                assert!(first.type_url.ends_with("gate.RegisterResponse"));
                registered.send(()).await.expect("driver");
                for _ in 0..rounds {
                    for _ in 0..per_round {
                        let message = stream.message().await.expect("push").expect("a push");
                        assert_eq!(message.type_url, "type.googleapis.com/bench.v1.EchoMessage");
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    barrier.wait().await;
                }
            })
        })
        .collect();
    drop(registered_tx);
    for _ in 0..PUSH_CLIENTS {
        registered.recv().await.expect("every client registers");
    }
    let pusher = node.object::<GateEcho>("pusher");
    let started = Instant::now();
    for _ in 0..rounds {
        let delivered = pusher.fan_out(per_round).await.expect("fan out");
        assert_eq!(
            delivered,
            u64::from(per_round) * PUSH_CLIENTS as u64,
            "no client missed a message"
        );
        barrier.wait().await;
    }
    let seconds = started.elapsed().as_secs_f64();
    for reader in join_all(readers).await {
        reader.expect("reader");
    }
    let total = received.load(Ordering::Relaxed);
    assert_eq!(total, u64::from(rounds * per_round) * PUSH_CLIENTS as u64);
    Row {
        scenario: "gate push fan-out, 1 object → 1,000 gRPC clients",
        unit: "msgs/s",
        goverse: total as f64 / seconds,
        baseline: None,
        target: "all received",
    }
}
