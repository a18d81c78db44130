//! How a `persist` object's state is written and read: the policy chosen in the macro and the
//! serde glue the macro generates.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// When a persistent object's state is saved, besides deactivation, shard hand-off and shutdown
/// (which always save a changed object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavePolicy {
    /// After every exclusive turn, before the caller gets its answer: an acknowledged call is
    /// never lost. `#[goverse::object(persist(every_turn))]`.
    EveryTurn,
    /// A changed object is saved at most once per interval (the node's
    /// [`save_interval`](crate::NodeBuilder::save_interval) when `None`). `persist` alone, or
    /// `persist(interval = "10s")`.
    Periodic(Option<Duration>),
}

/// The persistence glue of one object type: its policy and its serde form in JSON.
pub struct Persistence<T> {
    policy: SavePolicy,
    encode: fn(&T) -> Result<String>,
    decode: fn(&str) -> Result<T>,
}

impl<T> std::fmt::Debug for Persistence<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Checked for the type of every `#[goverse::object(persist)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be persisted",
    label = "`persist` needs the object type to be `Serialize + DeserializeOwned`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it (mark fields that must not be stored with `#[serde(skip)]`)"
)]
pub trait PersistentState: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> PersistentState for T {}

impl<T: PersistentState> Persistence<T> {
    /// The state saved and loaded as the type's own serde form.
    pub const fn serde(policy: SavePolicy) -> Self {
        Persistence {
            policy,
            encode: encode_json::<T>,
            decode: decode_json::<T>,
        }
    }
}

impl<T> Persistence<T> {
    /// When the state is saved.
    pub fn policy(&self) -> SavePolicy {
        self.policy
    }

    pub(crate) fn encode(&self, state: &T) -> Result<String> {
        (self.encode)(state)
    }

    pub(crate) fn decode(&self, json: &str) -> Result<T> {
        (self.decode)(json)
    }
}

fn encode_json<T: Serialize>(state: &T) -> Result<String> {
    serde_json::to_string(state).map_err(|e| {
        Error::internal(format!(
            "the state of `{}` cannot be written as JSON: {e}",
            std::any::type_name::<T>()
        ))
    })
}

fn decode_json<T: DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::internal(format!(
            "the stored state cannot be read as `{}`: {e}; fix the row or make the type accept \
             it (for example `#[serde(default)]` on new fields)",
            std::any::type_name::<T>()
        ))
    })
}
