//! Security: access and lifecycle rules (every level for clients and nodes, patterns, first
//! match, defaults, validation), their cluster-file form, rate limits under paused time, the
//! cluster secret between real nodes, and node-to-node TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use goverse::access::{Access, AccessPolicy, AccessRule, LifecycleOp, LifecycleRule, Origin};
use goverse::config::ClusterFile;
use goverse::limits::{RateLimit, RateLimiter, retry_after};
use goverse::prelude::*;
use goverse::{Codec, NodeBuilder};
use goverse_tests::harness::{Etcd, Process};
use goverse_tests::{Counter, cluster_builder};

const SHARDS: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn every_level_for_clients_and_nodes() {
    let table = [
        (Access::Reject, false, false),
        (Access::Internal, false, true),
        (Access::External, true, false),
        (Access::Allow, true, true),
    ];
    for (access, client, internal) in table {
        assert_eq!(
            access.admits(Origin::Client),
            client,
            "{access:?} for clients"
        );
        assert_eq!(
            access.admits(Origin::Internal),
            internal,
            "{access:?} for nodes"
        );
        let policy = AccessPolicy::new(
            &[AccessRule::new("Room", access)],
            &[LifecycleRule::new("Room", "ALL", access)],
        )
        .unwrap();
        for (origin, allowed) in [(Origin::Client, client), (Origin::Internal, internal)] {
            let call = policy.check_call(origin, "Room", "r1", "join");
            assert_eq!(call.is_ok(), allowed, "{access:?} call by {origin:?}");
            if let Err(error) = call {
                assert_eq!(error.kind(), ErrorKind::PermissionDenied);
                assert!(error.message().contains("Room.join"), "{error}");
            }
            for op in [LifecycleOp::Create, LifecycleOp::Delete] {
                let result = policy.check_lifecycle(origin, "Room", "r1", op);
                assert_eq!(result.is_ok(), allowed, "{access:?} {op:?} by {origin:?}");
            }
        }
    }
}

#[test]
fn keywords_are_case_insensitive() {
    for (word, level) in [
        ("reject", Access::Reject),
        ("Internal", Access::Internal),
        ("eXtErNaL", Access::External),
        ("ALLOW", Access::Allow),
    ] {
        assert_eq!(Access::parse(word), Some(level));
    }
    let rule = LifecycleRule {
        type_name: "Room".into(),
        id: None,
        lifecycle: "create".into(),
        access: "external".into(),
    };
    let policy = AccessPolicy::new(&[], &[rule]).unwrap();
    assert_eq!(
        policy.lifecycle_access("Room", "x", LifecycleOp::Create),
        Access::External
    );
}

#[test]
fn regexes_are_anchored_to_the_whole_string() {
    let policy = AccessPolicy::new(
        &[
            AccessRule::new("/Chat/", Access::Allow),
            AccessRule::new("/Game.*/", Access::Allow).method("/get|list/"),
            AccessRule::new("Player", Access::Allow).id("/p-[0-9]+/"),
            AccessRule::new("Lit.eral", Access::Allow),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(policy.call_access("Chat", "x", "m"), Access::Allow);
    assert_eq!(policy.call_access("ChatRoom", "x", "m"), Access::Reject);
    assert_eq!(policy.call_access("MyChat", "x", "m"), Access::Reject);
    assert_eq!(policy.call_access("GameRoom", "x", "get"), Access::Allow);
    assert_eq!(policy.call_access("GameRoom", "x", "list"), Access::Allow);
    assert_eq!(
        policy.call_access("GameRoom", "x", "getter"),
        Access::Reject
    );
    assert_eq!(policy.call_access("Player", "p-17", "m"), Access::Allow);
    assert_eq!(policy.call_access("Player", "p-17x", "m"), Access::Reject);
    assert_eq!(policy.call_access("Player", "xp-17", "m"), Access::Reject);
    // A literal is a literal: the dot is not a wildcard.
    assert_eq!(policy.call_access("Lit.eral", "x", "m"), Access::Allow);
    assert_eq!(policy.call_access("LitXeral", "x", "m"), Access::Reject);
}

#[test]
fn the_first_matching_rule_wins() {
    let policy = AccessPolicy::new(
        &[
            AccessRule::new("Room", Access::Reject).method("delete_all"),
            AccessRule::new("Room", Access::External).id("lobby"),
            AccessRule::new("/.*/", Access::Internal),
            AccessRule::new("Room", Access::Allow),
        ],
        &[
            LifecycleRule::new("Room", "DELETE", Access::External).id("tmp"),
            LifecycleRule::new("Room", "ALL", Access::Reject),
        ],
    )
    .unwrap();
    assert_eq!(
        policy.call_access("Room", "lobby", "delete_all"),
        Access::Reject
    );
    assert_eq!(
        policy.call_access("Room", "lobby", "join"),
        Access::External
    );
    assert_eq!(policy.call_access("Room", "r2", "join"), Access::Internal);
    assert_eq!(
        policy.lifecycle_access("Room", "tmp", LifecycleOp::Delete),
        Access::External
    );
    assert_eq!(
        policy.lifecycle_access("Room", "tmp", LifecycleOp::Create),
        Access::Reject
    );
    assert_eq!(
        policy.lifecycle_access("Room", "r2", LifecycleOp::Delete),
        Access::Reject
    );
}

#[test]
fn defaults_without_a_match_and_without_rules() {
    let none = AccessPolicy::new(&[], &[]).unwrap();
    assert!(!none.is_configured());
    assert_eq!(none.call_access("Any", "x", "m"), Access::Allow);
    assert_eq!(
        none.lifecycle_access("Any", "x", LifecycleOp::Delete),
        Access::Allow
    );
    let some = AccessPolicy::new(&[AccessRule::new("Other", Access::Allow)], &[]).unwrap();
    assert!(some.is_configured());
    assert_eq!(some.call_access("Room", "x", "m"), Access::Reject);
    assert_eq!(
        some.lifecycle_access("Room", "x", LifecycleOp::Create),
        Access::Allow
    );
    assert_eq!(
        some.lifecycle_access("Room", "x", LifecycleOp::Delete),
        Access::Internal
    );
    assert!(
        some.check_lifecycle(Origin::Client, "Room", "x", LifecycleOp::Delete)
            .is_err()
    );
    assert!(
        some.check_lifecycle(Origin::Internal, "Room", "x", LifecycleOp::Delete)
            .is_ok()
    );
}

#[test]
fn invalid_rules_are_named_by_index_and_field() {
    let message = |access: &[AccessRule], lifecycle: &[LifecycleRule]| {
        let error = AccessPolicy::new(access, lifecycle).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        error.message().to_string()
    };
    let good = AccessRule::new("A", Access::Allow);
    let m = message(&[good.clone(), AccessRule::new("", Access::Allow)], &[]);
    assert!(m.starts_with("access_rules[1].type: "), "{m}");
    let mut bad = good.clone();
    bad.access = "SOMETIMES".into();
    let m = message(&[good.clone(), good.clone(), bad], &[]);
    assert!(m.starts_with("access_rules[2].access: "), "{m}");
    assert!(m.contains("SOMETIMES"), "{m}");
    let m = message(&[good.clone().id("/(unclosed/")], &[]);
    assert!(m.starts_with("access_rules[0].id: "), "{m}");
    let m = message(&[good.clone().method("/[z-a]/")], &[]);
    assert!(m.starts_with("access_rules[0].method: "), "{m}");
    let mut missing = good.clone();
    missing.access = String::new();
    let m = message(&[missing], &[]);
    assert!(m.starts_with("access_rules[0].access: is required"), "{m}");
    let m = message(&[], &[LifecycleRule::new("A", "RESTART", Access::Allow)]);
    assert!(m.starts_with("lifecycle_rules[0].lifecycle: "), "{m}");
    let m = message(&[], &[LifecycleRule::new("A", "", Access::Allow)]);
    assert!(
        m.starts_with("lifecycle_rules[0].lifecycle: is required"),
        "{m}"
    );
    let m = message(&[], &[LifecycleRule::new("/(/", "ALL", Access::Allow)]);
    assert!(m.starts_with("lifecycle_rules[0].type: "), "{m}");
}

// ---------------------------------------------------------------------------------------------
// Enforcement on a node

#[tokio::test]
async fn a_node_enforces_its_rules_on_its_own_calls_and_object_calls() {
    let node = Node::builder()
        .access_rules([
            AccessRule::new("Counter", Access::External).method("get"),
            AccessRule::new("Counter", Access::Internal).method("add"),
            AccessRule::new("Counter", Access::Allow).method("give"),
        ])
        .lifecycle_rules([LifecycleRule::new("Counter", "CREATE", Access::Reject).id("sealed")])
        .start()
        .await
        .unwrap();
    let a = node.object::<Counter>("a");
    // The node's own code is internal: INTERNAL passes, EXTERNAL does not.
    assert_eq!(a.add(5).await.unwrap(), 5);
    let error = a.get().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    // An object calling another object is internal (here on the same node).
    assert_eq!(a.give("b".into(), 2).await.unwrap(), 3);
    // Calling an object that is not active creates it: a CREATE rule applies.
    let error = node.object::<Counter>("sealed").add(1).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(error.message().contains("create"), "{error}");
    let error = node.create::<Counter>("sealed").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    // DELETE defaults to INTERNAL: the node may delete.
    node.delete::<Counter>("a").await.unwrap();
    // Methods no rule names are denied.
    let error = node
        .call_by_name(
            "Counter",
            "a",
            "slow_add",
            Codec::Json
                .encode(&serde_json::json!({"n": 1, "millis": 0}))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    node.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The cluster file

#[test]
fn the_cluster_file_holds_rules_limits_the_secret_and_tls() {
    let yaml = r#"
cluster:
  secret: s3cret
  tls_ca: /etc/goverse/ca.pem
access_rules:
  - {type: Counter, method: get, access: external}
  - {type: /.*/, access: INTERNAL}
lifecycle_rules:
  - {type: Counter, id: /tmp-.*/, lifecycle: all, access: ALLOW}
rate_limits:
  - {scope: client, per_second: 20, burst: 40}
  - {scope: type, type: Counter, per_second: 500.5, burst: 1000}
nodes:
  - id: n1
    listen: 127.0.0.1:7001
    tls: {cert: /etc/goverse/n1.pem, key: /etc/goverse/n1.key}
"#;
    let settings = ClusterFile::parse(yaml).unwrap().node("n1").unwrap();
    let security = settings.security;
    assert_eq!(security.access_rules.len(), 2);
    assert_eq!(security.access_rules[0].method.as_deref(), Some("get"));
    assert_eq!(security.lifecycle_rules[0].id.as_deref(), Some("/tmp-.*/"));
    assert_eq!(
        security.rate_limits,
        vec![
            RateLimit::per_client(20.0, 40),
            RateLimit::per_type("Counter", 500.5, 1000)
        ]
    );
    assert_eq!(security.cluster_secret.as_deref(), Some("s3cret"));
    assert!(
        !format!("{security:?}").contains("s3cret"),
        "the secret is redacted"
    );
    let tls = security.tls.unwrap();
    assert_eq!(tls.cert_path, Path::new("/etc/goverse/n1.pem"));
    assert_eq!(tls.key_path, Path::new("/etc/goverse/n1.key"));
    assert_eq!(
        security.tls_ca.as_deref(),
        Some(Path::new("/etc/goverse/ca.pem"))
    );
}

#[test]
fn the_cluster_file_names_bad_security_keys() {
    let nodes = "nodes:\n  - {id: n1, listen: 127.0.0.1:7001}\n";
    let error = |section: &str| {
        ClusterFile::parse(&format!("{section}{nodes}"))
            .unwrap_err()
            .message()
            .to_string()
    };
    let m = error(
        "access_rules:\n  - {type: A, access: ALLOW}\n  - {type: B, id: \"/(/\", access: ALLOW}\n",
    );
    assert!(m.contains("access_rules[1].id"), "{m}");
    assert!(m.contains("line 3"), "{m}");
    let m = error("access_rules:\n  - {type: A, acess: ALLOW}\n");
    assert!(m.contains("acess"), "{m}");
    let m = error("lifecycle_rules:\n  - {type: A, lifecycle: SOMETIMES, access: ALLOW}\n");
    assert!(m.contains("lifecycle_rules[0].lifecycle"), "{m}");
    let m = error("rate_limits:\n  - {scope: client, per_second: 0, burst: 1}\n");
    assert!(m.contains("rate_limits[0].per_second"), "{m}");
    let m = error("rate_limits:\n  - {scope: type, per_second: 1, burst: 1}\n");
    assert!(m.contains("rate_limits"), "{m}");
    let m = error("cluster:\n  secret: \"\"\n");
    assert!(m.contains("cluster.secret"), "{m}");
    let m = error("cluster:\n  tls_cert: x\n");
    assert!(m.contains("tls_cert"), "{m}");
    let m = error("acces_rules: []\n");
    assert!(m.contains("acces_rules"), "{m}");
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test(start_paused = true)]
async fn per_client_buckets_refill_and_say_when_to_retry() {
    let limiter = RateLimiter::new(vec![RateLimit::per_client(10.0, 2)]).unwrap();
    limiter.admit("alice", "Counter").unwrap();
    limiter.admit("alice", "Room").unwrap();
    let error = limiter.admit("alice", "Counter").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResourceExhausted);
    assert_eq!(error.code(), Some(goverse::limits::RATE_LIMITED));
    assert!(error.message().ends_with("retry after 100 ms"), "{error}");
    assert_eq!(retry_after(&error), Some(Duration::from_millis(100)));
    // Other clients have their own bucket.
    limiter.admit("bob", "Counter").unwrap();
    tokio::time::advance(Duration::from_millis(60)).await;
    assert_eq!(
        limiter.try_admit("alice", "Counter"),
        Err(Duration::from_millis(40))
    );
    tokio::time::advance(Duration::from_millis(40)).await;
    limiter.admit("alice", "Counter").unwrap();
    // A long pause refills up to the burst, not beyond.
    tokio::time::advance(Duration::from_secs(60)).await;
    limiter.admit("alice", "Counter").unwrap();
    limiter.admit("alice", "Counter").unwrap();
    assert!(limiter.admit("alice", "Counter").is_err());
}

#[tokio::test(start_paused = true)]
async fn per_type_buckets_are_shared_and_a_refusal_takes_no_token() {
    let limiter = RateLimiter::new(vec![
        RateLimit::per_client(1.0, 5),
        RateLimit::per_type("Counter", 2.0, 1),
    ])
    .unwrap();
    limiter.admit("alice", "Counter").unwrap();
    let error = limiter.admit("bob", "Counter").unwrap_err();
    assert_eq!(retry_after(&error), Some(Duration::from_millis(500)));
    // Other types are not limited by the Counter bucket.
    for _ in 0..4 {
        limiter.admit("bob", "Room").unwrap();
    }
    // Bob's refused Counter call took nothing from his own bucket: one token is left.
    limiter.admit("bob", "Room").unwrap();
    assert!(limiter.admit("bob", "Room").is_err());
    tokio::time::advance(Duration::from_millis(500)).await;
    limiter.admit("carol", "Counter").unwrap();
}

#[tokio::test(start_paused = true)]
async fn buckets_are_bounded() {
    let limiter = RateLimiter::with_capacity(vec![RateLimit::per_client(1.0, 1)], 8).unwrap();
    for client in 0..1000 {
        limiter.admit(&format!("c{client}"), "T").unwrap();
        assert!(limiter.buckets() <= 8);
    }
    // Idle buckets refill and go first; a recent client keeps its state.
    tokio::time::advance(Duration::from_secs(5)).await;
    limiter.admit("recent", "T").unwrap();
    for client in 0..7 {
        limiter.admit(&format!("d{client}"), "T").unwrap();
    }
    assert!(limiter.admit("recent", "T").is_err(), "its bucket was kept");
    assert!(limiter.buckets() <= 8);
    let bad = RateLimiter::new(vec![RateLimit::per_client(0.0, 1)]).unwrap_err();
    assert!(
        bad.message().starts_with("rate_limits[0].per_second"),
        "{bad}"
    );
    let bad = RateLimiter::new(vec![RateLimit::per_type("T", 1.0, 0)]).unwrap_err();
    assert!(bad.message().starts_with("rate_limits[0].burst"), "{bad}");
}

// ---------------------------------------------------------------------------------------------
// The cluster secret and TLS between real nodes

fn prefix(test: &str) -> String {
    format!("/goverse-test/security-{test}")
}

async fn two_nodes(
    etcd: &Etcd,
    test: &str,
    configure: impl Fn(NodeBuilder, usize) -> NodeBuilder,
) -> (Node, Node) {
    let prefix = prefix(test);
    let start = |index: usize| {
        let builder = cluster_builder(etcd, &prefix, &format!("n{index}"), SHARDS)
            .stability_window(Duration::from_millis(300))
            .call_timeout(Duration::from_secs(5));
        configure(builder, index).start()
    };
    let n1 = start(1).await.expect("n1 starts");
    let n2 = start(2).await.expect("n2 starts");
    for node in [&n1, &n2] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while node.cluster_view().nodes.len() != 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "membership converges"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        node.wait_ready(Duration::from_secs(30))
            .await
            .expect("ready");
    }
    (n1, n2)
}

/// Ids of counters that n1 reaches only through n2: n2 activates them itself (calls that n2
/// would have to send to n1 may be refused, and are ignored here).
async fn remote_ids(n2: &Node) -> Vec<String> {
    let mut remote = Vec::new();
    for i in 0..64 {
        let id = format!("c{i}");
        let _ = n2.object::<Counter>(&id).add(0).await;
        if n2.list_objects().iter().any(|key| key.id() == id) {
            remote.push(id);
        }
    }
    assert!(!remote.is_empty(), "n2 owns some shards");
    remote
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_refuses_peers_without_its_secret() {
    let etcd = Etcd::start_async().await;
    let (n1, n2) = two_nodes(&etcd, "secret-mismatch", |builder, index| {
        builder.cluster_secret(format!("secret-{index}"))
    })
    .await;
    let remote = remote_ids(&n2).await;
    for id in &remote {
        let error = n1.object::<Counter>(id).add(1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthenticated, "{error}");
        assert!(!error.message().contains("secret-"), "{error}");
    }
    // Nothing ran on n2.
    for id in &remote {
        assert_eq!(n2.object::<Counter>(id).get().await.unwrap(), 0);
    }
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_refuses_peers_without_any_secret() {
    let etcd = Etcd::start_async().await;
    let (n1, n2) = two_nodes(&etcd, "secret-missing", |builder, index| {
        if index == 2 {
            builder.cluster_secret("only-n2-has-it")
        } else {
            builder
        }
    })
    .await;
    let remote = remote_ids(&n2).await;
    let error = n1.object::<Counter>(&remote[0]).add(1).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthenticated, "{error}");
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_sharing_the_secret_call_each_other() {
    let etcd = Etcd::start_async().await;
    let (n1, n2) = two_nodes(&etcd, "secret-shared", |builder, _| {
        builder.cluster_secret("the same secret")
    })
    .await;
    let remote = remote_ids(&n2).await;
    for id in &remote {
        assert_eq!(n1.object::<Counter>(id).add(2).await.unwrap(), 2);
    }
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

/// A CA and one certificate for 127.0.0.1 and localhost signed by it, written as PEM files.
struct Certs {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "goverse test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let node_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "goverse node");
    let node_cert = params.signed_by(&node_key, &issuer).unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Certs {
        ca: write("ca.pem", ca_cert.pem()),
        cert: write("node.pem", node_cert.pem()),
        key: write("node.key", node_key.serialize_pem()),
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_call_each_other_over_mutual_tls() {
    let etcd = Etcd::start_async().await;
    let certs = certs();
    let (n1, n2) = two_nodes(&etcd, "tls", |builder, _| {
        builder
            .tls(&certs.cert, &certs.key)
            .tls_ca(&certs.ca)
            .cluster_secret("and a secret")
    })
    .await;
    let remote = remote_ids(&n2).await;
    for id in &remote {
        assert_eq!(n1.object::<Counter>(id).add(3).await.unwrap(), 3);
    }
    // An object calling an object wherever it lives, over TLS both ways.
    assert_eq!(
        n2.object::<Counter>(&remote[0])
            .give("c-far".into(), 1)
            .await
            .unwrap(),
        2
    );
    n1.shutdown().await.unwrap();
    n2.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_without_secret_or_mutual_tls_warns_at_start() {
    const WARNING: &str = "neither a cluster secret nor mutual TLS";
    let etcd = Etcd::start_async().await;
    let endpoint = etcd.endpoint();
    let spawn = |test: &str, env: &[(&str, &str)]| {
        let prefix = prefix(test);
        Process::spawn(
            Path::new(env!("CARGO_BIN_EXE_test-node")),
            &[&endpoint, &prefix, "n1", "16", "2000", "300"],
            env,
        )
    };
    let mut open = spawn("warn-open", &[]);
    let mut guarded = spawn("warn-guarded", &[("TEST_NODE_CLUSTER_SECRET", "s3cret")]);
    for node in [&open, &guarded] {
        node.wait_for_line_async("ready", Duration::from_secs(60))
            .await;
    }
    let log = open.log();
    assert_eq!(log.matches(WARNING).count(), 1, "{log}");
    assert!(log.contains("trust the caller identity"), "{log}");
    let log = guarded.log();
    assert!(!log.contains(WARNING), "{log}");
    open.terminate();
    guarded.terminate();
}

#[tokio::test]
async fn tls_errors_name_the_file() {
    let etcd = Etcd::start_async().await;
    let missing = Path::new("/nonexistent/goverse/node.pem");
    let error = cluster_builder(&etcd, &prefix("tls-missing"), "n1", SHARDS)
        .tls(missing, "/nonexistent/goverse/node.key")
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(
        error.message().contains("/nonexistent/goverse/node.pem"),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("ca.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let error = cluster_builder(&etcd, &prefix("tls-garbage"), "n1", SHARDS)
        .tls_ca(&garbage)
        .start()
        .await
        .unwrap_err();
    assert!(
        error.message().contains(&garbage.display().to_string()),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_serves_grpc_and_http_over_tls() {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let certs = certs();
    let node = goverse::Node::builder()
        .gate(goverse::gate::GateConfig {
            tls: Some(goverse::tls::TlsFiles::new(&certs.cert, &certs.key)),
            ..goverse::gate::GateConfig::default()
        })
        .start()
        .await
        .unwrap();
    // gRPC: the Rust client over TLS, trusting the test CA.
    let grpc = node.gate_grpc_address().unwrap();
    let client = goverse::Client::builder()
        .gate(format!("https://localhost:{}", grpc.port()))
        .tls_ca(&certs.ca)
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.object::<Counter>("tls-gate").add(4).await.unwrap(),
        4
    );
    // A client that does not trust the CA cannot connect.
    let refused = goverse::Client::builder()
        .gate(format!("http://127.0.0.1:{}", grpc.port()))
        .call_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert!(refused.is_err(), "a plain-text client reached a TLS gate");

    // HTTP: one HTTP/1.1 request through a rustls client.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(&certs.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let http = node.gate_http_address().unwrap();
    let tcp = tokio::net::TcpStream::connect(http).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(
        b"POST /v1/objects/Counter/tls-gate/add HTTP/1.1\r\nHost: localhost\r\n\
          Content-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"n\": 1}",
    )
    .await
    .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("5"), "{response}");
    node.shutdown().await.unwrap();
}

/// Says who called it, as the gate identified the client.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct WhoAmI;

#[goverse::object]
impl WhoAmI {
    #[method]
    async fn who(&self, ctx: &Context) -> Option<String> {
        ctx.caller().and_then(|caller| caller.identity.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_from_the_cluster_file_serves_tls_and_knows_its_clients() {
    let certs = certs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(
        &path,
        format!(
            "gate:\n  require_authentication: true\n  api_keys:\n    - {{secret: key-1, identity: \
             service-a}}\n  bearer_tokens:\n    - {{secret: token-1, identity: alice}}\n\
             nodes:\n  - id: g1\n    listen: 127.0.0.1:0\n    gate_grpc: 127.0.0.1:0\n    \
             gate_tls: {{cert: {}, key: {}}}\n",
            certs.cert.display(),
            certs.key.display()
        ),
    )
    .unwrap();
    let node = goverse::Node::builder()
        .config_file(&path, "g1")
        .unwrap()
        .start()
        .await
        .unwrap();
    let url = format!(
        "https://localhost:{}",
        node.gate_grpc_address().unwrap().port()
    );
    let client = |credential: Option<(&str, &str)>| {
        let builder = goverse::Client::builder()
            .gate(url.clone())
            .tls_ca(&certs.ca)
            .call_timeout(Duration::from_secs(5));
        let builder = match credential {
            Some(("key", key)) => builder.api_key(key),
            Some((_, token)) => builder.bearer_token(token),
            None => builder,
        };
        builder.connect()
    };
    let service = client(Some(("key", "key-1"))).await.unwrap();
    assert_eq!(
        service
            .object::<WhoAmI>("w")
            .who()
            .await
            .unwrap()
            .as_deref(),
        Some("service-a")
    );
    let alice = client(Some(("token", "token-1"))).await.unwrap();
    assert_eq!(
        alice.object::<WhoAmI>("w").who().await.unwrap().as_deref(),
        Some("alice")
    );
    // `require_authentication` from the file: no credential, or an unknown one, is refused.
    for credential in [None, Some(("key", "key-2"))] {
        let refused = match client(credential).await {
            Err(error) => error,
            Ok(anonymous) => anonymous.object::<WhoAmI>("w").who().await.unwrap_err(),
        };
        assert_eq!(
            refused.kind(),
            goverse::ErrorKind::Unauthenticated,
            "{refused}"
        );
    }
    node.shutdown().await.unwrap();
}
