//! The SQLite provider (cargo feature `sqlite`): durable state for a single node in one file.
//!
//! Schema (migrations in `goverse/migrations/sqlite/`, run by [`SqliteStore::open`]): the same
//! tables as PostgreSQL's — `goverse_objects` keyed by `(object_type, object_id)` with the
//! object's serde form as JSON `TEXT` and its `version`, and `goverse_reliable_calls` keyed by
//! `call_id` with `seq INTEGER PRIMARY KEY AUTOINCREMENT` — with timestamps as `INTEGER`
//! milliseconds since the Unix epoch (from this process's clock, so `list_objects` orders by
//! millisecond). The file is created if missing and opened in WAL mode with a busy timeout, so
//! readers never block the writer and writers wait for each other.
//!
//! Every state write is conditional: an insert with `ON CONFLICT DO NOTHING` when the writer saw
//! no row (version 0), else an `UPDATE … WHERE version = expected`; no row affected is a version
//! conflict. `finish_call` writes the state and the call's outcome in one `BEGIN IMMEDIATE`
//! transaction (the write lock is taken up front, so it never fails half-way on a stale
//! snapshot), and rolls both back on a conflict or when the call is not pending.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Executor, Row, Sqlite};

use super::records::{
    CallFilter, CallOutcome, CallStatus, NewCall, ObjectRecord, ReliableCallRecord, StateWrite,
    StoredState, from_millis, to_millis,
};
use super::{Store, conflict};
use crate::error::{Error, Result};

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an operation waits for a pooled connection before failing with `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per store: one writer at a time anyway, a few readers beside it.
const MAX_CONNECTIONS: u32 = 4;

/// The columns of a reliable call, in the order [`call_from_row`] reads them.
macro_rules! call_columns {
    () => {
        "seq, call_id, object_type, object_id, method, args, status, result, error, created_at, \
         updated_at"
    };
}

/// The columns of an object, in the order [`object_from_row`] reads them.
macro_rules! object_columns {
    () => {
        "object_type, object_id, state, version, created_at, updated_at"
    };
}

/// Migrations of SQLite files opened by this process run one at a time: SQLite's migrator takes
/// no lock, and two connections applying the same migration would collide.
static MIGRATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Object state and reliable calls in a SQLite file.
#[derive(Debug)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    path: String,
}

/// Milliseconds since the Unix epoch, now.
fn now() -> i64 {
    to_millis(SystemTime::now())
}

impl SqliteStore {
    /// Opens (creating if missing) the SQLite file at `path` and brings its schema up to date.
    pub(super) async fn open(path: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))
            .map_err(|e| {
                Error::invalid_argument(format!("`{path}` is not a valid SQLite path: {e}"))
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let store = SqliteStore {
            pool: SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options),
            path: path.to_string(),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let _one_at_a_time = MIGRATING.lock().await;
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        // A node of an older goverse may open a file that a newer one migrated.
        migrator.set_ignore_missing(true);
        match migrator.run(&self.pool).await {
            Ok(()) => Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e)) => {
                Err(self.error("opening and migrating the schema", e))
            }
            Err(sqlx::migrate::MigrateError::ExecuteMigration(e, version)) => {
                Err(self.error(&format!("applying schema migration {version}"), e))
            }
            Err(e) => Err(Error::internal(format!(
                "SQLite database `{}`: the goverse schema cannot be migrated: {e}",
                self.path
            ))),
        }
    }

    /// Maps a database error met while `doing` something to a goverse error.
    fn error(&self, doing: &str, error: sqlx::Error) -> Error {
        let path = &self.path;
        if is_unavailable(&error) {
            Error::unavailable(format!(
                "SQLite database `{path}` is unavailable ({doing}): {error}"
            ))
        } else {
            Error::internal(format!("SQLite database `{path}` failed {doing}: {error}"))
        }
    }

    /// The stored version of an object, for a conflict's message.
    async fn version_in<'e, E>(
        executor: E,
        object_type: &str,
        object_id: &str,
    ) -> sqlx::Result<Option<i64>>
    where
        E: Executor<'e, Database = Sqlite>,
    {
        sqlx::query_scalar(
            "SELECT version FROM goverse_objects WHERE object_type = $1 AND object_id = $2",
        )
        .bind(object_type)
        .bind(object_id)
        .fetch_optional(executor)
        .await
    }

    /// Writes `write` on `conn`: `Ok(Ok(version))`, or `Ok(Err(conflict))` when the stored
    /// version is not the expected one.
    async fn write_state(
        conn: &mut SqliteConnection,
        write: &StateWrite<'_>,
    ) -> sqlx::Result<Result<i64>> {
        let now = now();
        let affected = if write.expected_version == 0 {
            sqlx::query(
                "INSERT INTO goverse_objects \
                 (object_type, object_id, state, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT DO NOTHING",
            )
            .bind(write.object_type)
            .bind(write.object_id)
            .bind(write.state_json)
            .bind(now)
            .execute(&mut *conn)
            .await?
        } else {
            sqlx::query(
                "UPDATE goverse_objects SET state = $3, version = version + 1, updated_at = $5 \
                 WHERE object_type = $1 AND object_id = $2 AND version = $4",
            )
            .bind(write.object_type)
            .bind(write.object_id)
            .bind(write.state_json)
            .bind(write.expected_version)
            .bind(now)
            .execute(&mut *conn)
            .await?
        }
        .rows_affected();
        if affected == 1 {
            return Ok(Ok(write.expected_version + 1));
        }
        let found = Self::version_in(&mut *conn, write.object_type, write.object_id).await?;
        Ok(Err(conflict(
            write.object_type,
            write.object_id,
            write.expected_version,
            found,
        )))
    }

    async fn finish(
        &self,
        call_id: &str,
        outcome: &CallOutcome,
        state: Option<StateWrite<'_>>,
    ) -> Result<Option<i64>> {
        let doing = format!("recording the outcome of reliable call `{call_id}`");
        let fail = |e| self.error(&doing, e);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(fail)?;
        let error_json = outcome.error_json();
        let updated = sqlx::query(
            "UPDATE goverse_reliable_calls SET status = $2, result = $3, error = $4, \
             updated_at = $5 WHERE call_id = $1 AND status = 'pending'",
        )
        .bind(call_id)
        .bind(outcome.status().as_str())
        .bind(outcome.result_json())
        .bind(error_json.as_deref())
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(fail)?
        .rows_affected();
        if updated != 1 {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM goverse_reliable_calls WHERE call_id = $1")
                    .bind(call_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
            let _ = tx.rollback().await;
            return Err(match status {
                None => Error::internal(format!("reliable call `{call_id}` is not in the log")),
                Some(status) => Error::internal(format!(
                    "reliable call `{call_id}` already has an outcome ({status})"
                )),
            });
        }
        let version = match state {
            None => None,
            Some(write) => match Self::write_state(&mut tx, &write).await.map_err(fail)? {
                Ok(version) => Some(version),
                Err(conflict) => {
                    let _ = tx.rollback().await;
                    return Err(conflict);
                }
            },
        };
        tx.commit().await.map_err(fail)?;
        Ok(version)
    }
}

/// Whether `error` means the file cannot be used right now (locked too long, I/O error, disk
/// full, cannot be opened), rather than a problem with the request.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            // Primary result codes: BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
            .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)),
        _ => false,
    }
}

fn object_from_row(row: &SqliteRow) -> sqlx::Result<ObjectRecord> {
    Ok(ObjectRecord {
        object_type: row.try_get(0)?,
        object_id: row.try_get(1)?,
        state_json: row.try_get(2)?,
        version: row.try_get(3)?,
        created_at: from_millis(row.try_get(4)?),
        updated_at: from_millis(row.try_get(5)?),
    })
}

fn call_from_row(row: &SqliteRow) -> Result<ReliableCallRecord> {
    let get = |e: sqlx::Error| Error::internal(format!("unreadable reliable-call row: {e}"));
    let status: String = row.try_get(6).map_err(get)?;
    let result_json: Option<String> = row.try_get(7).map_err(get)?;
    let error_json: Option<String> = row.try_get(8).map_err(get)?;
    Ok(ReliableCallRecord {
        seq: row.try_get(0).map_err(get)?,
        call_id: row.try_get(1).map_err(get)?,
        object_type: row.try_get(2).map_err(get)?,
        object_id: row.try_get(3).map_err(get)?,
        method: row.try_get(4).map_err(get)?,
        args_json: row.try_get(5).map_err(get)?,
        outcome: CallOutcome::from_stored(
            CallStatus::parse(&status)?,
            result_json,
            error_json.as_deref(),
        )?,
        created_at: from_millis(row.try_get(9).map_err(get)?),
        updated_at: from_millis(row.try_get(10).map_err(get)?),
    })
}

impl Store for SqliteStore {
    fn provider(&self) -> &'static str {
        "sqlite"
    }

    fn load<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredState>>> {
        Box::pin(async move {
            let row: Option<(String, i64)> = sqlx::query_as(
                "SELECT state, version FROM goverse_objects \
                 WHERE object_type = $1 AND object_id = $2",
            )
            .bind(object_type)
            .bind(object_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(&format!("loading {object_type}/{object_id}"), e))?;
            Ok(row.map(|(state_json, version)| StoredState {
                state_json,
                version,
            }))
        })
    }

    fn save<'a>(&'a self, write: StateWrite<'a>) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let fail = |e| {
                self.error(
                    &format!("saving {}/{}", write.object_type, write.object_id),
                    e,
                )
            };
            let mut conn = self.pool.acquire().await.map_err(fail)?;
            Self::write_state(&mut conn, &write).await.map_err(fail)?
        })
    }

    fn delete<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
        expected_version: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let fail = |e| self.error(&format!("deleting {object_type}/{object_id}"), e);
            let deleted = sqlx::query(
                "DELETE FROM goverse_objects \
                 WHERE object_type = $1 AND object_id = $2 AND version = $3",
            )
            .bind(object_type)
            .bind(object_id)
            .bind(expected_version)
            .execute(&self.pool)
            .await
            .map_err(fail)?
            .rows_affected();
            if deleted == 1 {
                return Ok(());
            }
            match Self::version_in(&self.pool, object_type, object_id)
                .await
                .map_err(fail)?
            {
                None => Ok(()),
                found => Err(conflict(object_type, object_id, expected_version, found)),
            }
        })
    }

    fn insert_call<'a>(&'a self, call: NewCall<'a>) -> BoxFuture<'a, Result<ReliableCallRecord>> {
        Box::pin(async move {
            let fail = |e| self.error(&format!("recording reliable call `{}`", call.call_id), e);
            let now = now();
            let inserted = sqlx::query(concat!(
                "INSERT INTO goverse_reliable_calls \
                 (call_id, object_type, object_id, method, args, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (call_id) DO NOTHING RETURNING ",
                call_columns!()
            ))
            .bind(call.call_id)
            .bind(call.object_type)
            .bind(call.object_id)
            .bind(call.method)
            .bind(call.args_json)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail)?;
            let row = match inserted {
                Some(row) => row,
                // Another writer has it (writes are serialized, so it is committed).
                None => sqlx::query(concat!(
                    "SELECT ",
                    call_columns!(),
                    " FROM goverse_reliable_calls WHERE call_id = $1"
                ))
                .bind(call.call_id)
                .fetch_one(&self.pool)
                .await
                .map_err(fail)?,
            };
            call_from_row(&row)
        })
    }

    fn call<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, Result<Option<ReliableCallRecord>>> {
        Box::pin(async move {
            let row = sqlx::query(concat!(
                "SELECT ",
                call_columns!(),
                " FROM goverse_reliable_calls WHERE call_id = $1"
            ))
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(&format!("reading reliable call `{call_id}`"), e))?;
            row.as_ref().map(call_from_row).transpose()
        })
    }

    fn pending_calls<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>> {
        Box::pin(async move {
            let rows = sqlx::query(concat!(
                "SELECT ",
                call_columns!(),
                " FROM goverse_reliable_calls \
                 WHERE object_type = $1 AND object_id = $2 AND status = 'pending' \
                 ORDER BY seq"
            ))
            .bind(object_type)
            .bind(object_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| {
                self.error(
                    &format!("reading the pending calls of {object_type}/{object_id}"),
                    e,
                )
            })?;
            rows.iter().map(call_from_row).collect()
        })
    }

    fn finish_call<'a>(
        &'a self,
        call_id: &'a str,
        outcome: &'a CallOutcome,
        state: Option<StateWrite<'a>>,
    ) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(self.finish(call_id, outcome, state))
    }

    fn list_objects<'a>(
        &'a self,
        object_type: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ObjectRecord>>> {
        Box::pin(async move {
            let rows = sqlx::query(concat!(
                "SELECT ",
                object_columns!(),
                " FROM goverse_objects WHERE ($1 IS NULL OR object_type = $1) \
                 ORDER BY updated_at DESC, object_type, object_id LIMIT $2"
            ))
            .bind(object_type)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("listing objects", e))?;
            rows.iter()
                .map(object_from_row)
                .collect::<sqlx::Result<_>>()
                .map_err(|e| self.error("reading objects", e))
        })
    }

    fn object<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectRecord>>> {
        Box::pin(async move {
            let fail = |e| self.error(&format!("reading {object_type}/{object_id}"), e);
            let row = sqlx::query(concat!(
                "SELECT ",
                object_columns!(),
                " FROM goverse_objects WHERE object_type = $1 AND object_id = $2"
            ))
            .bind(object_type)
            .bind(object_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail)?;
            row.as_ref().map(object_from_row).transpose().map_err(fail)
        })
    }

    fn list_calls<'a>(
        &'a self,
        filter: &'a CallFilter,
    ) -> BoxFuture<'a, Result<Vec<ReliableCallRecord>>> {
        Box::pin(async move {
            let rows = sqlx::query(concat!(
                "SELECT ",
                call_columns!(),
                " FROM goverse_reliable_calls \
                 WHERE ($1 IS NULL OR object_type = $1) \
                 AND ($2 IS NULL OR object_id = $2) \
                 AND ($3 IS NULL OR status = $3) \
                 ORDER BY seq LIMIT $4"
            ))
            .bind(filter.object_type.as_deref())
            .bind(filter.object_id.as_deref())
            .bind(filter.status.map(CallStatus::as_str))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error("listing reliable calls", e))?;
            rows.iter().map(call_from_row).collect()
        })
    }
}
