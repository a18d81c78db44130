//! GoVerse's HTTP API, unchanged for its clients: `POST /api/v1/objects/call/{type}/{id}/{method}`,
//! `.../create/{type}/{id}`, `.../delete/{type}/{id}` and the server-sent events of
//! `GET /api/v1/events/stream`.
//!
//! Fixed defects of GoVerse's: ids may contain any character (percent-encoded in the call route,
//! `a%2Fb` is `a/b`; create and delete also take the rest of the path, `create/T/a/b` is `a/b`),
//! `X-Client-ID` must name a client connected to this gate under the same identity, not-found is
//! decided by the error's kind rather than by its text, and the stream is authenticated.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use serde::Deserialize;
use serde_json::json;

use super::{
    Core, Requester, identify, json_response, read_body, remote, requested_timeout, within,
};
use crate::codec::{Codec, Payload};
use crate::error::{Error, ErrorKind};
use crate::gate::any::{any_from_payload, payload_from_any};
use crate::gate::security::LifecycleOp;
use crate::gate::{ClientSession, GateCore};

/// The routes of GoVerse's API.
pub(super) fn routes() -> Router<Arc<GateCore>> {
    Router::new()
        .route(
            "/api/v1/objects/call/{type}/{id}/{method}",
            post(call).fallback(wrong_verb),
        )
        .route(
            "/api/v1/objects/create/{type}/{*id}",
            post(create).fallback(wrong_verb),
        )
        .route(
            "/api/v1/objects/delete/{type}/{*id}",
            post(delete).fallback(wrong_verb),
        )
        .route("/api/v1/events/stream", get(stream).fallback(wrong_verb))
}

/// GoVerse's error body, `{"error": <message>, "code": <CODE>}`, with `status`.
pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": message.into(), "code": code });
    json_response(status, body.to_string().into_bytes())
}

/// Which operation failed, for GoVerse's `*_FAILED` codes.
#[derive(Clone, Copy)]
enum Op {
    Call,
    Create,
    Delete,
    Stream,
}

/// A goverse error as GoVerse's error body: its codes where GoVerse has one, else a code named
/// after the kind with the kind's HTTP status.
fn from_error(err: &Error, op: Op) -> Response {
    let (status, code) = match err.kind() {
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "ACCESS_DENIED"),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND"),
        ErrorKind::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "TIMEOUT"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        ErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ErrorKind::Deadlock => (StatusCode::CONFLICT, "DEADLOCK"),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            match op {
                Op::Call => "CALL_FAILED",
                Op::Create => "CREATE_FAILED",
                Op::Delete => "DELETE_FAILED",
                Op::Stream => "SSE_FAILED",
            },
        ),
    };
    // An application error keeps its code in the message: "[code] message".
    let message = match err.code() {
        Some(app) if err.kind() == ErrorKind::App => format!("[{app}] {}", err.message()),
        _ => err.message().to_string(),
    };
    super::with_retry_after(error(status, code, message), err)
}

/// 405 for a known path with the wrong verb.
async fn wrong_verb(request: Request) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Why a GoVerse route failed: a request GoVerse refuses with its own code, or a goverse error.
enum Failure {
    /// A malformed request, with GoVerse's status and code.
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// An error of the gate's checks or of the call.
    Failed(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Failed(error)
    }
}

impl Failure {
    fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    /// GoVerse's error body for this failure of `op`.
    fn respond(self, op: Op) -> Response {
        match self {
            Failure::Refused {
                status,
                code,
                message,
            } => error(status, code, message),
            Failure::Failed(e) => from_error(&e, op),
        }
    }
}

/// The path's segments, or GoVerse's error for a malformed one.
fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, Failure> {
    path.map(|Path(segments)| segments).map_err(|rejection| {
        Failure::refused(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            rejection.body_text(),
        )
    })
}

/// An empty type or id is GoVerse's `INVALID_PARAMETERS`.
fn non_empty(parts: &[(&str, &str)]) -> Result<(), Failure> {
    match parts.iter().find(|(_, value)| value.is_empty()) {
        None => Ok(()),
        Some((name, _)) => Err(Failure::refused(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETERS",
            format!("the {name} must not be empty"),
        )),
    }
}

#[derive(Deserialize)]
struct CallBody {
    /// Base64 of a serialized `google.protobuf.Any`.
    #[serde(default)]
    request: String,
}

/// `POST /api/v1/objects/call/{type}/{id}/{method}`.
async fn call(
    state: Core,
    path: Result<Path<(String, String, String)>, PathRejection>,
    request: Request,
) -> Response {
    let core = state.0;
    let result = async {
        let (type_name, id, method) = segments(path)?;
        non_empty(&[("type", &type_name), ("id", &id), ("method", &method)])?;
        let requester = identify(&core, request.headers())?;
        let timeout = requested_timeout(&core, request.headers())?;
        let remote = remote(request.extensions());
        // Refused or over the limit before the body is read, as the JSON API does.
        core.check_call(&type_name, &id, &method)?;
        core.admit(&requester.rate_key(remote), &type_name)?;
        let args = decode_request(&core, request).await?;
        let result = within(
            timeout,
            core.call(requester.caller(), &type_name, &id, &method, args),
        )
        .await?;
        Ok::<_, Failure>(any_from_payload(&result)?)
    }
    .await;
    match result {
        Ok(any) => {
            let body = json!({ "response": STANDARD.encode(any.encode_to_vec()) });
            json_response(StatusCode::OK, body.to_string().into_bytes())
        }
        Err(failure) => failure.respond(Op::Call),
    }
}

/// The request's `{"request": "<base64 Any>"}` as a payload, or GoVerse's error.
async fn decode_request(core: &GateCore, request: Request) -> Result<Payload, Failure> {
    let bytes = read_body(request.into_body(), core.config())
        .await
        .map_err(|e| Failure::refused(e.status(), e.code(), e.to_string()))?;
    let body: CallBody = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::refused(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("the body must be {{\"request\": \"<base64 of a google.protobuf.Any>\"}}: {e}"),
        )
    })?;
    let any_bytes = STANDARD.decode(body.request.trim()).map_err(|e| {
        Failure::refused(
            StatusCode::BAD_REQUEST,
            "INVALID_BASE64",
            format!("`request` is not valid base64 (standard alphabet): {e}"),
        )
    })?;
    let any = prost_types::Any::decode(&any_bytes[..]).map_err(|e| {
        Failure::refused(
            StatusCode::BAD_REQUEST,
            "INVALID_PROTOBUF",
            format!("`request` is not a serialized google.protobuf.Any: {e}"),
        )
    })?;
    Ok(payload_from_any(any))
}

/// `POST /api/v1/objects/create/{type}/{id}` (the body is ignored).
async fn create(
    state: Core,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    lifecycle(state.0, path, request, LifecycleOp::Create).await
}

/// `POST /api/v1/objects/delete/{type}/{id}` (the body is ignored).
async fn delete(
    state: Core,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    lifecycle(state.0, path, request, LifecycleOp::Delete).await
}

async fn lifecycle(
    core: Arc<GateCore>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
    op: LifecycleOp,
) -> Response {
    let failed = match op {
        LifecycleOp::Create => Op::Create,
        LifecycleOp::Delete => Op::Delete,
    };
    let (parts, _body) = request.into_parts();
    let result = async {
        let (type_name, id) = segments(path)?;
        non_empty(&[("type", &type_name), ("id", &id)])?;
        let requester = identify(&core, &parts.headers)?;
        core.check_lifecycle(&type_name, &id, op)?;
        core.admit(&requester.rate_key(remote(&parts.extensions)), &type_name)?;
        match op {
            LifecycleOp::Create => {
                core.create(&type_name, &id).await?;
                Ok::<_, Failure>(json!({ "id": id }))
            }
            LifecycleOp::Delete => {
                core.delete(&type_name, &id).await?;
                Ok(json!({ "success": true }))
            }
        }
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, body.to_string().into_bytes()),
        Err(failure) => failure.respond(failed),
    }
}

/// `GET /api/v1/events/stream`: registers a client and streams its push messages.
///
/// Frames: `register` `{"clientId"}` first, then `message`
/// `{"type": <type URL>, "payload": <base64 Any>}` (JSON pushes also carry `"json": <value>`),
/// and `heartbeat` `{}` every `heartbeat`. A browser's `EventSource` cannot set headers, so a
/// bearer token is also accepted as `?access_token=`. Opening a stream is authenticated and
/// counts against the per-client rate limits (429 with `Retry-After`).
async fn stream(
    state: Core,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    request: Request,
) -> Response {
    let core = state.0;
    let (parts, _body) = request.into_parts();
    let mut headers = parts.headers;
    if let Ok(Query(query)) = &query
        && let Some(token) = query.get("access_token")
        && !headers.contains_key(header::AUTHORIZATION)
    {
        match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(value) => {
                headers.insert(header::AUTHORIZATION, value);
            }
            Err(_) => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "the access_token query parameter is not a valid token",
                );
            }
        }
    }
    let identity = match core.authenticate(&headers) {
        Ok(identity) => identity,
        Err(e) => return from_error(&e, Op::Stream),
    };
    let requester = Requester {
        identity,
        client_id: None,
    };
    if let Err(e) = core.admit_stream(&requester.rate_key(remote(&parts.extensions))) {
        return from_error(&e, Op::Stream);
    }
    let session = match core.register(requester.identity) {
        Ok(session) => session,
        Err(e) => return from_error(&e, Op::Stream),
    };
    let heartbeat = core.config().heartbeat;
    let mut response = Sse::new(events(session, heartbeat)).into_response();
    // Proxies such as nginx must not buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The events of one client's stream; the session (the registration) lives as long as it.
fn events(
    session: ClientSession,
    heartbeat: std::time::Duration,
) -> impl futures::Stream<Item = Result<Event, Infallible>> + Send {
    let register = Event::default()
        .event("register")
        .data(json!({ "clientId": session.client_id }).to_string());
    let beat = heartbeat.max(MIN_BEAT);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let first = futures::stream::once(async move { Ok(register) });
    let rest = futures::stream::unfold((session, ticks), |(mut session, mut ticks)| async move {
        loop {
            tokio::select! {
                message = session.messages.recv() => {
                    let message = message?;
                    if let Some(event) = message_event(&message) {
                        return Some((Ok(event), (session, ticks)));
                    }
                }
                _ = ticks.tick() => {
                    let event = Event::default().event("heartbeat").data("{}");
                    return Some((Ok(event), (session, ticks)));
                }
            }
        }
    });
    futures::StreamExt::chain(first, rest)
}

/// The shortest heartbeat period (a zero one would spin).
const MIN_BEAT: std::time::Duration = std::time::Duration::from_millis(10);

/// A push message as a `message` event; `None` (logged) if it cannot be one.
fn message_event(message: &Payload) -> Option<Event> {
    let any = match any_from_payload(message) {
        Ok(any) => any,
        Err(e) => {
            tracing::warn!("dropping a push message the HTTP gate cannot send: {e}");
            return None;
        }
    };
    let mut data = json!({
        "type": any.type_url,
        "payload": STANDARD.encode(any.encode_to_vec()),
    });
    if message.codec == Codec::Json
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&message.bytes)
    {
        data["json"] = value;
    }
    Some(Event::default().event("message").data(data.to_string()))
}
