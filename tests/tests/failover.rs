//! Failover between node processes against a real etcd: a node killed with SIGKILL (its shards
//! move once its lease expires), the leader killed (another node takes over and reassigns the
//! dead node's shards), and a node stopped with SIGTERM (a graceful hand-off that neither fails
//! a call nor waits for the lease to expire).
//!
//! Three `test-node` processes form the cluster with a fourth node, `n0`, running inside the
//! test process: it is an ordinary member, through which the test makes its calls and reads the
//! cluster view.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use goverse::coordinator::ClusterView;
use goverse::prelude::*;
use goverse::sharding::shard_of;
use goverse_tests::harness::{Etcd, Process};
use goverse_tests::{POLL, Placed, cluster_builder, poll};
use tokio::time::Instant;

const SHARDS: u32 = 64;
const LEASE_TTL: Duration = Duration::from_millis(5000);
const STABILITY_WINDOW: Duration = Duration::from_millis(500);
/// How long a cluster may take to form before a test gives up.
const FORM_LIMIT: Duration = Duration::from_secs(30);

/// Three node processes and the in-process member `n0`, on a fresh etcd.
struct Cluster {
    // Dropped first (fields drop in order): nodes before the etcd they use.
    n0: Option<Arc<Node>>,
    processes: Vec<(String, Process)>,
    etcd: Etcd,
}

impl Cluster {
    /// Starts etcd, processes `p1`..`p3` (waiting for each to print `ready`), then `n0`, and
    /// waits until all four agree on a settled shard map.
    async fn start(test: &str) -> Cluster {
        let etcd = Etcd::start_async().await;
        let prefix = format!("/goverse-failover/{test}");
        let processes: Vec<(String, Process)> = ["p1", "p2", "p3"]
            .into_iter()
            .map(|id| (id.to_string(), spawn_node(&etcd, &prefix, id)))
            .collect();
        for (_, process) in &processes {
            process.wait_for_line_async("ready", FORM_LIMIT).await;
        }
        let n0 = cluster_builder(&etcd, &prefix, "n0", SHARDS)
            .lease_ttl(LEASE_TTL)
            .stability_window(STABILITY_WINDOW)
            .call_timeout(Duration::from_secs(10))
            .start()
            .await
            .expect("n0 starts");
        let mut cluster = Cluster {
            n0: Some(Arc::new(n0)),
            processes,
            etcd,
        };
        let formed = poll(FORM_LIMIT, || settled(&cluster.n0().cluster_view(), 4)).await;
        assert!(
            formed.is_some(),
            "the four nodes did not settle within {FORM_LIMIT:?}\n{}",
            cluster.report()
        );
        cluster
            .n0()
            .wait_ready(FORM_LIMIT)
            .await
            .unwrap_or_else(|e| panic!("n0 ready: {e}\n{}", cluster.report()));
        // Every process still runs.
        for (id, process) in &mut cluster.processes {
            assert_eq!(process.wait_exit(Duration::ZERO), None, "{id} exited");
        }
        cluster
    }

    fn n0(&self) -> &Arc<Node> {
        self.n0.as_ref().expect("n0 runs")
    }

    fn process(&mut self, id: &str) -> &mut Process {
        &mut self
            .processes
            .iter_mut()
            .find(|(name, _)| name == id)
            .unwrap_or_else(|| panic!("no process {id}"))
            .1
    }

    /// A node process that does not lead (leader failover has a test of its own).
    fn follower(&self, view: &ClusterView) -> String {
        self.processes
            .iter()
            .map(|(id, _)| id.clone())
            .find(|id| view.leader.as_deref() != Some(id.as_str()))
            .expect("a process that does not lead")
    }

    /// The view of `n0` and the output of every process, for failure messages.
    fn report(&self) -> String {
        let mut report = match &self.n0 {
            Some(n0) => describe(&n0.cluster_view()),
            None => String::from("(n0 stopped)"),
        };
        for (id, process) in &self.processes {
            report.push_str(&format!("\n--- {id} log ---\n{}", process.log()));
        }
        report.push_str(&format!("\n--- etcd log ---\n{}", self.etcd.log()));
        report
    }

    async fn shutdown(mut self) {
        if let Some(n0) = self.n0.take() {
            let n0 = Arc::try_unwrap(n0).expect("no task holds n0 any more");
            n0.shutdown().await.expect("n0 shuts down");
        }
    }
}

fn spawn_node(etcd: &Etcd, prefix: &str, id: &str) -> Process {
    let endpoint = etcd.endpoint();
    let shards = SHARDS.to_string();
    let ttl = LEASE_TTL.as_millis().to_string();
    let window = STABILITY_WINDOW.as_millis().to_string();
    Process::spawn(
        Path::new(env!("CARGO_BIN_EXE_test-node")),
        &[&endpoint, prefix, id, &shards, &ttl, &window],
        &[],
    )
}

/// Whether `view` shows `nodes` live nodes, is ready, and every shard is served by its target,
/// a live node.
fn settled(view: &ClusterView, nodes: usize) -> bool {
    view.ready
        && !view.fenced
        && view.nodes.len() == nodes
        && (0..SHARDS).all(|shard| {
            matches!(
                (view.owners.owner(shard), view.targets.owner(shard)),
                (Some(owner), Some(target)) if owner == target && view.nodes.contains_key(owner)
            )
        })
}

/// A one-paragraph summary of a view: nodes, leader, and shards per owner and per target.
fn describe(view: &ClusterView) -> String {
    let count = |map: &goverse::sharding::ShardMap| {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for shard in 0..SHARDS {
            *per.entry(map.owner(shard).unwrap_or("-").to_string())
                .or_default() += 1;
        }
        per
    };
    format!(
        "view of n0: nodes {:?}, leader {:?}, ready {}, fenced {}, owners {:?}, targets {:?}",
        view.nodes.keys().collect::<Vec<_>>(),
        view.leader,
        view.ready,
        view.fenced,
        count(&view.owners),
        count(&view.targets),
    )
}

/// `count` object ids made from `stem` whose shards `node` owns in `view`.
fn ids_owned_by(view: &ClusterView, node: &str, stem: &str, count: usize) -> Vec<String> {
    let ids: Vec<String> = (0..10_000)
        .map(|i| format!("{stem}-{i}"))
        .filter(|id| {
            // Owned and targeted there: not about to move because of an earlier rebalance.
            let shard = shard_of(id, SHARDS);
            view.owners.owner(shard) == Some(node) && view.targets.owner(shard) == Some(node)
        })
        .take(count)
        .collect();
    assert_eq!(ids.len(), count, "not enough ids owned by {node}");
    ids
}

/// The shards whose owner is not a live node other than `dead`.
fn shards_without_live_owner(view: &ClusterView, dead: &str) -> Vec<u32> {
    (0..SHARDS)
        .filter(|&shard| {
            !view
                .owners
                .owner(shard)
                .is_some_and(|owner| owner != dead && view.nodes.contains_key(owner))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_failover_serves_again_within_8s() {
    let mut cluster = Cluster::start("sigkill").await;
    let n0 = cluster.n0().clone();
    let view = n0.cluster_view();
    let victim = cluster.follower(&view);
    let ids = ids_owned_by(&view, &victim, "sigkill", 6);
    for id in &ids {
        let (node, _) = n0
            .object::<Placed>(id)
            .hit()
            .await
            .expect("hit before the kill");
        assert_eq!(node, victim, "{id} is active on its shard's owner");
    }

    let killed_at = Instant::now();
    cluster.process(&victim).kill_hard();

    let callers = ids.iter().map(|id| {
        let proxy = n0.object::<Placed>(id).with_timeout(Duration::from_secs(2));
        let id = id.clone();
        tokio::spawn(async move {
            let mut failures = Vec::new();
            loop {
                match proxy.hit().await {
                    Ok((node, _)) => return Ok((id, killed_at.elapsed(), node, failures)),
                    Err(error) => {
                        failures.push(format!("{:?} after {:?}", error, killed_at.elapsed()));
                        if killed_at.elapsed() > Duration::from_secs(20) {
                            return Err(format!("{id}: no success within 20 s: {failures:#?}"));
                        }
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        })
    });
    let results = join_all(callers).await;
    let mut slowest = Duration::ZERO;
    for result in results {
        let (id, took, node, failures) = result
            .expect("caller task")
            .unwrap_or_else(|e| panic!("{e}\n{}", cluster.report()));
        eprintln!(
            "sigkill: {id} served again by {node} {took:?} after the kill; failed tries: {failures:?}"
        );
        slowest = slowest.max(took);
        assert!(
            took <= Duration::from_secs(8),
            "{id} served again only {took:?} after {victim} was killed; failed tries: \
             {failures:#?}\n{}",
            cluster.report()
        );
        assert_ne!(node, victim, "{id} is still reported on the killed node");
        assert!(
            n0.cluster_view().nodes.contains_key(&node),
            "{id} is served by {node}, which is not a live node"
        );
    }
    eprintln!("sigkill: every object served again within {slowest:?} of the kill");
    drop(n0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_failover() {
    let mut cluster = Cluster::start("leader").await;
    let view = cluster.n0().cluster_view();
    let dead = view.leader.clone().expect("a leader is elected");
    // The processes started first, so one of them was elected before n0 joined.
    assert!(
        cluster.processes.iter().any(|(id, _)| *id == dead),
        "the leader {dead} is not one of the processes\n{}",
        cluster.report()
    );

    let killed_at = Instant::now();
    cluster.process(&dead).kill_hard();

    let n0 = cluster.n0().clone();
    let new_leader = poll(Duration::from_secs(8), || {
        let view = n0.cluster_view();
        view.leader
            .as_deref()
            .is_some_and(|leader| leader != dead && view.nodes.contains_key(leader))
    })
    .await;
    let Some(took) = new_leader else {
        panic!(
            "no live node other than {dead} became leader within 8 s of the kill\n{}",
            cluster.report()
        );
    };
    let view = n0.cluster_view();
    eprintln!(
        "leader failover: {:?} leads {took:?} after {dead} was killed",
        view.leader
    );

    let reassigned = poll(
        Duration::from_secs(10).saturating_sub(killed_at.elapsed()),
        || shards_without_live_owner(&n0.cluster_view(), &dead).is_empty(),
    )
    .await;
    let view = n0.cluster_view();
    assert!(
        reassigned.is_some(),
        "10 s after the kill, shards {:?} still have no live owner other than {dead}\n{}",
        shards_without_live_owner(&view, &dead),
        cluster.report()
    );
    eprintln!(
        "leader failover: every shard has a live owner {:?} after the kill",
        killed_at.elapsed()
    );
    assert!(
        !view.nodes.contains_key(&dead),
        "{dead} is still a member: {}",
        describe(&view)
    );
    // Objects anywhere, including the dead leader's former shards, are served.
    for i in 0..6 {
        let id = format!("leader-{i}");
        let (node, _) = n0
            .object::<Placed>(&id)
            .with_timeout(Duration::from_secs(5))
            .hit()
            .await
            .unwrap_or_else(|e| panic!("{id} after the leader failover: {e}"));
        assert_ne!(node, dead);
    }
    drop(n0);
    cluster.shutdown().await;
}

/// Calls by the load: how many, which failed, and which node served each id last.
#[derive(Debug, Default)]
struct LoadRecord {
    calls: usize,
    errors: Vec<(Instant, String)>,
    served_by: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Calls `hit` on `ids` from eight tasks, each call once with the node's default deadline and
/// no retry, until `stop` is set.
fn steady_load(
    node: Arc<Node>,
    ids: Vec<String>,
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<LoadRecord>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let workers = (0..8).map(|worker| {
            let node = node.clone();
            let ids = ids.clone();
            let stop = stop.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[i % ids.len()];
                    let result = node.object::<Placed>(id).hit().await;
                    let mut record = record.lock().unwrap();
                    record.calls += 1;
                    match result {
                        Ok((served, _)) => {
                            *record
                                .served_by
                                .entry(served)
                                .or_default()
                                .entry(id.clone())
                                .or_default() += 1;
                        }
                        Err(error) => record
                            .errors
                            .push((Instant::now(), format!("{id}: {error:?}"))),
                    }
                    i += 7;
                }
            })
        });
        for worker in join_all(workers).await {
            worker.expect("load worker");
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_hands_off_without_errors() {
    let mut cluster = Cluster::start("sigterm").await;
    let n0 = cluster.n0().clone();
    let view = n0.cluster_view();
    let victim = cluster.follower(&view);
    let victim_ids = ids_owned_by(&view, &victim, "sigterm", 8);
    let mut ids: Vec<String> = (0..32).map(|i| format!("sigterm-load-{i}")).collect();
    ids.extend(victim_ids.iter().cloned());

    let stop = Arc::new(AtomicBool::new(false));
    let record = Arc::new(Mutex::new(LoadRecord::default()));
    let load = steady_load(n0.clone(), ids, stop.clone(), record.clone());
    // The load runs and reaches the victim before it is stopped.
    let warmed = poll(Duration::from_secs(10), || {
        let record = record.lock().unwrap();
        record.calls >= 200
            && record
                .served_by
                .get(&victim)
                .is_some_and(|served| victim_ids.iter().all(|id| served.contains_key(id)))
    })
    .await;
    if warmed.is_none() {
        let record = format!("{:?}", record.lock().unwrap());
        panic!("the load did not reach every object on {victim}: {record}");
    }

    let terminated_at = Instant::now();
    cluster.process(&victim).terminate();
    cluster
        .process(&victim)
        .wait_for_line_async("stopped", Duration::from_secs(15))
        .await;
    let stopped_at = Instant::now();
    eprintln!(
        "sigterm: {victim} printed `stopped` {:?} after SIGTERM",
        stopped_at - terminated_at
    );
    let status =
        tokio::task::block_in_place(|| cluster.process(&victim).wait_exit(Duration::from_secs(5)));
    assert!(
        status.is_some_and(|status| status.code() == Some(0)),
        "{victim} did not exit with status 0: {status:?}\n{}",
        cluster.report()
    );

    // Every shard has a new live owner well before the lease TTL would have run out.
    let handed_off = poll(
        Duration::from_secs(4).saturating_sub(stopped_at.elapsed()),
        || shards_without_live_owner(&n0.cluster_view(), &victim).is_empty(),
    )
    .await;
    let view = n0.cluster_view();
    assert!(
        handed_off.is_some(),
        "4 s after {victim} stopped, shards {:?} have no live owner other than it \
         (taking over waited for the lease TTL?)\n{}",
        shards_without_live_owner(&view, &victim),
        cluster.report()
    );
    eprintln!(
        "sigterm: every shard has a new owner {:?} after `stopped`",
        stopped_at.elapsed()
    );
    assert!(!view.nodes.contains_key(&victim), "{}", describe(&view));

    // The load reaches the victim's objects on their new nodes, then stops.
    let calls_at_stop = record.lock().unwrap().calls;
    let moved = poll(Duration::from_secs(10), || {
        let record = record.lock().unwrap();
        record.calls >= calls_at_stop + 200
            && victim_ids.iter().all(|id| {
                record
                    .served_by
                    .iter()
                    .any(|(node, ids)| *node != victim && ids.contains_key(id))
            })
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load");
    let record = Arc::try_unwrap(record)
        .expect("load finished")
        .into_inner()
        .unwrap();
    let errors: Vec<String> = record
        .errors
        .iter()
        .take(10)
        .map(|(at, error)| {
            let since = at.saturating_duration_since(terminated_at);
            format!("{since:?} after SIGTERM: {error}")
        })
        .collect();
    assert!(
        record.errors.is_empty(),
        "{} of {} calls failed during the graceful hand-off: {errors:#?}\n{}",
        record.errors.len(),
        record.calls,
        cluster.report()
    );
    assert!(
        moved.is_some(),
        "the victim's objects were not served elsewhere after it stopped: {record:?}"
    );
    eprintln!(
        "sigterm: {} calls, no errors; served per node: {:?}",
        record.calls,
        record
            .served_by
            .iter()
            .map(|(node, ids)| (node.clone(), ids.values().sum::<usize>()))
            .collect::<BTreeMap<_, _>>()
    );
    for id in &victim_ids {
        let (node, _) = n0.object::<Placed>(id).hit().await.expect("hit after");
        assert_ne!(node, victim, "{id} is still served by the stopped node");
    }
    drop(n0);
    cluster.shutdown().await;
}
