//! A node's security settings: access and lifecycle rules, rate limits for its gate, the
//! cluster secret and TLS; the builder options that set them; the node-to-node trust boundary.
//!
//! # The trust boundary between nodes
//!
//! A node believes what a peer's request says about who made a call (the [`Caller`]) and
//! which turns wait on it (the call chain): that is what the access rules judge. So with a
//! cluster secret configured ([`NodeBuilder::cluster_secret`], `cluster.secret` in the cluster
//! file), the node service runs nothing for a request that does not prove it knows the secret:
//! it answers `Unauthenticated`. Every node and gate of a cluster must be given the same secret.
//!
//! The secret itself never travels. Each request carries the metadata
//! `x-goverse-cluster-auth: v1:<unix milliseconds>:<hex HMAC-SHA256(secret, "goverse-node-v1:" +
//! milliseconds)>`; the node recomputes the tag (a constant-time comparison) and accepts
//! timestamps within [`CLUSTER_AUTH_WINDOW`] of its own clock. Someone who can read the traffic
//! therefore never learns the secret, but could replay a captured token for that window: use
//! TLS between nodes ([`NodeBuilder::tls`], [`NodeBuilder::tls_ca`]; mutual TLS when a node has
//! both) where the network is not trusted.
//!
//! Without a secret and without mutual TLS, anyone who can reach a node's port can call any
//! object as anyone: keep the node port on a private network.
//!
//! [`Caller`]: crate::Caller
//! [`NodeBuilder::cluster_secret`]: crate::NodeBuilder::cluster_secret
//! [`NodeBuilder::tls`]: crate::NodeBuilder::tls
//! [`NodeBuilder::tls_ca`]: crate::NodeBuilder::tls_ca

use std::path::PathBuf;
#[cfg(feature = "etcd")]
use std::time::Duration;

use crate::access::{AccessPolicy, AccessRule, LifecycleRule};
use crate::error::Result;
use crate::limits::RateLimit;
use crate::tls::TlsFiles;

/// How far a cluster-auth timestamp may be from the receiving node's clock.
#[cfg(feature = "etcd")]
pub(crate) const CLUSTER_AUTH_WINDOW: Duration = Duration::from_secs(60);

/// The metadata key of the cluster-secret proof on node-to-node requests.
#[cfg(feature = "etcd")]
pub(crate) const CLUSTER_AUTH_HEADER: &str = "x-goverse-cluster-auth";

/// A node's security settings, from the builder or the cluster file.
#[derive(Clone, Default)]
pub struct SecuritySettings {
    /// Who may call which methods (`access_rules:`).
    pub access_rules: Vec<AccessRule>,
    /// Who may create and delete which objects (`lifecycle_rules:`).
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// Rate limits of the gate in this process, unless its `GateConfig` sets its own
    /// (`rate_limits:`).
    pub rate_limits: Vec<RateLimit>,
    /// The secret every node and gate of the cluster shares (`cluster.secret`).
    pub cluster_secret: Option<String>,
    /// The node service's certificate and key (`nodes[].tls`).
    pub tls: Option<TlsFiles>,
    /// The CA that peers' certificates are checked against (`cluster.tls_ca`).
    pub tls_ca: Option<PathBuf>,
}

impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecuritySettings")
            .field("access_rules", &self.access_rules)
            .field("lifecycle_rules", &self.lifecycle_rules)
            .field("rate_limits", &self.rate_limits)
            .field(
                "cluster_secret",
                &self.cluster_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

impl SecuritySettings {
    /// The compiled rules; logs once per process when there are none.
    pub(crate) fn policy(&self) -> Result<AccessPolicy> {
        let policy = AccessPolicy::new(&self.access_rules, &self.lifecycle_rules)?;
        if !policy.is_configured() {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "no access or lifecycle rules are configured: every client may call every \
                     method and create or delete every object (see docs/security.md)"
                );
            });
        } else if self.access_rules.is_empty() {
            tracing::warn!(
                "lifecycle rules are configured but no access rules: every method call is denied"
            );
        }
        Ok(policy)
    }

    /// The node-to-node TLS settings.
    #[cfg(feature = "etcd")]
    pub(crate) fn node_tls(&self) -> crate::tls::NodeTls {
        crate::tls::NodeTls {
            files: self.tls.clone(),
            ca: self.tls_ca.clone(),
        }
    }
}

impl crate::NodeBuilder {
    /// Who may call which methods: checked at the gate for its clients and on every node for
    /// every call, first matching rule wins, no match = denied (see [`crate::access`]). Without
    /// any rule, everything is allowed.
    pub fn access_rules(mut self, rules: impl IntoIterator<Item = AccessRule>) -> Self {
        self.security.access_rules = rules.into_iter().collect();
        self
    }

    /// Who may create and delete which objects (see [`crate::access`]); without a matching
    /// rule CREATE is allowed and DELETE is internal-only once any rule is configured.
    pub fn lifecycle_rules(mut self, rules: impl IntoIterator<Item = LifecycleRule>) -> Self {
        self.security.lifecycle_rules = rules.into_iter().collect();
        self
    }

    /// The secret shared by every node and gate of the cluster: requests between nodes prove
    /// they know it, and a node refuses (`Unauthenticated`) requests that do not. Needs the
    /// `etcd` cargo feature; see [`docs/security.md`].
    pub fn cluster_secret(mut self, secret: impl Into<String>) -> Self {
        self.security.cluster_secret = Some(secret.into());
        self
    }

    /// Serves the node service over TLS with this certificate chain and private key (PEM
    /// files). Needs the `etcd` cargo feature.
    pub fn tls(mut self, cert_path: impl Into<PathBuf>, key_path: impl Into<PathBuf>) -> Self {
        self.security.tls = Some(TlsFiles::new(cert_path, key_path));
        self
    }

    /// Connects to peers over TLS, trusting the CA certificate(s) in this PEM file; with
    /// [`tls`](Self::tls) as well, node-to-node TLS is mutual.
    pub fn tls_ca(mut self, ca_path: impl Into<PathBuf>) -> Self {
        self.security.tls_ca = Some(ca_path.into());
        self
    }
}

/// The cluster secret as an HMAC key.
#[cfg(feature = "etcd")]
#[derive(Clone)]
pub(crate) struct ClusterSecret {
    key: ring::hmac::Key,
}

#[cfg(feature = "etcd")]
impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

#[cfg(feature = "etcd")]
fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(feature = "etcd")]
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(feature = "etcd")]
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(feature = "etcd")]
impl ClusterSecret {
    /// The key of `secret`; `None` for an empty secret.
    pub(crate) fn new(secret: &str) -> Option<Self> {
        (!secret.is_empty()).then(|| ClusterSecret {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
        })
    }

    fn message(millis: u64) -> String {
        format!("goverse-node-v1:{millis}")
    }

    /// The proof for a request sent now.
    pub(crate) fn token(&self) -> String {
        self.token_at(unix_millis())
    }

    fn token_at(&self, millis: u64) -> String {
        let tag = ring::hmac::sign(&self.key, Self::message(millis).as_bytes());
        format!("v1:{millis}:{}", hex(tag.as_ref()))
    }

    /// Whether `token` proves the secret and is fresh. Says nothing about what is wrong.
    pub(crate) fn verify(&self, token: &str) -> bool {
        self.verify_at(token, unix_millis())
    }

    fn verify_at(&self, token: &str, now: u64) -> bool {
        let mut parts = token.splitn(3, ':');
        let (Some("v1"), Some(millis), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Ok(millis), Some(tag)) = (millis.parse::<u64>(), unhex(tag)) else {
            return false;
        };
        if now.abs_diff(millis) > CLUSTER_AUTH_WINDOW.as_millis() as u64 {
            return false;
        }
        ring::hmac::verify(&self.key, Self::message(millis).as_bytes(), &tag).is_ok()
    }
}

#[cfg(all(test, feature = "etcd"))]
mod tests {
    use super::*;

    #[test]
    fn tokens_prove_the_secret_for_a_while() {
        let secret = ClusterSecret::new("s3cret").unwrap();
        let other = ClusterSecret::new("other").unwrap();
        let token = secret.token_at(1_000_000);
        assert!(secret.verify_at(&token, 1_000_000));
        assert!(secret.verify_at(&token, 1_059_000));
        assert!(!secret.verify_at(&token, 1_061_000));
        assert!(!other.verify_at(&token, 1_000_000));
        assert!(!secret.verify_at("v1:1000000:zz", 1_000_000));
        assert!(!secret.verify_at("", 1_000_000));
        assert!(!token.contains("s3cret"));
        assert!(ClusterSecret::new("").is_none());
    }
}
