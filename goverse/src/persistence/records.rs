//! The rows the store keeps, as the runtime and the admin tools see them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// An object's saved state as loaded for an activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredState {
    /// The object's serde form, as JSON text.
    pub(crate) state_json: String,
    /// Incremented by every save; saves are conditional on it.
    pub(crate) version: i64,
}

/// A conditional write of an object's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateWrite<'a> {
    pub(crate) object_type: &'a str,
    pub(crate) object_id: &'a str,
    /// The object's serde form, as JSON text.
    pub(crate) state_json: &'a str,
    /// The version the writer loaded (0: the object had no row). The write succeeds only if the
    /// store still has this version, and stores `expected_version + 1`.
    pub(crate) expected_version: i64,
}

/// A stored object, as the admin tools show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The object's type name.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The object's serde form, as JSON text.
    pub state_json: String,
    /// How many times the object was saved.
    pub version: i64,
    /// When the object was first saved.
    pub created_at: SystemTime,
    /// When the object was last saved.
    pub updated_at: SystemTime,
}

/// Where a reliable call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Recorded, not executed yet (or executed by an owner that crashed before committing).
    Pending,
    /// Executed; the method returned a result.
    Success,
    /// Executed; the method returned an error. It may have had side effects outside its object:
    /// do not retry blindly.
    Failed,
    /// Never executed (for example the arguments could not be decoded): safe to retry, also with
    /// a new call id.
    Skipped,
}

impl CallStatus {
    /// The status as stored and as sent to GoVerse clients: `pending`, `success`, `failed`,
    /// `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Pending => "pending",
            CallStatus::Success => "success",
            CallStatus::Failed => "failed",
            CallStatus::Skipped => "skipped",
        }
    }

    /// Parses a stored status.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "pending" => Ok(CallStatus::Pending),
            "success" => Ok(CallStatus::Success),
            "failed" => Ok(CallStatus::Failed),
            "skipped" => Ok(CallStatus::Skipped),
            other => Err(Error::invalid_argument(format!(
                "unknown reliable-call status `{other}`; expected pending, success, failed or \
                 skipped"
            ))),
        }
    }

    /// Whether the call has its final outcome.
    pub fn is_final(self) -> bool {
        self != CallStatus::Pending
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reliable call to record.
#[derive(Debug, Clone, Copy)]
pub struct NewCall<'a> {
    /// The caller's id for the call; unique across the cluster.
    pub call_id: &'a str,
    /// The object's type name.
    pub object_type: &'a str,
    /// The object's id.
    pub object_id: &'a str,
    /// The method's wire name.
    pub method: &'a str,
    /// The named arguments as a JSON object.
    pub args_json: &'a str,
}

/// How a reliable call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The method returned this result (JSON text).
    Success(String),
    /// The method returned this error.
    Failed(Error),
    /// The method never ran, for this reason.
    Skipped(Error),
}

impl CallOutcome {
    /// The status this outcome is stored with.
    pub fn status(&self) -> CallStatus {
        match self {
            CallOutcome::Success(_) => CallStatus::Success,
            CallOutcome::Failed(_) => CallStatus::Failed,
            CallOutcome::Skipped(_) => CallStatus::Skipped,
        }
    }

    /// The result as JSON text, for a success.
    pub fn result_json(&self) -> Option<&str> {
        match self {
            CallOutcome::Success(json) => Some(json),
            _ => None,
        }
    }

    /// The error, for a failed or skipped call.
    pub fn error(&self) -> Option<&Error> {
        match self {
            CallOutcome::Success(_) => None,
            CallOutcome::Failed(error) | CallOutcome::Skipped(error) => Some(error),
        }
    }

    /// The error as stored: its serde form in JSON.
    pub(crate) fn error_json(&self) -> Option<String> {
        self.error()
            .map(|error| serde_json::to_string(error).expect("errors always serialize"))
    }

    /// Rebuilds an outcome from a stored status, result and error; `None` while pending.
    pub(crate) fn from_stored(
        status: CallStatus,
        result_json: Option<String>,
        error_json: Option<&str>,
    ) -> Result<Option<Self>> {
        let error = || -> Result<Error> {
            let json = error_json.ok_or_else(|| {
                Error::internal(format!("a {status} reliable call has no stored error"))
            })?;
            serde_json::from_str(json).map_err(|e| {
                Error::internal(format!(
                    "the stored error of a reliable call is unreadable: {e}"
                ))
            })
        };
        Ok(match status {
            CallStatus::Pending => None,
            CallStatus::Success => Some(CallOutcome::Success(result_json.ok_or_else(|| {
                Error::internal("a successful reliable call has no stored result")
            })?)),
            CallStatus::Failed => Some(CallOutcome::Failed(error()?)),
            CallStatus::Skipped => Some(CallOutcome::Skipped(error()?)),
        })
    }
}

/// One row of the reliable-call log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReliableCallRecord {
    /// Increasing in insertion order across the whole log.
    pub seq: i64,
    /// The caller's id for the call.
    pub call_id: String,
    /// The object's type name.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The method's wire name.
    pub method: String,
    /// The named arguments as a JSON object.
    pub args_json: String,
    /// The outcome, once the call has one (`None` while pending).
    pub outcome: Option<CallOutcome>,
    /// When the call was first recorded.
    pub created_at: SystemTime,
    /// When the row last changed.
    pub updated_at: SystemTime,
}

impl ReliableCallRecord {
    /// The call's status.
    pub fn status(&self) -> CallStatus {
        self.outcome
            .as_ref()
            .map_or(CallStatus::Pending, CallOutcome::status)
    }

    /// Whether this row records the same call as `call` (same object, method and arguments).
    pub(crate) fn matches(&self, call: &NewCall<'_>) -> bool {
        self.object_type == call.object_type
            && self.object_id == call.object_id
            && self.method == call.method
            && same_json(&self.args_json, call.args_json)
    }
}

/// Compares two JSON texts as values (key order and spacing do not matter).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Which reliable calls to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// Only calls to objects of this type.
    pub object_type: Option<String>,
    /// Only calls to the object with this id.
    pub object_id: Option<String>,
    /// Only calls with this status.
    pub status: Option<CallStatus>,
    /// At most this many rows.
    pub limit: u32,
}

impl Default for CallFilter {
    fn default() -> Self {
        CallFilter {
            object_type: None,
            object_id: None,
            status: None,
            limit: 100,
        }
    }
}

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn to_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time `millis` milliseconds after the Unix epoch.
pub(crate) fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}
