//! The gate's HTTP side: GoVerse's `/api/v1` API with server-sent events, our JSON-native
//! `/v1/objects` API and its OpenAPI document (`docs/http-api.md` describes every route).
//!
//! - [`goverse_api`]: `POST /api/v1/objects/{call,create,delete}/...` with protobuf `Any`
//!   payloads in base64, errors as `{"error", "code"}`, and `GET /api/v1/events/stream`;
//! - [`native`]: `POST /v1/objects/{type}/{id}/{method}` with named JSON arguments, create and
//!   delete, reliable calls by `Idempotency-Key`, errors as `{"error": {kind, code, message}}`;
//! - [`openapi`]: `GET /v1/openapi.json`, generated from the registry;
//! - [`conn`]: the accept loop, with the header-read and idle timeouts.
//!
//! Every response carries GoVerse's CORS headers and every `OPTIONS` request is answered 204.

mod conn;
#[cfg(test)]
mod fuzz_tests;
mod goverse_api;
mod native;
mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::task::JoinHandle;

use super::GateCore;
use crate::error::{Error, ErrorKind, Result};
use crate::object::Caller;

/// The header that ties a call to a client registered on this gate (its SSE stream).
const CLIENT_ID_HEADER: &str = "x-client-id";

/// The header that shortens a call's deadline, in milliseconds (never beyond the node default).
const TIMEOUT_HEADER: &str = "goverse-timeout-ms";

/// Serves the HTTP APIs on `address`; returns the bound address and the server task, which
/// runs until it is aborted (aborting it closes every connection, SSE streams included).
pub(super) async fn serve(
    core: Arc<GateCore>,
    address: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Error::unavailable(format!("cannot listen for HTTP on {address}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| {
        Error::unavailable(format!(
            "cannot read the HTTP address bound at {address}: {e}"
        ))
    })?;
    let core_heartbeat = core.config().heartbeat;
    // Read the TLS files now, so that a bad file fails the start, not the first connection.
    let tls = core
        .config()
        .tls
        .as_ref()
        .map(crate::tls::tls_acceptor)
        .transpose()?;
    let app = router(core);
    let task = tokio::spawn(conn::serve(
        listener,
        app,
        conn::Timeouts::for_heartbeat(core_heartbeat),
        tls,
    ));
    Ok((bound, task))
}

/// Every route of both APIs, with CORS and the JSON fallbacks.
fn router(core: Arc<GateCore>) -> Router {
    Router::new()
        .merge(goverse_api::routes())
        .merge(native::routes())
        .route("/v1/openapi.json", openapi::route())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(cors))
        .with_state(core)
}

/// The state every handler gets.
type Core = axum::extract::State<Arc<GateCore>>;

/// GoVerse's CORS middleware: `OPTIONS` is answered 204 at once, every response gets the
/// headers.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Content-Type, X-Client-ID, Authorization, X-Goverse-Auth, Idempotency-Key, \
             Goverse-Timeout-Ms",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Goverse-Call-Status, Retry-After"),
    );
    response
}

/// Unknown paths: GoVerse's `INVALID_PATH` under `/api/`, our error JSON elsewhere.
async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") {
        goverse_api::error(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            format!("no route for {path}"),
        )
    } else {
        native::error_response(&Error::not_found(format!(
            "no route for {} {path}; the JSON API is under /v1/objects, its description at \
             /v1/openapi.json",
            request.method()
        )))
    }
}

/// The error code of a request body over `max_body_bytes` (answered 413).
const BODY_TOO_LARGE: &str = "BODY_TOO_LARGE";

/// The error code of a request body that did not arrive within `body_read_timeout` (answered
/// 408).
const BODY_TIMEOUT: &str = "BODY_TIMEOUT";

/// The error code of a request body that could not be read at all.
const INVALID_BODY: &str = "INVALID_BODY";

/// Why a request body could not be read.
enum BodyError {
    /// Larger than `max_body_bytes`.
    TooLarge(usize),
    /// Not complete within `body_read_timeout`.
    TooSlow(Duration),
    /// The connection failed while reading it.
    Unreadable(String),
}

impl BodyError {
    /// The HTTP status answering it: 413, 408 or 400.
    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The error code both APIs report it with.
    fn code(&self) -> &'static str {
        match self {
            BodyError::TooLarge(_) => BODY_TOO_LARGE,
            BodyError::TooSlow(_) => BODY_TIMEOUT,
            BodyError::Unreadable(_) => INVALID_BODY,
        }
    }

    /// The goverse error it is (the JSON-native API's answer; [`native::error_response`] maps
    /// the codes back to 413 and 408).
    fn into_error(self) -> Error {
        let (kind, code) = match &self {
            BodyError::TooLarge(_) => (ErrorKind::ResourceExhausted, Some(BODY_TOO_LARGE)),
            BodyError::TooSlow(_) => (ErrorKind::Timeout, Some(BODY_TIMEOUT)),
            BodyError::Unreadable(_) => (ErrorKind::InvalidArgument, Some(INVALID_BODY)),
        };
        Error::from_parts(kind, code.map(str::to_string), self.to_string())
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(limit) => {
                write!(f, "the request body is larger than {limit} bytes")
            }
            BodyError::TooSlow(limit) => write!(
                f,
                "the request body did not arrive within {} ms (body_read_timeout)",
                limit.as_millis()
            ),
            BodyError::Unreadable(e) => write!(f, "cannot read the request body: {e}"),
        }
    }
}

/// The HTTP status of a JSON-native error whose code names a body problem, if it does.
fn body_error_status(error: &Error) -> Option<StatusCode> {
    match (error.kind(), error.code()?) {
        (ErrorKind::ResourceExhausted, BODY_TOO_LARGE) => Some(StatusCode::PAYLOAD_TOO_LARGE),
        (ErrorKind::Timeout, BODY_TIMEOUT) => Some(StatusCode::REQUEST_TIMEOUT),
        _ => None,
    }
}

/// Reads a request body of at most `max_body_bytes`, stopping as soon as it is known to be
/// larger (by its `Content-Length` or by what arrived), and within `body_read_timeout` in all:
/// the connection's idle timer restarts with every byte, so without this deadline a client
/// trickling a byte at a time would hold the request open for ever.
async fn read_body(
    body: Body,
    config: &super::GateConfig,
) -> std::result::Result<Bytes, BodyError> {
    use axum::body::HttpBody as _;
    use futures::StreamExt as _;

    let limit = config.max_body_bytes;
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge(limit));
    }
    let mut stream = body.into_data_stream();
    let read = async {
        let mut collected = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
            if collected.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge(limit));
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected.freeze())
    };
    tokio::time::timeout(config.body_read_timeout, read)
        .await
        .unwrap_or(Err(BodyError::TooSlow(config.body_read_timeout)))
}

/// Who makes a request: the authenticated identity and the client it acts for.
struct Requester {
    identity: Option<String>,
    client_id: Option<String>,
}

impl Requester {
    /// The caller objects see.
    fn caller(&self) -> Option<Caller> {
        if self.identity.is_none() && self.client_id.is_none() {
            return None;
        }
        Some(Caller {
            client_id: self.client_id.clone(),
            identity: self.identity.clone(),
        })
    }

    /// The key rate limits count this requester under: its identity, else its address (as the
    /// gRPC gate does). Not an anonymous client id: anyone can open streams for new ones.
    fn rate_key(&self, remote: Option<SocketAddr>) -> String {
        if let Some(identity) = &self.identity {
            return identity.clone();
        }
        remote.map_or_else(|| "unknown".to_string(), |addr| addr.ip().to_string())
    }
}

/// Authenticates a request and checks its `X-Client-ID`: the client must be connected to this
/// gate and bound to the same identity (both anonymous, or both the same one).
fn identify(core: &GateCore, headers: &HeaderMap) -> Result<Requester> {
    let identity = core.authenticate(headers)?;
    let client_id = match headers.get(CLIENT_ID_HEADER) {
        None => None,
        Some(value) => {
            let client = value.to_str().map_err(|_| {
                Error::new(
                    ErrorKind::PermissionDenied,
                    "the X-Client-ID header is not a valid client id",
                )
            })?;
            match core.clients().identity_of(client) {
                None => {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "client `{client}` (X-Client-ID) is not connected to this gate; \
                             register with GET /api/v1/events/stream first"
                        ),
                    ));
                }
                Some(bound) if bound != identity => {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "client `{client}` (X-Client-ID) belongs to another identity than \
                             this request's"
                        ),
                    ));
                }
                Some(_) => Some(client.to_string()),
            }
        }
    };
    Ok(Requester {
        identity,
        client_id,
    })
}

/// The client's address, for rate limits.
fn remote(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// The deadline a request asks for with `Goverse-Timeout-Ms`, capped at the node's default call
/// timeout; `None` without the header. A malformed or zero value is an `InvalidArgument` error.
fn requested_timeout(core: &GateCore, headers: &HeaderMap) -> Result<Option<Duration>> {
    let Some(value) = headers.get(TIMEOUT_HEADER) else {
        return Ok(None);
    };
    let millis = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&millis| millis > 0)
        .ok_or_else(|| {
            Error::invalid_argument(
                "the Goverse-Timeout-Ms header must be a positive number of milliseconds",
            )
        })?;
    let cap = core.router().config().call_timeout;
    Ok(Some(Duration::from_millis(millis).min(cap)))
}

/// Runs `call` within `timeout`, if one was asked for; past it the call is a `Timeout` error
/// (the router's own deadline, the node default, bounds it anyway).
async fn within<T>(timeout: Option<Duration>, call: impl Future<Output = Result<T>>) -> Result<T> {
    match timeout {
        None => call.await,
        Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(Error::timeout(format!(
                "the call did not finish within {} ms (Goverse-Timeout-Ms)",
                limit.as_millis()
            )))
        }),
    }
}

/// The `Retry-After` seconds a rate-limit error asks for ([`crate::limits::retry_after`]),
/// rounded up to whole seconds, at least 1.
fn retry_after(error: &Error) -> Option<u64> {
    let delay = crate::limits::retry_after(error)?;
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    Some(secs.max(1))
}

/// Adds `Retry-After` to a response for an error that asks for it.
fn with_retry_after(mut response: Response, error: &Error) -> Response {
    if let Some(secs) = retry_after(error) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A JSON response with `status`.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(message: &str) -> Error {
        Error::from_parts(
            ErrorKind::ResourceExhausted,
            Some(crate::limits::RATE_LIMITED.to_string()),
            message.to_string(),
        )
    }

    #[test]
    fn retry_after_rounds_the_hint_up_to_seconds() {
        assert_eq!(
            retry_after(&limited("too many calls; retry after 2500 ms")),
            Some(3)
        );
        assert_eq!(
            retry_after(&limited("too many calls; retry after 200 ms")),
            Some(1)
        );
        assert_eq!(retry_after(&limited("too many calls")), None);
        assert_eq!(
            retry_after(&Error::unavailable("retry after 3000 ms")),
            None
        );
    }
}
