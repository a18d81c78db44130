//! The PostgreSQL provider (cargo feature `postgres`).
//!
//! Schema (migrations in `goverse/migrations/postgres/`, run by [`PostgresStore::connect`] under
//! sqlx's advisory lock, so several nodes may start at once): `goverse_objects` holds one row per
//! object — its serde form as `JSONB` (queryable: `state->>'field'`), its `version` and
//! created/updated timestamps — keyed by `(object_type, object_id)`; `goverse_reliable_calls`
//! holds one row per reliable call, keyed by `call_id`, with an increasing `seq`, the arguments,
//! the `status` and the result or error as `JSONB`.
//!
//! Every state write is conditional: an insert with `ON CONFLICT DO NOTHING` when the writer saw
//! no row (version 0), else an `UPDATE … WHERE version = expected`; no row affected is a version
//! conflict. `finish_call` writes the state and the call's outcome in one transaction, and rolls
//! both back on a conflict or when the call is not pending. JSON travels as text (`$n::jsonb` in,
//! `col::text` out), so `JSONB` normalizes it (key order and spacing may differ from what was
//! written, never the value). Connection problems (server down, pool timeout after 5 s) are
//! `Unavailable` errors; the pool reconnects by itself once the server is back.

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, Postgres, Row};

use super::records::{
    CallFilter, CallOutcome, CallStatus, NewCall, ObjectRecord, ReliableCallRecord, StateWrite,
    StoredState, from_millis,
};
use super::{Store, conflict, redact};
use crate::error::{Error, Result};

/// How long an operation waits for a pooled connection (including connecting) before failing
/// with `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`PostgresStore::connect`] waits for its first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per node.
const MAX_CONNECTIONS: u32 = 10;

/// The columns of a reliable call, in the order [`call_from_row`] reads them (a macro, so that
/// queries stay `&'static str` literals through `concat!`).
macro_rules! call_columns {
    () => {
        "seq, call_id, object_type, object_id, method, args::text, status, result::text, \
         error::text, (extract(epoch from created_at) * 1000)::bigint, \
         (extract(epoch from updated_at) * 1000)::bigint"
    };
}

/// The columns of an object, in the order [`object_from_row`] reads them.
macro_rules! object_columns {
    () => {
        "object_type, object_id, state::text, version, \
         (extract(epoch from created_at) * 1000)::bigint, \
         (extract(epoch from updated_at) * 1000)::bigint"
    };
}

/// Object state and reliable calls in a PostgreSQL database.
#[derive(Debug)]
pub(super) struct PostgresStore {
    pool: PgPool,
    /// The URL without password or parameters, for messages.
    shown_url: String,
}

impl PostgresStore {
    /// Connects to `url`, brings the schema up to date, and returns a store whose pool opens
    /// connections on demand.
    pub(super) async fn connect(url: &str) -> Result<Self> {
        let shown_url = shown(url);
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::invalid_argument(format!("`{shown_url}` is not a valid PostgreSQL URL: {e}"))
        })?;
        let store = PostgresStore {
            pool: PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .min_connections(0)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(true)
                .connect_lazy_with(options.clone()),
            shown_url,
        };
        store.migrate(&options).await?;
        Ok(store)
    }

    /// Runs the migrations on a connection of its own, closed afterwards: sqlx holds a
    /// session-level advisory lock while migrating, and a failed migration must not leave it
    /// held by a pooled connection.
    async fn migrate(&self, options: &PgConnectOptions) -> Result<()> {
        let mut conn = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            PgConnection::connect_with(options),
        )
        .await
        {
            Ok(connected) => connected.map_err(|e| self.error("connecting", e))?,
            Err(_) => {
                return Err(Error::unavailable(format!(
                    "PostgreSQL at {} did not accept a connection within {CONNECT_TIMEOUT:?}",
                    self.shown_url
                )));
            }
        };
        let mut migrator = sqlx::migrate!("migrations/postgres");
        // A node of an older goverse may run against a schema that a newer one migrated.
        migrator.set_ignore_missing(true);
        let migrated = migrator.run(&mut conn).await;
        match migrated {
            Ok(()) => {
                let _ = conn.close().await;
                Ok(())
            }
            // Dropping the connection closes it, which releases the advisory lock.
            Err(sqlx::migrate::MigrateError::Execute(e)) => {
                Err(self.error("migrating the schema", e))
            }
            Err(sqlx::migrate::MigrateError::ExecuteMigration(e, version)) => {
                Err(self.error(&format!("applying schema migration {version}"), e))
            }
            Err(e) => Err(Error::internal(format!(
                "PostgreSQL at {}: the goverse schema cannot be migrated: {e}",
                self.shown_url
            ))),
        }
    }

    /// Maps a database error met while `doing` something to a goverse error.
    fn error(&self, doing: &str, error: sqlx::Error) -> Error {
        let url = &self.shown_url;
        if is_unavailable(&error) {
            Error::unavailable(format!(
                "PostgreSQL at {url} is unavailable ({doing}): {error}"
            ))
        } else {
            Error::internal(format!("PostgreSQL at {url} failed {doing}: {error}"))
        }
    }

    /// The stored version of an object, for a conflict's message.
    async fn version_in<'e, E>(
        executor: E,
        object_type: &str,
        object_id: &str,
    ) -> sqlx::Result<Option<i64>>
    where
        E: Executor<'e, Database = Postgres>,
    {
        sqlx::query_scalar(
            "SELECT version FROM goverse_objects WHERE object_type = $1 AND object_id = $2",
        )
        .bind(object_type)
        .bind(object_id)
        .fetch_optional(executor)
        .await
    }

    /// Writes `write` on `conn` (a transaction's or a pooled connection): `Ok(Ok(version))`,
    /// or `Ok(Err(conflict))` when the stored version is not the expected one.
    async fn write_state(
        conn: &mut PgConnection,
        write: &StateWrite<'_>,
    ) -> sqlx::Result<Result<i64>> {
        let affected = if write.expected_version == 0 {
            sqlx::query(
                "INSERT INTO goverse_objects (object_type, object_id, state, version) \
                 VALUES ($1, $2, $3::jsonb, 1) ON CONFLICT DO NOTHING",
            )
            .bind(write.object_type)
            .bind(write.object_id)
            .bind(write.state_json)
            .execute(&mut *conn)
            .await?
        } else {
            sqlx::query(
                "UPDATE goverse_objects SET state = $3::jsonb, version = version + 1, \
                 updated_at = now() \
                 WHERE object_type = $1 AND object_id = $2 AND version = $4",
            )
            .bind(write.object_type)
            .bind(write.object_id)
            .bind(write.state_json)
            .bind(write.expected_version)
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
        let mut tx = self.pool.begin().await.map_err(fail)?;
        let error_json = outcome.error_json();
        // The call first: its row lock makes a concurrent finisher of the same call wait, then
        // find it no longer pending.
        let updated = sqlx::query(
            "UPDATE goverse_reliable_calls SET status = $2, result = $3::jsonb, \
             error = $4::jsonb, updated_at = now() \
             WHERE call_id = $1 AND status = 'pending'",
        )
        .bind(call_id)
        .bind(outcome.status().as_str())
        .bind(outcome.result_json())
        .bind(error_json.as_deref())
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

/// Whether `error` means the server cannot be reached or is going away (retry later), rather
/// than a problem with the request.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: shutting down / starting up; 53300: too many
            // connections; 40001 / 40P01: serialization failure / deadlock (retry).
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

/// `url` without its password or query parameters, for messages.
fn shown(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(base, _)| base);
    redact(url)
}

fn object_from_row(row: &PgRow) -> sqlx::Result<ObjectRecord> {
    Ok(ObjectRecord {
        object_type: row.try_get(0)?,
        object_id: row.try_get(1)?,
        state_json: row.try_get(2)?,
        version: row.try_get(3)?,
        created_at: from_millis(row.try_get(4)?),
        updated_at: from_millis(row.try_get(5)?),
    })
}

fn call_from_row(row: &PgRow) -> Result<ReliableCallRecord> {
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

impl Store for PostgresStore {
    fn provider(&self) -> &'static str {
        "postgres"
    }

    fn load<'a>(
        &'a self,
        object_type: &'a str,
        object_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredState>>> {
        Box::pin(async move {
            let row: Option<(String, i64)> = sqlx::query_as(
                "SELECT state::text, version FROM goverse_objects \
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
            let inserted = sqlx::query(concat!(
                "INSERT INTO goverse_reliable_calls \
                 (call_id, object_type, object_id, method, args) \
                 VALUES ($1, $2, $3, $4, $5::jsonb) \
                 ON CONFLICT (call_id) DO NOTHING RETURNING ",
                call_columns!()
            ))
            .bind(call.call_id)
            .bind(call.object_type)
            .bind(call.object_id)
            .bind(call.method)
            .bind(call.args_json)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail)?;
            let row = match inserted {
                Some(row) => row,
                // Another writer has it; its insert committed before ours did nothing, so a
                // new statement sees it.
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
                " FROM goverse_objects \
                 WHERE ($1::text IS NULL OR object_type = $1) \
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
                " FROM goverse_objects \
                 WHERE object_type = $1 AND object_id = $2"
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
                 WHERE ($1::text IS NULL OR object_type = $1) \
                 AND ($2::text IS NULL OR object_id = $2) \
                 AND ($3::text IS NULL OR status = $3) \
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
