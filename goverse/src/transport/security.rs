//! The node service's trust boundary: the cluster-secret proof on every request, and TLS
//! (see [`crate::security`] for the scheme and what it protects against).

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{ClientTlsConfig, ServerTlsConfig};
use tonic::{Request, Status};

use crate::error::Result;
use crate::security::{CLUSTER_AUTH_HEADER, ClusterSecret, SecuritySettings};

/// How this node proves itself to peers and checks them.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransportSecurity {
    secret: Option<ClusterSecret>,
    pub(super) server_tls: Option<ServerTlsConfig>,
    pub(super) client_tls: Option<ClientTlsConfig>,
}

impl TransportSecurity {
    /// Reads the TLS files and prepares the secret; errors name the file.
    pub(crate) fn new(settings: &SecuritySettings) -> Result<Self> {
        let tls = settings.node_tls();
        let security = TransportSecurity {
            secret: settings
                .cluster_secret
                .as_deref()
                .and_then(ClusterSecret::new),
            server_tls: tls.server()?,
            client_tls: tls.client()?,
        };
        let mutual_tls = tls.files.is_some() && tls.ca.is_some();
        if security.secret.is_none() && !mutual_tls {
            tracing::warn!(
                "this cluster node has neither a cluster secret nor mutual TLS: it will trust \
                 the caller identity and origin (client or internal) that any peer able to \
                 reach its port claims, so access rules can be bypassed from the network; set \
                 `cluster.secret` (or `.cluster_secret(...)`) or mutual TLS (see \
                 docs/security.md)"
            );
        }
        Ok(security)
    }

    /// Signs outgoing requests.
    pub(super) fn signer(&self) -> Signer {
        Signer(self.secret.clone())
    }

    /// Checks incoming requests.
    pub(super) fn checker(&self) -> SecretCheck {
        SecretCheck(self.secret.clone())
    }
}

/// Adds the cluster-secret proof to outgoing requests. Called on each request rather than
/// installed as a tonic interceptor, whose extra service and body layers cost every call
/// (measured at several percent of a cross-node call) even when there is no secret.
#[derive(Debug, Clone)]
pub(crate) struct Signer(Option<ClusterSecret>);

impl Signer {
    /// `message` as a request carrying the proof (when the node has a secret).
    pub(super) fn request<T>(&self, message: T) -> crate::Result<Request<T>> {
        let mut request = Request::new(message);
        if let Some(secret) = &self.0 {
            let token = MetadataValue::try_from(secret.token()).map_err(|_| {
                crate::Error::internal("the cluster-auth token is not valid metadata")
            })?;
            request.metadata_mut().insert(CLUSTER_AUTH_HEADER, token);
        }
        Ok(request)
    }
}

/// Refuses, before the node does anything with it, a request without a valid cluster-secret
/// proof (when the node has a secret). Every handler of the node service starts with it.
#[derive(Debug, Clone)]
pub(crate) struct SecretCheck(Option<ClusterSecret>);

impl SecretCheck {
    /// `Ok` if the request's metadata proves the secret, or the node has none.
    pub(super) fn verify(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(secret) = &self.0 else {
            return Ok(());
        };
        let proven = metadata
            .get(CLUSTER_AUTH_HEADER)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|token| secret.verify(token));
        if proven {
            Ok(())
        } else {
            Err(Status::unauthenticated(format!(
                "this node only serves peers that share its cluster secret: the request's \
                 {CLUSTER_AUTH_HEADER} is missing, wrong or expired"
            )))
        }
    }
}
