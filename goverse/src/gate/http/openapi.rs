//! `GET /v1/openapi.json`: an OpenAPI 3 description of the JSON-native API, generated from the
//! registry (the `MethodInfo` the `#[goverse::object]` macro records), never written by hand.
//!
//! One path per type and method, `/v1/objects/{Type}/{id}/{method}` with the type and method
//! literal; the request body is an object whose properties are the parameter names. A parameter
//! or result whose type implements `schemars::JsonSchema` (cargo feature `schemars`) is described
//! by that schema, named types under `components.schemas`; any other is `{}` (any JSON value).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value, json};

use super::{Core, json_response};
use crate::gate::GateCore;
use crate::object::{MethodInfo, Schemas, TurnKind};

/// The route serving the document.
pub(super) fn route() -> MethodRouter<Arc<GateCore>> {
    get(document).fallback(|request: axum::extract::Request| async move {
        json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": {
                "kind": "MethodNotAllowed",
                "code": null,
                "message": format!("{} is not allowed on /v1/openapi.json", request.method()),
            }})
            .to_string()
            .into_bytes(),
        )
    })
}

async fn document(state: Core) -> Response {
    let types = state.0.router().registry().describe();
    json_response(StatusCode::OK, generate(&types).to_string().into_bytes())
}

/// The OpenAPI document for `types` (name and methods of every registered object type).
pub(super) fn generate(types: &[(&'static str, Vec<MethodInfo>)]) -> Value {
    let mut types: Vec<&(&str, Vec<MethodInfo>)> = types.iter().collect();
    types.sort_by_key(|(name, _)| *name);
    let mut schemas = Schemas::default();
    let mut paths = Map::new();
    for (type_name, methods) in types {
        paths.insert(
            format!("/v1/objects/{type_name}/{{id}}"),
            lifecycle(type_name),
        );
        let mut methods: Vec<&MethodInfo> = methods.iter().collect();
        methods.sort_by_key(|method| method.name);
        for method in methods {
            paths.insert(
                format!("/v1/objects/{type_name}/{{id}}/{}", method.name),
                json!({ "post": operation(type_name, method, &mut schemas) }),
            );
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "goverse JSON API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Calls methods of goverse virtual objects with JSON. Generated from the \
                object types registered on this node. Ids are one path segment, percent-encoded \
                (`a%2Fb` is the id `a/b`). Arguments and results are described where their \
                Rust types implement `schemars::JsonSchema`; elsewhere the schema is `{}`: any \
                JSON value that the method's Rust type accepts.",
        },
        "paths": paths,
        "components": components(schemas),
    })
}

/// The create and delete operations of one type.
fn lifecycle(type_name: &str) -> Value {
    json!({
        "parameters": [{ "$ref": "#/components/parameters/id" }],
        "post": {
            "operationId": format!("{type_name}.create"),
            "tags": [type_name],
            "summary": format!("Create (activate) a {type_name}"),
            "responses": {
                "200": {
                    "description": "The object is active.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "id": { "type": "string" } },
                        "required": ["id"],
                    }}},
                },
                "default": { "$ref": "#/components/responses/Error" },
            },
        },
        "delete": {
            "operationId": format!("{type_name}.delete"),
            "tags": [type_name],
            "summary": format!("Delete a {type_name}: deactivate it and delete its stored state"),
            "responses": {
                "200": {
                    "description": "The object is deleted.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "deleted": { "type": "boolean" } },
                        "required": ["deleted"],
                    }}},
                },
                "default": { "$ref": "#/components/responses/Error" },
            },
        },
    })
}

/// The call operation of one method; its types' named schemas go to `schemas`.
fn operation(type_name: &str, method: &MethodInfo, schemas: &mut Schemas) -> Value {
    let turn = match method.kind {
        TurnKind::Exclusive => "Exclusive turn (`&mut self`): runs alone, in arrival order.",
        TurnKind::Shared => "Shared turn (`&self`): may overlap other shared turns.",
    };
    let idempotent = if method.idempotent {
        " Idempotent: safe to retry."
    } else {
        " Not marked idempotent: retry only with an `Idempotency-Key` (a reliable call)."
    };
    let described = (method.schemas)(schemas);
    let any = || json!({});
    let properties: Map<String, Value> = method
        .params
        .iter()
        .enumerate()
        .map(|(index, param)| {
            let schema = described.params.get(index).cloned().flatten();
            (param.to_string(), schema.unwrap_or_else(any))
        })
        .collect();
    let result = described.result.unwrap_or_else(any);
    json!({
        "operationId": format!("{type_name}.{}", method.name),
        "tags": [type_name],
        "summary": format!("{type_name}.{}({})", method.name, method.params.join(", ")),
        "description": format!(
            "{turn}{idempotent} The body is a JSON object of the named arguments (a schema of \
             `{{}}` is any JSON value the method's Rust parameter accepts)."
        ),
        "parameters": [
            { "$ref": "#/components/parameters/id" },
            { "$ref": "#/components/parameters/IdempotencyKey" },
            { "$ref": "#/components/parameters/TimeoutMs" },
            { "$ref": "#/components/parameters/ClientId" },
        ],
        "requestBody": {
            "required": !method.params.is_empty(),
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": properties,
                "additionalProperties": false,
            }}},
        },
        "responses": {
            "200": {
                "description": "The method's result. For a reliable call the \
                    `Goverse-Call-Status` header is `SUCCESS`.",
                "headers": { "Goverse-Call-Status": { "$ref": "#/components/headers/CallStatus" } },
                "content": { "application/json": { "schema": result } },
            },
            "default": { "$ref": "#/components/responses/Error" },
        },
    })
}

/// The shared parameters, headers, error schema and error response, and the named schemas of
/// the methods' types (`GoverseError` is ours, so it cannot clash with a user type's name).
fn components(schemas: Schemas) -> Value {
    let mut components = json!({
        "parameters": {
            "id": {
                "name": "id", "in": "path", "required": true,
                "description": "The object id: any characters, percent-encoded as one segment.",
                "schema": { "type": "string" },
            },
            "IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Makes the call reliable, with this call id: it runs at most \
                    once and its outcome is stored; repeating it answers the stored outcome.",
                "schema": { "type": "string", "maxLength": crate::routing::MAX_CALL_ID_LEN },
            },
            "TimeoutMs": {
                "name": "Goverse-Timeout-Ms", "in": "header", "required": false,
                "description": "A shorter deadline for the call, in milliseconds (capped at the \
                    node's call timeout).",
                "schema": { "type": "integer", "minimum": 1 },
            },
            "ClientId": {
                "name": "X-Client-ID", "in": "header", "required": false,
                "description": "The client id from this gate's event stream \
                    (GET /api/v1/events/stream), so that the object can push to it.",
                "schema": { "type": "string" },
            },
        },
        "headers": {
            "CallStatus": {
                "description": "The outcome of a reliable call: SUCCESS, FAILED or SKIPPED.",
                "schema": { "type": "string", "enum": ["SUCCESS", "FAILED", "SKIPPED"] },
            },
        },
        "schemas": {
            "GoverseError": {
                "type": "object",
                "required": ["error"],
                "properties": { "error": {
                    "type": "object",
                    "required": ["kind", "code", "message"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "enum": ["NotFound", "InvalidArgument", "Timeout", "Unavailable",
                                "PermissionDenied", "Unauthenticated", "ResourceExhausted",
                                "Deadlock", "App", "Internal", "MethodNotAllowed"],
                        },
                        "code": {
                            "type": "string", "nullable": true,
                            "description": "The application's code of an App error \
                                (BODY_TOO_LARGE for a request body over the limit).",
                        },
                        "message": { "type": "string" },
                    },
                }},
            },
        },
        "responses": {
            "Error": {
                "description": "An error; the status is the kind's (NotFound 404, \
                    InvalidArgument 400, Timeout 504, Unavailable 503, PermissionDenied 403, \
                    Unauthenticated 401, ResourceExhausted 429 with Retry-After, Deadlock 409, \
                    App 422, Internal 500, 413 for a body over the limit). A failed or skipped \
                    reliable call has Goverse-Call-Status FAILED or SKIPPED.",
                "headers": { "Goverse-Call-Status": { "$ref": "#/components/headers/CallStatus" } },
                "content": { "application/json": { "schema": {
                    "$ref": "#/components/schemas/GoverseError",
                }}},
            },
        },
    });
    let named = &mut components["schemas"];
    for (name, schema) in schemas.into_definitions() {
        named[name] = schema;
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_schemas(_: &mut Schemas) -> crate::object::MethodSchemas {
        crate::object::MethodSchemas::default()
    }

    #[test]
    fn every_method_has_a_path() {
        let methods = vec![
            MethodInfo {
                name: "add",
                params: &["n"],
                kind: TurnKind::Exclusive,
                idempotent: false,
                schemas: no_schemas,
            },
            MethodInfo {
                name: "get",
                params: &[],
                kind: TurnKind::Shared,
                idempotent: true,
                schemas: no_schemas,
            },
        ];
        let doc = generate(&[("Counter", methods)]);
        assert_eq!(doc["openapi"], "3.0.3");
        let add = &doc["paths"]["/v1/objects/Counter/{id}/add"]["post"];
        assert_eq!(add["operationId"], "Counter.add");
        let schema = &add["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema["properties"]["n"], json!({}));
        assert!(add["description"].as_str().unwrap().contains("Exclusive"));
        let get = &doc["paths"]["/v1/objects/Counter/{id}/get"]["post"];
        assert!(get["description"].as_str().unwrap().contains("Idempotent"));
        let lifecycle = &doc["paths"]["/v1/objects/Counter/{id}"];
        assert!(lifecycle["post"].is_object() && lifecycle["delete"].is_object());
        assert!(doc["components"]["schemas"]["GoverseError"].is_object());
    }
}
