//! The GoVerse-compatible gRPC `gate.GateService` (`proto/gate/gate.proto`): GoVerse's Go and
//! Python clients, and goverse's own Rust client, talk to the cluster through it unchanged.
//!
//! # Payloads: `google.protobuf.Any` ↔ codec
//!
//! Every `request`, `response` and push message is a `google.protobuf.Any`, read by its type URL
//! (see `any.rs`):
//!
//! | type URL | meaning |
//! |---|---|
//! | `type.goverse.dev/json` | `value` is UTF-8 JSON: a request is the object of named arguments (`{"amount": 5}`), a response the method's result in JSON |
//! | `type.goverse.dev/msgpack` | the same in MessagePack (named fields) |
//! | anything else (`type.googleapis.com/pkg.Msg`) | a protobuf message: the method takes one `Proto<M>` (or nothing, from a `google.protobuf.Empty`) and answers a `Proto<M>` (or `()`, answered as a `google.protobuf.Empty`) |
//!
//! A `CallObject` without a `request` is a call with a `google.protobuf.Empty`. Responses come
//! back in the request's form. Push messages reach the `Register` stream as the object sent
//! them: a `Proto<M>` as its own `Any`, anything else as a `type.goverse.dev/json` `Any`.
//!
//! # Client ids
//!
//! `Register` answers first with `Any { type_url: "type.googleapis.com/gate.RegisterResponse",
//! value: RegisterResponse { client_id } }`, the client id being `<gate address>/<unique>`; then
//! every push message for that client, in the order each object sent them, until the client
//! disconnects (the id is forgotten at once) or the gate stops (the stream ends with
//! `UNAVAILABLE`). A `CallObjectRequest.client_id` is accepted only if that client is connected
//! to this gate and bound to the same identity as the request's credentials (both anonymous, or
//! both the same authenticated identity); otherwise the call fails with `PERMISSION_DENIED` — a
//! client can never act under another client's id. An empty `client_id` is an anonymous call.
//! The object sees the client id and the identity in `ctx.caller()`.
//!
//! # Errors and status codes
//!
//! Every goverse error travels as the gRPC status of its kind (`ErrorKind::grpc_code`: not found
//! → `NOT_FOUND`, invalid argument → `INVALID_ARGUMENT`, timeout → `DEADLINE_EXCEEDED`,
//! unavailable → `UNAVAILABLE`, permission denied → `PERMISSION_DENIED`, unauthenticated →
//! `UNAUTHENTICATED`, rate limits → `RESOURCE_EXHAUSTED`, deadlock → `ABORTED`, application
//! error → `FAILED_PRECONDITION`, internal → `INTERNAL`) with the error's message (cut to 4 KiB);
//! an application error's code is in the `goverse-error-code` trailer. The client's gRPC
//! deadline (`grpc-timeout`) bounds the call across every hop when it is sooner than the node's
//! default call timeout. Requests larger than the gate's `max_body_bytes` are refused with
//! `RESOURCE_EXHAUSTED`.
//!
//! # Create, delete
//!
//! `CreateObject` with an empty `id` creates `<type>-<unique>` and answers that id; an empty
//! `type` is `INVALID_ARGUMENT` for both.
//!
//! # Reliable calls
//!
//! `ReliableCallObject` answers in-band: `status` is `SUCCESS` (with `response`), `FAILED` (the
//! method ran and returned an error: `error` is its message), `SKIPPED` (the method did not run
//! and will not: bad arguments, unknown type or method, access or rate-limit refusal, a call id
//! reused for another call — safe to retry, even under a new id) or `UNKNOWN` (the call could
//! not be confirmed recorded, e.g. the database or the owner was unreachable until the
//! deadline — retry with the same `call_id`). Only a failed authentication is a gRPC status
//! (`UNAUTHENTICATED`). The GoVerse fields stay as GoVerse has them (`error` is the message
//! only); a `FAILED`, `SKIPPED` or `UNKNOWN` answer also carries the error's kind in the
//! response header `goverse-error-kind` (`NotFound`, `PermissionDenied`, `ResourceExhausted`,
//! `App`, … as the JSON API spells it) and its code, if any, in `goverse-error-code` (an
//! application error's code, `goverse.rate_limited` for a rate limit), so `goverse::Client`
//! returns the same error for `FAILED` and `SKIPPED` as a call inside the cluster would (an
//! `UNKNOWN` outcome is `Unavailable` to it: retry with the same call id). Arguments are recorded as JSON: a
//! protobuf request for a method `m(req: Proto<M>)` is recorded as `{"req": {"@type": <type
//! URL>, "value": <base64>}}`, and a success answers a protobuf `Any` again for a protobuf
//! request (a `google.protobuf.Empty` for `()`); a JSON or MessagePack request gets its result in
//! the same codec.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use prost::Message as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use super::any::{any_from_payload, payload_from_any};
use super::proto::gate_service_server::{GateService, GateServiceServer};
use super::proto::{
    CallObjectRequest, CallObjectResponse, CreateObjectRequest, CreateObjectResponse,
    DeleteObjectRequest, DeleteObjectResponse, Empty, RegisterResponse, ReliableCallObjectRequest,
    ReliableCallObjectResponse,
};
use super::security::LifecycleOp;
use super::{ClientSession, GateCore};
use crate::codec::{Codec, Payload};
use crate::error::{Error, ErrorKind, Result};
use crate::object::Caller;
use crate::persistence::CallOutcome;

/// The type URL of the first message of a `Register` stream.
const REGISTER_RESPONSE_TYPE_URL: &str = "type.googleapis.com/gate.RegisterResponse";

/// The metadata that carries an application error's code: a trailer of an error status, a
/// header of a reliable call's `FAILED` / `SKIPPED` / `UNKNOWN` answer.
pub(crate) const ERROR_CODE_KEY: &str = "goverse-error-code";

/// The header of a reliable call's `FAILED` / `SKIPPED` / `UNKNOWN` answer that carries the
/// error's kind, as [`ErrorKind::wire_name`] spells it.
pub(crate) const ERROR_KIND_KEY: &str = "goverse-error-kind";

/// The longest error message put in a status (a header): longer ones are cut.
const MAX_STATUS_MESSAGE: usize = 4096;

/// The status of a reliable call's outcome, as GoVerse spells it.
const SUCCESS: &str = "SUCCESS";
const FAILED: &str = "FAILED";
const SKIPPED: &str = "SKIPPED";
const UNKNOWN: &str = "UNKNOWN";

/// HTTP/2 keep-alive: a ping every 30 s on each connection, which must be answered within
/// 20 s or the connection is closed (a vanished client's `Register` stream ends).
const HTTP2_KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// See [`HTTP2_KEEPALIVE_INTERVAL`].
const HTTP2_KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// TCP keep-alive probes start after 60 s of silence, for peers that vanish without a FIN.
const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);
/// Streams (calls in flight and `Register` streams) one connection may have open at once; more
/// wait for the client's HTTP/2 layer to admit them (`SETTINGS_MAX_CONCURRENT_STREAMS`).
const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// How long past the node's call timeout a unary handler may still run before it is cut with
/// `CANCELLED` (a backstop: every call is bounded by the call timeout already; `Register`
/// streams are not cut, only the wait for their first response).
const HANDLER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `gate.GateService` on `address`; returns the bound address and a task whose abort
/// stops the server: every `Register` stream ends and every connection is closed.
pub(super) async fn serve(
    core: Arc<GateCore>,
    address: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Error::unavailable(format!("cannot listen for gRPC on {address}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| {
        Error::unavailable(format!(
            "cannot read the gRPC address bound at {address}: {e}"
        ))
    })?;
    let max_body = core.config().max_body_bytes;
    let core_tls = core.config().tls.clone();
    let handler_timeout = core.router().config().call_timeout + HANDLER_GRACE;
    // The server task owns `running`; when it is aborted, every stream sees the sender gone.
    let (running, stopped) = watch::channel(());
    let service = SizeLimited {
        inner: GateServiceServer::new(GateServer { core, stopped })
            .max_decoding_message_size(max_body)
            .max_encoding_message_size(usize::MAX),
        max_body,
    };
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE));
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .timeout(handler_timeout);
    if let Some(files) = &core_tls {
        builder = builder
            .tls_config(crate::tls::grpc_server_tls(files, None)?)
            .map_err(|e| Error::invalid_argument(format!("gate gRPC TLS: {e}")))?;
    }
    let task = tokio::spawn(async move {
        let _running = running;
        // A shutdown signal that never fires, only so that tonic watches every connection:
        // when this task is aborted, the server and its watch are dropped, every open
        // connection is told to go away (HTTP/2 GOAWAY) and closes once its calls are done.
        // With plain `serve_with_incoming`, a client's open connection would keep reaching the
        // stopped gate instead of reconnecting to wherever the gate comes back.
        if let Err(error) = builder
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, std::future::pending())
            .await
        {
            tracing::warn!(%error, address = %bound, "the gRPC gate stopped");
        }
    });
    Ok((bound, task))
}

/// The gate service with tonic's "message too large" (`OUT_OF_RANGE`, which no handler
/// answers) turned into `RESOURCE_EXHAUSTED`, the status of every limit of the gate.
#[derive(Clone)]
struct SizeLimited<S> {
    inner: S,
    max_body: usize,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for SizeLimited<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tonic::codegen::Service<http::Request<tonic::body::Body>> for SizeLimited<S>
where
    S: tonic::codegen::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let response = self.inner.call(request);
        let max_body = self.max_body;
        Box::pin(async move {
            let response = response.await?;
            let too_large = Status::from_header_map(response.headers())
                .is_some_and(|status| status.code() == tonic::Code::OutOfRange);
            if too_large {
                return Ok(Status::resource_exhausted(format!(
                    "the request is larger than this gate accepts ({max_body} bytes)"
                ))
                .into_http());
            }
            Ok(response)
        })
    }
}

/// The service: the gate's core and the signal that the server stopped.
struct GateServer {
    core: Arc<GateCore>,
    stopped: watch::Receiver<()>,
}

/// The gRPC status of a goverse error: the code of its kind, its message (cut to a size a
/// header can carry) and, for an application error, its code in a trailer.
fn status_of(error: &Error) -> Status {
    let mut status = Status::new(
        tonic::Code::from_i32(error.kind().grpc_code()),
        clip(error.message()),
    );
    if let Some(code) = error.code()
        && let Ok(value) = MetadataValue::try_from(clip(code))
    {
        status.metadata_mut().insert(ERROR_CODE_KEY, value);
    }
    status
}

/// `text`, cut to [`MAX_STATUS_MESSAGE`] bytes on a character boundary.
fn clip(text: &str) -> String {
    if text.len() <= MAX_STATUS_MESSAGE {
        return text.to_string();
    }
    let mut end = MAX_STATUS_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The request's deadline from its `grpc-timeout` header, if it set one.
fn deadline_of<T>(request: &Request<T>) -> Option<Instant> {
    let timeout = crate::transport::grpc_timeout(request.metadata())?;
    Instant::now().checked_add(timeout)
}

/// The payload of a request's `Any`; an absent one is a `google.protobuf.Empty`.
fn request_payload(any: Option<prost_types::Any>) -> Result<Payload> {
    match any {
        Some(any) => Ok(payload_from_any(any)),
        None => Codec::Protobuf.encode(&()),
    }
}

impl GateServer {
    /// The identity the request's metadata proves (`None`: anonymous).
    fn authenticate<T>(&self, request: &Request<T>) -> Result<Option<String>> {
        self.core
            .authenticate(&request.metadata().clone().into_headers())
    }

    /// The key rate limits count a request under: its identity, else its peer's address.
    fn client_key<T>(request: &Request<T>, identity: Option<&str>) -> String {
        match (identity, request.remote_addr()) {
            (Some(identity), _) => identity.to_string(),
            (None, Some(address)) => address.ip().to_string(),
            (None, None) => "anonymous".to_string(),
        }
    }

    /// The caller of a call made for `client_id` by a request proving `identity`: the client
    /// must be connected here and bound to that same identity.
    fn caller(&self, client_id: String, identity: Option<String>) -> Result<Caller> {
        if client_id.is_empty() {
            return Ok(Caller {
                client_id: None,
                identity,
            });
        }
        match self.core.clients().identity_of(&client_id) {
            None => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "client `{}` is not connected to this gate: register on this gate and use \
                     the client id it gave, or leave client_id empty",
                    clip(&client_id)
                ),
            )),
            Some(bound) if bound != identity => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "client `{}` belongs to another identity than this call's credentials; a \
                     client id can only be used with the credentials it registered with",
                    clip(&client_id)
                ),
            )),
            Some(_) => Ok(Caller {
                client_id: Some(client_id),
                identity,
            }),
        }
    }

    async fn call(&self, request: Request<CallObjectRequest>) -> Result<prost_types::Any> {
        let identity = self.authenticate(&request)?;
        let deadline = deadline_of(&request);
        let key = Self::client_key(&request, identity.as_deref());
        let request = request.into_inner();
        let caller = self.caller(request.client_id, identity)?;
        self.core
            .check_call(&request.r#type, &request.id, &request.method)?;
        self.core.admit(&key, &request.r#type)?;
        let args = request_payload(request.request)?;
        let result = self
            .core
            .call_until(
                deadline,
                Some(caller),
                &request.r#type,
                &request.id,
                &request.method,
                args,
            )
            .await?;
        any_from_payload(&result)
    }

    async fn create(&self, request: Request<CreateObjectRequest>) -> Result<String> {
        let identity = self.authenticate(&request)?;
        let key = Self::client_key(&request, identity.as_deref());
        let request = request.into_inner();
        require_type(&request.r#type)?;
        let id = if request.id.is_empty() {
            format!("{}-{}", request.r#type, crate::routing::new_call_id())
        } else {
            request.id
        };
        self.core
            .check_lifecycle(&request.r#type, &id, LifecycleOp::Create)?;
        self.core.admit(&key, &request.r#type)?;
        self.core.create(&request.r#type, &id).await?;
        Ok(id)
    }

    async fn delete(&self, request: Request<DeleteObjectRequest>) -> Result<()> {
        let identity = self.authenticate(&request)?;
        let key = Self::client_key(&request, identity.as_deref());
        let request = request.into_inner();
        require_type(&request.r#type)?;
        self.core
            .check_lifecycle(&request.r#type, &request.id, LifecycleOp::Delete)?;
        self.core.admit(&key, &request.r#type)?;
        self.core.delete(&request.r#type, &request.id).await
    }

    /// A reliable call, up to its outcome; `Err` if it was not recorded (or not known to be).
    async fn reliable_call(
        &self,
        deadline: Option<Instant>,
        key: &str,
        identity: Option<String>,
        request: ReliableCallObjectRequest,
    ) -> Result<(Codec, CallOutcome)> {
        let ReliableCallObjectRequest {
            call_id,
            r#type: type_name,
            id,
            method,
            request,
        } = request;
        self.core.check_call(&type_name, &id, &method)?;
        self.core.admit(key, &type_name)?;
        let args = request_payload(request)?;
        let codec = args.codec;
        let args = self.reliable_args(&type_name, &method, args)?;
        let caller = identity.map(|identity| Caller {
            client_id: None,
            identity: Some(identity),
        });
        let outcome = self
            .core
            .reliable_until(deadline, caller, &type_name, &id, &method, &call_id, args)
            .await?;
        Ok((codec, outcome))
    }

    /// The arguments of a reliable call in a codec it can record (JSON or MessagePack): a
    /// protobuf request becomes `{"<param>": <the Any in its JSON form>}` for a method with one
    /// parameter, `{}` from a `google.protobuf.Empty` for a method without.
    fn reliable_args(&self, type_name: &str, method: &str, args: Payload) -> Result<Payload> {
        if args.codec != Codec::Protobuf {
            return Ok(args);
        }
        let any = prost_types::Any::decode(&args.bytes[..]).map_err(|e| {
            Error::invalid_argument(format!("the request is not a google.protobuf.Any: {e}"))
        })?;
        let methods = self.core.router().registry().get(type_name)?.methods();
        let info = methods
            .iter()
            .find(|info| info.name == method)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "object type `{type_name}` has no method `{}`",
                    clip(method)
                ))
            })?;
        let named = match info.params {
            [param] => serde_json::json!({ *param: crate::proto::any_to_json(any) }),
            [] if any.type_url.rsplit('/').next() == Some("google.protobuf.Empty") => {
                serde_json::json!({})
            }
            [] => {
                return Err(Error::invalid_argument(format!(
                    "method {type_name}.{method} takes no arguments, so a protobuf request for \
                     it must be a google.protobuf.Empty, not `{}`",
                    clip(&any.type_url)
                )));
            }
            params => {
                return Err(Error::invalid_argument(format!(
                    "method {type_name}.{method} takes {} arguments; a protobuf request carries \
                     exactly one message, so the method must take a single `Proto<M>` (send \
                     JSON as `type.goverse.dev/json` instead)",
                    params.len()
                )));
            }
        };
        Codec::Json.encode(&named)
    }
}

/// The `Any` answering a reliable call's JSON result to a request made in `codec`: for
/// protobuf, the `Any` a `Proto<M>` result is the JSON form of (`google.protobuf.Empty` for
/// `()`; other results as `type.goverse.dev/json`); for JSON and MessagePack, the result in
/// that codec.
fn reliable_result(codec: Codec, json: &str) -> Result<prost_types::Any> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        Error::internal(format!("the recorded result of the call is not JSON: {e}"))
    })?;
    let payload = match codec {
        Codec::Protobuf => {
            if let Some(any) = crate::proto::any_from_json(&value) {
                return Ok(any);
            }
            if value.is_null() {
                Codec::Protobuf.encode(&())?
            } else {
                Payload::new(Codec::Json, json.as_bytes().to_vec())
            }
        }
        Codec::Json => Payload::new(Codec::Json, json.as_bytes().to_vec()),
        other => other.encode(&value)?,
    };
    any_from_payload(&payload)
}

/// The in-band answer of a reliable call. An error's kind and application code also travel as
/// the response metadata [`ERROR_KIND_KEY`] and [`ERROR_CODE_KEY`] (GoVerse clients ignore them;
/// `goverse::Client` rebuilds the error from them).
fn reliable_response(
    outcome: Result<(Codec, CallOutcome)>,
) -> Response<ReliableCallObjectResponse> {
    let answer = |status: &str, error: &Error| {
        let mut response = Response::new(ReliableCallObjectResponse {
            response: None,
            error: error.message().to_string(),
            status: status.to_string(),
        });
        let metadata = response.metadata_mut();
        if let Ok(kind) = MetadataValue::try_from(error.kind().wire_name()) {
            metadata.insert(ERROR_KIND_KEY, kind);
        }
        if let Some(code) = error.code()
            && let Ok(code) = MetadataValue::try_from(clip(code))
        {
            metadata.insert(ERROR_CODE_KEY, code);
        }
        response
    };
    match outcome {
        Ok((codec, CallOutcome::Success(json))) => match reliable_result(codec, &json) {
            Ok(any) => Response::new(ReliableCallObjectResponse {
                response: Some(any),
                error: String::new(),
                status: SUCCESS.to_string(),
            }),
            Err(error) => answer(FAILED, &error),
        },
        Ok((_, CallOutcome::Failed(error))) => answer(FAILED, &error),
        Ok((_, CallOutcome::Skipped(error))) => answer(SKIPPED, &error),
        Err(error) => answer(unrecorded_status(&error), &error),
    }
}

/// The status of a reliable call that failed before an outcome was known: `SKIPPED` when it was
/// refused before it could be recorded (it never runs), `UNKNOWN` when it may have been
/// recorded (retry with the same call id).
fn unrecorded_status(error: &Error) -> &'static str {
    match error.kind() {
        ErrorKind::InvalidArgument
        | ErrorKind::NotFound
        | ErrorKind::PermissionDenied
        | ErrorKind::Unauthenticated
        | ErrorKind::ResourceExhausted
        | ErrorKind::Deadlock => SKIPPED,
        _ => UNKNOWN,
    }
}

/// Create and delete name the object's type.
fn require_type(type_name: &str) -> Result<()> {
    if type_name.is_empty() {
        return Err(Error::invalid_argument("the object type must not be empty"));
    }
    Ok(())
}

#[tonic::async_trait]
impl GateService for GateServer {
    type RegisterStream = PushStream;

    async fn register(&self, request: Request<Empty>) -> Result<Response<PushStream>, Status> {
        let identity = self.authenticate(&request).map_err(|e| status_of(&e))?;
        let key = Self::client_key(&request, identity.as_deref());
        self.core.admit_stream(&key).map_err(|e| status_of(&e))?;
        let session = self.core.register(identity).map_err(|e| status_of(&e))?;
        let first = prost_types::Any {
            type_url: REGISTER_RESPONSE_TYPE_URL.to_string(),
            value: RegisterResponse {
                client_id: session.client_id.clone(),
            }
            .encode_to_vec(),
        };
        Ok(Response::new(PushStream {
            first: Some(first),
            session,
            stopped: Box::pin(wait_stopped(self.stopped.clone())),
            done: false,
        }))
    }

    async fn call_object(
        &self,
        request: Request<CallObjectRequest>,
    ) -> Result<Response<CallObjectResponse>, Status> {
        let response = self.call(request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(CallObjectResponse {
            response: Some(response),
        }))
    }

    async fn create_object(
        &self,
        request: Request<CreateObjectRequest>,
    ) -> Result<Response<CreateObjectResponse>, Status> {
        let id = self.create(request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(CreateObjectResponse { id }))
    }

    async fn delete_object(
        &self,
        request: Request<DeleteObjectRequest>,
    ) -> Result<Response<DeleteObjectResponse>, Status> {
        self.delete(request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(DeleteObjectResponse {}))
    }

    async fn reliable_call_object(
        &self,
        request: Request<ReliableCallObjectRequest>,
    ) -> Result<Response<ReliableCallObjectResponse>, Status> {
        let identity = self.authenticate(&request).map_err(|e| status_of(&e))?;
        let deadline = deadline_of(&request);
        let key = Self::client_key(&request, identity.as_deref());
        let outcome = self
            .reliable_call(deadline, &key, identity, request.into_inner())
            .await;
        Ok(reliable_response(outcome))
    }
}

/// Resolves when the server task is gone.
async fn wait_stopped(mut stopped: watch::Receiver<()>) {
    while stopped.changed().await.is_ok() {}
}

/// A `Register` stream: the registration, then the client's push messages. Dropping it (the
/// client went away) unregisters the client.
pub(crate) struct PushStream {
    first: Option<prost_types::Any>,
    session: ClientSession,
    stopped: Pin<Box<dyn Future<Output = ()> + Send>>,
    done: bool,
}

impl Stream for PushStream {
    type Item = Result<prost_types::Any, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        loop {
            match this.session.messages.poll_recv(cx) {
                Poll::Ready(Some(message)) => match any_from_payload(&message) {
                    Ok(any) => return Poll::Ready(Some(Ok(any))),
                    Err(error) => {
                        tracing::warn!(client = %this.session.client_id, %error,
                            "a push message could not be sent to its client; dropped");
                    }
                },
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        if this.stopped.as_mut().poll(cx).is_ready() {
            this.done = true;
            return Poll::Ready(Some(Err(Status::unavailable("the gate stopped"))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_the_kind_and_clip_the_message() {
        let status = status_of(&Error::app("too_low", "balance too low"));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(status.message(), "balance too low");
        assert_eq!(status.metadata().get(ERROR_CODE_KEY).unwrap(), "too_low");
        let long = "é".repeat(MAX_STATUS_MESSAGE);
        let status = status_of(&Error::not_found(long));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert!(status.message().len() <= MAX_STATUS_MESSAGE + '…'.len_utf8());
    }

    #[test]
    fn reliable_results_answer_in_the_request_codec() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/demo.Ping".into(),
            value: vec![10, 2, b'h', b'i'],
        };
        let json = crate::proto::any_to_json(any.clone()).to_string();
        assert_eq!(reliable_result(Codec::Protobuf, &json).unwrap(), any);
        let empty = reliable_result(Codec::Protobuf, "null").unwrap();
        assert_eq!(empty.type_url, "type.googleapis.com/google.protobuf.Empty");
        let number = reliable_result(Codec::Protobuf, "5").unwrap();
        assert_eq!(number.type_url, "type.goverse.dev/json");
        assert_eq!(number.value, b"5");
        let json_any = reliable_result(Codec::Json, &json).unwrap();
        assert_eq!(json_any.type_url, "type.goverse.dev/json");
        let msgpack = reliable_result(Codec::MsgPack, "{\"a\":1}").unwrap();
        assert_eq!(msgpack.type_url, "type.goverse.dev/msgpack");
        assert_eq!(msgpack.value, [0x81, 0xa1, b'a', 1]);
        assert!(reliable_result(Codec::Json, "{").is_err());
    }

    #[test]
    fn unrecorded_calls_are_skipped_or_unknown() {
        let response = reliable_response(Err(Error::invalid_argument("bad")));
        assert_eq!(
            (
                response.get_ref().status.as_str(),
                response.get_ref().error.as_str()
            ),
            (SKIPPED, "bad")
        );
        let response = reliable_response(Err(Error::unavailable("database down")));
        assert_eq!(response.get_ref().status, UNKNOWN);
        let response = reliable_response(Err(Error::timeout("late")));
        assert_eq!(response.get_ref().status, UNKNOWN);
        assert_eq!(response.metadata().get(ERROR_KIND_KEY).unwrap(), "Timeout");
        let response = reliable_response(Ok((
            Codec::Json,
            CallOutcome::Failed(Error::app("no", "refused")),
        )));
        assert_eq!(
            (
                response.get_ref().status.as_str(),
                response.get_ref().error.as_str()
            ),
            (FAILED, "refused")
        );
        assert!(response.get_ref().response.is_none());
        assert_eq!(response.metadata().get(ERROR_KIND_KEY).unwrap(), "App");
        assert_eq!(response.metadata().get(ERROR_CODE_KEY).unwrap(), "no");
    }

    #[test]
    fn successes_carry_no_error_metadata() {
        let response = reliable_response(Ok((Codec::Json, CallOutcome::Success("1".into()))));
        assert_eq!(response.get_ref().status, SUCCESS);
        assert!(response.metadata().get(ERROR_KIND_KEY).is_none());
        assert!(response.metadata().get(ERROR_CODE_KEY).is_none());
    }
}
