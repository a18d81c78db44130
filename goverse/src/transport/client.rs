//! Clients to the other nodes, one lazily connected channel per node address.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::time::Instant;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::proto::node_service_client::NodeServiceClient;
use super::proto::{self, CallRequest, ObjectRequest};
use super::security::Signer;
use super::{TransportSecurity, caller_to_wire, outcome_from_wire, payload_from_wire};
use crate::codec::Payload;
use crate::error::{Error, ErrorKind, Result};
use crate::persistence::CallOutcome;
use crate::routing::{Lifecycle, OutgoingCall, Peers, PushReport};

/// A client of one peer (its requests are signed by the pool's [`Signer`]).
type PeerClient = NodeServiceClient<Channel>;

/// One client per peer address; channels connect on first use and reconnect by themselves.
#[derive(Debug)]
pub(crate) struct PeerPool {
    clients: Mutex<HashMap<String, PeerClient>>,
    signer: Signer,
    tls: Option<ClientTlsConfig>,
}

impl PeerPool {
    /// A pool whose clients sign requests and use TLS as `security` says.
    pub(crate) fn new(security: &TransportSecurity) -> Result<Self> {
        Ok(PeerPool {
            clients: Mutex::new(HashMap::new()),
            signer: security.signer(),
            tls: security.client_tls.clone(),
        })
    }

    fn client(&self, address: &str) -> Result<PeerClient> {
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(address) {
            return Ok(client.clone());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .map_err(|e| Error::invalid_argument(format!("bad node address `{address}`: {e}")))?;
        if let Some(tls) = self.tls.clone() {
            endpoint = endpoint.tls_config(tls).map_err(|e| {
                Error::invalid_argument(format!("TLS settings for node {address}: {e}"))
            })?;
        }
        let endpoint = endpoint
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        let client = NodeServiceClient::new(endpoint.connect_lazy());
        clients.insert(address.to_string(), client.clone());
        Ok(client)
    }
}

fn deadline_passed(address: &str) -> Error {
    Error::timeout(format!("node {address} did not answer before the deadline"))
}

/// A transport failure: the peer could not be reached or the call broke; `Timeout` when the
/// deadline passed.
fn status_error(address: &str, status: &tonic::Status) -> Error {
    if status.code() == tonic::Code::DeadlineExceeded {
        return deadline_passed(address);
    }
    if status.code() == tonic::Code::Unauthenticated {
        return Error::new(
            ErrorKind::Unauthenticated,
            format!("node {address} refused this node: {}", status.message()),
        );
    }
    Error::from_parts(
        ErrorKind::Unavailable,
        Some(crate::error::UNREACHABLE.to_string()),
        format!("node {address} could not be reached: {}", status.message()),
    )
}

/// The time left until `deadline`, at least a millisecond (a request always gets a chance).
fn time_left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

impl PeerPool {
    /// A signed request that carries `deadline` as its gRPC timeout.
    fn request<T>(&self, message: T, deadline: Instant) -> Result<tonic::Request<T>> {
        let mut request = self.signer.request(message)?;
        request.set_timeout(time_left(deadline));
        Ok(request)
    }
}

impl PeerPool {
    /// Sends a call (reliable when `call_id` is given) and returns the reply's outcome.
    fn send(
        &self,
        address: String,
        call: OutgoingCall,
        call_id: Option<Arc<str>>,
    ) -> impl Future<Output = Result<proto::call_reply::Outcome>> + Send + 'static {
        let client = self.client(&address);
        let deadline = call.deadline;
        let message = CallRequest {
            r#type: call.type_name.to_string(),
            id: call.id.to_string(),
            method: call.method,
            args: Some(call.args.into()),
            chain: call
                .chain
                .into_iter()
                .map(|(type_name, id)| proto::ChainEntry {
                    r#type: type_name,
                    id,
                })
                .collect(),
            caller: call.caller.as_ref().map(caller_to_wire),
            from_client: call.from_client,
            reliable_call_id: call_id.map(|id| id.to_string()),
            timeout_micros: u64::try_from(time_left(deadline).as_micros()).unwrap_or(u64::MAX),
        };
        // The deadline travels in the message; the wait for the answer is bounded here.
        let request = self.signer.request(message);
        async move {
            let mut client = client?;
            let reply = tokio::time::timeout_at(deadline, client.call(request?)).await;
            match reply {
                Ok(Ok(reply)) => reply
                    .into_inner()
                    .outcome
                    .ok_or_else(|| Error::internal(format!("node {address} sent an empty reply"))),
                Ok(Err(status)) => Err(status_error(&address, &status)),
                Err(_) => Err(deadline_passed(&address)),
            }
        }
    }
}

impl Peers for PeerPool {
    fn retain(&self, live: &[String]) {
        self.clients
            .lock()
            .retain(|address, _| live.contains(address));
    }

    fn call(&self, address: String, call: OutgoingCall) -> BoxFuture<'static, Result<Payload>> {
        let sent = self.send(address, call, None);
        Box::pin(async move {
            match sent.await? {
                proto::call_reply::Outcome::Result(payload) => payload_from_wire(Some(payload)),
                proto::call_reply::Outcome::Error(error) => Err(error.into()),
                proto::call_reply::Outcome::Reliable(_) => Err(Error::internal(
                    "a peer answered a plain call with a reliable-call outcome",
                )),
            }
        })
    }

    fn reliable(
        &self,
        address: String,
        call: OutgoingCall,
        call_id: Arc<str>,
    ) -> BoxFuture<'static, Result<CallOutcome>> {
        let sent = self.send(address, call, Some(call_id));
        Box::pin(async move {
            match sent.await? {
                proto::call_reply::Outcome::Reliable(outcome) => outcome_from_wire(outcome),
                proto::call_reply::Outcome::Error(error) => Err(error.into()),
                proto::call_reply::Outcome::Result(_) => Err(Error::internal(
                    "a peer answered a reliable call with a plain result",
                )),
            }
        })
    }

    fn push(
        &self,
        address: &str,
        client_ids: Vec<String>,
        message: Payload,
        broadcast: bool,
        deadline: Instant,
    ) -> BoxFuture<'static, Result<PushReport>> {
        let client = self.client(address);
        let address = address.to_string();
        let request = self.request(
            proto::PushRequest {
                client_ids,
                message: Some(message.into()),
                broadcast,
            },
            deadline,
        );
        Box::pin(async move {
            let mut client = client?;
            match client.push(request?).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    if let Some(error) = reply.error {
                        return Err(error.into());
                    }
                    Ok(PushReport {
                        delivered: reply.delivered as usize,
                        unknown: reply.unknown,
                        dropped: reply.dropped,
                        unreachable: Vec::new(),
                    })
                }
                Err(status) => Err(status_error(&address, &status)),
            }
        })
    }

    fn lifecycle(
        &self,
        address: &str,
        type_name: &str,
        id: &str,
        op: Lifecycle,
        deadline: Instant,
    ) -> BoxFuture<'static, Result<()>> {
        let client = self.client(address);
        let address = address.to_string();
        let request = self.request(
            ObjectRequest {
                r#type: type_name.to_string(),
                id: id.to_string(),
            },
            deadline,
        );
        Box::pin(async move {
            let mut client = client?;
            let request = request?;
            let reply = match op {
                Lifecycle::Create => client.create(request).await,
                Lifecycle::Delete => client.delete(request).await,
            };
            match reply {
                Ok(reply) => match reply.into_inner().error {
                    Some(error) => Err(error.into()),
                    None => Ok(()),
                },
                Err(status) => Err(status_error(&address, &status)),
            }
        })
    }
}
