//! The store providers: the conformance suite against memory, SQLite and a throwaway PostgreSQL
//! server, and what only a real server shows — unreachable servers, concurrent migrations,
//! outages the pool recovers from, and state stored as queryable JSONB.

use std::time::{Duration, Instant};

use futures::future::join_all;
use goverse::ErrorKind;
use goverse::persistence::{CallStatus, Database, NewCall, conformance};
use goverse_tests::harness::{Postgres, free_port};

/// How long a store operation may take to fail while PostgreSQL is down: the pool's acquire
/// timeout (5 s) plus slack.
const OUTAGE_LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run(&Database::memory()).await;
    conformance::run(&Database::connect("memory:").await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_store_conforms_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested name ü.db");
    let db = Database::sqlite(&path).await.unwrap();
    assert_eq!(db.provider(), "sqlite");
    conformance::run(&db).await;
    assert_eq!(
        conformance::save(&db, "Kept", "k", r#"{"v":1}"#, 0)
            .await
            .unwrap(),
        1
    );
    drop(db);

    // Reopened (migrations already applied), through a URL: the data is there, and the suite
    // passes again beside the first run's rows.
    let url = format!("sqlite:{}", path.display());
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(
        conformance::load(&db, "Kept", "k").await.unwrap(),
        Some((r#"{"v":1}"#.to_string(), 1))
    );
    conformance::run(&db).await;
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_is_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("store.db");
    let error = Database::sqlite(&path).await.unwrap_err();
    assert!(
        error.message().contains("no-such-dir"),
        "the error names the path: {error}"
    );
}

#[tokio::test]
async fn postgres_store_conforms() {
    let pg = Postgres::start_async().await;
    let url = pg.create_database("conformance");
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.provider(), "postgres");
    conformance::run(&db).await;
    // A second node connecting to the migrated database, running beside the first.
    let again = Database::connect(&url).await.unwrap();
    conformance::run(&again).await;
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_the_password_stays_secret() {
    let port = free_port();
    let url = format!("postgres://app:s3cret-pw@127.0.0.1:{port}/goverse");
    let began = Instant::now();
    let error = Database::connect(&url).await.unwrap_err();
    assert!(began.elapsed() < OUTAGE_LIMIT, "took {:?}", began.elapsed());
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    let message = error.message();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn concurrent_migrations_are_safe() {
    let pg = Postgres::start_async().await;
    let url = pg.create_database("racing");
    let connected = join_all((0..4).map(|_| Database::connect(&url))).await;
    let dbs: Vec<Database> = connected
        .into_iter()
        .map(|db| db.unwrap_or_else(|e| panic!("a concurrent connect failed: {e}\n{}", pg.log())))
        .collect();
    let applied = pg.psql(
        "racing",
        "SELECT count(*) FROM _sqlx_migrations WHERE success",
    );
    assert_eq!(applied.trim(), "1");
    for (i, db) in dbs.iter().enumerate() {
        let version = conformance::save(db, "Racer", &format!("r{i}"), "{}", 0).await;
        assert_eq!(version.unwrap(), 1);
    }
}

#[tokio::test]
async fn postgres_outage_fails_fast_and_the_pool_recovers() {
    let mut pg = Postgres::start_async().await;
    let db = Database::connect(&pg.url()).await.unwrap();
    assert_eq!(
        conformance::save(&db, "Outage", "a", r#"{"n":1}"#, 0)
            .await
            .unwrap(),
        1
    );
    db.record_call(NewCall {
        call_id: "outage-call",
        object_type: "Outage",
        object_id: "a",
        method: "add",
        args_json: r#"{"n":1}"#,
    })
    .await
    .unwrap();

    pg.stop();
    assert!(!pg.is_running());
    let began = Instant::now();
    let error = conformance::save(&db, "Outage", "a", r#"{"n":2}"#, 1)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(
        error
            .message()
            .contains("PostgreSQL at postgres://postgres@127.0.0.1"),
        "{error}"
    );
    let error = conformance::load(&db, "Outage", "a").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    let error = db.call("outage-call").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(
        began.elapsed() < 3 * OUTAGE_LIMIT,
        "three failing operations took {:?}",
        began.elapsed()
    );

    // Back: the same Database works again at once, and the data is intact.
    pg.restart_async().await;
    assert_eq!(
        conformance::load(&db, "Outage", "a").await.unwrap(),
        Some((r#"{"n": 1}"#.to_string(), 1))
    );
    assert_eq!(
        conformance::save(&db, "Outage", "a", r#"{"n":2}"#, 1)
            .await
            .unwrap(),
        2
    );
    let call = db
        .call("outage-call")
        .await
        .unwrap()
        .expect("the call survived");
    assert_eq!(call.status(), CallStatus::Pending);
}

#[tokio::test]
async fn postgres_state_is_queryable_jsonb() {
    let pg = Postgres::start_async().await;
    let url = pg.create_database("queries");
    let db = Database::connect(&url).await.unwrap();
    conformance::save(&db, "Counter", "q1", r#"{"value":42,"name":"ü"}"#, 0)
        .await
        .unwrap();
    conformance::save(&db, "Counter", "q2", r#"{"value":7,"name":"x"}"#, 0)
        .await
        .unwrap();
    let rows = pg.psql(
        "queries",
        "SELECT object_id, state->>'value', jsonb_typeof(state) FROM goverse_objects \
         WHERE (state->>'value')::int > 10",
    );
    assert_eq!(rows.trim(), "q1|42|object");

    db.record_call(NewCall {
        call_id: "q-call",
        object_type: "Counter",
        object_id: "q1",
        method: "give",
        args_json: r#"{"to":"q2","n":100}"#,
    })
    .await
    .unwrap();
    let args = pg.psql(
        "queries",
        "SELECT args->>'to', status FROM goverse_reliable_calls WHERE call_id = 'q-call'",
    );
    assert_eq!(args.trim(), "q2|pending");
}
