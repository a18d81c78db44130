//! Protobuf messages as method arguments and results (`goverse::Proto<M>`, `Codec::Protobuf`):
//! through the typed proxy, by name with one `google.protobuf.Any` as the request, with the JSON
//! `{"@type": …}` form, across two nodes of a real cluster, and every refused shape.

use std::time::Duration;

use goverse::prelude::*;
use goverse::{Codec, ErrorKind, Payload, Proto};
use goverse_tests::cluster_builder;
use goverse_tests::harness::Etcd;
use prost::Message as _;
use serde::{Deserialize, Serialize};

/// `bank.v1.DepositRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DepositRequest {
    /// How much to add.
    #[prost(int64, tag = "1")]
    pub amount: i64,
    /// Kept in the balance's notes.
    #[prost(string, tag = "2")]
    pub note: String,
}

impl prost::Name for DepositRequest {
    const NAME: &'static str = "DepositRequest";
    const PACKAGE: &'static str = "bank.v1";
}

/// `bank.v1.Balance`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Balance {
    /// The sum of the deposits.
    #[prost(int64, tag = "1")]
    pub value: i64,
    /// The deposits' notes, oldest first.
    #[prost(string, repeated, tag = "2")]
    pub notes: Vec<String>,
}

impl prost::Name for Balance {
    const NAME: &'static str = "Balance";
    const PACKAGE: &'static str = "bank.v1";
}

/// An object whose methods speak protobuf, next to plain ones.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Vault {
    value: i64,
    notes: Vec<String>,
    /// Calls that ran, whatever their codec: a refused call must not run.
    runs: i64,
}

impl Vault {
    fn balance_message(&self) -> Proto<Balance> {
        Proto(Balance {
            value: self.value,
            notes: self.notes.clone(),
        })
    }
}

#[goverse::object]
impl Vault {
    /// A message in, a message out.
    #[method]
    pub async fn deposit(&mut self, req: Proto<DepositRequest>) -> Proto<Balance> {
        self.runs += 1;
        self.value += req.amount;
        self.notes.push(req.note.clone());
        self.balance_message()
    }

    /// No parameters: called in protobuf with a `google.protobuf.Empty`.
    #[method]
    pub async fn balance(&self) -> Proto<Balance> {
        self.balance_message()
    }

    /// `()` result: answered in protobuf as a `google.protobuf.Empty`.
    #[method]
    pub async fn clear(&mut self, req: Proto<()>) {
        let Proto(()) = req;
        self.runs += 1;
        self.value = 0;
        self.notes.clear();
    }

    /// Fails with an application error.
    #[method]
    pub async fn refuse(&mut self, req: Proto<DepositRequest>) -> Result<Proto<Balance>, Error> {
        self.runs += 1;
        Err(Error::app(
            "refused",
            format!("no deposit of {}", req.amount),
        ))
    }

    /// A plain parameter: refused in protobuf.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.runs += 1;
        self.value += n;
        self.value
    }

    /// Two parameters: refused in protobuf.
    #[method]
    pub async fn transfer(&mut self, to: String, n: i64) -> i64 {
        self.runs += 1;
        let _ = to;
        self.value -= n;
        self.value
    }

    /// Takes a message but answers a plain number: refused in protobuf before it runs.
    #[method]
    pub async fn count(&mut self, req: Proto<DepositRequest>) -> i64 {
        let _ = req;
        self.runs += 1;
        self.runs
    }

    /// How many calls ran.
    #[method]
    pub async fn runs(&self) -> i64 {
        self.runs
    }
}

fn request(amount: i64, note: &str) -> DepositRequest {
    DepositRequest {
        amount,
        note: note.into(),
    }
}

fn any_of<M: prost::Message + prost::Name>(message: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", M::full_name()),
        value: message.encode_to_vec(),
    }
}

fn protobuf<M: prost::Message + prost::Name>(message: &M) -> Payload {
    Payload::new(Codec::Protobuf, any_of(message).encode_to_vec())
}

/// The reply of a protobuf call: a protobuf payload holding an Any of `M`.
fn unpack<M: prost::Message + prost::Name + Default>(reply: &Payload) -> M {
    assert_eq!(reply.codec, Codec::Protobuf);
    let any = prost_types::Any::decode(&reply.bytes[..]).expect("the reply is an Any");
    assert_eq!(
        any.type_url,
        format!("type.googleapis.com/{}", M::full_name())
    );
    M::decode(&any.value[..]).expect("the Any holds the message")
}

async fn by_name(node: &Node, id: &str, method: &str, args: Payload) -> goverse::Result<Payload> {
    node.call_by_name("Vault", id, method, args).await
}

#[tokio::test]
async fn the_typed_proxy_passes_messages() {
    let node = Node::builder().start().await.unwrap();
    let vault = node.object::<Vault>("typed");
    let balance = vault.deposit(Proto(request(5, "first"))).await.unwrap();
    assert_eq!(balance.value, 5);
    assert_eq!(balance.notes, ["first"]);
    assert_eq!(vault.balance().await.unwrap().value, 5);
    vault.clear(Proto(())).await.unwrap();
    assert_eq!(
        vault.balance().await.unwrap().into_inner(),
        Balance::default()
    );
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_protobuf_request_gets_a_protobuf_response() {
    let node = Node::builder().start().await.unwrap();
    let reply = by_name(&node, "any", "deposit", protobuf(&request(7, "gate")))
        .await
        .unwrap();
    let balance: Balance = unpack(&reply);
    assert_eq!(balance.value, 7);
    assert_eq!(balance.notes, ["gate"]);
    // The same reply read through the codec.
    assert_eq!(
        reply.decode::<Proto<Balance>>("the result").unwrap().value,
        7
    );

    // A method without parameters takes a google.protobuf.Empty.
    let reply = by_name(&node, "any", "balance", protobuf(&()))
        .await
        .unwrap();
    assert_eq!(unpack::<Balance>(&reply).value, 7);

    // A `()` result comes back as a google.protobuf.Empty.
    let reply = by_name(&node, "any", "clear", protobuf(&())).await.unwrap();
    unpack::<()>(&reply);
    reply.decode::<()>("the result").unwrap();
    assert_eq!(
        node.object::<Vault>("any").balance().await.unwrap().value,
        0
    );

    // An application error keeps its code.
    let err = by_name(&node, "any", "refuse", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::App);
    assert_eq!(err.code(), Some("refused"));
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn json_carries_the_any_with_its_type() {
    let node = Node::builder().start().await.unwrap();
    let value = base64_of(&request(3, "json").encode_to_vec());
    let args = format!(
        r#"{{"req": {{"@type": "type.googleapis.com/bank.v1.DepositRequest", "value": "{value}"}}}}"#
    );
    let reply = by_name(&node, "json", "deposit", Payload::new(Codec::Json, args))
        .await
        .unwrap();
    assert_eq!(reply.codec, Codec::Json);
    let json: serde_json::Value = serde_json::from_slice(&reply.bytes).unwrap();
    assert_eq!(json["@type"], "type.googleapis.com/bank.v1.Balance");
    let balance = reply.decode::<Proto<Balance>>("the result").unwrap();
    assert_eq!(balance.value, 3);
    assert_eq!(json["value"], base64_of(&balance.encode_to_vec()));

    // A type URL that names another message is refused with both URLs.
    let args = r#"{"req": {"@type": "type.googleapis.com/bank.v1.Balance", "value": ""}}"#;
    let err = by_name(&node, "json", "deposit", Payload::new(Codec::Json, args))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message()
            .contains("`type.googleapis.com/bank.v1.DepositRequest`")
            && err
                .message()
                .contains("`type.googleapis.com/bank.v1.Balance`"),
        "{err}"
    );

    // MessagePack carries the same form, the message as `bin`.
    #[derive(Serialize)]
    struct DepositArgs {
        req: Proto<DepositRequest>,
    }
    let args = Codec::MsgPack
        .encode(&DepositArgs {
            req: Proto(request(1, "msgpack")),
        })
        .unwrap();
    let reply = by_name(&node, "json", "deposit", args).await.unwrap();
    assert_eq!(reply.codec, Codec::MsgPack);
    assert_eq!(
        reply.decode::<Proto<Balance>>("the result").unwrap().value,
        4
    );
    node.shutdown().await.unwrap();
}

/// Standard base64 with padding, as the JSON form writes it.
fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn refused_shapes_are_invalid_arguments_and_do_not_run() {
    let node = Node::builder().start().await.unwrap();
    let check = |err: goverse::Error, needle: &str| {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.message().contains(needle), "{err}");
    };

    // Two parameters.
    let err = by_name(&node, "refused", "transfer", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    check(
        err,
        "method Vault.transfer takes 2 arguments; a protobuf request carries exactly one \
         message, so the method must take a single `Proto<M>`",
    );
    // One parameter that is not a message.
    let err = by_name(&node, "refused", "add", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    check(err, "argument `n` is an i64, not a protobuf message");
    // The wrong message: both type URLs are named.
    let err = by_name(&node, "refused", "deposit", protobuf(&Balance::default()))
        .await
        .unwrap_err();
    check(err, "type.googleapis.com/bank.v1.DepositRequest");
    check(
        by_name(&node, "refused", "deposit", protobuf(&Balance::default()))
            .await
            .unwrap_err(),
        "type.googleapis.com/bank.v1.Balance",
    );
    // A method without parameters called with a message.
    let err = by_name(&node, "refused", "balance", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    check(err, "must be a google.protobuf.Empty");
    // A result that is not a message: refused before the method runs.
    let err = by_name(&node, "refused", "count", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    check(
        err,
        "method Vault.count returns `i64`, which cannot travel as protobuf",
    );
    check(
        by_name(&node, "refused", "count", protobuf(&request(1, "x")))
            .await
            .unwrap_err(),
        "JSON or MessagePack",
    );
    // Bytes that are not an Any.
    let err = by_name(
        &node,
        "refused",
        "deposit",
        Payload::new(Codec::Protobuf, vec![0xff, 0xff, 0xff]),
    )
    .await
    .unwrap_err();
    check(err, "not a google.protobuf.Any");

    assert_eq!(node.object::<Vault>("refused").runs().await.unwrap(), 0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protobuf_payloads_cross_nodes() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/proto";
    let start = |id: &'static str| {
        cluster_builder(&etcd, prefix, id, 16)
            .stability_window(Duration::from_millis(300))
            .call_timeout(Duration::from_secs(20))
            .start()
    };
    let n1 = start("n1").await.expect("n1 starts");
    let n2 = start("n2").await.expect("n2 starts");
    for node in [&n1, &n2] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while node.cluster_view().nodes.len() != 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "membership converges"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }

    // Pinned to n2, called from n1: the Any crosses the gRPC transport both ways.
    let id = format!("{}/vault", n2.address().unwrap());
    let reply = by_name(&n1, &id, "deposit", protobuf(&request(4, "remote")))
        .await
        .unwrap();
    assert_eq!(unpack::<Balance>(&reply).value, 4);
    let reply = by_name(&n1, &id, "clear", protobuf(&())).await.unwrap();
    unpack::<()>(&reply);

    // The typed proxy carries the message in MessagePack (the Any form).
    let balance = n1
        .object::<Vault>(&id)
        .deposit(Proto(request(2, "typed")))
        .await
        .unwrap();
    assert_eq!(balance.value, 2);
    assert_eq!(balance.notes, ["typed"]);

    // Errors from the remote decoder keep their kind and message.
    let err = by_name(&n1, &id, "add", protobuf(&request(1, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("argument `n` is an i64"), "{err}");

    assert!(
        n2.list_objects().iter().any(|key| key.id() == id),
        "the object lives on n2"
    );
    assert!(!n1.list_objects().iter().any(|key| key.id() == id));
    for node in [n1, n2] {
        node.shutdown().await.unwrap();
    }
}
