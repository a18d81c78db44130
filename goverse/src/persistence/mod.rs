//! Where object state and the reliable-call log live: the [`Database`] handle and its providers.
//!
//! Three providers sit behind one internal [`Store`] trait: in memory (the default; nothing
//! survives the process), a SQLite file (cargo feature `sqlite`) and PostgreSQL (cargo feature
//! `postgres`). State is stored as the object's serde form in JSON; every save is conditional on
//! the version the owner loaded, so a stale owner can never overwrite newer state. Reliable calls
//! are rows keyed by the caller's call id; a call's outcome and the object's new state are
//! committed in one transaction.

#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod conformance;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
// Some helpers (JSON and millisecond conversions) serve only the SQL providers; builds with all
// features (which clippy checks) still see any that nothing uses.
#[cfg_attr(not(all(feature = "postgres", feature = "sqlite")), allow(dead_code))]
mod records;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::{Error, Result};

pub use records::{CallFilter, CallOutcome, CallStatus, NewCall, ObjectRecord, ReliableCallRecord};
pub(crate) use records::{StateWrite, StoredState};

/// The operations every provider implements. Each call is one round trip (or one transaction)
/// against the database.
pub(crate) trait Store: Send + Sync + fmt::Debug {
    /// The provider's name for messages (`memory`, `sqlite`, `postgres`).
    fn provider(&self) -> &'static str;

    /// The state of one object, or `None` if it was never saved (or was deleted).
    fn load<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredState>>>;

    /// Writes the state if the stored version is still `write.expected_version` (0: no row yet)
    /// and returns the new version. A different stored version is a conflict error
    /// ([`is_conflict`]); nothing is written then.
    fn save<'a>(&'a self, write: StateWrite<'a>) -> BoxFuture<'a, Result<i64>>;

    /// Deletes the object's row if its version is still `expected_version` (a missing row is
    /// fine). Another version is a conflict error.
    fn delete<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
        expected_version: i64,
    ) -> BoxFuture<'a, Result<()>>;

    /// Inserts a pending reliable call, or returns the existing row with that call id as it is.
    fn insert_call<'a>(&'a self, call: NewCall<'a>) -> BoxFuture<'a, Result<ReliableCallRecord>>;

    /// The reliable call with this id, if any.
    fn call<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, Result<Option<ReliableCallRecord>>>;

    /// The pending calls of one object, oldest first.
    fn pending_calls<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>>;

    /// In one transaction: writes `state` (conditional on its expected version, as [`save`]
    /// does) if given, and records the outcome of the pending call `call_id`. Returns the new
    /// state version, if state was written. On a conflict nothing is written.
    ///
    /// [`save`]: Store::save
    fn finish_call<'a>(
        &'a self,
        call_id: &'a str,
        outcome: &'a CallOutcome,
        state: Option<StateWrite<'a>>,
    ) -> BoxFuture<'a, Result<Option<i64>>>;

    /// Stored objects, optionally of one type, newest first, at most `limit`.
    fn list_objects<'a>(
        &'a self,
        object_type: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ObjectRecord>>>;

    /// One stored object with its metadata.
    fn object<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectRecord>>>;

    /// Reliable calls matching `filter`, oldest first.
    fn list_calls<'a>(
        &'a self,
        filter: &'a CallFilter,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>>;
}

/// The code of the `Unavailable` error for a version conflict (see [`is_conflict`]).
const CONFLICT: &str = "goverse.conflict";

/// The error for a save or delete whose expected version is not the stored one.
pub(crate) fn conflict(
    object_type: &str,
    object_id: &str,
    expected: i64,
    found: Option<i64>,
) -> Error {
    let found = match found {
        Some(version) => format!("version {version}"),
        None => "no row".to_string(),
    };
    Error::from_parts(
        crate::error::ErrorKind::Unavailable,
        Some(CONFLICT.to_string()),
        format!(
            "version conflict: {object_type}/{object_id} was expected at version {expected} but \
             the store has {found}; another owner wrote it, so this activation's state is stale"
        ),
    )
}

/// Whether `error` is a version conflict from [`Store::save`], [`Store::delete`] or
/// [`Store::finish_call`].
pub(crate) fn is_conflict(error: &Error) -> bool {
    error.code() == Some(CONFLICT)
}

/// A connection to the store that holds object state and the reliable-call log.
///
/// Nodes open one from their builder options (`.postgres(url)`, `.sqlite(path)`, or the
/// in-memory default); the admin commands of the `goverse` tool open one from a URL.
#[derive(Clone)]
pub struct Database {
    store: Arc<dyn Store>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Database").field(&self.store).finish()
    }
}

impl Database {
    /// A store in this process's memory: nothing survives the process.
    pub fn memory() -> Self {
        Database {
            store: Arc::new(memory::MemoryStore::default()),
        }
    }

    /// Opens the database at `url` and brings its schema up to date (migrations are safe to run
    /// from several processes at once).
    ///
    /// URLs: `postgres://user@host:port/db` (cargo feature `postgres`), `sqlite:path/to/file`
    /// (cargo feature `sqlite`; the file is created if missing), `memory:`.
    pub async fn connect(url: &str) -> Result<Self> {
        let store: Arc<dyn Store> = if url == "memory:" {
            Arc::new(memory::MemoryStore::default())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await?
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            connect_sqlite(path.trim_start_matches("//")).await?
        } else {
            return Err(Error::invalid_argument(format!(
                "database URL `{}` has an unknown scheme; use `postgres://…`, `sqlite:path` or \
                 `memory:`",
                redact(url)
            )));
        };
        Ok(Database { store })
    }

    /// Opens (creating if missing) the SQLite database file at `path` and migrates it.
    pub async fn sqlite(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref().to_string_lossy().into_owned();
        Ok(Database {
            store: connect_sqlite(&path).await?,
        })
    }

    /// The provider's name: `memory`, `sqlite` or `postgres`.
    pub fn provider(&self) -> &'static str {
        self.store.provider()
    }

    /// Stored objects, optionally only of `object_type`, most recently updated first.
    pub async fn list_objects(
        &self,
        object_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>> {
        self.store.list_objects(object_type, limit).await
    }

    /// One stored object, with its state as JSON.
    pub async fn object(&self, object_type: &str, object_id: &str) -> Result<Option<ObjectRecord>> {
        self.store.object(object_type, object_id).await
    }

    /// Deletes an object's stored state whatever its version; returns whether a row existed.
    /// Do this only while no node has the object active (its next save would recreate it).
    pub async fn delete_object(&self, object_type: &str, object_id: &str) -> Result<bool> {
        let Some(record) = self.store.object(object_type, object_id).await? else {
            return Ok(false);
        };
        self.store
            .delete(object_type, object_id, record.version)
            .await?;
        Ok(true)
    }

    /// Records a reliable call without running it. It runs, in the order recorded, when the
    /// object is next activated — or when the same call is made with this id. An existing call
    /// with the id is returned as it is.
    pub async fn record_call(&self, call: NewCall<'_>) -> Result<ReliableCallRecord> {
        self.store.insert_call(call).await
    }

    /// Reliable calls matching `filter`, oldest first.
    pub async fn list_calls(&self, filter: &CallFilter) -> Result<Vec<ReliableCallRecord>> {
        self.store.list_calls(filter).await
    }

    /// One reliable call by its id.
    pub async fn call(&self, call_id: &str) -> Result<Option<ReliableCallRecord>> {
        self.store.call(call_id).await
    }

    /// The provider, for the runtime.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

#[cfg(feature = "postgres")]
async fn connect_postgres(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn connect_postgres(url: &str) -> Result<Arc<dyn Store>> {
    Err(Error::invalid_argument(format!(
        "database URL `{}` needs PostgreSQL support: build goverse with the `postgres` cargo \
         feature",
        redact(url)
    )))
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite(path: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite(path: &str) -> Result<Arc<dyn Store>> {
    Err(Error::invalid_argument(format!(
        "SQLite database `{path}` needs SQLite support: build goverse with the `sqlite` cargo \
         feature"
    )))
}

/// `url` with any password replaced by `***`, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("sqlite:/tmp/x"), "sqlite:/tmp/x");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_by_name() {
        let error = Database::connect("mysql://x").await.unwrap_err();
        assert!(error.message().contains("unknown scheme"), "{error}");
    }
}
