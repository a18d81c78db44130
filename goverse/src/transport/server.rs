//! The tonic server of the node service: hands every request to the router as a call that must
//! be served here.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::proto::node_service_server::{NodeService, NodeServiceServer};
use super::proto::{
    self, CallReply, CallRequest, NodeStatus, ObjectRequest, OutcomeReply, StatusRequest,
};
use super::security::SecretCheck;
use super::{caller_from_wire, payload_from_wire, shared_id};
use crate::error::Result;
use crate::routing::{IncomingCall, Lifecycle, Router};

/// The node service, backed by this node's router.
#[derive(Debug)]
pub(super) struct NodeServer {
    pub(super) router: Router,
    /// Checks the cluster-secret proof of every request before anything else.
    pub(super) check: SecretCheck,
}

impl NodeServer {
    /// The deadline `timeout` from now (zero: the node's default call timeout), at most a day.
    fn deadline_in(&self, timeout: Duration) -> Instant {
        let timeout = if timeout.is_zero() {
            self.router.config().call_timeout
        } else {
            timeout
        };
        Instant::now() + timeout.min(Duration::from_secs(24 * 3600))
    }
}

impl NodeServer {
    async fn lifecycle(&self, request: Request<ObjectRequest>, op: Lifecycle) -> OutcomeReply {
        let request = request.into_inner();
        let result = self
            .router
            .serve_lifecycle(&request.r#type, shared_id(request.id), op)
            .await;
        OutcomeReply {
            error: result.err().as_ref().map(proto::WireError::from),
        }
    }
}
#[tonic::async_trait]
impl NodeService for NodeServer {
    async fn call(&self, request: Request<CallRequest>) -> Result<Response<CallReply>, Status> {
        self.check.verify(request.metadata())?;
        let request = request.into_inner();
        let deadline = self.deadline_in(Duration::from_micros(request.timeout_micros));
        let reliable_call_id = request.reliable_call_id;
        let outcome = match payload_from_wire(request.args) {
            Ok(args) => {
                let call = IncomingCall {
                    type_name: request.r#type,
                    id: shared_id(request.id),
                    method: request.method,
                    args,
                    chain: request
                        .chain
                        .into_iter()
                        .map(|entry| (entry.r#type, entry.id))
                        .collect(),
                    caller: request.caller.map(caller_from_wire),
                    from_client: request.from_client,
                    deadline,
                };
                match reliable_call_id {
                    Some(call_id) => match self.router.serve_reliable(call, &call_id).await {
                        Ok(outcome) => proto::call_reply::Outcome::Reliable((&outcome).into()),
                        Err(error) => proto::call_reply::Outcome::Error((&error).into()),
                    },
                    None => match self.router.serve_incoming(call).await {
                        Ok(payload) => proto::call_reply::Outcome::Result(payload.into()),
                        Err(error) => proto::call_reply::Outcome::Error((&error).into()),
                    },
                }
            }
            Err(error) => proto::call_reply::Outcome::Error((&error).into()),
        };
        Ok(Response::new(CallReply {
            outcome: Some(outcome),
        }))
    }

    async fn create(
        &self,
        request: Request<ObjectRequest>,
    ) -> Result<Response<OutcomeReply>, Status> {
        self.check.verify(request.metadata())?;
        Ok(Response::new(
            self.lifecycle(request, Lifecycle::Create).await,
        ))
    }

    async fn delete(
        &self,
        request: Request<ObjectRequest>,
    ) -> Result<Response<OutcomeReply>, Status> {
        self.check.verify(request.metadata())?;
        Ok(Response::new(
            self.lifecycle(request, Lifecycle::Delete).await,
        ))
    }

    async fn push(
        &self,
        request: Request<proto::PushRequest>,
    ) -> Result<Response<proto::PushReply>, Status> {
        self.check.verify(request.metadata())?;
        let request = request.into_inner();
        let reply = match (self.router.push_sink(), payload_from_wire(request.message)) {
            (None, _) => proto::PushReply {
                error: Some(
                    (&crate::Error::not_found(format!(
                        "node `{}` runs no gate, so it holds no clients",
                        self.router.config().node_id
                    )))
                        .into(),
                ),
                ..Default::default()
            },
            (Some(_), Err(error)) => proto::PushReply {
                error: Some((&error).into()),
                ..Default::default()
            },
            (Some(sink), Ok(message)) => {
                let report = if request.broadcast {
                    sink.broadcast(&message)
                } else {
                    sink.deliver(&request.client_ids, &message)
                };
                proto::PushReply {
                    delivered: report.delivered as u32,
                    unknown: report.unknown,
                    dropped: report.dropped,
                    error: None,
                }
            }
        };
        Ok(Response::new(reply))
    }

    async fn status(
        &self,
        request: Request<StatusRequest>,
    ) -> Result<Response<NodeStatus>, Status> {
        self.check.verify(request.metadata())?;
        Ok(Response::new(NodeStatus {
            node_id: self.router.config().node_id.clone(),
            objects: self.router.activations().len() as u64,
            shards: self.router.served_shards(),
        }))
    }
}

/// The node service on `listener` until `shutdown` resolves, with `security`'s TLS and
/// cluster-secret check; fails at once if the TLS configuration is unusable.
pub(crate) fn serve(
    listener: TcpListener,
    router: Router,
    security: &super::TransportSecurity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = security.server_tls.clone() {
        builder = builder.tls_config(tls).map_err(|e| {
            crate::Error::invalid_argument(format!("the node service's TLS settings: {e}"))
        })?;
    }
    let service = NodeServiceServer::new(NodeServer {
        router,
        check: security.checker(),
    });
    let server = builder.add_service(service);
    Ok(async move {
        server
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| crate::Error::unavailable(format!("the node service stopped: {e}")))
    })
}
