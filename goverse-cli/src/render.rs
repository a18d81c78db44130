//! How records are shown: tables for listings, JSON for single records, RFC 3339 times.

use std::time::SystemTime;

use comfy_table::{Table, presets};
use goverse::persistence::{ObjectRecord, ReliableCallRecord};
use serde::Serialize;
use serde_json::Value;

/// `time` in RFC 3339, UTC, to the second: `2025-01-31T12:00:00Z`.
pub(crate) fn time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A table with `header`, in the style of every listing.
fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(header.iter().copied());
    table
}

/// Stored objects as a table: type, id, version, updated.
pub(crate) fn objects_table(objects: &[ObjectRecord]) -> String {
    let mut table = table(&["type", "id", "version", "updated"]);
    for object in objects {
        table.add_row(vec![
            object.object_type.clone(),
            object.object_id.clone(),
            object.version.to_string(),
            time(object.updated_at),
        ]);
    }
    table.to_string()
}

/// Reliable calls as a table: seq, call id, object, method, status, updated.
pub(crate) fn calls_table(calls: &[ReliableCallRecord]) -> String {
    let mut table = table(&["seq", "call id", "object", "method", "status", "updated"]);
    for call in calls {
        table.add_row(vec![
            call.seq.to_string(),
            call.call_id.clone(),
            format!("{}/{}", call.object_type, call.object_id),
            call.method.clone(),
            call.status().to_string(),
            time(call.updated_at),
        ]);
    }
    table.to_string()
}

/// One line about a stored object, for stderr: `Type/id: version 3, created …, updated …`.
pub(crate) fn object_summary(object: &ObjectRecord) -> String {
    format!(
        "{}/{}: version {}, created {}, updated {}",
        object.object_type,
        object.object_id,
        object.version,
        time(object.created_at),
        time(object.updated_at)
    )
}

/// A stored object with its metadata, as `show --json` prints it (fields in this order).
#[derive(Debug, Serialize)]
struct ObjectView<'a> {
    r#type: &'a str,
    id: &'a str,
    version: i64,
    created: String,
    updated: String,
    state: Value,
}

/// A reliable call, as `call` prints it (fields in this order).
#[derive(Debug, Serialize)]
struct CallView<'a> {
    seq: i64,
    call_id: &'a str,
    r#type: &'a str,
    id: &'a str,
    method: &'a str,
    args: Value,
    status: &'static str,
    result: Option<Value>,
    error: Option<ErrorView<'a>>,
    created: String,
    updated: String,
}

/// The error of a failed or skipped call.
#[derive(Debug, Serialize)]
struct ErrorView<'a> {
    kind: &'static str,
    code: Option<&'a str>,
    message: &'a str,
}

/// A stored object with its metadata as one indented JSON document.
pub(crate) fn object_json(object: &ObjectRecord) -> String {
    pretty(&ObjectView {
        r#type: &object.object_type,
        id: &object.object_id,
        version: object.version,
        created: time(object.created_at),
        updated: time(object.updated_at),
        state: parse_json(&object.state_json),
    })
}

/// A reliable call as one indented JSON document: arguments, status, and the result or the
/// error.
pub(crate) fn call_json(call: &ReliableCallRecord) -> String {
    let outcome = call.outcome.as_ref();
    pretty(&CallView {
        seq: call.seq,
        call_id: &call.call_id,
        r#type: &call.object_type,
        id: &call.object_id,
        method: &call.method,
        args: parse_json(&call.args_json),
        status: call.status().as_str(),
        result: outcome.and_then(|o| o.result_json()).map(parse_json),
        error: outcome.and_then(|o| o.error()).map(|error| ErrorView {
            kind: error.kind().as_str(),
            code: error.code(),
            message: error.message(),
        }),
        created: time(call.created_at),
        updated: time(call.updated_at),
    })
}

/// Stored JSON text as a value; text that does not parse (it always should) is kept as a string.
pub(crate) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `value` as indented JSON (struct fields in their declared order; map keys sorted).
pub(crate) fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("JSON values and views always serialize")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_are_rfc3339_utc_seconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(time(t), "2023-11-14T22:13:20Z");
    }

    use serde_json::json;

    #[test]
    fn unparsable_json_is_kept_as_text() {
        assert_eq!(parse_json("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(parse_json("not json"), json!("not json"));
    }
}
