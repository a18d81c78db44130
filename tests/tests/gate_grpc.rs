//! The GoVerse-compatible gRPC gate (`gate.GateService`), through a client generated from
//! `goverse/proto/gate/gate.proto` like any outside client: registration and pushes, calls in
//! protobuf and JSON, create and delete, reliable calls, refused inputs, an embedded gate and a
//! real cluster with a gate-only process.

use std::net::SocketAddr;
use std::time::Duration;

use goverse::gate::GateConfig;
use goverse::prelude::*;
use goverse::{Codec, Payload, Proto};
use goverse_tests::harness::Etcd;
use goverse_tests::{POLL, cluster_builder, count_of, record, wait_until};
use prost::Message as _;
use prost_types::Any;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tonic::{Code, Status};

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod gate {
    tonic::include_proto!("gate");
}

use gate::gate_service_client::GateServiceClient;

type Client = GateServiceClient<tonic::transport::Channel>;

/// `chat.v1.Post`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Post {
    /// The text.
    #[prost(string, tag = "1")]
    pub text: String,
    /// Its place in a sequence of pushes.
    #[prost(int64, tag = "2")]
    pub seq: i64,
}

impl prost::Name for Post {
    const NAME: &'static str = "Post";
    const PACKAGE: &'static str = "chat.v1";
}

/// `chat.v1.Ack`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ack {
    /// Posts so far.
    #[prost(int64, tag = "1")]
    pub count: i64,
    /// The client the call came from, as the object saw it.
    #[prost(string, tag = "2")]
    pub client: String,
}

impl prost::Name for Ack {
    const NAME: &'static str = "Ack";
    const PACKAGE: &'static str = "chat.v1";
}

/// An object reached only through the gate.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Room {
    posts: i64,
    total: i64,
}

#[goverse::object]
impl Room {
    /// A message in, a message out; records `post <text>` every time it runs.
    #[method]
    pub async fn post(&mut self, ctx: &Context, msg: Proto<Post>) -> Proto<Ack> {
        record(ctx.object_id(), format!("post {}", msg.text));
        self.posts += 1;
        Proto(Ack {
            count: self.posts,
            client: ctx
                .caller()
                .and_then(|caller| caller.client_id.clone())
                .unwrap_or_default(),
        })
    }

    /// JSON arguments; records `add` every time it runs.
    #[method]
    pub async fn add(&mut self, ctx: &Context, n: i64) -> i64 {
        record(ctx.object_id(), "add");
        self.total += n;
        self.total
    }

    /// Always fails with the application error `refused`.
    #[method]
    pub async fn refuse(&mut self, reason: String) -> Result<i64, goverse::Error> {
        Err(goverse::Error::app("refused", reason))
    }

    /// Two parameters: cannot be called with one protobuf message.
    #[method]
    pub async fn pair(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// No parameters, no result: a `google.protobuf.Empty` both ways in protobuf.
    #[method]
    pub async fn reset(&mut self) {
        self.posts = 0;
    }

    /// Pushes `count` numbered posts to the calling client.
    #[method]
    pub async fn stream_back(&self, ctx: &Context, count: i64) -> goverse::Result<i64> {
        let client = ctx
            .caller()
            .and_then(|caller| caller.client_id.clone())
            .ok_or_else(|| goverse::Error::invalid_argument("no calling client"))?;
        for seq in 0..count {
            let text = "item".to_string();
            ctx.push(&client, &Proto(Post { text, seq })).await?;
        }
        Ok(count)
    }

    /// Pushes a JSON message to `client`.
    #[method]
    pub async fn note_to(
        &self,
        ctx: &Context,
        client: String,
        text: String,
    ) -> goverse::Result<()> {
        ctx.push(&client, &json!({ "text": text })).await
    }

    /// Sends a post to every client of every gate.
    #[method]
    pub async fn shout(&self, ctx: &Context, text: String) -> goverse::Result<usize> {
        ctx.broadcast(&Proto(Post { text, seq: -1 })).await
    }

    /// Milliseconds left before the call's deadline.
    #[method]
    pub async fn remaining_ms(&self, ctx: &Context) -> u64 {
        ctx.remaining().as_millis() as u64
    }
}

/// A gate config serving only gRPC on a free local port.
fn grpc_only() -> GateConfig {
    GateConfig {
        http_listen: None,
        ..GateConfig::default()
    }
}

async fn connect(address: SocketAddr) -> Client {
    GateServiceClient::connect(format!("http://{address}"))
        .await
        .expect("the gate accepts connections")
}

fn message_any<M: prost::Message + prost::Name>(message: &M) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{}", M::full_name()),
        value: message.encode_to_vec(),
    }
}

fn json_any(value: serde_json::Value) -> Any {
    Any {
        type_url: "type.goverse.dev/json".into(),
        value: value.to_string().into_bytes(),
    }
}

fn empty_any() -> Any {
    Any {
        type_url: "type.googleapis.com/google.protobuf.Empty".into(),
        value: Vec::new(),
    }
}

fn post(text: &str) -> Any {
    message_any(&Post {
        text: text.into(),
        seq: 0,
    })
}

fn unpack<M: prost::Message + prost::Name + Default>(any: &Any) -> M {
    assert_eq!(
        any.type_url,
        format!("type.googleapis.com/{}", M::full_name())
    );
    M::decode(&any.value[..]).expect("the message decodes")
}

fn json_of(any: &Any) -> serde_json::Value {
    assert_eq!(any.type_url, "type.goverse.dev/json");
    serde_json::from_slice(&any.value).expect("the value is JSON")
}

/// Registers; returns the client id and the stream of pushes.
async fn register(client: &mut Client) -> (String, tonic::Streaming<Any>) {
    let mut stream = client
        .register(gate::Empty {})
        .await
        .expect("registers")
        .into_inner();
    let first = next(&mut stream).await;
    assert_eq!(first.type_url, "type.googleapis.com/gate.RegisterResponse");
    let id = gate::RegisterResponse::decode(&first.value[..])
        .unwrap()
        .client_id;
    (id, stream)
}

/// The next message of a stream (within 20 s).
async fn next(stream: &mut tonic::Streaming<Any>) -> Any {
    tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("a message arrives in time")
        .expect("the stream carries messages")
        .expect("the stream is open")
}

async fn call(
    client: &mut Client,
    client_id: &str,
    id: &str,
    method: &str,
    request: Option<Any>,
) -> Result<Any, Status> {
    call_type(client, client_id, "Room", id, method, request).await
}

async fn call_type(
    client: &mut Client,
    client_id: &str,
    type_name: &str,
    id: &str,
    method: &str,
    request: Option<Any>,
) -> Result<Any, Status> {
    let response = client
        .call_object(gate::CallObjectRequest {
            client_id: client_id.into(),
            r#type: type_name.into(),
            id: id.into(),
            method: method.into(),
            request,
        })
        .await?;
    Ok(response
        .into_inner()
        .response
        .expect("a response carries an Any"))
}

/// A reliable call to a `Room`: the answer with its headers.
async fn reliable_reply(
    client: &mut Client,
    call_id: &str,
    id: &str,
    method: &str,
    request: Any,
) -> tonic::Response<gate::ReliableCallObjectResponse> {
    client
        .reliable_call_object(gate::ReliableCallObjectRequest {
            call_id: call_id.into(),
            r#type: "Room".into(),
            id: id.into(),
            method: method.into(),
            request: Some(request),
        })
        .await
        .expect("a reliable call answers in-band")
}

async fn reliable(
    client: &mut Client,
    call_id: &str,
    id: &str,
    method: &str,
    request: Any,
) -> gate::ReliableCallObjectResponse {
    reliable_reply(client, call_id, id, method, request)
        .await
        .into_inner()
}

/// The value of header `key` of `reply`, if it has one.
fn header<'a, T>(reply: &'a tonic::Response<T>, key: &str) -> Option<&'a str> {
    reply
        .metadata()
        .get(key)
        .map(|value| value.to_str().unwrap())
}

fn assert_code(result: Result<Any, Status>, code: Code, needle: &str) {
    let status = result.expect_err("the call is refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(needle), "{status:?}");
}

async fn embedded(name: &str) -> (Node, Client) {
    let node = Node::builder()
        .node_id(name)
        .gate(grpc_only())
        .start()
        .await
        .expect("the node starts");
    let client = connect(node.gate_grpc_address().expect("gRPC is served")).await;
    (node, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_create_and_delete_through_an_embedded_gate() {
    let (node, mut client) = embedded("embedded-gate").await;
    let (client_id, _pushes) = register(&mut client).await;
    assert!(
        client_id.starts_with("embedded-gate/") && client_id.len() > "embedded-gate/".len(),
        "{client_id}"
    );

    // A protobuf message in, a protobuf message out; the object sees the client id.
    let reply = call(&mut client, &client_id, "r1", "post", Some(post("hi")))
        .await
        .unwrap();
    let ack: Ack = unpack(&reply);
    assert_eq!((ack.count, ack.client.as_str()), (1, client_id.as_str()));
    // Anonymous: no client id.
    let ack: Ack = unpack(
        &call(&mut client, "", "r1", "post", Some(post("x")))
            .await
            .unwrap(),
    );
    assert_eq!((ack.count, ack.client.as_str()), (2, ""));

    // JSON in `type.goverse.dev/json`: named arguments in, the result as JSON out.
    let reply = call(
        &mut client,
        "",
        "r1",
        "add",
        Some(json_any(json!({"n": 5}))),
    )
    .await
    .unwrap();
    assert_eq!(json_of(&reply), json!(5));

    // MessagePack in `type.goverse.dev/msgpack`.
    let args = Codec::MsgPack
        .encode(&json!({"n": 2}))
        .unwrap()
        .bytes
        .to_vec();
    let reply = call(
        &mut client,
        "",
        "r1",
        "add",
        Some(Any {
            type_url: "type.goverse.dev/msgpack".into(),
            value: args,
        }),
    )
    .await
    .unwrap();
    assert_eq!(reply.type_url, "type.goverse.dev/msgpack");
    let total: i64 = Payload::new(Codec::MsgPack, reply.value)
        .decode("the result")
        .unwrap();
    assert_eq!(total, 7);

    // No parameters: an Empty (or no request at all) in, an Empty out.
    let reply = call(&mut client, "", "r1", "reset", Some(empty_any()))
        .await
        .unwrap();
    assert_eq!(reply, empty_any());
    let reply = call(&mut client, "", "r1", "reset", None).await.unwrap();
    assert_eq!(reply, empty_any());

    // The client's gRPC deadline reaches the object when it is sooner than the default.
    let mut request = tonic::Request::new(gate::CallObjectRequest {
        r#type: "Room".into(),
        id: "r1".into(),
        method: "remaining_ms".into(),
        request: Some(json_any(json!({}))),
        ..Default::default()
    });
    request.set_timeout(Duration::from_secs(2));
    let reply = client.call_object(request).await.unwrap().into_inner();
    let remaining = json_of(&reply.response.unwrap()).as_u64().unwrap();
    assert!(remaining <= 2000 && remaining > 0, "{remaining}");

    // Create with and without an id; delete; an empty type is refused.
    let created = client
        .create_object(gate::CreateObjectRequest {
            r#type: "Room".into(),
            id: "made".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.id, "made");
    assert!(node.list_objects().iter().any(|key| key.id() == "made"));
    let generated = client
        .create_object(gate::CreateObjectRequest {
            r#type: "Room".into(),
            id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    assert!(generated.starts_with("Room-"), "{generated}");
    assert!(node.list_objects().iter().any(|key| key.id() == generated));
    client
        .delete_object(gate::DeleteObjectRequest {
            id: "made".into(),
            r#type: "Room".into(),
        })
        .await
        .unwrap();
    assert!(!node.list_objects().iter().any(|key| key.id() == "made"));
    for status in [
        client
            .create_object(gate::CreateObjectRequest {
                r#type: String::new(),
                id: "x".into(),
            })
            .await
            .unwrap_err(),
        client
            .delete_object(gate::DeleteObjectRequest {
                id: "x".into(),
                r#type: String::new(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    let status = client
        .create_object(gate::CreateObjectRequest {
            r#type: "Nope".into(),
            id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_inputs_get_precise_statuses_and_the_gate_keeps_serving() {
    let (node, mut client) = embedded("bad-inputs-gate").await;
    // A well-formed Any around bytes that are not a Post.
    let garbage = Any {
        type_url: "type.googleapis.com/chat.v1.Post".into(),
        value: vec![0xff, 0xff, 0xff, 0xff],
    };
    assert_code(
        call(&mut client, "", "b1", "post", Some(garbage)).await,
        Code::InvalidArgument,
        "chat.v1.Post",
    );
    // The wrong message type, a protobuf message for two parameters, JSON of the wrong shape.
    assert_code(
        call(
            &mut client,
            "",
            "b1",
            "post",
            Some(message_any(&Ack::default())),
        )
        .await,
        Code::InvalidArgument,
        "chat.v1.Ack",
    );
    assert_code(
        call(&mut client, "", "b1", "pair", Some(post("x"))).await,
        Code::InvalidArgument,
        "takes 2 arguments",
    );
    assert_code(
        call(
            &mut client,
            "",
            "b1",
            "add",
            Some(json_any(json!({"n": "five"}))),
        )
        .await,
        Code::InvalidArgument,
        "Room.add",
    );
    assert_code(
        call(&mut client, "", "b1", "add", Some(json_any(json!([1, 2])))).await,
        Code::InvalidArgument,
        "Room.add",
    );
    let not_json = Any {
        type_url: "type.goverse.dev/json".into(),
        value: b"{not json".to_vec(),
    };
    assert_code(
        call(&mut client, "", "b1", "add", Some(not_json)).await,
        Code::InvalidArgument,
        "JSON",
    );
    // Unknown type, unknown method, a huge type name, an empty id.
    assert_code(
        call_type(&mut client, "", "Nope", "b1", "post", Some(post("x"))).await,
        Code::NotFound,
        "Nope",
    );
    assert_code(
        call(&mut client, "", "b1", "nope", Some(post("x"))).await,
        Code::NotFound,
        "nope",
    );
    let huge = "T".repeat(1 << 20);
    let status = call_type(&mut client, "", &huge, "b1", "post", None)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().len() < 10_000);
    assert_code(
        call(&mut client, "", "", "post", Some(post("x"))).await,
        Code::InvalidArgument,
        "id",
    );
    // A request over the gate's limit (4 MiB by default).
    let big = Post {
        text: "x".repeat(5 << 20),
        seq: 0,
    };
    assert_code(
        call(&mut client, "", "b1", "post", Some(message_any(&big))).await,
        Code::ResourceExhausted,
        "larger than this gate accepts",
    );
    // A client id that is not connected to this gate.
    assert_code(
        call(
            &mut client,
            "bad-inputs-gate/forged",
            "b1",
            "post",
            Some(post("x")),
        )
        .await,
        Code::PermissionDenied,
        "not connected to this gate",
    );
    // An application error keeps its code in a trailer.
    let status = call(
        &mut client,
        "",
        "b1",
        "refuse",
        Some(json_any(json!({"reason": "no"}))),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "no");
    assert_eq!(
        status.metadata().get("goverse-error-code").unwrap(),
        "refused"
    );

    // Nothing ran, and the gate still serves.
    assert_eq!(count_of("b1", "post x"), 0);
    let ack: Ack = unpack(
        &call(&mut client, "", "b1", "post", Some(post("ok")))
            .await
            .unwrap(),
    );
    assert_eq!(ack.count, 1);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reliable_calls_run_once_and_answer_in_band() {
    let (node, mut client) = embedded("reliable-gate").await;
    // Protobuf: recorded as the JSON form of the Any, answered as the Ack's Any.
    let first = reliable(&mut client, "rc-proto-1", "rel1", "post", post("once")).await;
    assert_eq!(first.status, "SUCCESS", "{first:?}");
    assert!(first.error.is_empty());
    let ack: Ack = unpack(first.response.as_ref().unwrap());
    assert_eq!(ack.count, 1);
    let again = reliable(&mut client, "rc-proto-1", "rel1", "post", post("once")).await;
    assert_eq!(again, first);
    assert_eq!(count_of("rel1", "post once"), 1, "the method ran once");

    // JSON: the result comes back as JSON.
    let json_call = reliable(
        &mut client,
        "rc-json-1",
        "rel1",
        "add",
        json_any(json!({"n": 3})),
    )
    .await;
    assert_eq!(json_call.status, "SUCCESS", "{json_call:?}");
    assert_eq!(json_of(json_call.response.as_ref().unwrap()), json!(3));
    let again = reliable(
        &mut client,
        "rc-json-1",
        "rel1",
        "add",
        json_any(json!({"n": 3})),
    )
    .await;
    assert_eq!(again, json_call);
    assert_eq!(count_of("rel1", "add"), 1);

    // An application error: FAILED with its text (the GoVerse fields: only the message),
    // recorded like a result; its kind and code travel in headers GoVerse clients ignore.
    let reply = reliable_reply(
        &mut client,
        "rc-fail-1",
        "rel1",
        "refuse",
        json_any(json!({"reason": "closed"})),
    )
    .await;
    assert_eq!(
        (
            header(&reply, "goverse-error-kind"),
            header(&reply, "goverse-error-code")
        ),
        (Some("App"), Some("refused"))
    );
    let failed = reply.into_inner();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_str()),
        ("FAILED", "closed")
    );
    assert!(failed.response.is_none());
    // A success carries no error headers.
    let reply = reliable_reply(
        &mut client,
        "rc-ok-2",
        "rel1",
        "add",
        json_any(json!({"n": 0})),
    )
    .await;
    assert_eq!(header(&reply, "goverse-error-kind"), None);
    assert_eq!(header(&reply, "goverse-error-code"), None);

    // Never run: bad arguments, unknown methods, too many parameters, a reused call id.
    for (call_id, method, request) in [
        ("rc-skip-1", "add", json_any(json!({"n": "three"}))),
        ("rc-skip-2", "nope", post("x")),
        ("rc-skip-3", "pair", post("x")),
        ("rc-skip-4", "post", message_any(&Ack::default())),
        ("rc-json-1", "add", json_any(json!({"n": 4}))),
    ] {
        let reply = reliable_reply(&mut client, call_id, "rel1", method, request).await;
        let kind = header(&reply, "goverse-error-kind").map(str::to_string);
        let skipped = reply.into_inner();
        assert_eq!(skipped.status, "SKIPPED", "{call_id}: {skipped:?}");
        let expected = if method == "nope" {
            "NotFound"
        } else {
            "InvalidArgument"
        };
        assert_eq!(kind.as_deref(), Some(expected), "{call_id}: {skipped:?}");
        assert!(!skipped.error.is_empty(), "{call_id}: {skipped:?}");
        assert!(skipped.response.is_none());
    }
    assert_eq!(
        count_of("rel1", "add"),
        2,
        "only the two successful adds ran"
    );
    assert_eq!(count_of("rel1", "post "), 0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_reach_the_register_stream_in_order() {
    let (node, mut client) = embedded("push-gate").await;
    let (me, mut pushes) = register(&mut client).await;
    let mut other_client = client.clone();
    let (other, mut other_pushes) = register(&mut other_client).await;
    assert_ne!(me, other);

    // 100 posts from the object to the calling client, in order.
    let reply = call(
        &mut client,
        &me,
        "p1",
        "stream_back",
        Some(json_any(json!({"count": 100}))),
    )
    .await
    .unwrap();
    assert_eq!(json_of(&reply), json!(100));
    for seq in 0..100 {
        let post: Post = unpack(&next(&mut pushes).await);
        assert_eq!(post.seq, seq);
    }

    // A JSON message arrives as a `type.goverse.dev/json` Any.
    call(
        &mut client,
        "",
        "p1",
        "note_to",
        Some(json_any(json!({"client": other, "text": "hey"}))),
    )
    .await
    .unwrap();
    assert_eq!(
        json_of(&next(&mut other_pushes).await),
        json!({"text": "hey"})
    );

    // A broadcast reaches both clients.
    let reply = call(
        &mut client,
        "",
        "p1",
        "shout",
        Some(json_any(json!({"text": "all"}))),
    )
    .await
    .unwrap();
    assert_eq!(json_of(&reply), json!(2));
    for stream in [&mut pushes, &mut other_pushes] {
        let post: Post = unpack(&next(stream).await);
        assert_eq!((post.text.as_str(), post.seq), ("all", -1));
    }

    // A client that disconnects is forgotten: pushes to it fail, its id is refused.
    drop(other_pushes);
    let gone = other.clone();
    let mut probe = client.clone();
    let limit = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let note = json_any(json!({"client": gone, "text": "?"}));
        match call(&mut probe, "", "p1", "note_to", Some(note)).await {
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{status:?}");
                break;
            }
            Ok(_) => {
                assert!(
                    tokio::time::Instant::now() < limit,
                    "the disconnected client is forgotten"
                );
                tokio::time::sleep(POLL).await;
            }
        }
    }
    assert_code(
        call(&mut client, &other, "p1", "post", Some(post("x"))).await,
        Code::PermissionDenied,
        "not connected",
    );

    // Stopping the node ends the stream.
    node.shutdown().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(20), pushes.message())
        .await
        .expect("the stream ends");
    match end {
        Ok(None) => {}
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        Ok(Some(message)) => panic!("unexpected message {message:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_serves_gate_clients_from_every_node() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/gate-grpc";
    let builder = |id: &str| {
        cluster_builder(&etcd, prefix, id, 16)
            .stability_window(Duration::from_millis(300))
            .call_timeout(Duration::from_secs(20))
    };
    let n1 = builder("n1")
        .gate(grpc_only())
        .start()
        .await
        .expect("n1 starts");
    let n2 = builder("n2").start().await.expect("n2 starts");
    let g = builder("g")
        .gate_only(grpc_only())
        .start()
        .await
        .expect("the gate starts");
    for node in [&n1, &n2, &g] {
        wait_until("membership converges", Duration::from_secs(30), || {
            let view = node.cluster_view();
            view.nodes.len() == 2 && view.gates.len() == 2
        })
        .await;
    }
    for node in [&n1, &n2] {
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }

    for gate in [&n1, &g] {
        let mut client = connect(gate.gate_grpc_address().unwrap()).await;
        let (me, mut pushes) = register(&mut client).await;
        assert!(
            me.starts_with(&format!("{}/", gate.address().unwrap())),
            "{me}"
        );
        // Objects pinned to each node answer, see the client, and push back to it.
        for node in [&n1, &n2] {
            let id = format!("{}/room-{}", node.address().unwrap(), gate.node_id());
            let ack: Ack = unpack(
                &call(&mut client, &me, &id, "post", Some(post("c")))
                    .await
                    .unwrap(),
            );
            assert_eq!((ack.count, ack.client.as_str()), (1, me.as_str()));
            assert!(node.list_objects().iter().any(|key| key.id() == id));
            call(
                &mut client,
                &me,
                &id,
                "stream_back",
                Some(json_any(json!({"count": 20}))),
            )
            .await
            .unwrap();
            for seq in 0..20 {
                let post: Post = unpack(&next(&mut pushes).await);
                assert_eq!(post.seq, seq);
            }
            let reply = reliable(&mut client, &format!("rc-{id}"), &id, "post", post("r")).await;
            assert_eq!(reply.status, "SUCCESS", "{reply:?}");
        }
        // Objects spread by shard: create many and find them on both nodes.
        for i in 0..32 {
            let id = format!("spread-{}-{i}", gate.node_id());
            client
                .create_object(gate::CreateObjectRequest {
                    r#type: "Room".into(),
                    id,
                })
                .await
                .unwrap();
        }
        let prefix = format!("spread-{}-", gate.node_id());
        for node in [&n1, &n2] {
            assert!(
                node.list_objects()
                    .iter()
                    .any(|key| key.id().starts_with(&prefix))
            );
        }
    }
    assert!(
        g.list_objects().is_empty(),
        "a gate-only process hosts nothing"
    );
    for node in [g, n1, n2] {
        node.shutdown().await.unwrap();
    }
}

/// `request` with `Authorization: Bearer <token>`.
fn bearer<T>(request: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(request);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_id_only_works_with_the_credentials_it_registered_with() {
    let tokens = goverse::gate::BearerTokens::new([("alice-token", "alice"), ("bob-token", "bob")]);
    let node = Node::builder()
        .node_id("auth-gate")
        .gate(GateConfig {
            authenticator: Some(std::sync::Arc::new(tokens)),
            ..grpc_only()
        })
        .start()
        .await
        .expect("the node starts");
    let mut client = connect(node.gate_grpc_address().unwrap()).await;
    let status = client
        .register(bearer(gate::Empty {}, "stolen"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut stream = client
        .register(bearer(gate::Empty {}, "alice-token"))
        .await
        .unwrap()
        .into_inner();
    let first = next(&mut stream).await;
    let alice = gate::RegisterResponse::decode(&first.value[..])
        .unwrap()
        .client_id;
    let as_alice = |token: &str| {
        bearer(
            gate::CallObjectRequest {
                client_id: alice.clone(),
                r#type: "Room".into(),
                id: "auth1".into(),
                method: "post".into(),
                request: Some(post("a")),
            },
            token,
        )
    };
    let reply = client.call_object(as_alice("alice-token")).await.unwrap();
    let ack: Ack = unpack(&reply.into_inner().response.unwrap());
    assert_eq!(ack.client, alice);
    for token in ["bob-token", "none"] {
        let request = if token == "none" {
            tonic::Request::new(as_alice("x").into_inner())
        } else {
            as_alice(token)
        };
        let status = client.call_object(request).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{token}: {status:?}");
        assert!(status.message().contains("another identity"), "{status:?}");
    }
    assert_eq!(count_of("auth1", "post a"), 1);
    node.shutdown().await.unwrap();
}
