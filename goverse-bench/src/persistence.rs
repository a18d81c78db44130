//! Scenarios on an embedded node that persists to a throwaway PostgreSQL server: persisted calls
//! under the every-turn policy against a bare sqlx upsert of the same JSON, and how many
//! database writes the periodic policy makes for many calls spread over several save intervals.
//!
//! Both scenarios check what PostgreSQL holds afterwards against the calls made, and panic on a
//! difference: a benchmark that loses data measures nothing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use goverse::prelude::*;
use goverse_tests::harness::Postgres;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::{Row, Scale};

/// Concurrent callers in the every-turn throughput scenario.
const CALLERS: usize = 16;
/// goverse's PostgreSQL pool: the same options as `goverse/src/persistence/postgres.rs`
/// (connections per node, acquire timeout, a ping before handing out an idle connection).
const POOL_SIZE: u32 = 10;
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Rounds in which goverse and the baseline take turns (each round times both).
const ROUNDS: usize = 5;
/// Calls and objects of the periodic-policy scenario.
const PERIODIC_CALLS: usize = 10_000;
const PERIODIC_OBJECTS: usize = 100;
/// How long the periodic-policy calls are spread over: several of [`LazyCounter`]'s 200 ms save
/// intervals, so that periodic saves happen besides the shutdown's.
const PERIODIC_SPREAD: Duration = Duration::from_millis(1500);

/// A counter saved after every exclusive turn.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct SavedCounter {
    /// How many times `add` ran.
    count: u64,
    /// The sum of what was added.
    total: i64,
    /// The last amount added.
    last: i64,
}

impl SavedCounter {
    /// The change both `add`s make: goverse's method and the baseline's.
    fn bump(&mut self, n: i64) -> u64 {
        self.count += 1;
        self.total += n;
        self.last = n;
        self.count
    }
}

#[goverse::object(persist(every_turn))]
impl SavedCounter {
    /// Adds `n`; returns how many times `add` ran.
    #[method]
    pub(crate) async fn add(&mut self, n: i64) -> u64 {
        self.bump(n)
    }
}

/// The same counter, saved with the periodic policy: at most every 200 ms, on deactivation and
/// on shutdown.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct LazyCounter {
    /// How many times `add` ran.
    count: u64,
    /// The sum of what was added.
    total: i64,
    /// The last amount added.
    last: i64,
}

#[goverse::object(persist(interval = "200ms"))]
impl LazyCounter {
    /// Adds `n`; returns how many times `add` ran.
    #[method]
    pub(crate) async fn add(&mut self, n: i64) -> u64 {
        self.count += 1;
        self.total += n;
        self.last = n;
        self.count
    }
}

/// The baseline's table: the shape of `goverse_objects` (same key, columns and index).
const BASELINE_SCHEMA: &str = "CREATE TABLE bench_objects (
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    state       JSONB NOT NULL,
    version     BIGINT NOT NULL CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (object_type, object_id)
);
CREATE INDEX bench_objects_updated_at ON bench_objects (updated_at);";

/// The baseline's write: one upsert of the state's JSON.
const BASELINE_UPSERT: &str = "INSERT INTO bench_objects (object_type, object_id, state, version) \
     VALUES ($1, $2, $3::jsonb, 1) \
     ON CONFLICT (object_type, object_id) DO UPDATE \
     SET state = EXCLUDED.state, version = bench_objects.version + 1, updated_at = now()";

/// The baseline "object": a counter in memory whose JSON is upserted after every change.
struct BareCounter {
    id: String,
    state: SavedCounter,
}

impl BareCounter {
    fn new(id: String) -> BareCounter {
        BareCounter {
            id,
            state: SavedCounter::default(),
        }
    }

    async fn add(&mut self, pool: &PgPool, n: i64) -> u64 {
        let count = self.state.bump(n);
        let json = serde_json::to_string(&self.state).expect("a counter is JSON");
        sqlx::query(BASELINE_UPSERT)
            .bind(SavedCounter::TYPE_NAME)
            .bind(&self.id)
            .bind(&json)
            .execute(pool)
            .await
            .expect("baseline upsert");
        count
    }
}

/// Runs every persistence scenario against a PostgreSQL server of its own.
pub(crate) async fn run(scale: Scale) -> Vec<Row> {
    let postgres = Postgres::start_async().await;
    eprintln!("persistence: every-turn calls vs sqlx upserts");
    let mut rows = every_turn(&postgres, scale).await;
    eprintln!("persistence: writes under the periodic policy");
    rows.push(periodic_writes(&postgres).await);
    rows
}

/// A pool like goverse's, on `url`.
async fn baseline_pool(url: &str) -> PgPool {
    let options = PgConnectOptions::from_str(url).expect("PostgreSQL URL");
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(0)
        .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
        .test_before_acquire(true)
        .connect_with(options)
        .await
        .expect("baseline pool connects")
}

async fn every_turn(postgres: &Postgres, scale: Scale) -> Vec<Row> {
    let url = postgres.create_database("bench_every_turn");
    let node = Node::builder()
        .postgres(url.clone())
        .start()
        .await
        .expect("embedded node on PostgreSQL");
    let pool = baseline_pool(&url).await;
    sqlx::raw_sql(BASELINE_SCHEMA)
        .execute(&pool)
        .await
        .expect("baseline schema");

    // Latency: one caller, one object, one call after the other. The two sides take turns in
    // rounds, so that a change in the machine's load hits both alike.
    let latency_per_round = scale.persisted_latency_calls / ROUNDS;
    let latency_calls = latency_per_round * ROUNDS;
    let warmup = latency_per_round;
    let counter = node.object::<SavedCounter>("latency");
    let mut bare = BareCounter::new("latency".to_string());
    for _ in 0..warmup {
        counter.add(1).await.expect("persisted call");
        bare.add(&pool, 1).await;
    }
    let (mut goverse_time, mut baseline_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..latency_per_round {
            counter.add(1).await.expect("persisted call");
        }
        goverse_time += started.elapsed();
        let started = Instant::now();
        for _ in 0..latency_per_round {
            bare.add(&pool, 1).await;
        }
        baseline_time += started.elapsed();
    }
    let goverse_latency = per_call_micros(goverse_time, latency_calls);
    let baseline_latency = per_call_micros(baseline_time, latency_calls);

    // Throughput: every caller on an object of its own, in rounds as above. One call each
    // first, so that every object is active and stored, and both pools have connected.
    let per_round = scale.persisted_calls_per_caller / ROUNDS;
    let per_caller = per_round * ROUNDS;
    let proxies: Arc<Vec<SavedCounterProxy>> = Arc::new(
        (0..CALLERS)
            .map(|caller| node.object::<SavedCounter>(&format!("caller-{caller}")))
            .collect(),
    );
    for result in join_all(proxies.iter().map(|proxy| proxy.add(1))).await {
        result.expect("persisted call");
    }
    let pool = Arc::new(pool);
    let mut bares: Vec<BareCounter> = (0..CALLERS)
        .map(|caller| BareCounter::new(format!("caller-{caller}")))
        .collect();
    join_all(bares.iter_mut().map(|bare| bare.add(&pool, 1))).await;
    let (mut goverse_time, mut baseline_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let callers = (0..CALLERS).map(|caller| {
            let proxies = proxies.clone();
            tokio::spawn(async move {
                for _ in 0..per_round {
                    proxies[caller].add(1).await.expect("persisted call");
                }
            })
        });
        for caller in join_all(callers).await {
            caller.expect("caller task");
        }
        goverse_time += started.elapsed();

        let started = Instant::now();
        let callers = bares.into_iter().map(|mut bare| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..per_round {
                    bare.add(&pool, 1).await;
                }
                bare
            })
        });
        bares = join_all(callers)
            .await
            .into_iter()
            .map(|caller| caller.expect("baseline task"))
            .collect();
        baseline_time += started.elapsed();
    }
    let calls = (per_caller * CALLERS) as f64;
    let goverse_rate = calls / goverse_time.as_secs_f64();
    let baseline_rate = calls / baseline_time.as_secs_f64();

    // Every call must be stored, each by a write of its own.
    let mut expected: Vec<(String, u64)> = (0..CALLERS)
        .map(|caller| (format!("caller-{caller}"), per_caller as u64 + 1))
        .collect();
    expected.push(("latency".to_string(), (warmup + latency_calls) as u64));
    for table in ["goverse_objects", "bench_objects"] {
        let stored = stored_counts(&pool, table, SavedCounter::TYPE_NAME).await;
        for (id, calls) in &expected {
            let calls = *calls as i64;
            assert_eq!(
                stored
                    .iter()
                    .find(|(stored_id, ..)| stored_id == id)
                    .map(|&(_, count, version)| (count, version)),
                Some((calls, calls)),
                "{table}: {id} must hold {calls} calls, written {calls} times (count, version)"
            );
        }
        assert_eq!(stored.len(), expected.len(), "{table}: unexpected rows");
    }
    node.shutdown().await.expect("clean shutdown");
    pool.close().await;

    vec![
        Row {
            scenario: "persisted call latency (vs sqlx upsert)",
            unit: "µs/call",
            goverse: goverse_latency,
            baseline: Some(baseline_latency),
            target: "-",
        },
        Row {
            scenario: "persisted calls, 16 callers (vs sqlx upsert)",
            unit: "calls/s",
            goverse: goverse_rate,
            baseline: Some(baseline_rate),
            target: "ratio ≥ 0.8",
        },
    ]
}

/// 10,000 calls over 100 objects of a periodic type, paced evenly over [`PERIODIC_SPREAD`],
/// then the node's shutdown: the row shows the writes PostgreSQL saw (the sum of the rows'
/// versions: every save adds one) against the calls. Each object is saved about once per
/// interval while the calls run, and once more at the shutdown.
async fn periodic_writes(postgres: &Postgres) -> Row {
    let url = postgres.create_database("bench_periodic");
    let node = Node::builder()
        .postgres(url.clone())
        .start()
        .await
        .expect("embedded node on PostgreSQL");
    let proxies: Arc<Vec<LazyCounterProxy>> = Arc::new(
        (0..PERIODIC_OBJECTS)
            .map(|i| node.object::<LazyCounter>(&format!("lazy-{i}")))
            .collect(),
    );
    let per_caller = PERIODIC_CALLS / CALLERS;
    let started = Instant::now();
    let callers = (0..CALLERS).map(|caller| {
        let proxies = proxies.clone();
        tokio::spawn(async move {
            for i in 0..per_caller {
                let due = PERIODIC_SPREAD.mul_f64(i as f64 / per_caller as f64);
                tokio::time::sleep_until((started + due).into()).await;
                let call = caller * per_caller + i;
                proxies[call % PERIODIC_OBJECTS]
                    .add(1)
                    .await
                    .expect("periodic call");
            }
        })
    });
    for caller in join_all(callers).await {
        caller.expect("caller task");
    }
    // The shutdown saves every object changed since its last save, so the count is complete.
    node.shutdown().await.expect("clean shutdown");
    let elapsed = started.elapsed();
    let calls = per_caller * CALLERS;
    eprintln!(
        "persistence: {calls} periodic calls and the shutdown took {:.0} ms",
        elapsed.as_secs_f64() * 1e3
    );

    let pool = baseline_pool(&url).await;
    let stored = stored_counts(&pool, "goverse_objects", LazyCounter::TYPE_NAME).await;
    pool.close().await;
    assert_eq!(stored.len(), PERIODIC_OBJECTS, "one row per object");
    for i in 0..PERIODIC_OBJECTS {
        let id = format!("lazy-{i}");
        let expected = (0..calls)
            .filter(|call| call % PERIODIC_OBJECTS == i)
            .count() as i64;
        let count = stored
            .iter()
            .find(|(stored_id, ..)| *stored_id == id)
            .map(|&(_, count, _)| count);
        assert_eq!(count, Some(expected), "{id} must hold {expected} calls");
    }
    let writes: i64 = stored.iter().map(|&(_, _, version)| version).sum();
    // Periodic saves must have happened: more than the one shutdown save per object.
    assert!(
        writes > PERIODIC_OBJECTS as i64,
        "{writes} writes: no periodic save happened during the {PERIODIC_SPREAD:?} of calls"
    );
    Row {
        scenario: "DB writes for 10,000 periodic calls over 1.5 s (vs calls)",
        unit: "writes",
        goverse: writes as f64,
        baseline: Some(calls as f64),
        target: "ratio ≤ 0.1",
    }
}

/// `(object id, state.count, version)` of every row of `object_type` in `table`.
async fn stored_counts(pool: &PgPool, table: &str, object_type: &str) -> Vec<(String, i64, i64)> {
    let query = match table {
        "goverse_objects" => {
            "SELECT object_id, (state->>'count')::bigint, version FROM goverse_objects \
             WHERE object_type = $1 ORDER BY object_id"
        }
        "bench_objects" => {
            "SELECT object_id, (state->>'count')::bigint, version FROM bench_objects \
             WHERE object_type = $1 ORDER BY object_id"
        }
        other => panic!("no such table: {other}"),
    };
    sqlx::query_as(query)
        .bind(object_type)
        .fetch_all(pool)
        .await
        .expect("stored objects")
}

fn per_call_micros(elapsed: Duration, calls: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / calls as f64
}
