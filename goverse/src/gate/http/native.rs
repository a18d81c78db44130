//! The JSON-native API: `POST /v1/objects/{type}/{id}/{method}` with a JSON object of named
//! arguments answers the result as JSON; `POST /v1/objects/{type}/{id}` creates,
//! `DELETE /v1/objects/{type}/{id}` deletes. An id is one path segment, percent-encoded (`a%2Fb`
//! is the id `a/b`). `Idempotency-Key: <call id>` makes a call reliable; its outcome is in the
//! `Goverse-Call-Status` header. Errors are `{"error": {"kind", "code", "message"}}` with the
//! kind's HTTP status.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::{
    BodyError, Core, identify, json_response, read_body, remote, requested_timeout, within,
};
use crate::codec::{Codec, Payload};
use crate::error::{Error, Result};
use crate::gate::GateCore;
use crate::gate::security::LifecycleOp;
use crate::persistence::CallOutcome;

/// The header that makes a call reliable: its value is the call id.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The header that tells a reliable call's outcome: `SUCCESS`, `FAILED` or `SKIPPED`.
const CALL_STATUS: &str = "goverse-call-status";

/// The routes of the JSON API.
pub(super) fn routes() -> Router<Arc<GateCore>> {
    Router::new()
        .route(
            "/v1/objects/{type}/{id}/{method}",
            post(call).fallback(wrong_verb),
        )
        .route(
            "/v1/objects/{type}/{id}",
            post(create).delete(delete).fallback(wrong_verb),
        )
}

/// The error body, `{"error": {"kind", "code", "message"}}`.
fn error_body(kind: serde_json::Value, code: Option<&str>, message: &str) -> Vec<u8> {
    json!({ "error": { "kind": kind, "code": code, "message": message } })
        .to_string()
        .into_bytes()
}

/// An error as the JSON API answers it: the kind's HTTP status, `Retry-After` when the error
/// asks for one.
pub(super) fn error_response(err: &Error) -> Response {
    let kind = serde_json::to_value(err.kind()).unwrap_or(serde_json::Value::Null);
    let status = super::body_error_status(err).unwrap_or_else(|| {
        StatusCode::from_u16(err.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    });
    let response = json_response(status, error_body(kind, err.code(), err.message()));
    super::with_retry_after(response, err)
}

/// 405 for a known path with the wrong verb.
async fn wrong_verb(request: Request) -> Response {
    let message = format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    );
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        error_body(json!("MethodNotAllowed"), None, &message),
    )
}

/// The path's segments, or a 400 naming the problem.
fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T> {
    path.map(|Path(segments)| segments).map_err(|rejection| {
        Error::invalid_argument(format!("malformed path: {}", rejection.body_text()))
    })
}

/// `POST /v1/objects/{type}/{id}/{method}`.
async fn call(
    state: Core,
    path: Result<Path<(String, String, String)>, PathRejection>,
    request: Request,
) -> Response {
    let core = state.0;
    let mut status = None;
    let result = async {
        let (type_name, id, method) = segments(path)?;
        let requester = identify(&core, request.headers())?;
        let timeout = requested_timeout(&core, request.headers())?;
        let call_id = match request.headers().get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .filter(|key| !key.is_empty())
                    .ok_or_else(|| {
                        Error::invalid_argument(
                            "the Idempotency-Key header must be a non-empty visible-ASCII call id",
                        )
                    })?
                    .to_string(),
            ),
        };
        core.check_call(&type_name, &id, &method)?;
        core.admit(
            &requester.rate_key(remote(request.extensions())),
            &type_name,
        )?;
        let args = arguments(&core, request).await?;
        let caller = requester.caller();
        let Some(call_id) = call_id else {
            let result = within(timeout, core.call(caller, &type_name, &id, &method, args)).await?;
            return Ok(result.bytes.to_vec());
        };
        let outcome = within(
            timeout,
            core.reliable(caller, &type_name, &id, &method, &call_id, args),
        )
        .await?;
        match outcome {
            CallOutcome::Success(json) => {
                status = Some("SUCCESS");
                Ok(json.into_bytes())
            }
            CallOutcome::Failed(e) => {
                status = Some("FAILED");
                Err(e)
            }
            CallOutcome::Skipped(e) => {
                status = Some("SKIPPED");
                Err(e)
            }
        }
    }
    .await;
    let mut response = match result {
        Ok(json) => json_response(StatusCode::OK, json),
        Err(e) => error_response(&e),
    };
    if let Some(status) = status {
        response
            .headers_mut()
            .insert(CALL_STATUS, HeaderValue::from_static(status));
    }
    response
}

/// The named arguments of a call: the body, a JSON object (an empty body is `{}`).
async fn arguments(core: &GateCore, request: Request) -> Result<Payload> {
    let bytes = read_body(request.into_body(), core.config())
        .await
        .map_err(BodyError::into_error)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Payload::new(Codec::Json, &b"{}"[..]));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid_argument(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        let shape = match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
        };
        return Err(Error::invalid_argument(format!(
            "the body must be a JSON object of named arguments, like {{\"n\": 1}}, not {shape}"
        )));
    }
    Ok(Payload::new(Codec::Json, bytes))
}

/// `POST /v1/objects/{type}/{id}`: activates the object; `{"id": <id>}`.
async fn create(
    state: Core,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    lifecycle(state.0, path, request, LifecycleOp::Create).await
}

/// `DELETE /v1/objects/{type}/{id}`: deletes the object and its state; `{"deleted": true}`.
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
    let (parts, _body) = request.into_parts();
    let result = async {
        let (type_name, id) = segments(path)?;
        let requester = identify(&core, &parts.headers)?;
        core.check_lifecycle(&type_name, &id, op)?;
        core.admit(&requester.rate_key(remote(&parts.extensions)), &type_name)?;
        match op {
            LifecycleOp::Create => {
                core.create(&type_name, &id).await?;
                Ok(json!({ "id": id }))
            }
            LifecycleOp::Delete => {
                core.delete(&type_name, &id).await?;
                Ok(json!({ "deleted": true }))
            }
        }
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, body.to_string().into_bytes()),
        Err(e) => error_response(&e),
    }
}
