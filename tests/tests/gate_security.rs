//! The gate's security over real sockets: access rules (REJECT / INTERNAL / EXTERNAL / ALLOW,
//! no match = deny) over gRPC, GoVerse HTTP and JSON HTTP, for plain and reliable calls, on an
//! embedded gate and through a gate to a remote node; lifecycle rules; rate limits per client and
//! per object type; API-key and bearer authentication (SSE `access_token` included) and
//! `require_authentication`; the caller a remote method sees; client ids that cannot be borrowed
//! or guessed; the deadline for a trickled request body; and the streams one gRPC connection may
//! hold.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use goverse::access::{Access, AccessRule, LifecycleRule};
use goverse::gate::{ApiKeys, Authenticator, BearerTokens, FirstOf, GateConfig};
use goverse::limits::RateLimit;
use goverse::prelude::*;
use goverse::{Database, NodeBuilder};
use goverse_tests::harness::Etcd;
use goverse_tests::{cluster_builder, count_of, poll, record, wait_until};
use prost::Message as _;
use prost_types::Any;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tonic::Code;

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod gate {
    tonic::include_proto!("gate");
}

type Grpc = gate::gate_service_client::GateServiceClient<tonic::transport::Channel>;

// ---------------------------------------------------------------------------------------------
// The object and the rules

/// Who called a method, as the method saw it, and where it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// `ctx.caller().client_id`.
    pub client: Option<String>,
    /// `ctx.caller().identity`.
    pub identity: Option<String>,
    /// The node the method ran on.
    pub node: String,
}

/// One method per access level; each records `ran <method>` when it runs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Vault;

#[goverse::object]
impl Vault {
    /// ALLOW.
    #[method]
    pub async fn open(&self, ctx: &Context) -> u32 {
        record(ctx.object_id(), "ran open");
        1
    }

    /// EXTERNAL: clients only.
    #[method]
    pub async fn peek(&self, ctx: &Context) -> u32 {
        record(ctx.object_id(), "ran peek");
        2
    }

    /// INTERNAL: objects and nodes only.
    #[method]
    pub async fn audit(&self, ctx: &Context) -> u32 {
        record(ctx.object_id(), "ran audit");
        3
    }

    /// REJECT.
    #[method]
    pub async fn burn(&self, ctx: &Context) -> u32 {
        record(ctx.object_id(), "ran burn");
        4
    }

    /// No rule names it: denied.
    #[method]
    pub async fn secret(&self, ctx: &Context) -> u32 {
        record(ctx.object_id(), "ran secret");
        5
    }

    /// ALLOW: calls `method` on vault `target`, object to object; `ok` or the error's kind.
    #[method]
    pub async fn relay(&self, ctx: &Context, target: String, method: String) -> String {
        let vault = ctx.object::<Vault>(&target);
        let result = match method.as_str() {
            "peek" => vault.peek().await,
            _ => vault.audit().await,
        };
        match result {
            Ok(_) => "ok".to_string(),
            Err(error) => format!("{:?}", error.kind()),
        }
    }

    /// ALLOW: the caller and the node.
    #[method]
    pub async fn whoami(&self, ctx: &Context) -> Who {
        Who {
            client: ctx.caller().and_then(|caller| caller.client_id.clone()),
            identity: ctx.caller().and_then(|caller| caller.identity.clone()),
            node: ctx.node_id().to_string(),
        }
    }
}

/// Every access level on `Vault`'s methods; `Counter` open to all (for per-type limits).
/// Lifecycle: vaults `sealed-*` are created by the cluster only, `tmp-*` may be deleted by
/// clients; other deletes keep the default (internal only).
fn secured(builder: NodeBuilder) -> NodeBuilder {
    builder
        .access_rules([
            AccessRule::new("Vault", Access::Allow).method("/open|relay|whoami/"),
            AccessRule::new("Vault", Access::External).method("peek"),
            AccessRule::new("Vault", Access::Internal).method("audit"),
            AccessRule::new("Vault", Access::Reject).method("burn"),
            AccessRule::new("Counter", Access::Allow),
        ])
        .lifecycle_rules([
            LifecycleRule::new("Vault", "CREATE", Access::Internal).id("/sealed-.*/"),
            LifecycleRule::new("Vault", "DELETE", Access::External).id("/tmp-.*/"),
        ])
}

/// `(method, may a client call it)`, every level and the unmatched method.
const LEVELS: [(&str, bool); 5] = [
    ("open", true),
    ("peek", true),
    ("audit", false),
    ("burn", false),
    ("secret", false),
];

// ---------------------------------------------------------------------------------------------
// Credentials and the three APIs

/// The credentials a request carries.
#[derive(Debug, Clone, Copy)]
enum Creds {
    Anonymous,
    Key(&'static str),
    Bearer(&'static str),
}

impl Creds {
    /// The header proving them, if any.
    fn header(self) -> Option<(&'static str, String)> {
        match self {
            Creds::Anonymous => None,
            Creds::Key(key) => Some(("x-api-key", key.to_string())),
            Creds::Bearer(token) => Some(("authorization", format!("Bearer {token}"))),
        }
    }

    fn http(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.header() {
            Some((name, value)) => request.header(name, value),
            None => request,
        }
    }

    fn grpc<T>(self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some((name, value)) = self.header() {
            request
                .metadata_mut()
                .insert(name, value.parse().expect("valid metadata"));
        }
        request
    }
}

/// `alice` by API key, `bob` by bearer token, and a few more keys for the rate-limit test.
fn authenticator() -> Arc<dyn Authenticator> {
    Arc::new(FirstOf(vec![
        Arc::new(ApiKeys::new([
            ("k-alice", "alice"),
            ("k-carol", "carol"),
            ("k-dave", "dave"),
        ])),
        Arc::new(BearerTokens::new([("t-bob", "bob")])),
    ]))
}

/// A gate's HTTP base URL and a gRPC client connected to it.
struct Gate {
    base: String,
    grpc: Grpc,
}

impl Gate {
    async fn of(node: &Node) -> Gate {
        let http = node.gate_http_address().expect("the gate serves HTTP");
        let grpc = node.gate_grpc_address().expect("the gate serves gRPC");
        Gate {
            base: format!("http://{http}"),
            grpc: Grpc::connect(format!("http://{grpc}"))
                .await
                .expect("the gate accepts gRPC connections"),
        }
    }
}

/// A node with rules and an embedded gate configured by `config`.
async fn gate_node(config: GateConfig) -> (Node, Gate) {
    let node = secured(Node::builder())
        .database(Database::memory())
        .gate(config)
        .start()
        .await
        .expect("the node starts");
    let gate = Gate::of(&node).await;
    (node, gate)
}

/// An HTTP answer: its status, `Retry-After` and JSON body.
#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the gate answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().expect("whole seconds"));
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Reply {
        status,
        retry_after,
        body,
    }
}

fn json_any(value: &Value) -> Any {
    Any {
        type_url: "type.goverse.dev/json".into(),
        value: value.to_string().into_bytes(),
    }
}

fn json_of(any: &Any) -> Value {
    assert_eq!(any.type_url, "type.goverse.dev/json");
    serde_json::from_slice(&any.value).expect("a JSON value")
}

/// `POST /v1/objects/{type}/{id}/{method}` with named JSON arguments.
async fn json_call(gate: &Gate, creds: Creds, client_id: Option<&str>, path: &str) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/objects/{path}", gate.base))
        .json(&json!({}));
    if let Some(client_id) = client_id {
        request = request.header("X-Client-ID", client_id);
    }
    send(creds.http(request)).await
}

/// `POST /api/v1/objects/call/{type}/{id}/{method}` with a JSON `Any`; a 200's response is
/// decoded back to JSON.
async fn goverse_call(gate: &Gate, creds: Creds, path: &str) -> Reply {
    let any = json_any(&json!({}));
    let request = reqwest::Client::new()
        .post(format!("{}/api/v1/objects/call/{path}", gate.base))
        .json(&json!({ "request": STANDARD.encode(any.encode_to_vec()) }));
    let mut reply = send(creds.http(request)).await;
    if reply.status == 200 {
        let bytes = STANDARD
            .decode(reply.body["response"].as_str().unwrap())
            .unwrap();
        reply.body = json_of(&Any::decode(&bytes[..]).unwrap());
    }
    reply
}

/// `CallObject` with empty JSON arguments.
async fn grpc_call(
    gate: &Gate,
    creds: Creds,
    client_id: &str,
    type_name: &str,
    id: &str,
    method: &str,
) -> Result<Value, tonic::Status> {
    let request = creds.grpc(gate::CallObjectRequest {
        client_id: client_id.into(),
        r#type: type_name.into(),
        id: id.into(),
        method: method.into(),
        request: Some(json_any(&json!({}))),
    });
    let response = gate.grpc.clone().call_object(request).await?;
    Ok(json_of(&response.into_inner().response.unwrap()))
}

/// `ReliableCallObject` on a vault with empty JSON arguments.
async fn grpc_reliable(
    gate: &Gate,
    call_id: &str,
    id: &str,
    method: &str,
) -> Result<gate::ReliableCallObjectResponse, tonic::Status> {
    let request = tonic::Request::new(gate::ReliableCallObjectRequest {
        call_id: call_id.into(),
        r#type: "Vault".into(),
        id: id.into(),
        method: method.into(),
        request: Some(json_any(&json!({}))),
    });
    Ok(gate
        .grpc
        .clone()
        .reliable_call_object(request)
        .await?
        .into_inner())
}

/// Asserts a reliable call was refused by the access rules and did not run: answered in-band
/// `SKIPPED`, or with the status `PERMISSION_DENIED`.
fn assert_reliable_denied(
    result: Result<gate::ReliableCallObjectResponse, tonic::Status>,
    method: &str,
) {
    match result {
        Ok(reply) => {
            assert_eq!(reply.status, "SKIPPED", "{method}: {reply:?}");
            assert!(reply.error.contains("may not call"), "{method}: {reply:?}");
        }
        Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{status:?}"),
    }
}

/// Asserts that gRPC refused with `code`, naming `needle`.
fn assert_status<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, needle: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(needle), "{status:?}");
}

/// Asserts a 403 in GoVerse's (`{"error", "code": "ACCESS_DENIED"}`) or the JSON API's
/// (`{"error": {"kind": "PermissionDenied"}}`) form, naming `needle`.
fn assert_forbidden(reply: &Reply, needle: &str) {
    assert_eq!(reply.status, 403, "{reply:?}");
    let message = match &reply.body["error"] {
        Value::String(message) => {
            assert_eq!(reply.body["code"], "ACCESS_DENIED", "{reply:?}");
            message.clone()
        }
        error => {
            assert_eq!(error["kind"], "PermissionDenied", "{reply:?}");
            error["message"].as_str().unwrap().to_string()
        }
    };
    assert!(message.contains(needle), "{reply:?}");
}

/// Opens `GET /api/v1/events/stream` (with `query`); the status, and the registered client id
/// (with the open stream, which keeps it registered) on a 200.
async fn open_stream(
    gate: &Gate,
    creds: Creds,
    query: &str,
) -> (u16, Option<(String, reqwest::Response)>) {
    let request = reqwest::Client::new().get(format!("{}/api/v1/events/stream{query}", gate.base));
    let mut response = creds.http(request).send().await.expect("the gate answers");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the register event within 10 s")
            .unwrap()
            .expect("the stream is open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .expect("the register event has data");
    let id = serde_json::from_str::<Value>(data.trim()).unwrap()["clientId"]
        .as_str()
        .unwrap()
        .to_string();
    (status, Some((id, response)))
}

/// Registers on the gRPC gate; the client id and the open stream.
async fn grpc_register(gate: &Gate, creds: Creds) -> (String, tonic::Streaming<Any>) {
    let mut stream = gate
        .grpc
        .clone()
        .register(creds.grpc(gate::Empty {}))
        .await
        .expect("registers")
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the first message within 10 s")
        .unwrap()
        .expect("the stream is open");
    let id = gate::RegisterResponse::decode(&first.value[..])
        .unwrap()
        .client_id;
    (id, stream)
}

// ---------------------------------------------------------------------------------------------
// Access rules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_access_level_over_grpc_goverse_http_and_json_http() {
    let (node, gate) = gate_node(GateConfig::default()).await;
    let id = "levels";
    for (method, allowed) in LEVELS {
        let needle = format!("may not call Vault.{method}");
        // Anonymous on every API: EXTERNAL is a client's level even with no identity.
        let grpc = grpc_call(&gate, Creds::Anonymous, "", "Vault", id, method).await;
        let goverse = goverse_call(&gate, Creds::Anonymous, &format!("Vault/{id}/{method}")).await;
        let native = json_call(
            &gate,
            Creds::Anonymous,
            None,
            &format!("Vault/{id}/{method}"),
        )
        .await;
        if allowed {
            assert!(grpc.is_ok(), "{method}: {grpc:?}");
            assert_eq!(goverse.status, 200, "{method}: {goverse:?}");
            assert_eq!(native.status, 200, "{method}: {native:?}");
            assert_eq!(count_of(id, &format!("ran {method}")), 3);
        } else {
            assert_status(grpc, Code::PermissionDenied, &needle);
            assert_forbidden(&goverse, &needle);
            assert_forbidden(&native, &needle);
            assert_eq!(count_of(id, &format!("ran {method}")), 0);
        }
    }
    // The node's own code is internal: INTERNAL passes, EXTERNAL does not.
    let vault = node.object::<Vault>(id);
    assert_eq!(vault.audit().await.unwrap(), 3);
    let error = vault.peek().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_calls_obey_the_access_rules() {
    let (node, gate) = gate_node(GateConfig::default()).await;
    let id = "reliable";
    for (method, allowed) in LEVELS {
        let result = grpc_reliable(&gate, &format!("grpc-{method}"), id, method).await;
        let request = reqwest::Client::new()
            .post(format!("{}/v1/objects/Vault/{id}/{method}", gate.base))
            .header("Idempotency-Key", format!("http-{method}"))
            .json(&json!({}));
        let http = send(request).await;
        if allowed {
            let reply = result.expect("answered");
            assert_eq!(reply.status, "SUCCESS", "{method}: {reply:?}");
            assert_eq!(http.status, 200, "{method}: {http:?}");
            assert_eq!(count_of(id, &format!("ran {method}")), 2);
        } else {
            assert_reliable_denied(result, method);
            assert_forbidden(&http, &format!("may not call Vault.{method}"));
            assert_eq!(count_of(id, &format!("ran {method}")), 0);
        }
    }
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_rules_on_create_and_delete() {
    let (node, gate) = gate_node(GateConfig::default()).await;
    let mut grpc = gate.grpc.clone();
    let create = |id: &str| gate::CreateObjectRequest {
        r#type: "Vault".into(),
        id: id.into(),
    };
    let delete = |id: &str| gate::DeleteObjectRequest {
        r#type: "Vault".into(),
        id: id.into(),
    };
    // CREATE: sealed-* is internal only; others are allowed.
    assert_status(
        grpc.create_object(create("sealed-g")).await,
        Code::PermissionDenied,
        "may not create object `sealed-g`",
    );
    grpc.create_object(create("plain-g")).await.unwrap();
    grpc.create_object(create("tmp-g")).await.unwrap();
    // DELETE: tmp-* is EXTERNAL; the default is internal only.
    assert_status(
        grpc.delete_object(delete("plain-g")).await,
        Code::PermissionDenied,
        "may not delete object `plain-g`",
    );
    grpc.delete_object(delete("tmp-g")).await.unwrap();

    let http = reqwest::Client::new();
    let goverse = |op: &str, id: &str| {
        send(http.post(format!("{}/api/v1/objects/{op}/Vault/{id}", gate.base)))
    };
    assert_forbidden(&goverse("create", "sealed-h").await, "may not create");
    assert_eq!(goverse("create", "tmp-h").await.status, 200);
    assert_forbidden(&goverse("delete", "plain-g").await, "may not delete");
    assert_eq!(goverse("delete", "tmp-h").await.status, 200);
    let native = |id: &str| format!("{}/v1/objects/Vault/{id}", gate.base);
    assert_forbidden(&send(http.post(native("sealed-j"))).await, "may not create");
    assert_eq!(send(http.post(native("tmp-j"))).await.status, 200);
    assert_forbidden(
        &send(http.delete(native("plain-g"))).await,
        "may not delete",
    );
    assert_eq!(send(http.delete(native("tmp-j"))).await.status, 200);
    // Calling a vault that is not active creates it: the CREATE rule applies to the call.
    let reply = json_call(&gate, Creds::Anonymous, None, "Vault/sealed-k/open").await;
    assert_forbidden(&reply, "may not create");
    assert_eq!(count_of("sealed-k", "ran open"), 0);
    // The node itself may create it.
    node.create::<Vault>("sealed-k").await.unwrap();
    assert_eq!(
        json_call(&gate, Creds::Anonymous, None, "Vault/sealed-k/open")
            .await
            .status,
        200
    );
    node.shutdown().await.unwrap();
}

/// A gate node `n1` and a plain node `n2` in one etcd cluster, both with the rules; the gate
/// knows `alice` (API key) and `bob` (bearer), and admits anonymous clients.
async fn cluster(etcd: &Etcd, test: &str) -> (Node, Node, Gate) {
    let prefix = format!("/goverse-test/gate-security-{test}");
    let start = |id: &str, gate: bool| {
        let builder = secured(cluster_builder(etcd, &prefix, id, 16))
            .stability_window(Duration::from_millis(300))
            .database(Database::memory());
        if gate {
            builder.gate(GateConfig {
                authenticator: Some(authenticator()),
                ..GateConfig::default()
            })
        } else {
            builder
        }
        .start()
    };
    let n1 = start("n1", true).await.expect("n1 starts");
    let n2 = start("n2", false).await.expect("n2 starts");
    for node in [&n1, &n2] {
        wait_until("both nodes are members", Duration::from_secs(30), || {
            node.cluster_view().nodes.len() == 2
        })
        .await;
        node.wait_ready(Duration::from_secs(30))
            .await
            .expect("ready");
    }
    let gate = Gate::of(&n1).await;
    (n1, n2, gate)
}

/// The id of a vault that `node` runs, found by asking vaults where they run (through the
/// gate).
async fn vault_on(gate: &Gate, node: &str, prefix: &str) -> String {
    for i in 0..200 {
        let id = format!("{prefix}-{i}");
        let reply = json_call(gate, Creds::Anonymous, None, &format!("Vault/{id}/whoami")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        if reply.body["node"] == node {
            return id;
        }
    }
    panic!("no vault landed on {node}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_remote_node_judges_gate_calls_as_the_clients_and_object_calls_as_internal() {
    let etcd = Etcd::start_async().await;
    let (n1, n2, gate) = cluster(&etcd, "origin").await;
    let remote = vault_on(&gate, "n2", "far").await;
    let relay = vault_on(&gate, "n1", "near").await;

    // Anonymous clients through the gate: EXTERNAL passes the remote node's check too.
    let peek = format!("Vault/{remote}/peek");
    assert_eq!(
        json_call(&gate, Creds::Anonymous, None, &peek).await.body,
        json!(2)
    );
    assert_eq!(
        goverse_call(&gate, Creds::Anonymous, &peek).await.body,
        json!(2)
    );
    let grpc = grpc_call(&gate, Creds::Anonymous, "", "Vault", &remote, "peek").await;
    assert_eq!(grpc.unwrap(), json!(2));
    let reliable = grpc_reliable(&gate, "far-peek", &remote, "peek")
        .await
        .unwrap();
    assert_eq!(reliable.status, "SUCCESS", "{reliable:?}");
    assert_eq!(count_of(&remote, "ran peek"), 4);
    // INTERNAL is refused to them.
    let reply = json_call(
        &gate,
        Creds::Anonymous,
        None,
        &format!("Vault/{remote}/audit"),
    )
    .await;
    assert_forbidden(&reply, "may not call Vault.audit");

    // A vault on n1 called by a client calls the vault on n2: that call is internal, although
    // it carries the client along, so EXTERNAL refuses it and INTERNAL admits it.
    for (creds, method, expected) in [
        (Creds::Anonymous, "peek", "PermissionDenied"),
        (Creds::Key("k-alice"), "peek", "PermissionDenied"),
        (Creds::Anonymous, "audit", "ok"),
    ] {
        let request = reqwest::Client::new()
            .post(format!("{}/v1/objects/Vault/{relay}/relay", gate.base))
            .json(&json!({ "target": remote, "method": method }));
        let reply = send(creds.http(request)).await;
        assert_eq!(
            (reply.status, &reply.body),
            (200, &json!(expected)),
            "{creds:?} {method}"
        );
    }
    assert_eq!(count_of(&remote, "ran peek"), 4);
    assert_eq!(count_of(&remote, "ran audit"), 1);
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_method_on_a_remote_node_sees_the_gate_client_and_its_identity() {
    let etcd = Etcd::start_async().await;
    let (n1, n2, gate) = cluster(&etcd, "caller").await;
    let remote = vault_on(&gate, "n2", "who").await;
    let whoami = format!("Vault/{remote}/whoami");

    // An SSE client with an API key, calling with its id.
    let (_, stream) = open_stream(&gate, Creds::Key("k-alice"), "").await;
    let (alice, _stream) = stream.expect("registered");
    let reply = json_call(&gate, Creds::Key("k-alice"), Some(&alice), &whoami).await;
    let who: Who = serde_json::from_value(reply.body).unwrap();
    assert_eq!(
        who,
        Who {
            client: Some(alice.clone()),
            identity: Some("alice".into()),
            node: "n2".into(),
        }
    );
    // A gRPC client with a bearer token.
    let (bob, _pushes) = grpc_register(&gate, Creds::Bearer("t-bob")).await;
    let value = grpc_call(
        &gate,
        Creds::Bearer("t-bob"),
        &bob,
        "Vault",
        &remote,
        "whoami",
    )
    .await
    .unwrap();
    let who: Who = serde_json::from_value(value).unwrap();
    assert_eq!(
        (
            who.client.as_deref(),
            who.identity.as_deref(),
            who.node.as_str()
        ),
        (Some(bob.as_str()), Some("bob"), "n2")
    );
    // The identity alone, without a client id.
    let reply = goverse_call(&gate, Creds::Key("k-alice"), &whoami).await;
    let who: Who = serde_json::from_value(reply.body).unwrap();
    assert_eq!((who.client, who.identity.as_deref()), (None, Some("alice")));
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_client_and_per_type() {
    // Tokens come back every 20 s: nothing refills while the test runs.
    let (node, gate) = gate_node(GateConfig {
        authenticator: Some(authenticator()),
        rate_limits: vec![
            RateLimit::per_client(0.05, 2),
            RateLimit::per_type("Counter", 0.05, 1),
        ],
        ..GateConfig::default()
    })
    .await;
    let alice = Creds::Key("k-alice");
    assert_eq!(
        goverse_call(&gate, alice, "Vault/rl/open").await.status,
        200
    );
    assert_eq!(
        json_call(&gate, alice, None, "Vault/rl/open").await.status,
        200
    );
    // Alice's bucket is empty on every API (they share it): 429 with Retry-After, or
    // RESOURCE_EXHAUSTED with the hint in the message.
    let native = json_call(&gate, alice, None, "Vault/rl/open").await;
    assert_eq!(native.status, 429, "{native:?}");
    assert_eq!(native.body["error"]["kind"], "ResourceExhausted");
    assert!(matches!(native.retry_after, Some(1..=20)), "{native:?}");
    let goverse = goverse_call(&gate, alice, "Vault/rl/open").await;
    assert_eq!(
        (goverse.status, goverse.body["code"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED")),
        "{goverse:?}"
    );
    assert!(matches!(goverse.retry_after, Some(1..=20)), "{goverse:?}");
    let grpc = grpc_call(&gate, alice, "", "Vault", "rl", "open").await;
    assert_status(grpc, Code::ResourceExhausted, "retry after ");
    assert_eq!(count_of("rl", "ran open"), 2);

    // Per type: one Counter call for everybody; carol's own bucket is full but still refused.
    let bob = Creds::Bearer("t-bob");
    assert_eq!(
        json_call(&gate, bob, None, "Counter/rl/get").await.status,
        200
    );
    let carol = json_call(&gate, Creds::Key("k-carol"), None, "Counter/rl/get").await;
    assert_eq!(carol.status, 429, "{carol:?}");
    assert!(
        carol.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("to Counter"),
        "{carol:?}"
    );
    assert_eq!(
        json_call(&gate, Creds::Key("k-carol"), None, "Vault/rl/open")
            .await
            .status,
        200
    );

    // Opening event streams counts against the client's bucket too.
    let dave = Creds::Key("k-dave");
    let (_, first) = open_stream(&gate, dave, "").await;
    let (_, second) = open_stream(&gate, dave, "").await;
    assert!(first.is_some() && second.is_some());
    assert_eq!(open_stream(&gate, dave, "").await.0, 429);

    // Anonymous clients count by address, not by client id: a new event stream (so a new id)
    // brings no new bucket.
    let (_, stream) = open_stream(&gate, Creds::Anonymous, "").await;
    let (client_id, _stream) = stream.expect("the first anonymous stream opens");
    let call = json_call(
        &gate,
        Creds::Anonymous,
        Some(&client_id),
        "Vault/rl-anon/open",
    )
    .await;
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(open_stream(&gate, Creds::Anonymous, "").await.0, 429);
    let call = json_call(
        &gate,
        Creds::Anonymous,
        Some(&client_id),
        "Vault/rl-anon/open",
    )
    .await;
    assert_eq!(call.status, 429, "{call:?}");
    node.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Authentication and client ids

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_bearer_tokens_on_every_api_and_required_authentication() {
    let (node, gate) = gate_node(GateConfig {
        authenticator: Some(authenticator()),
        require_authentication: true,
        ..GateConfig::default()
    })
    .await;
    let whoami = "Vault/auth/whoami";
    for creds in [
        Creds::Anonymous,
        Creds::Key("k-wrong"),
        Creds::Bearer("t-wrong"),
    ] {
        let native = json_call(&gate, creds, None, whoami).await;
        assert_eq!(native.status, 401, "{creds:?}: {native:?}");
        assert_eq!(native.body["error"]["kind"], "Unauthenticated");
        let goverse = goverse_call(&gate, creds, whoami).await;
        assert_eq!(
            (goverse.status, goverse.body["code"].as_str()),
            (401, Some("UNAUTHENTICATED")),
            "{creds:?}"
        );
        let grpc = grpc_call(&gate, creds, "", "Vault", "auth", "whoami").await;
        assert_eq!(grpc.unwrap_err().code(), Code::Unauthenticated, "{creds:?}");
        let register = gate.grpc.clone().register(creds.grpc(gate::Empty {})).await;
        assert_eq!(
            register.unwrap_err().code(),
            Code::Unauthenticated,
            "{creds:?}"
        );
        assert_eq!(open_stream(&gate, creds, "").await.0, 401, "{creds:?}");
    }
    for (creds, identity) in [
        (Creds::Key("k-alice"), "alice"),
        (Creds::Bearer("t-bob"), "bob"),
    ] {
        let native = json_call(&gate, creds, None, whoami).await;
        assert_eq!(native.body["identity"], identity, "{native:?}");
        let goverse = goverse_call(&gate, creds, whoami).await;
        assert_eq!(goverse.body["identity"], identity, "{goverse:?}");
        let grpc = grpc_call(&gate, creds, "", "Vault", "auth", "whoami").await;
        assert_eq!(grpc.unwrap()["identity"], identity);
    }
    // A browser's EventSource sends the bearer token as `access_token`; its client id carries
    // the token's identity.
    let (status, stream) = open_stream(&gate, Creds::Anonymous, "?access_token=t-bob").await;
    assert_eq!(status, 200);
    let (bob, _stream) = stream.unwrap();
    let reply = json_call(&gate, Creds::Bearer("t-bob"), Some(&bob), whoami).await;
    assert_eq!(reply.body["client"], json!(bob), "{reply:?}");
    assert_eq!(
        open_stream(&gate, Creds::Anonymous, "?access_token=t-wrong")
            .await
            .0,
        401
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_act_under_another_clients_id() {
    let (node, gate) = gate_node(GateConfig {
        authenticator: Some(authenticator()),
        ..GateConfig::default()
    })
    .await;
    let whoami = "Vault/ids/whoami";
    let bob = Creds::Bearer("t-bob");
    // An SSE client of bob's: only bob's credentials may use its id.
    let (_, stream) = open_stream(&gate, bob, "").await;
    let (sse_id, _stream) = stream.unwrap();
    for creds in [Creds::Anonymous, Creds::Key("k-alice")] {
        let reply = json_call(&gate, creds, Some(&sse_id), whoami).await;
        assert_forbidden(&reply, "belongs to another identity");
    }
    let reply = json_call(&gate, bob, Some(&sse_id), whoami).await;
    assert_eq!(reply.body["client"], json!(sse_id), "{reply:?}");
    // The same for a gRPC client.
    let (grpc_id, _pushes) = grpc_register(&gate, bob).await;
    for creds in [Creds::Anonymous, Creds::Key("k-alice")] {
        let result = grpc_call(&gate, creds, &grpc_id, "Vault", "ids", "whoami").await;
        assert_status(result, Code::PermissionDenied, "another identity");
    }

    // Anonymous ids: unrelated past the gate address, so none can be derived from another.
    let (_, first) = open_stream(&gate, Creds::Anonymous, "").await;
    let (_, second) = open_stream(&gate, Creds::Anonymous, "").await;
    let (first, _first_stream) = first.unwrap();
    let (second, _second_stream) = second.unwrap();
    let unique = |id: &str| {
        let (address, unique) = id.rsplit_once('/').expect("<gate address>/<unique>");
        assert_eq!(address, sse_id.rsplit_once('/').unwrap().0);
        assert_eq!(unique.len(), 32, "{id}");
        u128::from_str_radix(unique, 16).expect("hex")
    };
    let differing = (unique(&first) ^ unique(&second)).count_ones();
    assert!(
        differing > 16,
        "{first} and {second} differ in {differing} bits"
    );
    // A neighbour of a real id is no id.
    let mut guess = second.clone();
    let last = guess.pop().unwrap();
    guess.push(if last == '0' { '1' } else { '0' });
    let reply = json_call(&gate, Creds::Anonymous, Some(&guess), whoami).await;
    assert_forbidden(&reply, "not connected to this gate");
    node.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Slow clients

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_at_the_body_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let deadline = Duration::from_millis(400);
    let (node, gate) = gate_node(GateConfig {
        body_read_timeout: deadline,
        ..GateConfig::default()
    })
    .await;
    let address: SocketAddr = gate.base.strip_prefix("http://").unwrap().parse().unwrap();
    for path in [
        "/v1/objects/Vault/slow/open",
        "/api/v1/objects/call/Vault/slow/open",
    ] {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        // 200 bytes announced, one sent every 20 ms: 4 s in all, each byte well within the idle
        // timeout.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n\
             Content-Length: 200\r\n\r\n"
        );
        write.write_all(head.as_bytes()).await.unwrap();
        let began = tokio::time::Instant::now();
        let trickle = tokio::spawn(async move {
            for _ in 0..200 {
                if write.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        // The answer, up to the code naming the problem (or the end of the connection).
        let mut response = Vec::new();
        let mut buffer = [0u8; 1024];
        while !String::from_utf8_lossy(&response).contains("BODY_TIMEOUT") {
            let n = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buffer))
                .await
                .expect("an answer within 10 s")
                .unwrap();
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..n]);
        }
        let elapsed = began.elapsed();
        let response = String::from_utf8_lossy(&response).to_string();
        assert!(response.starts_with("HTTP/1.1 408"), "{path}: {response}");
        assert!(response.contains("BODY_TIMEOUT"), "{path}: {response}");
        assert!(
            elapsed >= deadline && elapsed < Duration::from_secs(3),
            "{path}: answered after {elapsed:?}"
        );
        trickle.abort();
    }
    assert_eq!(count_of("slow", "ran open"), 0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_grpc_connection_holds_at_most_1024_streams() {
    let (node, gate) = gate_node(GateConfig::default()).await;
    let clients = || node.gate_stats().expect("a gate").clients;
    // 1024 `Register` streams on the one connection of `gate.grpc`.
    let mut streams = Vec::new();
    for _ in 0..1024 {
        streams.push(grpc_register(&gate, Creds::Anonymous).await);
    }
    assert_eq!(clients(), 1024);
    // The next one waits for a free stream: no answer, no registration.
    let mut grpc = gate.grpc.clone();
    let extra = tokio::spawn(async move { grpc.register(gate::Empty {}).await });
    let over = poll(Duration::from_millis(500), || {
        extra.is_finished() || clients() > 1024
    })
    .await;
    assert_eq!(over, None, "a 1025th stream was opened on one connection");
    // Closing one lets it in.
    drop(streams.pop());
    let _extra = tokio::time::timeout(Duration::from_secs(10), extra)
        .await
        .expect("the waiting stream opens once one closes")
        .unwrap()
        .expect("it registers");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_gate_refuses_new_clients_until_one_leaves() {
    let (node, gate) = gate_node(GateConfig {
        max_clients: 2,
        ..GateConfig::default()
    })
    .await;
    let (_first, first_stream) = grpc_register(&gate, Creds::Anonymous).await;
    let (_second, _second_stream) = open_stream(&gate, Creds::Anonymous, "").await.1.unwrap();
    // The third, over either API, is refused with the limit in the answer.
    let refused = gate
        .grpc
        .clone()
        .register(Creds::Anonymous.grpc(gate::Empty {}))
        .await;
    assert_status(
        refused,
        Code::ResourceExhausted,
        "maximum of 2 connected clients",
    );
    let (status, _) = open_stream(&gate, Creds::Anonymous, "").await;
    assert_eq!(status, 429);
    // The Rust client reports the gate's answer, not a bare timeout.
    let error = goverse::Client::builder()
        .gate(format!("http://{}", node.gate_grpc_address().unwrap()))
        .call_timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        goverse::ErrorKind::ResourceExhausted,
        "{error}"
    );
    // A client that leaves frees its place.
    drop(first_stream);
    wait_until("the first client is gone", Duration::from_secs(10), || {
        node.gate_stats().is_some_and(|stats| stats.clients < 2)
    })
    .await;
    grpc_register(&gate, Creds::Anonymous).await;
    node.shutdown().await.unwrap();
}
