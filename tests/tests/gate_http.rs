//! The gate's HTTP side end to end, with a real HTTP client: GoVerse's `/api/v1` API and its
//! server-sent events, the JSON-native `/v1/objects` API, the OpenAPI document, CORS, limits,
//! every error code, and a two-node cluster where the gate forwards calls.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt as _;
use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Node, Proto};
use goverse_tests::cluster_builder;
use goverse_tests::harness::Etcd;
use prost::Message as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A protobuf request, as a GoVerse client sends it.
#[derive(Clone, PartialEq, prost::Message)]
struct Ping {
    #[prost(string, tag = "1")]
    text: String,
}

impl prost::Name for Ping {
    const NAME: &'static str = "Ping";
    const PACKAGE: &'static str = "gatetest";
}

/// A protobuf response.
#[derive(Clone, PartialEq, prost::Message)]
struct Pong {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(string, tag = "2")]
    client: String,
}

impl prost::Name for Pong {
    const NAME: &'static str = "Pong";
    const PACKAGE: &'static str = "gatetest";
}

/// Pushes to its callers' clients, answers protobuf, fails and sleeps on demand.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Notifier;

#[goverse::object]
impl Notifier {
    /// Echoes the text with the caller's client id.
    #[method]
    async fn ping(&self, ctx: &Context, req: Proto<Ping>) -> Proto<Pong> {
        Proto(Pong {
            text: req.0.text,
            client: client_of(ctx).unwrap_or_default(),
        })
    }

    /// Pushes `{"n": i}` for `i` in `0..count` to the caller's client.
    #[method]
    async fn notify(&self, ctx: &Context, count: u32) -> goverse::Result<u32> {
        let client = client_of(ctx).ok_or_else(|| goverse::Error::invalid_argument("no client"))?;
        for n in 0..count {
            ctx.push(&client, &json!({ "n": n })).await?;
        }
        Ok(count)
    }

    /// Pushes a JSON message and a protobuf message to the caller, then broadcasts.
    #[method]
    async fn mixed(&self, ctx: &Context) -> goverse::Result<usize> {
        let client = client_of(ctx).ok_or_else(|| goverse::Error::invalid_argument("no client"))?;
        ctx.push(&client, &json!({ "hello": "json" })).await?;
        ctx.push(
            &client,
            &Proto(Ping {
                text: "proto".into(),
            }),
        )
        .await?;
        ctx.broadcast(&json!({ "to": "all" })).await
    }

    /// The caller's client id.
    #[method]
    async fn whoami(&self, ctx: &Context) -> Option<String> {
        client_of(ctx)
    }

    /// This object's id.
    #[method]
    async fn id(&self, ctx: &Context) -> String {
        ctx.object_id().to_string()
    }

    /// Adds two numbers.
    #[method]
    async fn sum(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Fails with an application error.
    #[method]
    async fn fail(&self) -> goverse::Result<()> {
        Err(goverse::Error::app("nope", "failed on purpose"))
    }

    /// Answers after `millis` milliseconds.
    #[method]
    async fn slow(&self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
}

fn client_of(ctx: &Context) -> Option<String> {
    ctx.caller().and_then(|caller| caller.client_id.clone())
}

/// A node with a gate; its HTTP base URL.
async fn gate_node(config: GateConfig) -> (Node, String) {
    let node = Node::builder()
        .database(goverse::Database::memory())
        .gate(config)
        .start()
        .await
        .unwrap();
    let address = node.gate_http_address().expect("the gate serves HTTP");
    (node, format!("http://{address}"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn any_of<M: prost::Message + prost::Name>(message: &M) -> String {
    let any = prost_types::Any {
        type_url: format!("type.googleapis.com/{}", M::full_name()),
        value: message.encode_to_vec(),
    };
    STANDARD.encode(any.encode_to_vec())
}

fn json_any(value: &Value) -> String {
    let any = prost_types::Any {
        type_url: "type.goverse.dev/json".into(),
        value: serde_json::to_vec(value).unwrap(),
    };
    STANDARD.encode(any.encode_to_vec())
}

fn decode_any(base64: &str) -> prost_types::Any {
    prost_types::Any::decode(&STANDARD.decode(base64).unwrap()[..]).unwrap()
}

/// A status and a JSON body.
async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    json_of(client().post(url).json(&body).send().await.unwrap()).await
}

/// Reads server-sent events off a response.
struct Events {
    stream: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl Events {
    async fn open(url: &str) -> Events {
        let response = client_without_timeout().get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            stream: response
                .bytes_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
                .boxed(),
            buffer: String::new(),
        }
    }

    /// The next event: its name and its data as JSON.
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a comment or keep-alive
                }
                return (name, serde_json::from_str(&data).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream is open")
                .unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event that is not a heartbeat.
    async fn next_message(&mut self) -> (String, Value) {
        loop {
            let event = self.next().await;
            if event.0 != "heartbeat" {
                return event;
            }
        }
    }

    /// Registers: the client id of the `register` event.
    async fn client_id(&mut self) -> String {
        let (name, data) = self.next().await;
        assert_eq!(name, "register");
        data["clientId"].as_str().unwrap().to_string()
    }
}

fn client_without_timeout() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn goverse_call_create_delete() {
    let (_node, base) = gate_node(GateConfig::default()).await;

    let (status, body) = post(
        &format!("{base}/api/v1/objects/call/Notifier/n1/ping"),
        json!({ "request": any_of(&Ping { text: "hi".into() }) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let any = decode_any(body["response"].as_str().unwrap());
    assert_eq!(any.type_url, "type.googleapis.com/gatetest.Pong");
    let pong = Pong::decode(&any.value[..]).unwrap();
    assert_eq!(pong.text, "hi");

    // JSON in an Any: named arguments in, the JSON result back in an Any.
    let (status, body) = post(
        &format!("{base}/api/v1/objects/call/Notifier/n1/sum"),
        json!({ "request": json_any(&json!({ "a": 2, "b": 3 })) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let any = decode_any(body["response"].as_str().unwrap());
    assert_eq!(any.type_url, "type.goverse.dev/json");
    assert_eq!(
        serde_json::from_slice::<Value>(&any.value).unwrap(),
        json!(5)
    );

    let (status, body) = post(
        &format!("{base}/api/v1/objects/create/Counter/c1"),
        json!({}),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "id": "c1" })));
    // GoVerse's create takes the rest of the path as the id.
    let (status, body) = post(
        &format!("{base}/api/v1/objects/create/Counter/a/b"),
        json!({}),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "id": "a/b" })));
    let (status, body) = post(
        &format!("{base}/api/v1/objects/delete/Counter/c1"),
        json!({}),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "success": true })));
    let (status, body) = post(
        &format!("{base}/api/v1/objects/delete/Counter/a/b"),
        json!({}),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "success": true })));
}

#[tokio::test]
async fn goverse_error_codes() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let call = |method: &str| format!("{base}/api/v1/objects/call/Notifier/e1/{method}");
    let cases = [
        (call("sum"), json!("not an object"), 400, "INVALID_JSON"),
        (
            call("sum"),
            json!({ "request": "@@@" }),
            400,
            "INVALID_BASE64",
        ),
        (
            call("sum"),
            json!({ "request": STANDARD.encode([0xff, 0xff, 0xff]) }),
            400,
            "INVALID_PROTOBUF",
        ),
        (
            call("nosuch"),
            json!({ "request": json_any(&json!({})) }),
            404,
            "OBJECT_NOT_FOUND",
        ),
        (
            format!("{base}/api/v1/objects/call/NoSuchType/x/m"),
            json!({ "request": json_any(&json!({})) }),
            404,
            "OBJECT_NOT_FOUND",
        ),
        (
            call("sum"),
            json!({ "request": json_any(&json!({ "a": "x", "b": 1 })) }),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            call("fail"),
            json!({ "request": json_any(&json!({})) }),
            500,
            "CALL_FAILED",
        ),
        (
            format!("{base}/api/v1/objects/nothing"),
            json!({}),
            400,
            "INVALID_PATH",
        ),
    ];
    for (url, body, status, code) in cases {
        let (got, reply) = post(&url, body).await;
        assert_eq!(got, status, "{url}: {reply}");
        assert_eq!(reply["code"], code, "{url}: {reply}");
        assert!(reply["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, reply) = post(&call("fail"), json!({ "request": json_any(&json!({})) })).await;
    assert!(
        reply["error"].as_str().unwrap().contains("[nope]"),
        "{reply}"
    );

    // An X-Client-ID that is not connected here: 403.
    let response = client()
        .post(call("whoami"))
        .header("X-Client-ID", "somewhere/else")
        .json(&json!({ "request": json_any(&json!({})) }))
        .send()
        .await
        .unwrap();
    let (status, reply) = json_of(response).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("ACCESS_DENIED"))
    );
    assert!(reply["error"].as_str().unwrap().contains("not connected"));

    // A deadline shorter than the call: 504.
    let response = client()
        .post(call("slow"))
        .header("Goverse-Timeout-Ms", "50")
        .json(&json!({ "request": json_any(&json!({ "millis": 5000 })) }))
        .send()
        .await
        .unwrap();
    let (status, reply) = json_of(response).await;
    assert_eq!((status, reply["code"].as_str()), (504, Some("TIMEOUT")));

    // The wrong verb: 405.
    let (status, reply) = json_of(client().get(call("sum")).send().await.unwrap()).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    let response = client()
        .delete(format!("{base}/api/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    for path in [
        "/api/v1/objects/call/Notifier/x/sum",
        "/v1/objects/A/b/c",
        "/anything",
    ] {
        let response = client()
            .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
            .header("Origin", "http://example.com")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET, POST, PUT, DELETE, OPTIONS"
        );
        let allowed = headers["access-control-allow-headers"].to_str().unwrap();
        for header in [
            "Content-Type",
            "X-Client-ID",
            "Authorization",
            "X-Goverse-Auth",
        ] {
            assert!(allowed.contains(header), "{allowed}");
        }
        assert_eq!(headers["access-control-max-age"], "86400");
    }
    // Ordinary answers carry the headers too, errors included.
    let response = client()
        .post(format!("{base}/v1/objects/Notifier/x/nosuch"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn sse_register_messages_and_broadcast() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let mut events = Events::open(&format!("{base}/api/v1/events/stream")).await;
    let client_id = events.client_id().await;
    let mut other = Events::open(&format!("{base}/api/v1/events/stream")).await;
    let other_id = other.client_id().await;
    assert_ne!(client_id, other_id);

    // The object sees the client id given as X-Client-ID.
    let response = client()
        .post(format!("{base}/v1/objects/Notifier/s1/whoami"))
        .header("X-Client-ID", &client_id)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(client_id)));

    let response = client()
        .post(format!("{base}/api/v1/objects/call/Notifier/s1/mixed"))
        .header("X-Client-ID", &client_id)
        .json(&json!({ "request": json_any(&json!({})) }))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    let any = decode_any(body["response"].as_str().unwrap());
    assert_eq!(
        serde_json::from_slice::<Value>(&any.value).unwrap(),
        json!(2)
    );

    // In order: the JSON push, the protobuf push, the broadcast.
    let (name, data) = events.next_message().await;
    assert_eq!(name, "message");
    assert_eq!(data["type"], "type.goverse.dev/json");
    assert_eq!(data["json"], json!({ "hello": "json" }));
    let any = decode_any(data["payload"].as_str().unwrap());
    assert_eq!(
        serde_json::from_slice::<Value>(&any.value).unwrap(),
        json!({ "hello": "json" })
    );
    let (name, data) = events.next_message().await;
    assert_eq!(name, "message");
    assert_eq!(data["type"], "type.googleapis.com/gatetest.Ping");
    assert!(data.get("json").is_none());
    let any = decode_any(data["payload"].as_str().unwrap());
    assert_eq!(any.type_url, "type.googleapis.com/gatetest.Ping");
    assert_eq!(Ping::decode(&any.value[..]).unwrap().text, "proto");
    let (_, data) = events.next_message().await;
    assert_eq!(data["json"], json!({ "to": "all" }));
    // The other client got only the broadcast.
    let (_, data) = other.next_message().await;
    assert_eq!(data["json"], json!({ "to": "all" }));
}

#[tokio::test]
async fn sse_hundred_messages_in_order_and_heartbeats() {
    let config = GateConfig {
        heartbeat: Duration::from_millis(200),
        ..GateConfig::default()
    };
    let (_node, base) = gate_node(config).await;
    let mut events = Events::open(&format!("{base}/api/v1/events/stream")).await;
    let client_id = events.client_id().await;
    let response = client()
        .post(format!("{base}/v1/objects/Notifier/h1/notify"))
        .header("X-Client-ID", &client_id)
        .json(&json!({ "count": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(100)));
    for n in 0..100 {
        let (name, data) = events.next_message().await;
        assert_eq!(name, "message");
        assert_eq!(data["json"], json!({ "n": n }));
    }
    // With nothing to send, heartbeats come.
    let (name, data) = events.next().await;
    assert_eq!((name.as_str(), data), ("heartbeat", json!({})));
}

#[tokio::test]
async fn a_closed_stream_unregisters_its_client() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let mut events = Events::open(&format!("{base}/api/v1/events/stream")).await;
    let client_id = events.client_id().await;
    drop(events);
    // Once the gate notices the disconnect, the client id is refused.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = client()
            .post(format!("{base}/v1/objects/Notifier/u1/whoami"))
            .header("X-Client-ID", &client_id)
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 403 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still registered");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn json_api_calls_create_delete() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let (status, body) = post(
        &format!("{base}/v1/objects/Counter/j1/add"),
        json!({ "n": 5 }),
    )
    .await;
    assert_eq!((status, body), (200, json!(5)));
    // A method without parameters takes an empty body.
    let response = client()
        .post(format!("{base}/v1/objects/Counter/j1/get"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(5)));

    let (status, body) = post(&format!("{base}/v1/objects/Counter/j2"), json!({})).await;
    assert_eq!((status, body), (200, json!({ "id": "j2" })));
    let response = client()
        .delete(format!("{base}/v1/objects/Counter/j1"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!({ "deleted": true })));
    let (_, body) = post(&format!("{base}/v1/objects/Counter/j1/get"), json!({})).await;
    assert_eq!(body, json!(0), "deleted, so a fresh counter");
}

#[tokio::test]
async fn json_api_ids_with_any_characters() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    for (id, encoded) in [
        ("a/b", "a%2Fb"),
        ("with space", "with%20space"),
        ("ünï/😀", "%C3%BCn%C3%AF%2F%F0%9F%98%80"),
        ("../..", "..%2F.."),
    ] {
        let (status, body) = post(
            &format!("{base}/v1/objects/Notifier/{encoded}/id"),
            json!({}),
        )
        .await;
        assert_eq!((status, body), (200, json!(id)), "{id}");
        let (status, body) = post(&format!("{base}/v1/objects/Counter/{encoded}"), json!({})).await;
        assert_eq!((status, body), (200, json!({ "id": id })), "{id}");
        // The GoVerse call route takes the same percent-encoded segment.
        let (status, body) = post(
            &format!("{base}/api/v1/objects/call/Notifier/{encoded}/id"),
            json!({ "request": json_any(&json!({})) }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let any = decode_any(body["response"].as_str().unwrap());
        assert_eq!(
            serde_json::from_slice::<Value>(&any.value).unwrap(),
            json!(id)
        );
    }
}

#[tokio::test]
async fn json_api_errors() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let url = |path: &str| format!("{base}/v1/objects/{path}");
    let raw = |path: &str, body: &'static str| {
        client()
            .post(url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (
            raw("Notifier/x/sum", "{not json").await.unwrap(),
            400,
            "InvalidArgument",
            "not valid JSON",
        ),
        (
            raw("Notifier/x/sum", "[1, 2]").await.unwrap(),
            400,
            "InvalidArgument",
            "not an array",
        ),
        (
            raw("Notifier/x/sum", r#"{"a": 1, "c": 2}"#).await.unwrap(),
            400,
            "InvalidArgument",
            "c",
        ),
        (
            raw("Notifier/x/sum", r#"{"a": "one", "b": 2}"#)
                .await
                .unwrap(),
            400,
            "InvalidArgument",
            "a",
        ),
        (
            raw("Notifier/x/nosuch", "{}").await.unwrap(),
            404,
            "NotFound",
            "nosuch",
        ),
        (
            raw("NoSuchType/x/m", "{}").await.unwrap(),
            404,
            "NotFound",
            "NoSuchType",
        ),
        (
            raw("Notifier/x/fail", "{}").await.unwrap(),
            422,
            "App",
            "failed on purpose",
        ),
    ];
    for (response, status, kind, needle) in cases {
        let (got, body) = json_of(response).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"]["kind"], kind, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let (_, body) = json_of(raw("Notifier/x/fail", "{}").await.unwrap()).await;
    assert_eq!(body["error"]["code"], "nope");
    let (_, body) = json_of(raw("Notifier/x/nosuch", "{}").await.unwrap()).await;
    assert_eq!(body["error"]["code"], Value::Null);

    // Wrong verb; unknown route.
    let (status, body) = json_of(client().get(url("Notifier/x/sum")).send().await.unwrap()).await;
    assert_eq!(status, 405, "{body}");
    let (status, body) = json_of(client().put(url("Notifier/x")).send().await.unwrap()).await;
    assert_eq!(status, 405, "{body}");
    let (status, body) = json_of(
        client()
            .get(format!("{base}/nothing"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (404, Some("NotFound"))
    );

    // A bad timeout header.
    let response = client()
        .post(url("Notifier/x/sum"))
        .header("Goverse-Timeout-Ms", "soon")
        .json(&json!({ "a": 1, "b": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await.0, 400);
    let response = client()
        .post(url("Notifier/x/slow"))
        .header("Goverse-Timeout-Ms", "50")
        .json(&json!({ "millis": 5000 }))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (504, Some("Timeout"))
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let config = GateConfig {
        max_body_bytes: 1024,
        ..GateConfig::default()
    };
    let (_node, base) = gate_node(config).await;
    let big = "x".repeat(4096);
    let (status, body) = post(
        &format!("{base}/v1/objects/Notifier/b/sum"),
        json!({ "a": 1, "b": 2, "pad": big }),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE");
    let (status, body) = post(
        &format!("{base}/api/v1/objects/call/Notifier/b/sum"),
        json!({ "request": big }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("BODY_TOO_LARGE"))
    );
    // A streamed body without a length is cut too.
    let chunks = futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let response = client()
        .post(format!("{base}/v1/objects/Notifier/b/sum"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    // Under the limit is fine.
    let (status, _) = post(
        &format!("{base}/v1/objects/Notifier/b/sum"),
        json!({ "a": 1, "b": 2 }),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn reliable_calls_by_idempotency_key() {
    let (_node, base) = gate_node(GateConfig::default()).await;
    let call = |key: &str, n: i64| {
        client()
            .post(format!("{base}/v1/objects/Counter/r1/add"))
            .header("Idempotency-Key", key)
            .json(&json!({ "n": n }))
            .send()
    };
    let response = call("call-1", 3).await.unwrap();
    assert_eq!(response.headers()["goverse-call-status"], "SUCCESS");
    assert_eq!(json_of(response).await, (200, json!(3)));
    // The same key again: the stored outcome, the method does not run twice.
    let response = call("call-1", 3).await.unwrap();
    assert_eq!(response.headers()["goverse-call-status"], "SUCCESS");
    assert_eq!(json_of(response).await, (200, json!(3)));
    let response = call("call-2", 4).await.unwrap();
    assert_eq!(json_of(response).await, (200, json!(7)));

    let response = client()
        .post(format!("{base}/v1/objects/Notifier/r1/fail"))
        .header("Idempotency-Key", "call-3")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["goverse-call-status"], "FAILED");
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("nope"))
    );
    // Arguments that do not fit the method: SKIPPED, with the error's kind.
    let response = client()
        .post(format!("{base}/v1/objects/Counter/r1/add"))
        .header("Idempotency-Key", "call-4")
        .json(&json!({ "n": "three" }))
        .send()
        .await
        .unwrap();
    let call_status = response.headers().get("goverse-call-status").cloned();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str(), call_status),
        (
            400,
            Some("InvalidArgument"),
            Some(reqwest::header::HeaderValue::from_static("SKIPPED"))
        ),
        "{body}"
    );
}

/// The gate's OpenAPI document (answered with 200).
async fn openapi_document(base: &str) -> Value {
    let response = client()
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, doc) = json_of(response).await;
    assert_eq!(status, 200);
    doc
}

#[tokio::test]
async fn openapi_describes_every_registered_method() {
    let (node, base) = gate_node(GateConfig::default()).await;
    let doc = openapi_document(&base).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for ty in node.object_types() {
        let lifecycle = &paths[&format!("/v1/objects/{}/{{id}}", ty.name)];
        assert!(lifecycle["post"]["responses"]["200"].is_object());
        assert!(lifecycle["delete"]["responses"]["200"].is_object());
        for method in &ty.methods {
            let path = format!("/v1/objects/{}/{{id}}/{}", ty.name, method.name);
            let post = &paths[&path]["post"];
            assert_eq!(post["operationId"], format!("{}.{}", ty.name, method.name));
            let schema = &post["requestBody"]["content"]["application/json"]["schema"];
            assert_eq!(schema["type"], "object");
            let properties = schema["properties"].as_object().unwrap();
            let names: Vec<&str> = properties.keys().map(String::as_str).collect();
            let mut expected: Vec<&str> = method.params.to_vec();
            expected.sort_unstable();
            let mut names = names;
            names.sort_unstable();
            assert_eq!(names, expected, "{path}");
            assert_eq!(
                post["responses"]["default"]["$ref"],
                "#/components/responses/Error"
            );
        }
    }
    let sum = &paths["/v1/objects/Notifier/{id}/sum"]["post"];
    assert!(sum["description"].as_str().unwrap().contains("Shared"));
    let add = &paths["/v1/objects/Counter/{id}/add"]["post"];
    assert!(add["description"].as_str().unwrap().contains("Exclusive"));
    // Every $ref resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{reference}");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    refs.push(value.as_str().unwrap().to_string());
                } else {
                    collect_refs(value, refs);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// A point whose type describes itself to the OpenAPI document.
#[derive(Debug, Clone, Serialize, Deserialize, goverse::schemars::JsonSchema)]
#[schemars(crate = "goverse::schemars")]
struct Point {
    x: i32,
    y: i32,
}

/// A type without a JSON schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opaque(String);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Plotter {
    points: Vec<Point>,
}

#[goverse::object]
impl Plotter {
    /// Adds `point`; answers how many points there are.
    #[method]
    async fn plot(&mut self, point: Point, label: String) -> usize {
        let _ = label;
        self.points.push(point);
        self.points.len()
    }

    #[method]
    async fn echo_opaque(&self, value: Opaque) -> Opaque {
        value
    }
}

#[tokio::test]
async fn openapi_uses_the_json_schemas_types_provide() {
    let (node, base) = gate_node(GateConfig::default()).await;
    let doc = openapi_document(&base).await;
    let plot = &doc["paths"]["/v1/objects/Plotter/{id}/plot"]["post"];
    let properties = &plot["requestBody"]["content"]["application/json"]["schema"]["properties"];
    assert_eq!(properties["point"]["$ref"], "#/components/schemas/Point");
    assert_eq!(properties["label"]["type"], "string");
    let result = &plot["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(result["type"], "integer");
    let point = &doc["components"]["schemas"]["Point"];
    assert_eq!(point["properties"]["x"]["type"], "integer");
    assert_eq!(point["required"], json!(["x", "y"]));
    // No schema: any JSON value.
    let opaque = &doc["paths"]["/v1/objects/Plotter/{id}/echo_opaque"]["post"];
    let properties = &opaque["requestBody"]["content"]["application/json"]["schema"]["properties"];
    assert_eq!(properties["value"], json!({}));
    // And the document describes what the API really takes.
    let response = client()
        .post(format!("{base}/v1/objects/Plotter/p1/plot"))
        .json(&json!({"point": {"x": 1, "y": 2}, "label": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(1)));
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_gate_node_forwards_to_the_owner() {
    let etcd = Etcd::start_async().await;
    let prefix = "/gate-http-cluster";
    let gate = cluster_builder(&etcd, prefix, "gate-node", 8)
        .gate(GateConfig::default())
        .start()
        .await
        .unwrap();
    let other = cluster_builder(&etcd, prefix, "other-node", 8)
        .start()
        .await
        .unwrap();
    for node in [&gate, &other] {
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }
    let base = format!("http://{}", gate.gate_http_address().unwrap());
    let mut events = Events::open(&format!("{base}/api/v1/events/stream")).await;
    let client_id = events.client_id().await;

    // Calls to objects on both nodes, until one lands on the other node (shards spread once
    // both nodes are in the map).
    let mut remote_seen = false;
    for i in 0..200 {
        let id = format!("fwd-{i}");
        let response = client()
            .post(format!("{base}/v1/objects/Notifier/{id}/notify"))
            .header("X-Client-ID", &client_id)
            .json(&json!({ "count": 1 }))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!((status, &body), (200, &json!(1)), "{id}");
        let (_, data) = events.next_message().await;
        assert_eq!(data["json"], json!({ "n": 0 }));
        if !other.list_objects().is_empty() {
            remote_seen = true;
            break;
        }
    }
    assert!(remote_seen, "no call reached the other node");
    other.shutdown().await.unwrap();
    gate.shutdown().await.unwrap();
}
