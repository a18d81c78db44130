//! The shard map in etcd as operators and other nodes see it: editing targets moves objects
//! (MIG-01), shuffled targets never activate an object twice (RACE-14), the leader key of a
//! vanished node is taken over (LDR-03), readiness waits for the map and for stable membership
//! (MEM-04), claims respect targets and keep flags (SMAP-05), and the cluster config key.
//!
//! The tests read and write etcd keys with `etcdctl` (ETCDCTL_API=3), every shard edit by
//! compare-and-swap on the key's mod revision, as the nodes do: a blind put could resurrect an
//! owner that has just released the shard, and the test would then cause what it looks for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goverse::NodeBuilder;
use goverse::coordinator::ClusterView;
use goverse::prelude::*;
use goverse::sharding::shard_of;
use goverse_tests::harness::Etcd;
use goverse_tests::{Placed, cluster_builder, double_activations};
use serde_json::{Value, json};
use tokio::time::Instant;

const SHARDS: u32 = 64;
const STABILITY: Duration = Duration::from_millis(300);
const LEASE_TTL: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// etcd through etcdctl
// ---------------------------------------------------------------------------------------------

/// One key as `etcdctl get -w json` reports it.
#[derive(Debug, Clone)]
struct Kv {
    key: String,
    value: String,
    mod_revision: i64,
    lease: i64,
}

/// Runs `etcdctl` against `endpoint` with `input` on its stdin; panics with its stderr if it
/// fails.
fn etcdctl(endpoint: &str, args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoint, "--command-timeout", "5s"])
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run etcdctl: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("write etcdctl input");
    }
    let output = child.wait_with_output().expect("etcdctl finishes");
    assert!(
        output.status.success(),
        "etcdctl {args:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        input.map(|i| format!("\ninput:\n{i}")).unwrap_or_default()
    );
    String::from_utf8(output.stdout).expect("etcdctl prints UTF-8")
}

/// Decodes standard base64 (as etcd's JSON output encodes keys and values).
fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let digit = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => panic!("not base64: {text}"),
        };
        acc = (acc << 6) | u32::from(digit);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Every key at `key` (or under it, with `prefix`), with mod revision and lease.
fn etcd_range(endpoint: &str, key: &str, prefix: bool) -> Vec<Kv> {
    let mut args = vec!["get", key, "-w", "json"];
    if prefix {
        args.push("--prefix");
    }
    let output = etcdctl(endpoint, &args, None);
    let response: Value = serde_json::from_str(&output)
        .unwrap_or_else(|e| panic!("etcdctl get printed no JSON ({e}): {output}"));
    let text = |field: &Value| {
        String::from_utf8(base64_decode(field.as_str().unwrap_or(""))).expect("UTF-8 key/value")
    };
    response["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| Kv {
                    key: text(&kv["key"]),
                    value: text(&kv["value"]),
                    mod_revision: kv["mod_revision"].as_i64().unwrap_or(0),
                    lease: kv["lease"].as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The value of `key`, if it exists.
fn etcd_get(endpoint: &str, key: &str) -> Option<String> {
    etcd_range(endpoint, key, false)
        .into_iter()
        .next()
        .map(|kv| kv.value)
}

/// Deletes `key`; returns how many keys were deleted.
fn etcd_del(endpoint: &str, key: &str) -> usize {
    etcdctl(endpoint, &["del", key], None)
        .trim()
        .parse()
        .expect("etcdctl del prints the number of deleted keys")
}

/// Puts every `(key, value)` in one transaction, if every key still has the given mod revision.
/// Returns whether the transaction succeeded.
fn etcd_cas(endpoint: &str, writes: &[(String, i64, String)]) -> bool {
    // etcdctl's txn script: compares, blank line, puts on success, blank line, puts on failure,
    // blank line. Keys and values are double-quoted with Go/JSON escapes.
    let quote = |s: &str| serde_json::to_string(s).expect("a JSON string");
    let mut script = String::new();
    for (key, revision, _) in writes {
        writeln!(script, "mod({}) = \"{revision}\"", quote(key)).unwrap();
    }
    script.push('\n');
    for (key, _, value) in writes {
        writeln!(script, "put {} {}", quote(key), quote(value)).unwrap();
    }
    script.push_str("\n\n");
    let output = etcdctl(endpoint, &["txn"], Some(&script));
    match output.lines().next().map(str::trim) {
        Some("SUCCESS") => true,
        Some("FAILURE") => false,
        _ => panic!("unexpected etcdctl txn output: {output}"),
    }
}

fn shard_key(prefix: &str, shard: u32) -> String {
    format!("{prefix}/shards/{shard}")
}

/// Every shard entry (as JSON) with its mod revision.
fn read_shards(endpoint: &str, prefix: &str) -> BTreeMap<u32, (Value, i64)> {
    let under = format!("{prefix}/shards/");
    etcd_range(endpoint, &under, true)
        .into_iter()
        .filter_map(|kv| {
            let shard = kv.key.strip_prefix(&under)?.parse().ok()?;
            let entry = serde_json::from_str(&kv.value).unwrap_or_else(|e| {
                panic!("shard entry {} is not JSON ({e}): {}", kv.key, kv.value)
            });
            Some((shard, (entry, kv.mod_revision)))
        })
        .collect()
}

/// Reads the entries of `shards`, applies `edit` to each and writes them back in one
/// compare-and-swap transaction; tries again on a conflict (up to 50 times).
fn edit_shards(endpoint: &str, prefix: &str, shards: &[u32], edit: impl Fn(&mut Value)) {
    for _ in 0..50 {
        let entries = read_shards(endpoint, prefix);
        let writes: Vec<(String, i64, String)> = shards
            .iter()
            .map(|&shard| {
                let (mut entry, revision) = entries
                    .get(&shard)
                    .unwrap_or_else(|| panic!("shard {shard} has no entry"))
                    .clone();
                edit(&mut entry);
                (shard_key(prefix, shard), revision, entry.to_string())
            })
            .collect();
        if etcd_cas(endpoint, &writes) {
            return;
        }
    }
    panic!("could not edit shards {shards:?}: the entries kept changing");
}

/// Runs blocking work (etcdctl) off the async worker threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

// ---------------------------------------------------------------------------------------------
// Nodes and waiting
// ---------------------------------------------------------------------------------------------

fn prefix(test: &str) -> String {
    format!("/goverse-test/shard-map/{test}")
}

fn builder(etcd: &Etcd, prefix: &str, id: &str) -> NodeBuilder {
    cluster_builder(etcd, prefix, id, SHARDS)
        .stability_window(STABILITY)
        .lease_ttl(LEASE_TTL)
        .call_timeout(Duration::from_secs(20))
}

async fn start(builder: NodeBuilder, id: &str) -> Node {
    builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("node {id} starts: {e}"))
}

async fn start_node(etcd: &Etcd, prefix: &str, id: &str) -> Node {
    start(builder(etcd, prefix, id), id).await
}

/// Polls `check` until it returns `Ok`, at most `limit`; panics with the last state it
/// described. Returns how long it took.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return started.elapsed(),
            Err(state) => assert!(
                started.elapsed() < limit,
                "timed out after {limit:?} waiting until {what}; last seen: {state}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `Ok` when every shard has a live owner equal to its target.
fn settled(view: &ClusterView) -> Result<(), String> {
    let unsettled: Vec<String> = (0..SHARDS)
        .filter(|&shard| {
            view.owners.owner(shard).is_none()
                || view.owners.owner(shard) != view.targets.owner(shard)
        })
        .map(|shard| {
            format!(
                "{shard}: owner {:?} target {:?}",
                view.owners.owner(shard),
                view.targets.owner(shard)
            )
        })
        .collect();
    if unsettled.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} unsettled shards, e.g. {:?}",
            unsettled.len(),
            &unsettled[..unsettled.len().min(4)]
        ))
    }
}

/// Waits until every node sees `count` live nodes, is ready and sees a settled map.
async fn converge(nodes: &[&Node], count: usize) {
    eventually("the cluster converges", Duration::from_secs(20), || async {
        for node in nodes {
            let view = node.cluster_view();
            if view.nodes.len() != count || !view.ready {
                return Err(format!(
                    "{}: nodes {:?}, ready {}",
                    node.node_id(),
                    view.nodes.keys().collect::<Vec<_>>(),
                    view.ready
                ));
            }
            settled(&view).map_err(|e| format!("{}: {e}", node.node_id()))?;
        }
        Ok(())
    })
    .await;
    for node in nodes {
        node.wait_ready(Duration::from_secs(10))
            .await
            .expect("node ready");
    }
}

fn shard(id: &str) -> u32 {
    shard_of(id, SHARDS)
}

/// Callers that `hit` every id in turn from `tasks` tasks on `node`, without retries, until
/// `stop`; they count successes and collect errors.
#[derive(Debug, Default)]
struct Load {
    calls: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

fn spawn_callers(
    load: &Arc<Load>,
    node: &Arc<Node>,
    ids: &[String],
    tasks: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tasks)
        .map(|task| {
            let (load, node, stop) = (load.clone(), node.clone(), stop.clone());
            let ids = ids.to_vec();
            tokio::spawn(async move {
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[i % ids.len()];
                    match node.object::<Placed>(id).hit().await {
                        Ok(_) => {
                            load.calls.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => load
                            .errors
                            .lock()
                            .unwrap()
                            .push(format!("via {}: {id}: {error}", node.node_id())),
                    }
                    i += 3;
                }
            })
        })
        .collect()
}

fn assert_no_errors(load: &Load) {
    let errors = load.errors.lock().unwrap();
    let calls = load.calls.load(Ordering::Relaxed);
    assert!(
        errors.is_empty(),
        "{} calls failed ({calls} succeeded), e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(calls > 0, "the callers made calls");
}

/// Deterministic pseudo-random numbers (SplitMix64).
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// MIG-01: an operator edits two of n1's shards to target n2; n2 takes them over, n1 drops the
/// objects, calls land on n2, and no call fails meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn editing_targets_moves_objects() {
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let prefix = prefix("editing-targets");
    let n1 = Arc::new(start_node(&etcd, &prefix, "n1").await);
    let n2 = Arc::new(start_node(&etcd, &prefix, "n2").await);
    converge(&[&n1, &n2], 2).await;

    // Two of n1's shards, the lowest-numbered that hold a candidate id, and eight more ids.
    // (The leader evens out any imbalance at once by moving the highest-numbered surplus
    // shards of the fuller node; low-numbered edited shards keep this test about migration.)
    let view = n1.cluster_view();
    let candidates: Vec<String> = (0..200).map(|i| format!("mig-{i}")).collect();
    let mut n1_shards: Vec<u32> = candidates
        .iter()
        .map(|id| shard(id))
        .filter(|&s| view.owners.owner(s) == Some("n1"))
        .collect();
    n1_shards.sort_unstable();
    n1_shards.dedup();
    let edited = [n1_shards[0], n1_shards[1]];
    let mut ids: Vec<String> = edited
        .iter()
        .map(|&s| candidates.iter().find(|id| shard(id) == s).unwrap().clone())
        .collect();
    for id in &candidates {
        if ids.len() == 10 {
            break;
        }
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let moving: Vec<String> = ids
        .iter()
        .filter(|id| edited.contains(&shard(id)))
        .cloned()
        .collect();

    for (i, id) in ids.iter().enumerate() {
        let via = if i % 2 == 0 { &n1 } else { &n2 };
        let (at, _) = via.object::<Placed>(id).hit().await.unwrap();
        assert_eq!(Some(at.as_str()), view.owners.owner(shard(id)), "{id}");
    }
    let active_on_n1: Vec<String> = n1
        .list_objects()
        .iter()
        .map(|k| k.id().to_string())
        .collect();
    assert!(
        moving.iter().all(|id| active_on_n1.contains(id)),
        "{moving:?} active on n1 before the edit: {active_on_n1:?}"
    );

    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = spawn_callers(&load, &n1, &ids, 2, &stop);
    callers.extend(spawn_callers(&load, &n2, &ids, 2, &stop));

    let (e, p) = (endpoint.clone(), prefix.clone());
    blocking(move || {
        edit_shards(&e, &p, &edited, |entry| entry["target"] = json!("n2"));
    })
    .await;

    let took = eventually(
        "n2 owns the edited shards",
        Duration::from_secs(10),
        || async {
            for node in [&n1, &n2] {
                let view = node.cluster_view();
                for &s in &edited {
                    if view.owners.owner(s) != Some("n2") || view.targets.owner(s) != Some("n2") {
                        return Err(format!(
                            "{}'s view of shard {s}: owner {:?} target {:?}",
                            node.node_id(),
                            view.owners.owner(s),
                            view.targets.owner(s)
                        ));
                    }
                }
            }
            let still: Vec<String> = n1
                .list_objects()
                .iter()
                .map(|k| k.id().to_string())
                .filter(|id| moving.contains(id))
                .collect();
            if still.is_empty() {
                Ok(())
            } else {
                Err(format!("still active on n1: {still:?}"))
            }
        },
    )
    .await;
    // The leader evens out the imbalance the edit made by moving other shards: report which.
    let after = n1.cluster_view();
    let also_moved: Vec<String> = (0..SHARDS)
        .filter(|s| !edited.contains(s) && after.targets.owner(*s) != view.targets.owner(*s))
        .map(|s| {
            format!(
                "{s}: {:?} -> {:?}",
                view.targets.owner(s),
                after.targets.owner(s)
            )
        })
        .collect();
    eprintln!(
        "editing_targets_moves_objects: shards {edited:?} moved to n2 in {took:?}; \
         the leader also retargeted {also_moved:?}"
    );

    for id in &moving {
        for via in [&n1, &n2] {
            let (at, _) = via.object::<Placed>(id).hit().await.unwrap();
            assert_eq!(at, "n2", "{id} called via {}", via.node_id());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert_no_errors(&load);

    for node in [n1, n2] {
        let node = Arc::try_unwrap(node).expect("callers finished");
        node.shutdown().await.unwrap();
    }
}

/// One shuffle round: every shard of `choices` gets its new target by compare-and-swap, all at
/// once. Returns (writes done, writes lost to a concurrent change).
fn shuffle_round(endpoint: &str, prefix: &str, choices: &[(u32, String)]) -> (usize, usize) {
    let entries = read_shards(endpoint, prefix);
    std::thread::scope(|scope| {
        let writes: Vec<_> = choices
            .iter()
            .filter_map(|(shard, target)| {
                let (mut entry, revision) = entries.get(shard)?.clone();
                if entry["target"] == json!(target) {
                    return None;
                }
                entry["target"] = json!(target);
                let write = (shard_key(prefix, *shard), revision, entry.to_string());
                Some(scope.spawn(move || etcd_cas(endpoint, &[write])))
            })
            .collect();
        let done = writes
            .into_iter()
            .map(|write| write.join().expect("etcdctl thread"))
            .filter(|&done| done)
            .count();
        (done, choices.len() - done)
    })
}

/// RACE-14: while callers on every node keep hitting 10 objects, the test rewrites the targets
/// of their shards to random nodes about three times a second; no object is ever active on two
/// nodes, no call fails, and once the shuffling stops the map converges and every object sits
/// on its owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shuffled_targets_never_double_activate() {
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let prefix = prefix("shuffled-targets");
    let mut nodes = Vec::new();
    for id in ["n1", "n2", "n3"] {
        nodes.push(Arc::new(start_node(&etcd, &prefix, id).await));
    }
    let refs: Vec<&Node> = nodes.iter().map(|n| n.as_ref()).collect();
    converge(&refs, 3).await;

    let ids: Vec<String> = (0..10).map(|i| format!("race-{i}")).collect();
    let shards: BTreeSet<u32> = ids.iter().map(|id| shard(id)).collect();
    for id in &ids {
        nodes[0].object::<Placed>(id).hit().await.unwrap();
    }

    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for node in &nodes {
        callers.extend(spawn_callers(&load, node, &ids, 2, &stop));
    }

    // Shuffle for 8 s, a round every 333 ms.
    let mut rng = SplitMix(0x5EED_0014);
    let mut ticks = tokio::time::interval(Duration::from_millis(333));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shuffle_until = Instant::now() + Duration::from_secs(8);
    let (mut rounds, mut writes, mut lost) = (0, 0, 0);
    while Instant::now() < shuffle_until {
        ticks.tick().await;
        let live: Vec<String> = nodes[0].cluster_view().nodes.keys().cloned().collect();
        assert_eq!(live.len(), 3, "every node stays live: {live:?}");
        let choices: Vec<(u32, String)> = shards
            .iter()
            .map(|&s| (s, live[rng.below(live.len())].clone()))
            .collect();
        let (e, p) = (endpoint.clone(), prefix.clone());
        let (done, conflicts) = blocking(move || shuffle_round(&e, &p, &choices)).await;
        rounds += 1;
        writes += done;
        lost += conflicts;
    }
    let calls_while_shuffling = load.calls.load(Ordering::Relaxed);
    eprintln!(
        "shuffled_targets_never_double_activate: {rounds} rounds, {writes} target writes, \
         {lost} skipped or lost to concurrent changes, {calls_while_shuffling} calls meanwhile"
    );
    assert!(
        writes > rounds,
        "the shuffle moved targets ({writes} writes in {rounds} rounds)"
    );

    let took = eventually(
        "targets and owners converge on every node",
        Duration::from_secs(30),
        || async {
            for node in &nodes {
                let view = node.cluster_view();
                if !view.ready {
                    return Err(format!("{} is not ready", node.node_id()));
                }
                settled(&view).map_err(|e| format!("{}: {e}", node.node_id()))?;
            }
            Ok(())
        },
    )
    .await;
    eprintln!("shuffled_targets_never_double_activate: converged {took:?} after the shuffle");

    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(
        double_activations(),
        0,
        "an object was active on two nodes at once"
    );
    assert_no_errors(&load);

    let view = nodes[0].cluster_view();
    for id in &ids {
        let owner = view.owners.owner(shard(id)).expect("an owner").to_string();
        for node in &nodes {
            let (at, _) = node.object::<Placed>(id).hit().await.unwrap();
            assert_eq!(
                at,
                owner,
                "{id} (shard {}) called via {}",
                shard(id),
                node.node_id()
            );
        }
        let active_on: Vec<&str> = nodes
            .iter()
            .filter(|n| n.list_objects().iter().any(|k| k.id() == id))
            .map(|n| n.node_id())
            .collect();
        assert_eq!(
            active_on,
            [owner.as_str()],
            "{id} is active only on its owner"
        );
    }
    assert_eq!(double_activations(), 0);

    for node in nodes {
        let node = Arc::try_unwrap(node).expect("callers finished");
        node.shutdown().await.unwrap();
    }
}

/// LDR-03: when the leader's node key disappears, the other node takes the leader key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_key_of_a_missing_node_is_taken_over() {
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let prefix = prefix("leader-takeover");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    let n2 = start_node(&etcd, &prefix, "n2").await;
    converge(&[&n1, &n2], 2).await;

    let leader_key = format!("{prefix}/leader");
    let leader = Arc::new(Mutex::new(String::new()));
    eventually(
        "both nodes agree on a leader",
        Duration::from_secs(10),
        || {
            let (e, k, leader) = (endpoint.clone(), leader_key.clone(), leader.clone());
            let views = [
                n1.cluster_view().leader.clone(),
                n2.cluster_view().leader.clone(),
            ];
            async move {
                let stored = blocking(move || etcd_get(&e, &k)).await;
                match (&views, &stored) {
                    ([Some(a), Some(b)], Some(s)) if a == b && a == s => {
                        *leader.lock().unwrap() = s.clone();
                        Ok(())
                    }
                    _ => Err(format!("views {views:?}, key {stored:?}")),
                }
            }
        },
    )
    .await;
    let leader = leader.lock().unwrap().clone();
    let (other, other_id) = if leader == "n1" {
        (&n2, "n2")
    } else {
        (&n1, "n1")
    };

    let (e, k) = (endpoint.clone(), format!("{prefix}/nodes/{leader}"));
    assert_eq!(
        blocking(move || etcd_del(&e, &k)).await,
        1,
        "deleted {leader}'s node key"
    );

    let took = eventually(
        &format!("{other_id} takes over from {leader}"),
        Duration::from_secs(10),
        || {
            let (e, k) = (endpoint.clone(), leader_key.clone());
            let view = other.cluster_view().leader.clone();
            async move {
                let stored = blocking(move || etcd_get(&e, &k)).await;
                if view.as_deref() == Some(other_id) && stored.as_deref() == Some(other_id) {
                    Ok(())
                } else {
                    Err(format!(
                        "{other_id}'s view: leader {view:?}; leader key {stored:?}"
                    ))
                }
            }
        },
    )
    .await;
    eprintln!("leader_key_of_a_missing_node_is_taken_over: {other_id} leads after {took:?}");

    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// MEM-04: a node that needs two nodes is not ready alone (no shard is assigned); once a second
/// node joins, the map is assigned, membership settles and both become ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ready_once_the_map_is_loaded_and_membership_is_stable() {
    let etcd = Etcd::start_async().await;
    let prefix = prefix("readiness");
    let n1 = start(builder(&etcd, &prefix, "n1").min_quorum(2), "n1").await;

    let error = n1
        .wait_ready(Duration::from_millis(1500))
        .await
        .expect_err("a node below the quorum is not ready");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    let view = n1.cluster_view();
    assert!(!view.ready, "not ready alone");
    assert_eq!(view.nodes.keys().collect::<Vec<_>>(), ["n1"]);
    assert!(
        (0..SHARDS).all(|s| view.targets.owner(s).is_none()),
        "no shard is assigned below the quorum"
    );

    let joined = Instant::now();
    let n2 = start(builder(&etcd, &prefix, "n2").min_quorum(2), "n2").await;
    let deadline = joined + Duration::from_secs(15);
    for node in [&n1, &n2] {
        let left = deadline.saturating_duration_since(Instant::now());
        node.wait_ready(left).await.unwrap_or_else(|e| {
            panic!(
                "{} ready within 15 s of the second join: {e}",
                node.node_id()
            )
        });
        let view = node.cluster_view();
        assert!(view.ready);
        assert_eq!(view.nodes.len(), 2);
    }
    let ready_after = joined.elapsed();
    // Each node is ready once it serves its own shards; the other's claims reach its view soon.
    let left = deadline.saturating_duration_since(Instant::now());
    eventually("both views show every shard owned", left, || async {
        for node in [&n1, &n2] {
            settled(&node.cluster_view()).map_err(|e| format!("{}: {e}", node.node_id()))?;
        }
        Ok(())
    })
    .await;
    eprintln!(
        "ready_once_the_map_is_loaded_and_membership_is_stable: ready {ready_after:?} after the \
         second join"
    );

    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// What the SMAP-05 monitors found.
#[derive(Debug, Default)]
struct Violations {
    found: Mutex<Vec<String>>,
    samples: AtomicUsize,
}

impl Violations {
    fn push(&self, violation: String) {
        let mut found = self.found.lock().unwrap();
        if found.len() < 20 {
            found.push(violation);
        }
    }
}

/// Watches n1's view: n1 never takes a shard (owner becomes n1) that is not targeted at n1, and,
/// once `watch_targets` is set, n1 never owns a shard targeted at n2 while n2 is live.
fn monitor_view(
    n1: Arc<Node>,
    watch_targets: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    violations: Arc<Violations>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut previous: Vec<Option<String>> = vec![None; SHARDS as usize];
        while !stop.load(Ordering::Relaxed) {
            let view = n1.cluster_view();
            let n2_live = view.nodes.contains_key("n2");
            for s in 0..SHARDS {
                let owner = view.owners.owner(s);
                let target = view.targets.owner(s);
                if owner == Some("n1")
                    && previous[s as usize].as_deref() != Some("n1")
                    && target != Some("n1")
                {
                    violations.push(format!("n1 took shard {s}, targeted at {target:?}"));
                }
                if watch_targets.load(Ordering::Relaxed)
                    && n2_live
                    && owner == Some("n1")
                    && target == Some("n2")
                {
                    violations.push(format!("n1 owns shard {s}, targeted at live n2 (view)"));
                }
                previous[s as usize] = owner.map(str::to_string);
            }
            violations.samples.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// Watches etcd itself, one consistent snapshot of the prefix at a time: while n2's node key
/// exists, no shard has n1 (with n1's current lease) as owner and n2 as target.
fn monitor_etcd(
    endpoint: String,
    prefix: String,
    stop: Arc<AtomicBool>,
    violations: Arc<Violations>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let under = format!("{prefix}/");
        while !stop.load(Ordering::Relaxed) {
            let kvs = etcd_range(&endpoint, &under, true);
            let lease_of = |node: &str| {
                kvs.iter()
                    .find(|kv| kv.key == format!("{prefix}/nodes/{node}"))
                    .map(|kv| kv.lease)
            };
            if let (Some(n1_lease), Some(_)) = (lease_of("n1"), lease_of("n2")) {
                for kv in kvs
                    .iter()
                    .filter(|kv| kv.key.starts_with(&format!("{prefix}/shards/")))
                {
                    let entry: Value = serde_json::from_str(&kv.value).unwrap_or_default();
                    if entry["current"] == json!("n1")
                        && entry["lease"] == json!(n1_lease)
                        && entry["target"] == json!("n2")
                    {
                        violations
                            .push(format!("etcd: {} = {} while n2 is live", kv.key, kv.value));
                    }
                }
            }
            violations.samples.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// SMAP-05: a node claims only shards targeted at itself (an unowned shard targeted at it, not
/// one targeted at a live peer), and claiming, releasing and retargeting keep an entry's flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_only_shards_targeted_at_itself_and_keeps_flags() {
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let prefix = prefix("claims");
    let n1 = Arc::new(start_node(&etcd, &prefix, "n1").await);

    let stop_view = Arc::new(AtomicBool::new(false));
    let stop_etcd = Arc::new(AtomicBool::new(false));
    let watch_targets = Arc::new(AtomicBool::new(false));
    let view_violations = Arc::new(Violations::default());
    let etcd_violations = Arc::new(Violations::default());
    let view_monitor = monitor_view(
        n1.clone(),
        watch_targets.clone(),
        stop_view.clone(),
        view_violations.clone(),
    );

    let n2 = start_node(&etcd, &prefix, "n2").await;
    converge(&[&n1, &n2], 2).await;
    watch_targets.store(true, Ordering::Relaxed);
    let etcd_monitor = monitor_etcd(
        endpoint.clone(),
        prefix.clone(),
        stop_etcd.clone(),
        etcd_violations.clone(),
    );

    let view = n1.cluster_view();
    let of = |node: &str| -> Vec<u32> { view.owners.shards_of(node).collect() };
    let (p1, p2, p3) = (of("n1")[0], of("n2")[0], of("n2")[1]);
    let entry = |shard: u32| {
        let (e, k) = (endpoint.clone(), shard_key(&prefix, shard));
        async move {
            let value = blocking(move || etcd_get(&e, &k)).await;
            serde_json::from_str::<Value>(&value.expect("the shard entry exists")).unwrap()
        }
    };

    // Pin p1 (owned by n1) and p2 (owned by n2).
    let (e, p) = (endpoint.clone(), prefix.clone());
    blocking(move || edit_shards(&e, &p, &[p1, p2], |entry| entry["pinned"] = json!(true))).await;
    for (shard, owner) in [(p1, "n1"), (p2, "n2")] {
        let entry = entry(shard).await;
        assert_eq!(entry["pinned"], json!(true), "{entry}");
        assert_eq!(entry["target"], json!(owner), "{entry}");
        assert_eq!(entry["current"], json!(owner), "{entry}");
    }

    // p1 loses its owner: n1, its target, claims it again, and the flag survives the claim.
    let (e, p) = (endpoint.clone(), prefix.clone());
    blocking(move || {
        edit_shards(&e, &p, &[p1], |entry| {
            entry["current"] = Value::Null;
            entry["lease"] = json!(0);
        });
    })
    .await;
    let n1_key = format!("{prefix}/nodes/n1");
    eventually(
        "n1 claims the pinned shard back",
        Duration::from_secs(10),
        || {
            let (e, k, shard_k) = (endpoint.clone(), n1_key.clone(), shard_key(&prefix, p1));
            async move {
                let (node, stored) =
                    blocking(move || (etcd_range(&e, &k, false).pop(), etcd_get(&e, &shard_k)))
                        .await;
                let lease = node.map(|kv| kv.lease).unwrap_or(-1);
                let stored: Value =
                    serde_json::from_str(&stored.unwrap_or_default()).unwrap_or_default();
                if stored["current"] == json!("n1") && stored["lease"] == json!(lease) {
                    Ok(())
                } else {
                    Err(format!("shard {p1}: {stored}, n1's lease {lease}"))
                }
            }
        },
    )
    .await;
    assert_eq!(
        entry(p1).await["pinned"],
        json!(true),
        "the claim kept the flag"
    );

    // p3 loses its owner while targeted at live n2: n2 claims it back, never n1.
    let (e, p) = (endpoint.clone(), prefix.clone());
    blocking(move || {
        edit_shards(&e, &p, &[p3], |entry| {
            entry["current"] = Value::Null;
            entry["lease"] = json!(0);
        });
    })
    .await;
    eventually(
        "n2 claims its shard back",
        Duration::from_secs(10),
        || async {
            let view = n1.cluster_view();
            if view.owners.owner(p3) == Some("n2") {
                Ok(())
            } else {
                Err(format!("shard {p3}: owner {:?}", view.owners.owner(p3)))
            }
        },
    )
    .await;

    // n2 leaves gracefully: n1 ends up owning every shard, p2 included (released by n2,
    // retargeted by the leader, claimed by n1), and both pinned flags are still set.
    n2.shutdown().await.unwrap();
    let took = eventually("n1 owns every shard", Duration::from_secs(10), || async {
        let view = n1.cluster_view();
        if view.nodes.keys().ne(["n1"].iter()) {
            return Err(format!("nodes {:?}", view.nodes.keys().collect::<Vec<_>>()));
        }
        let missing: Vec<u32> = (0..SHARDS)
            .filter(|&s| view.owners.owner(s) != Some("n1") || view.targets.owner(s) != Some("n1"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("not yet owned by n1: {missing:?}"))
        }
    })
    .await;
    eprintln!("claims_only_shards_targeted_at_itself_and_keeps_flags: n1 owned all after {took:?}");
    stop_etcd.store(true, Ordering::Relaxed);
    stop_view.store(true, Ordering::Relaxed);
    blocking(move || etcd_monitor.join().expect("etcd monitor")).await;
    view_monitor.await.unwrap();

    for shard in [p1, p2] {
        let entry = entry(shard).await;
        assert_eq!(
            entry["pinned"],
            json!(true),
            "shard {shard} kept its flag: {entry}"
        );
        assert_eq!(entry["target"], json!("n1"), "{entry}");
        assert_eq!(entry["current"], json!("n1"), "{entry}");
    }
    for (what, violations) in [("view", &view_violations), ("etcd", &etcd_violations)] {
        let found = violations.found.lock().unwrap();
        assert!(found.is_empty(), "{what} monitor: {found:?}");
        assert!(
            violations.samples.load(Ordering::Relaxed) > 10,
            "{what} monitor ran"
        );
    }
    eprintln!(
        "claims_only_shards_targeted_at_itself_and_keeps_flags: {} view samples, {} etcd snapshots",
        view_violations.samples.load(Ordering::Relaxed),
        etcd_violations.samples.load(Ordering::Relaxed)
    );

    let n1 = Arc::try_unwrap(n1).expect("monitor finished");
    n1.shutdown().await.unwrap();
}

/// The first node records the shard count under `<prefix>/config`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn config_key_holds_the_shard_count() {
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let prefix = prefix("config");
    let n1 = start_node(&etcd, &prefix, "n1").await;
    let key = format!("{prefix}/config");
    let stored = blocking(move || etcd_get(&endpoint, &key))
        .await
        .expect("the config key exists");
    assert_eq!(stored, r#"{"shards":64}"#);
    assert_eq!(
        serde_json::from_str::<Value>(&stored).unwrap(),
        json!({"shards": 64})
    );
    n1.shutdown().await.unwrap();
}
