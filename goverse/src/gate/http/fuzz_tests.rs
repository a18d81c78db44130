//! Fuzz test of GoVerse's HTTP call body, `{"request": "<base64 of a google.protobuf.Any>"}`,
//! in-process: [`CASES`] seeded bodies — valid ones, mutated JSON, mangled base64, Anys with
//! random type URLs and values, token soups and raw bytes — go through the gate's HTTP routes
//! (no socket) to `POST /api/v1/objects/call/{type}/{id}/{method}`, so the body's JSON, base64,
//! `Any` and payload decoding and the call behind them all run. Properties: no panic, and every
//! answer is `{"response": <base64>}` or GoVerse's error body `{"error", "code"}` with both
//! non-empty. Sockets and other routes are fuzzed in `tests/tests/gate_fuzz.rs`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use tower::Service as _;

use crate::codec::Codec;
use crate::gate::any::{JSON_TYPE_URL, MSGPACK_TYPE_URL};
use crate::gate::fuzz_tests::{
    CASES, FUZZED_IDS, FUZZED_METHODS, FUZZED_TYPES, Rng, socketless_gate_node,
};

/// A body for a call of `method`: often valid, often nearly so.
fn body(rng: &mut Rng, method: &str) -> Vec<u8> {
    let (type_url, codec) = match rng.below(4) {
        0 => (MSGPACK_TYPE_URL.to_string(), Codec::MsgPack),
        1 | 2 => (JSON_TYPE_URL.to_string(), Codec::Json),
        _ => (rng.type_url(), Codec::Protobuf),
    };
    let any = prost_types::Any {
        type_url,
        value: rng.fuzzed_args(method, codec),
    };
    let mut base64 = STANDARD.encode(any.encode_to_vec());
    if rng.chance(8) {
        base64 = String::from_utf8_lossy(&rng.mutate(base64.into_bytes())).into_owned();
    }
    let valid = serde_json::json!({ "request": base64 })
        .to_string()
        .into_bytes();
    match rng.below(8) {
        0 => rng.bytes(),
        1 => rng.json_soup(),
        2 | 3 => rng.mutate(valid),
        _ => valid,
    }
}

#[tokio::test]
async fn goverse_call_bodies_are_answered_precisely() {
    let node = socketless_gate_node().await;
    let mut app = super::router(node.gate_core().expect("a gate").clone());
    let mut rng = Rng::new(0x4854_5450_424f_4459);
    for case in 0..CASES {
        let method = rng.name(FUZZED_METHODS);
        let path = format!(
            "/api/v1/objects/call/{}/{}/{method}",
            rng.name(FUZZED_TYPES),
            rng.name(FUZZED_IDS),
        );
        let Ok(request) = Request::post(path).body(Body::from(body(&mut rng, &method))) else {
            continue; // random text that is no URI path: the HTTP parser refuses it first
        };
        let response = app.call(request).await.expect("the router never fails");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("case {case}: {status} with a body that is not JSON: {e}"));
        let precise = if status == StatusCode::OK {
            answer["response"].is_string()
        } else {
            [&answer["error"], &answer["code"]]
                .iter()
                .all(|field| field.as_str().is_some_and(|text| !text.is_empty()))
        };
        assert!(precise, "case {case}: {status} {answer}");
    }
    node.shutdown().await.unwrap();
}
