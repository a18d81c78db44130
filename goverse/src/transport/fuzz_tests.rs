//! Fuzz tests of the node-to-node messages (`goverse.v1`), in-process.
//!
//! A node receives `CallRequest`, `ObjectRequest` and `PushRequest` bytes from its peers: random
//! and mutated ones are decoded with prost and, when they decode, handed to the node service's
//! handlers — the payload and caller conversions (`payload_from_wire`, `caller_from_wire`), the
//! router, the object's argument decoding, reliable calls and the gate's client table. The
//! replies a calling node decodes (`CallReply` with its `ReliableOutcome` and `WireError`,
//! `OutcomeReply`, `PushReply`) get the same treatment. [`CASES`] seeded cases each; a failure
//! names its case. Properties: no panic; every request is answered with a reply, not a gRPC
//! status (the node has no cluster secret); an error in a reply names its problem and is the
//! request's fault, never `internal`.

use prost::Message as _;
use tonic::Request;

use super::proto::node_service_server::NodeService as _;
use super::proto::{self, call_reply};
use super::server::NodeServer;
use super::{TransportSecurity, outcome_from_wire};
use crate::Node;
use crate::codec::Codec;
use crate::error::Error;
use crate::gate::fuzz_tests::{
    CASES, FUZZED_IDS, FUZZED_METHODS, FUZZED_TYPES, Rng, socketless_gate_node,
};

/// A node with a gate (so pushes have a client table) that serves no sockets, and its node
/// service.
async fn node_and_server() -> (Node, NodeServer) {
    let node = socketless_gate_node().await;
    let server = NodeServer {
        router: node.router().clone(),
        check: TransportSecurity::default().checker(),
    };
    (node, server)
}

/// A wire payload: a codec's tag (or junk) and arguments for `method` in that codec.
fn payload(rng: &mut Rng, method: &str) -> proto::Payload {
    let codec = [Codec::MsgPack, Codec::Json, Codec::Protobuf][rng.below(3)];
    proto::Payload {
        codec: if rng.chance(10) {
            rng.next() as i32
        } else {
            proto::Codec::from(codec).into()
        },
        data: rng.fuzzed_args(method, codec).into(),
    }
}

/// `message`'s encoding, or random bytes, or a mutation of it.
fn wire_bytes(rng: &mut Rng, message: &impl prost::Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    match rng.below(4) {
        0 => rng.bytes(),
        1 => rng.mutate(bytes),
        _ => bytes,
    }
}

/// An error a node answered a fuzzed request with must name its problem and not be a bug.
fn check_reply_error(error: &proto::WireError, case: usize) {
    assert!(
        error.kind != "internal" && !error.message.is_empty(),
        "case {case}: an imprecise error in a reply: {error:?}"
    );
}

fn call_request(rng: &mut Rng) -> proto::CallRequest {
    let method = rng.name(FUZZED_METHODS);
    proto::CallRequest {
        r#type: rng.name(FUZZED_TYPES),
        id: rng.name(FUZZED_IDS),
        args: (!rng.chance(10)).then(|| payload(rng, &method)),
        method,
        chain: (0..rng.below(3))
            .map(|_| proto::ChainEntry {
                r#type: rng.name(FUZZED_TYPES),
                id: rng.name(FUZZED_IDS),
            })
            .collect(),
        caller: rng.chance(2).then(|| proto::Caller {
            client_id: rng.text(),
            identity: rng.text(),
        }),
        reliable_call_id: rng.chance(4).then(|| rng.text()),
        from_client: rng.chance(2),
        timeout_micros: match rng.below(4) {
            0 => 0,
            1 => rng.below(2_000) as u64,
            2 => rng.next(),
            _ => 5_000_000,
        },
    }
}

#[tokio::test]
async fn call_requests_are_answered_precisely() {
    let (node, server) = node_and_server().await;
    let mut rng = Rng::new(0x4341_4c4c_5245_5121);
    for case in 0..CASES {
        let request = call_request(&mut rng);
        let bytes = wire_bytes(&mut rng, &request);
        let Ok(request) = proto::CallRequest::decode(&bytes[..]) else {
            continue;
        };
        let reply = server
            .call(Request::new(request))
            .await
            .unwrap_or_else(|status| panic!("case {case}: a status instead of a reply: {status:?}"))
            .into_inner();
        match reply.outcome {
            Some(call_reply::Outcome::Error(error)) => check_reply_error(&error, case),
            Some(call_reply::Outcome::Reliable(outcome)) => {
                if let Some(error) = &outcome.error {
                    check_reply_error(error, case);
                }
                outcome_from_wire(outcome)
                    .unwrap_or_else(|e| panic!("case {case}: an unreadable outcome: {e}"));
            }
            Some(call_reply::Outcome::Result(_)) => {}
            None => panic!("case {case}: a reply without an outcome"),
        }
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn object_requests_are_answered_precisely() {
    let (node, server) = node_and_server().await;
    let mut rng = Rng::new(0x4f42_4a45_4354_5251);
    for case in 0..CASES {
        let request = proto::ObjectRequest {
            r#type: rng.name(FUZZED_TYPES),
            id: rng.name(FUZZED_IDS),
        };
        let bytes = wire_bytes(&mut rng, &request);
        let Ok(request) = proto::ObjectRequest::decode(&bytes[..]) else {
            continue;
        };
        let reply = if rng.chance(2) {
            server.create(Request::new(request)).await
        } else {
            server.delete(Request::new(request)).await
        };
        let reply = reply.unwrap_or_else(|status| {
            panic!("case {case}: a status instead of a reply: {status:?}")
        });
        if let Some(error) = &reply.get_ref().error {
            check_reply_error(error, case);
        }
    }
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn push_requests_are_answered_precisely() {
    let (node, server) = node_and_server().await;
    let core = node.gate_core().expect("the node runs a gate");
    // Two connected clients; nobody reads their queues, so they fill up and drop.
    let sessions = [
        core.register(None).expect("a client registers"),
        core.register(None).expect("a client registers"),
    ];
    let gate = node.node_id().to_string();
    let mut rng = Rng::new(0x5055_5348_5245_5121);
    for case in 0..CASES {
        let client_ids: Vec<String> = (0..rng.below(4))
            .map(|_| match rng.below(3) {
                0 => sessions[rng.below(2)].client_id.clone(),
                1 => format!("{gate}/{}", rng.text()),
                _ => rng.text(),
            })
            .collect();
        let request = proto::PushRequest {
            client_ids,
            message: (!rng.chance(10)).then(|| payload(&mut rng, "count")),
            broadcast: rng.chance(8),
        };
        let bytes = wire_bytes(&mut rng, &request);
        let Ok(request) = proto::PushRequest::decode(&bytes[..]) else {
            continue;
        };
        let (targets, broadcast) = (request.client_ids.len(), request.broadcast);
        let reply = server
            .push(Request::new(request))
            .await
            .unwrap_or_else(|status| panic!("case {case}: a status instead of a reply: {status:?}"))
            .into_inner();
        if let Some(error) = &reply.error {
            check_reply_error(error, case);
        } else if !broadcast {
            let answered = reply.delivered as usize + reply.unknown.len() + reply.dropped.len();
            assert_eq!(answered, targets, "case {case}: {reply:?}");
        }
    }
    node.shutdown().await.unwrap();
}

/// What a calling node decodes from a peer's replies: a value or an error, never a panic.
#[test]
fn replies_decode_or_fail() {
    let mut rng = Rng::new(0x5245_504c_4945_5321);
    for case in 0..CASES {
        let error = proto::WireError {
            kind: rng.name(&["not_found", "app", "internal", "timeout"]),
            code: rng.text(),
            message: rng.text(),
        };
        let outcome = match rng.below(4) {
            0 => call_reply::Outcome::Result(payload(&mut rng, "count")),
            1 => call_reply::Outcome::Error(error.clone()),
            _ => call_reply::Outcome::Reliable(proto::ReliableOutcome {
                status: rng.name(&["success", "failed", "skipped", "pending"]),
                result_json: rng.text(),
                error: rng.chance(2).then(|| error.clone()),
            }),
        };
        let bytes = wire_bytes(
            &mut rng,
            &proto::CallReply {
                outcome: Some(outcome),
            },
        );
        match proto::CallReply::decode(&bytes[..]).map(|reply| reply.outcome) {
            Ok(Some(call_reply::Outcome::Error(error))) => {
                let _ = Error::from(error);
            }
            Ok(Some(call_reply::Outcome::Reliable(outcome))) => {
                if let Err(error) = outcome_from_wire(outcome) {
                    assert!(!error.message().is_empty(), "case {case}");
                }
            }
            _ => {}
        }
        let push = proto::PushReply {
            delivered: rng.next() as u32,
            unknown: vec![rng.text()],
            dropped: vec![rng.text()],
            error: rng.chance(2).then_some(error),
        };
        let bytes = wire_bytes(&mut rng, &push);
        if let Ok(reply) = proto::PushReply::decode(&bytes[..]) {
            let _ = reply.error.map(Error::from);
        }
    }
}
