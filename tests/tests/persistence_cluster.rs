//! Persistence and reliable calls in a cluster of in-process nodes (real etcd) sharing one
//! store: state follows its shard through hand-offs under load and through a hand-off during a
//! PostgreSQL outage, and a reliable call runs once whichever node it is made from.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use goverse::prelude::*;
use goverse::sharding::shard_of;
use goverse::{Database, new_call_id};
use goverse_tests::harness::{Etcd, Postgres};
use goverse_tests::{
    Account, Score, cluster_builder, count_of, double_activations, on_each_database, poll,
};

const SHARDS: u32 = 64;

/// Node `id` on `database`, started but not yet necessarily serving.
async fn launch_node(etcd: &Etcd, prefix: &str, id: &str, database: &Database) -> Node {
    cluster_builder(etcd, prefix, id, SHARDS)
        .stability_window(Duration::from_millis(300))
        .call_timeout(Duration::from_secs(20))
        // Only hand-offs and shutdowns save during the test.
        .save_interval(Duration::from_secs(3600))
        .database(database.clone())
        .start()
        .await
        .unwrap_or_else(|e| panic!("node {id} starts: {e}"))
}

async fn start_node(etcd: &Etcd, prefix: &str, id: &str, database: &Database) -> Node {
    let node = launch_node(etcd, prefix, id, database).await;
    node.wait_ready(Duration::from_secs(30)).await.unwrap();
    node
}

async fn converge(nodes: &[&Node], count: usize) {
    for node in nodes {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while node.cluster_view().nodes.len() != count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "membership did not converge"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        node.wait_ready(Duration::from_secs(30)).await.unwrap();
    }
}

/// Each worker adds 1 to its own scores in a loop; returns every acknowledged add per id.
fn add_until(
    node: Arc<Node>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(HashMap<String, i64>, Vec<String>)> {
    tokio::spawn(async move {
        let workers = (0..8).map(|worker| {
            let node = node.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut acknowledged: HashMap<String, i64> = HashMap::new();
                let mut errors = Vec::new();
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("score-{worker}-{}", round % 5);
                    round += 1;
                    match node.object::<Score>(&id).add(1).await {
                        Ok(_) => *acknowledged.entry(id).or_default() += 1,
                        Err(error) => errors.push(format!("{id}: {error}")),
                    }
                }
                (acknowledged, errors)
            })
        });
        let mut acknowledged = HashMap::new();
        let mut errors = Vec::new();
        for (worker_acks, worker_errors) in join_all(workers).await.into_iter().map(Result::unwrap)
        {
            acknowledged.extend(worker_acks);
            errors.extend(worker_errors);
        }
        (acknowledged, errors)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_follows_its_shard_through_hand_offs_under_load() {
    let etcd = &Etcd::start_async().await;
    on_each_database(|db| async move {
        let prefix = &format!("/goverse-test/persist-handoff-{}", db.provider());
        let database = &db.database;
        let n1 = Arc::new(start_node(etcd, prefix, "n1", database).await);
        let n2 = start_node(etcd, prefix, "n2", database).await;
        converge(&[&n1, &n2], 2).await;
        let stop = Arc::new(AtomicBool::new(false));
        let load = add_until(n1.clone(), stop.clone());

        // Grow to three nodes, then let n2 leave: shards move twice while adds keep coming, and
        // with an hour-long save interval only the hand-offs save the moving objects.
        let n3 = start_node(etcd, prefix, "n3", database).await;
        converge(&[&n1, &n2, &n3], 3).await;
        goverse_tests::wait_until("n3 serves objects", Duration::from_secs(30), || {
            !n3.list_objects().is_empty()
        })
        .await;
        n2.shutdown().await.unwrap();
        converge(&[&n1, &n3], 2).await;
        stop.store(true, Ordering::Relaxed);
        let (acknowledged, errors) = load.await.unwrap();
        assert!(
            errors.is_empty(),
            "calls failed: {:?}",
            &errors[..errors.len().min(5)]
        );
        assert_eq!(acknowledged.len(), 40, "every score was used");

        // Every acknowledged add is in the state, wherever the object lives now.
        for (id, adds) in &acknowledged {
            assert_eq!(n3.object::<Score>(id).total().await.unwrap(), *adds, "{id}");
        }
        assert_eq!(double_activations(), 0);
        let n1 = Arc::into_inner(n1).unwrap();
        n1.shutdown().await.unwrap();
        n3.shutdown().await.unwrap();
        // And in the store once every node is gone.
        for (id, adds) in &acknowledged {
            let record = database.object("Score", id).await.unwrap().unwrap();
            let state: serde_json::Value = serde_json::from_str(&record.state_json).unwrap();
            assert_eq!(state["total"], *adds, "{id}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reliable_call_runs_once_from_any_node() {
    let etcd = Etcd::start_async().await;
    let prefix = "/goverse-test/persist-reliable";
    let database = Database::memory();
    let nodes = Arc::new(vec![
        start_node(&etcd, prefix, "n1", &database).await,
        start_node(&etcd, prefix, "n2", &database).await,
        start_node(&etcd, prefix, "n3", &database).await,
    ]);
    converge(&nodes.iter().collect::<Vec<_>>(), 3).await;

    // The same call id from every node: one run, one outcome.
    let call_id = new_call_id();
    for node in nodes.iter() {
        let balance = node
            .object::<Account>("cross-1")
            .reliable(&call_id)
            .deposit(7)
            .await
            .unwrap();
        assert_eq!(balance, 7);
    }
    assert_eq!(count_of("cross-1", "deposit 7"), 1);

    // 300 distinct reliable deposits from all nodes at once: each applied once, in some order.
    let calls = (0..300).map(|i| {
        let nodes = nodes.clone();
        tokio::spawn(async move {
            nodes[i % 3]
                .object::<Account>("cross-2")
                .reliable(format!("cross-2-{i}"))
                .deposit(1)
                .await
                .unwrap()
        })
    });
    let results: BTreeSet<i64> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, (1..=300).collect::<BTreeSet<i64>>());
    assert_eq!(
        nodes[1]
            .object::<Account>("cross-2")
            .balance()
            .await
            .unwrap(),
        300
    );
    for node in Arc::into_inner(nodes).unwrap() {
        node.shutdown().await.unwrap();
    }
}

/// A planned hand-off while PostgreSQL is down: the old owner cannot save the moving objects,
/// so it keeps them and their shards (calls to them wait) and hands them off once PostgreSQL is
/// back. Every acknowledged call is then in the state the new owner loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hand_off_during_a_database_outage_waits_for_the_save() {
    let etcd = Etcd::start_async().await;
    let mut pg = Postgres::start_async().await;
    let database = Database::connect(&pg.create_database("handoff_outage"))
        .await
        .unwrap();
    let prefix = "/goverse-test/persist-handoff-outage";
    let n1 = start_node(&etcd, prefix, "n1", &database).await;
    let ids: Vec<String> = (0..20).map(|i| format!("outage-score-{i}")).collect();
    // Activated (loaded) while PostgreSQL is up; the hour-long interval saves nothing.
    for id in &ids {
        n1.object::<Score>(id).add(1).await.unwrap();
    }
    pg.stop();
    // Acknowledged while PostgreSQL is down: these exist only in n1's memory.
    for id in &ids {
        n1.object::<Score>(id).add(10).await.unwrap();
    }

    let n2 = launch_node(&etcd, prefix, "n2", &database).await;
    let moving = || -> BTreeSet<u32> {
        let view = n1.cluster_view();
        ids.iter()
            .map(|id| shard_of(id, SHARDS))
            .filter(|&shard| view.targets.owner(shard) == Some("n2"))
            .collect()
    };
    goverse_tests::wait_until(
        "some of the scores' shards are targeted at n2",
        Duration::from_secs(30),
        || !moving().is_empty(),
    )
    .await;
    let moving = moving();
    let moved = |view: &goverse::coordinator::ClusterView| {
        moving
            .iter()
            .all(|&shard| view.owners.owner(shard) == Some("n2"))
    };
    // While PostgreSQL is down no shard with unsaved objects is released: watched for longer
    // than a save takes to fail (the pool gives up connecting after 5 s).
    let released = poll(Duration::from_secs(8), || {
        let view = n1.cluster_view();
        moving
            .iter()
            .any(|&shard| view.owners.owner(shard) != Some("n1"))
    })
    .await;
    assert_eq!(released, None, "n1 released a shard it could not save");

    pg.restart_async().await;
    goverse_tests::wait_until("n2 owns the moved shards", Duration::from_secs(30), || {
        moved(&n1.cluster_view())
    })
    .await;
    n2.wait_ready(Duration::from_secs(30)).await.unwrap();
    for id in &ids {
        assert_eq!(n1.object::<Score>(id).total().await.unwrap(), 11, "{id}");
    }
    let on_n2 = n2.list_objects().len();
    assert!(on_n2 > 0, "n2 serves some of the scores");
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
    for id in &ids {
        let record = database.object("Score", id).await.unwrap().unwrap();
        let state: serde_json::Value = serde_json::from_str(&record.state_json).unwrap();
        assert_eq!(state["total"], 11, "{id}");
    }
}

/// Reliable calls keep coming while a node shuts down (a planned hand-off of its shards): none
/// fails. Then every call is made again with its id: each ran exactly once, and answers the
/// same again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reliable_calls_across_a_planned_hand_off_run_once() {
    let etcd = &Etcd::start_async().await;
    on_each_database(|db| async move {
        let prefix = &format!("/goverse-test/reliable-handoff-{}", db.provider());
        let n1 = Arc::new(start_node(etcd, prefix, "n1", &db.database).await);
        let n2 = start_node(etcd, prefix, "n2", &db.database).await;
        converge(&[&n1, &n2], 2).await;
        let ids: Vec<String> = (0..10).map(|i| db.id(&format!("moving-{i}"))).collect();
        let stop = Arc::new(AtomicBool::new(false));
        // Four callers on n1, each with its own call ids, spread over every account.
        let callers = (0..4).map(|caller| {
            let (n1, ids, stop) = (n1.clone(), ids.clone(), stop.clone());
            tokio::spawn(async move {
                let mut first = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[n % ids.len()];
                    let call_id = format!("{id}-{caller}-{n}");
                    let answer = n1
                        .object::<Account>(id)
                        .reliable(&call_id)
                        .deposit(1)
                        .await
                        .map_err(|error| format!("{call_id}: {error}"));
                    first.push((id.clone(), call_id, answer));
                    n += 1;
                }
                first
            })
        });
        let callers: Vec<_> = callers.collect();
        goverse_tests::wait_until("calls are under way", Duration::from_secs(10), || {
            ids.iter().all(|id| count_of(id, "deposit 1") > 0)
        })
        .await;
        n2.shutdown().await.unwrap();
        converge(&[&n1], 1).await;
        stop.store(true, Ordering::Relaxed);
        let first: Vec<_> = join_all(callers)
            .await
            .into_iter()
            .flat_map(Result::unwrap)
            .collect();

        // Callers see no error across a planned hand-off.
        let errors: Vec<&String> = first
            .iter()
            .filter_map(|(.., a)| a.as_ref().err())
            .collect();
        assert!(
            errors.is_empty(),
            "calls failed: {:?}",
            &errors[..errors.len().min(5)]
        );

        let mut per_id: HashMap<&str, i64> = HashMap::new();
        for (id, call_id, answer) in &first {
            let again = n1
                .object::<Account>(id)
                .reliable(call_id)
                .deposit(1)
                .await
                .unwrap();
            assert_eq!(
                answer.as_ref().ok(),
                Some(&again),
                "{call_id} answered differently"
            );
            *per_id.entry(id).or_default() += 1;
        }
        for id in &ids {
            let calls = per_id[id.as_str()];
            assert_eq!(count_of(id, "deposit 1"), calls as usize, "{id}");
            assert_eq!(
                n1.object::<Account>(id).balance().await.unwrap(),
                calls,
                "{id}"
            );
        }
        Arc::into_inner(n1).unwrap().shutdown().await.unwrap();
    })
    .await;
}
