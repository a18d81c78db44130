//! Object types shared by the integration tests in `tests/tests/`.
//!
//! Each test uses its own object ids, so tests in one binary can run in parallel; the few
//! process-wide records (lifecycle events, timer ticks) are keyed by object id for that reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use goverse::prelude::*;
use serde::{Deserialize, Serialize};

pub mod harness;
pub mod node_process;

/// Process-wide lists of events, keyed by object id.
fn events() -> &'static Mutex<HashMap<String, Vec<String>>> {
    static EVENTS: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    EVENTS.get_or_init(Default::default)
}

/// Records `event` for object `id`.
pub fn record(id: &str, event: impl Into<String>) {
    events()
        .lock()
        .unwrap()
        .entry(id.to_string())
        .or_default()
        .push(event.into());
}

/// The events recorded for object `id`, in order.
pub fn events_of(id: &str) -> Vec<String> {
    events()
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .unwrap_or_default()
}

/// How many times `event` was recorded for `id`.
pub fn count_of(id: &str, event: &str) -> usize {
    events_of(id).iter().filter(|e| *e == event).count()
}

/// How often [`poll`] checks its condition.
pub const POLL: Duration = Duration::from_millis(20);

/// Checks `condition` every [`POLL`] until it holds, for at most `limit`; returns how long it
/// took, or `None` if it never held.
pub async fn poll(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let began = tokio::time::Instant::now();
    loop {
        if condition() {
            return Some(began.elapsed());
        }
        if began.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `condition` holds; panics after `limit`.
pub async fn wait_until(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    assert!(
        poll(limit, condition).await.is_some(),
        "timed out waiting until {what}"
    );
}

/// A database of one provider, as [`on_each_database`] gives it to a test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// The handle to give nodes.
    pub database: goverse::Database,
}

impl TestDatabase {
    /// The provider's name: `memory`, `sqlite` or `postgres`.
    pub fn provider(&self) -> &'static str {
        self.database.provider()
    }

    /// `base` suffixed with the provider, for object and call ids that must not collide across
    /// runs of one test (the process-wide event records are keyed by object id).
    pub fn id(&self, base: &str) -> String {
        format!("{base}-{}", self.provider())
    }
}

/// Runs `test` once on each provider: the in-memory store, a fresh SQLite file and a database
/// on a throwaway PostgreSQL server, one after the other; the file and the server are removed
/// afterwards. The provider is printed before each run, so a failure's output says which one
/// failed.
pub async fn on_each_database<F, Fut>(test: F)
where
    F: Fn(TestDatabase) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    eprintln!("--- on memory");
    test(TestDatabase {
        database: goverse::Database::memory(),
    })
    .await;

    let dir = tempfile::tempdir().expect("a temporary directory for SQLite");
    let database = goverse::Database::sqlite(dir.path().join("objects.db"))
        .await
        .expect("the SQLite file opens");
    eprintln!("--- on sqlite");
    test(TestDatabase { database }).await;
    drop(dir);

    let server = harness::Postgres::start_async().await;
    let database = goverse::Database::connect(&server.create_database("objects"))
        .await
        .expect("the PostgreSQL database opens");
    eprintln!("--- on postgres");
    test(TestDatabase { database }).await;
    drop(server);
}

/// A builder for node `id` of a test cluster kept in `etcd` under `prefix`, with `shards` shards.
pub fn cluster_builder(
    etcd: &harness::Etcd,
    prefix: &str,
    id: &str,
    shards: u32,
) -> goverse::NodeBuilder {
    Node::builder()
        .etcd([etcd.endpoint()])
        .prefix(prefix)
        .node_id(id)
        .shards(shards)
}

/// The counter of the design document, plus methods for error and timeout tests.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    /// Adds `n` and returns the new value.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }

    /// The current value.
    #[method]
    pub async fn get(&self) -> i64 {
        self.value
    }

    /// Moves `n` to counter `to`.
    #[method]
    pub async fn give(&mut self, ctx: &Context, to: String, n: i64) -> Result<i64, goverse::Error> {
        if n > self.value {
            return Err(goverse::Error::app("insufficient", "not enough to give"));
        }
        ctx.object::<Counter>(&to).add(n).await?;
        self.value -= n;
        Ok(self.value)
    }

    /// Adds `n` after sleeping `millis` milliseconds.
    #[method]
    pub async fn slow_add(&mut self, n: i64, millis: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.value += n;
        self.value
    }

    /// Calls `slow_add(1, millis)` on counter `to`: the nested call inherits this turn's deadline.
    #[method]
    pub async fn slow_add_on(
        &mut self,
        ctx: &Context,
        to: String,
        millis: u64,
    ) -> goverse::Result<i64> {
        ctx.object::<Counter>(&to).slow_add(1, millis).await
    }

    /// Milliseconds left before this turn's deadline.
    #[method]
    pub async fn remaining_ms(&self, ctx: &Context) -> u64 {
        ctx.remaining().as_millis() as u64
    }

    /// Sets the value, then panics: the activation must be dropped.
    #[method]
    pub async fn set_then_panic(&mut self, value: i64) {
        self.value = value;
        panic!("boom at {value}");
    }
}

/// Observes how turns overlap.
#[derive(Debug, Default)]
pub struct Turnstile {
    log: Vec<u32>,
    writing: AtomicBool,
    readers: AtomicUsize,
    max_readers: AtomicUsize,
    overlaps: AtomicUsize,
}

/// Process-wide barriers, keyed by object id, for proving that shared turns overlap.
fn barriers() -> &'static Mutex<HashMap<String, Arc<tokio::sync::Barrier>>> {
    static BARRIERS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Barrier>>>> = OnceLock::new();
    BARRIERS.get_or_init(Default::default)
}

#[goverse::object]
impl Turnstile {
    /// Appends `n` to the log across a few yields; flags any reader seen meanwhile.
    #[method]
    pub async fn append(&mut self, n: u32) {
        self.writing.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
            if self.readers.load(Ordering::SeqCst) > 0 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.log.push(n);
        self.writing.store(false, Ordering::SeqCst);
    }

    /// The log.
    #[method]
    pub async fn log(&self) -> Vec<u32> {
        self.log.clone()
    }

    /// A reader that stays in its turn for a few yields; flags any writer seen meanwhile.
    #[method]
    pub async fn read(&self) -> usize {
        let now = self.readers.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_readers.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            if self.writing.load(Ordering::SeqCst) {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            tokio::task::yield_now().await;
        }
        self.readers.fetch_sub(1, Ordering::SeqCst);
        self.log.len()
    }

    /// Waits at a barrier of `parties` shared turns: returns only if they all run together.
    #[method]
    pub async fn meet(&self, ctx: &Context, parties: usize) -> bool {
        let barrier = barriers()
            .lock()
            .unwrap()
            .entry(ctx.object_id().to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Barrier::new(parties)))
            .clone();
        barrier.wait().await;
        true
    }

    /// `(max readers seen together, overlaps of readers and writers)`.
    #[method]
    pub async fn stats(&self) -> (usize, usize) {
        (
            self.max_readers.load(Ordering::SeqCst),
            self.overlaps.load(Ordering::SeqCst),
        )
    }
}

/// Records its lifecycle.
#[derive(Debug, Default)]
pub struct Tracked {
    activated: bool,
    calls: u32,
}

#[goverse::object]
impl Tracked {
    #[on_activate]
    async fn activated(&mut self, ctx: &Context) {
        self.activated = true;
        record(ctx.object_id(), "activate");
    }

    #[on_deactivate]
    async fn deactivated(&mut self, ctx: &Context) -> goverse::Result<()> {
        record(ctx.object_id(), format!("deactivate after {}", self.calls));
        Ok(())
    }

    /// Whether `on_activate` ran before this call, and how many calls came before.
    #[method]
    pub async fn touch(&mut self) -> (bool, u32) {
        self.calls += 1;
        (self.activated, self.calls)
    }
}

/// Forwards a call along a path of objects: the material for call-cycle tests.
#[derive(Debug, Default)]
pub struct Relay;

#[goverse::object]
impl Relay {
    /// Calls `path[0]` with the rest of the path (exclusive turns); returns the ids visited.
    #[method]
    pub async fn forward(
        &mut self,
        ctx: &Context,
        path: Vec<String>,
    ) -> goverse::Result<Vec<String>> {
        visit(ctx, path, false).await
    }

    /// The same through shared turns.
    #[method]
    pub async fn peek(&self, ctx: &Context, path: Vec<String>) -> goverse::Result<Vec<String>> {
        visit(ctx, path, true).await
    }
}

async fn visit(ctx: &Context, path: Vec<String>, shared: bool) -> goverse::Result<Vec<String>> {
    let mut visited = vec![ctx.object_id().to_string()];
    if let Some((next, rest)) = path.split_first() {
        let relay = ctx.object::<Relay>(next);
        let tail = if shared {
            relay.peek(rest.to_vec()).await?
        } else {
            relay.forward(rest.to_vec()).await?
        };
        visited.extend(tail);
    }
    Ok(visited)
}

/// Calls another object from `on_activate`; refuses to activate when its id starts with `bad`,
/// and calls itself when its id starts with `self`.
#[derive(Debug, Default)]
pub struct Eager {
    boot: i64,
}

#[goverse::object]
impl Eager {
    #[on_activate]
    async fn boot(&mut self, ctx: &Context) -> goverse::Result<()> {
        let id = ctx.object_id();
        if id.starts_with("bad") {
            return Err(goverse::Error::app("boot", "refused to start"));
        }
        if id.starts_with("self") {
            ctx.object::<Eager>(id).boot_value().await?;
        }
        self.boot = ctx
            .object::<Counter>(&format!("{id}-target"))
            .add(1)
            .await?;
        Ok(())
    }

    /// The value the target counter had after `on_activate` added to it.
    #[method]
    pub async fn boot_value(&self) -> i64 {
        self.boot
    }
}

/// Counts timer ticks.
#[derive(Debug, Default)]
pub struct Ticker {
    ticks: u64,
}

#[goverse::object]
impl Ticker {
    /// Starts a timer that calls `tick` every `period_ms`.
    #[method]
    pub async fn start(&mut self, ctx: &Context, period_ms: u64) {
        ctx.every(
            Duration::from_millis(period_ms),
            |me: TickerProxy| async move {
                let _ = me.tick().await;
            },
        );
    }

    /// Starts a one-shot timer that calls `tick` after `delay_ms`.
    #[method]
    pub async fn start_once(&mut self, ctx: &Context, delay_ms: u64) {
        ctx.after(
            Duration::from_millis(delay_ms),
            |me: TickerProxy| async move {
                let _ = me.tick().await;
            },
        );
    }

    /// One tick.
    #[method]
    pub async fn tick(&mut self, ctx: &Context) {
        self.ticks += 1;
        record(ctx.object_id(), "tick");
    }

    /// Ticks so far in this activation.
    #[method]
    pub async fn ticks(&self) -> u64 {
        self.ticks
    }
}

/// Process-wide count of live activations per `Placed` id, and how often two were live at once.
fn placements() -> &'static Mutex<(HashMap<String, usize>, usize)> {
    static PLACEMENTS: OnceLock<Mutex<(HashMap<String, usize>, usize)>> = OnceLock::new();
    PLACEMENTS.get_or_init(Default::default)
}

/// How many times two activations of one `Placed` object were live at the same moment.
pub fn double_activations() -> usize {
    placements().lock().unwrap().1
}

/// Knows which node it is active on; counts live activations process-wide, so that tests with
/// several nodes in one process can check that an object is never active twice.
#[derive(Debug, Default)]
pub struct Placed {
    node: String,
    calls: u64,
}

#[goverse::object]
impl Placed {
    #[on_activate]
    async fn placed(&mut self, ctx: &Context) {
        self.node = ctx.node_id().to_string();
        let mut placements = placements().lock().unwrap();
        let live = placements.0.entry(ctx.object_id().to_string()).or_default();
        *live += 1;
        if *live > 1 {
            placements.1 += 1;
        }
    }

    #[on_deactivate]
    async fn unplaced(&mut self, ctx: &Context) {
        let mut placements = placements().lock().unwrap();
        if let Some(live) = placements.0.get_mut(ctx.object_id()) {
            *live -= 1;
        }
    }

    /// The node this activation runs on and the calls it served.
    #[method(idempotent)]
    pub async fn hit(&mut self) -> (String, u64) {
        self.calls += 1;
        (self.node.clone(), self.calls)
    }
}

/// A bank account saved after every exclusive turn (`persist(every_turn)`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Account {
    /// The current balance.
    pub balance: i64,
    /// Every change, in order.
    pub history: Vec<i64>,
}

#[goverse::object(persist(every_turn))]
impl Account {
    #[on_activate]
    async fn activated(&mut self, ctx: &Context) {
        record(ctx.object_id(), "activate");
    }

    /// Adds `amount`; records `deposit <amount>` every time it runs.
    #[method]
    pub async fn deposit(&mut self, ctx: &Context, amount: i64) -> i64 {
        record(ctx.object_id(), format!("deposit {amount}"));
        self.balance += amount;
        self.history.push(amount);
        self.balance
    }

    /// Takes `amount` out, or fails with the application error `insufficient`.
    #[method]
    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, goverse::Error> {
        if amount > self.balance {
            return Err(goverse::Error::app(
                "insufficient",
                format!("balance {} is below {amount}", self.balance),
            ));
        }
        self.balance -= amount;
        self.history.push(-amount);
        Ok(self.balance)
    }

    /// Adds `amount` after `millis` milliseconds.
    #[method]
    pub async fn slow_deposit(&mut self, amount: i64, millis: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.balance += amount;
        self.history.push(amount);
        self.balance
    }

    /// The balance.
    #[method]
    pub async fn balance(&self) -> i64 {
        self.balance
    }

    /// Every change, in order.
    #[method]
    pub async fn history(&self) -> Vec<i64> {
        self.history.clone()
    }
}

/// A counter saved at most every 200 ms (`persist(interval = "200ms")`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    /// How many times `add` ran.
    pub count: u64,
}

#[goverse::object(persist(interval = "200ms"))]
impl Tally {
    /// Counts one more.
    #[method]
    pub async fn add(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    /// The count.
    #[method]
    pub async fn count(&self) -> u64 {
        self.count
    }
}

/// A note saved with the node's default policy (`persist`); records `activate` and
/// `deactivate` each time `on_activate` and `on_deactivate` run.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Note {
    /// The note's text.
    pub text: String,
}

#[goverse::object(persist)]
impl Note {
    #[on_activate]
    async fn activated(&mut self, ctx: &Context) {
        record(ctx.object_id(), "activate");
    }

    #[on_deactivate]
    async fn deactivated(&mut self, ctx: &Context) {
        record(ctx.object_id(), "deactivate");
    }

    /// Replaces the text.
    #[method]
    pub async fn set(&mut self, text: String) {
        self.text = text;
    }

    /// The text.
    #[method]
    pub async fn text(&self) -> String {
        self.text.clone()
    }
}

/// A score saved with the node's default policy (`persist`), for hand-off tests.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Score {
    /// The sum of everything added.
    pub total: i64,
}

#[goverse::object(persist)]
impl Score {
    /// Adds `n`; returns the new total.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.total += n;
        self.total
    }

    /// The total.
    #[method]
    pub async fn total(&self) -> i64 {
        self.total
    }
}
