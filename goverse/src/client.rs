//! [`Client`]: the same typed proxies as inside the cluster, from outside it, through a gate
//! (cargo feature `client`).
//!
//! A client speaks the gate's gRPC `gate.GateService`: calls carry their arguments as a
//! MessagePack payload inside a `google.protobuf.Any` (type URL `type.goverse.dev/msgpack`),
//! the gate routes them by the shard map, and the answer comes back the same way. The client
//! keeps one `Register` stream open for push messages; when its gate goes away it moves to the
//! next gate address, reconnecting with exponential backoff and jitter, and gets a new client id.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::codec::Payload;
use crate::config::NodeConfig;
use crate::coordinator::{Coordinator, LocalCoordinator};
use crate::error::{Error, ErrorKind, Result};
use crate::gate::any::{any_from_payload, payload_from_any};
use crate::gate::proto::gate_service_client::GateServiceClient;
use crate::gate::proto::{
    CallObjectRequest, CreateObjectRequest, DeleteObjectRequest, Empty, RegisterResponse,
    ReliableCallObjectRequest,
};
use crate::object::registry::Registry;
use crate::object::{Object, Proxy};
use crate::persistence::{CallOutcome, Database};
use crate::routing::{
    CallOptions, Lifecycle, ObjectHandle, OutgoingCall, Peers, PushReport, Router,
};

/// The pseudo node that owns every shard in a client's view: the gate.
const GATE_NODE: &str = "gate";

/// Push messages kept for the application before the client stops reading its stream.
const MESSAGE_BUFFER: usize = 1024;

/// A message an object pushed to this client.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    payload: Payload,
}

impl PushMessage {
    /// The message as sent: JSON for ordinary values, protobuf for `Proto<M>` messages.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Decodes the message into `T` (a `Proto<M>` for protobuf messages).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        self.payload.decode("a push message")
    }
}

/// Configures and connects a [`Client`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct ClientBuilder {
    gates: Vec<String>,
    metadata: Vec<(String, String)>,
    call_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    tls_ca: Option<std::path::PathBuf>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            gates: Vec::new(),
            metadata: Vec::new(),
            call_timeout: crate::config::DEFAULT_CALL_TIMEOUT,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            tls_ca: None,
        }
    }
}

impl ClientBuilder {
    /// Adds a gate's gRPC address (`http://host:port` or `host:port`); with several, the client
    /// moves to the next one when its gate cannot be reached.
    pub fn gate(mut self, url: impl Into<String>) -> Self {
        self.gates.push(url.into());
        self
    }

    /// Authenticates with `Authorization: Bearer <token>`.
    pub fn bearer_token(self, token: impl AsRef<str>) -> Self {
        self.header("authorization", format!("Bearer {}", token.as_ref()))
    }

    /// Authenticates with `X-Api-Key: <key>`.
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.header("x-api-key", key)
    }

    /// Sends `name: value` with every request (for a custom authenticator).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// The deadline of calls that set none (default 30 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The reconnection backoff: starts at `min`, doubles up to `max`, with random jitter.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Trusts the CA certificate in `path` (PEM) for gates served over TLS (`https://` URLs).
    pub fn tls_ca(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// Connects: checks the settings, opens the push stream to the first reachable gate and
    /// waits (up to the call timeout) until the gate has given this client its id. A gate that
    /// refuses the credentials (`Unauthenticated`, `PermissionDenied`) fails the connection at
    /// once with its answer; other refusals (a full gate, a rate limit) and unreachable gates
    /// are retried until the timeout, which then answers the last refusal, else `Unavailable`.
    pub async fn connect(self) -> Result<Client> {
        if self.gates.is_empty() {
            return Err(Error::invalid_argument(
                "a client needs at least one gate address",
            ));
        }
        let mut metadata = MetadataMap::new();
        for (name, value) in &self.metadata {
            let key = MetadataKey::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid_argument(format!("`{name}` is not a valid header name"))
            })?;
            let value = MetadataValue::try_from(value.as_str()).map_err(|_| {
                Error::invalid_argument(format!("the value of header `{name}` is not valid"))
            })?;
            metadata.insert(key, value);
        }
        let tls = self
            .tls_ca
            .as_deref()
            .map(|ca| crate::tls::grpc_client_tls(ca, None))
            .transpose()?;
        let endpoints = self
            .gates
            .iter()
            .map(|gate| endpoint(gate, tls.clone()))
            .collect::<Result<Vec<_>>>()?;
        let link = GateLink(Arc::new(LinkState {
            clients: endpoints
                .iter()
                .map(|e| GateServiceClient::new(e.connect_lazy()))
                .collect(),
            names: self.gates.clone(),
            current: AtomicUsize::new(0),
            metadata,
            client_id: watch::Sender::new(None),
            refusal: watch::Sender::new(None),
        }));
        let config = NodeConfig {
            node_id: "client".to_string(),
            shards: 1,
            call_timeout: self.call_timeout,
            ..NodeConfig::default()
        };
        let coordinator: Arc<dyn Coordinator> =
            Arc::new(LocalCoordinator::remote("client", GATE_NODE, GATE_NODE, 1));
        let router = Router::new(
            config,
            Registry::collect()?,
            coordinator,
            Some(Arc::new(link.clone())),
            None,
            Database::memory(),
        );
        let (sender, messages) = mpsc::channel(MESSAGE_BUFFER);
        let stream = tokio::spawn(keep_registered(
            link.clone(),
            sender,
            self.backoff_min,
            self.backoff_max,
        ));
        let mut registered = link.client_id.subscribe();
        let mut refused = link.refusal.subscribe();
        // Registered, or refused for its credentials (no point retrying those), or timed out:
        // then the last gate's answer, if one answered.
        let final_refusal = |refusal: &Option<Error>| {
            refusal.as_ref().is_some_and(|error| {
                matches!(
                    error.kind(),
                    ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
                )
            })
        };
        let waited = tokio::time::timeout(self.call_timeout, async {
            tokio::select! {
                _ = registered.wait_for(Option::is_some) => None,
                refusal = refused.wait_for(final_refusal) => {
                    refusal.ok().and_then(|refusal| refusal.clone())
                }
            }
        })
        .await;
        let failure = match waited {
            Ok(refusal) => refusal,
            Err(_) => Some(link.refusal.borrow().clone().unwrap_or_else(|| {
                Error::unavailable(format!(
                    "no gate answered within {:?} (tried {})",
                    self.call_timeout,
                    self.gates.join(", ")
                ))
            })),
        };
        if let Some(error) = failure {
            stream.abort();
            return Err(error);
        }
        Ok(Client {
            router,
            link,
            messages: tokio::sync::Mutex::new(messages),
            stream,
        })
    }
}

/// A connection to a goverse cluster through its gates.
///
/// ```no_run
/// # use goverse::prelude::*;
/// # #[derive(Default, serde::Serialize, serde::Deserialize)] struct Visits { n: i64 }
/// # #[goverse::object] impl Visits { #[method] async fn add(&mut self, n: i64) -> i64 { self.n += n; self.n } }
/// # async fn demo() -> goverse::Result<()> {
/// let client = goverse::Client::connect("http://127.0.0.1:7000").await?;
/// let total = client.object::<Visits>("visitors").add(1).await?;
/// while let Some(message) = client.next_message().await {
///     println!("pushed: {:?}", message.payload());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Client {
    router: Router,
    link: GateLink,
    messages: tokio::sync::Mutex<mpsc::Receiver<PushMessage>>,
    stream: JoinHandle<()>,
}

impl Client {
    /// Connects to the gate at `url` with default settings.
    pub async fn connect(url: &str) -> Result<Client> {
        Client::builder().gate(url).connect().await
    }

    /// A builder for several gates, credentials and timeouts.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The typed proxy of object `id` of type `T`: calls go through the gate.
    pub fn object<T: Object>(&self, id: &str) -> T::Proxy {
        T::Proxy::from_handle(ObjectHandle::new(
            self.router.clone(),
            Arc::from(id),
            CallOptions::default(),
        ))
    }

    /// Activates object `id` of type `T`.
    pub async fn create<T: Object>(&self, id: &str) -> Result<()> {
        self.router
            .lifecycle::<T>(
                Arc::from(id),
                Lifecycle::Create,
                crate::routing::Delivery::Routed,
            )
            .await
    }

    /// Deletes object `id` of type `T`.
    pub async fn delete<T: Object>(&self, id: &str) -> Result<()> {
        self.router
            .lifecycle::<T>(
                Arc::from(id),
                Lifecycle::Delete,
                crate::routing::Delivery::Routed,
            )
            .await
    }

    /// The id objects push to this client with, while it is registered (it changes when the
    /// client reconnects to a gate).
    pub fn client_id(&self) -> Option<String> {
        self.link.client_id.borrow().clone()
    }

    /// The next push message; `None` once the client is dropped.
    pub async fn next_message(&self) -> Option<PushMessage> {
        self.messages.lock().await.recv().await
    }

    /// Waits until the client is registered under an id other than `previous` (after a
    /// reconnection), for at most `limit`.
    pub async fn wait_registered(&self, previous: Option<&str>, limit: Duration) -> Result<String> {
        let mut ids = self.link.client_id.subscribe();
        let found = tokio::time::timeout(
            limit,
            ids.wait_for(|id| id.is_some() && id.as_deref() != previous),
        )
        .await;
        match found {
            Ok(Ok(id)) => Ok(id.clone().expect("checked above")),
            _ => Err(Error::unavailable(format!(
                "the client did not register with a gate within {limit:?}"
            ))),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stream.abort();
    }
}

/// `http://host:port` or `https://host:port` (a bare `host:port` gets `http://`, or `https://`
/// when TLS is configured).
fn endpoint(gate: &str, tls: Option<tonic::transport::ClientTlsConfig>) -> Result<Endpoint> {
    let url = match (gate.contains("://"), tls.is_some()) {
        (true, _) => gate.to_string(),
        (false, false) => format!("http://{gate}"),
        (false, true) => format!("https://{gate}"),
    };
    let mut endpoint = Endpoint::from_shared(url)
        .map_err(|e| Error::invalid_argument(format!("bad gate address `{gate}`: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| Error::invalid_argument(format!("gate `{gate}` TLS: {e}")))?;
    }
    Ok(endpoint)
}

/// The client's connections to its gates, and the one in use; cheap to clone.
#[derive(Debug, Clone)]
struct GateLink(Arc<LinkState>);

#[derive(Debug)]
struct LinkState {
    clients: Vec<GateServiceClient<Channel>>,
    names: Vec<String>,
    current: AtomicUsize,
    metadata: MetadataMap,
    client_id: watch::Sender<Option<String>>,
    /// Why the last gate asked refused to register this client (its credentials, a full
    /// gate, a rate limit), until a registration succeeds.
    refusal: watch::Sender<Option<Error>>,
}

impl std::ops::Deref for GateLink {
    type Target = LinkState;

    fn deref(&self) -> &LinkState {
        &self.0
    }
}

impl GateLink {
    /// The gate in use: its index and a client to it.
    fn current(&self) -> (usize, GateServiceClient<Channel>) {
        let index = self.current.load(Ordering::Acquire) % self.clients.len();
        (index, self.clients[index].clone())
    }

    /// Moves on from gate `failed` to the next one (unless another task already did).
    fn fail_over(&self, failed: usize) {
        let next = (failed + 1) % self.clients.len();
        let _ = self
            .current
            .compare_exchange(failed, next, Ordering::AcqRel, Ordering::Acquire);
    }

    fn request<T>(&self, message: T, deadline: Instant) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        );
        request
    }

    /// The gate request for `call`: its arguments as an `Any`, put into the message by
    /// `message` (which adds what the kind of call needs), with the call's deadline.
    fn object_request<M>(
        &self,
        call: &OutgoingCall,
        message: impl FnOnce(prost_types::Any) -> M,
    ) -> Result<tonic::Request<M>> {
        let any = any_from_payload(&call.args)?;
        Ok(self.request(message(any), call.deadline))
    }

    /// A gRPC status as a goverse error; transport failures switch to the next gate and are
    /// marked unreachable, so the router tries again.
    fn error(&self, gate: usize, status: &tonic::Status) -> Error {
        let kind = match status.code() {
            tonic::Code::NotFound => ErrorKind::NotFound,
            tonic::Code::InvalidArgument => ErrorKind::InvalidArgument,
            tonic::Code::DeadlineExceeded => ErrorKind::Timeout,
            tonic::Code::PermissionDenied => ErrorKind::PermissionDenied,
            tonic::Code::Unauthenticated => ErrorKind::Unauthenticated,
            tonic::Code::ResourceExhausted => ErrorKind::ResourceExhausted,
            tonic::Code::Aborted => ErrorKind::Deadlock,
            tonic::Code::FailedPrecondition => ErrorKind::App,
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
                let transport = status.metadata().get("content-type").is_none();
                if transport {
                    self.fail_over(gate);
                    return Error::from_parts(
                        ErrorKind::Unavailable,
                        Some(crate::error::UNREACHABLE.to_string()),
                        format!(
                            "gate {} could not be reached (connect): {}",
                            self.names[gate],
                            status.message()
                        ),
                    );
                }
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        };
        let code = status
            .metadata()
            .get(crate::gate::ERROR_CODE_KEY)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        Error::from_parts(kind, code, status.message().to_string())
    }

    fn client_id_now(&self) -> String {
        self.client_id.borrow().clone().unwrap_or_default()
    }
}

impl Peers for GateLink {
    fn call(&self, _address: String, call: OutgoingCall) -> BoxFuture<'static, Result<Payload>> {
        let (gate, mut client) = self.current();
        let request = self.object_request(&call, |any| CallObjectRequest {
            client_id: self.client_id_now(),
            r#type: call.type_name.to_string(),
            id: call.id.to_string(),
            method: call.method.clone(),
            request: Some(any),
        });
        let link = self.clone();
        Box::pin(async move {
            match client.call_object(request?).await {
                Ok(reply) => {
                    let any = reply.into_inner().response.unwrap_or_default();
                    Ok(payload_from_any(any))
                }
                Err(status) => Err(link.error(gate, &status)),
            }
        })
    }

    fn reliable(
        &self,
        _address: String,
        call: OutgoingCall,
        call_id: Arc<str>,
    ) -> BoxFuture<'static, Result<CallOutcome>> {
        let (gate, mut client) = self.current();
        let request = self.object_request(&call, |any| ReliableCallObjectRequest {
            call_id: call_id.to_string(),
            r#type: call.type_name.to_string(),
            id: call.id.to_string(),
            method: call.method.clone(),
            request: Some(any),
        });
        let link = self.clone();
        Box::pin(async move {
            let reply = match client.reliable_call_object(request?).await {
                Ok(reply) => reply,
                Err(status) => return Err(link.error(gate, &status)),
            };
            let failure =
                |fallback| reliable_error(reply.metadata(), fallback, &reply.get_ref().error);
            let reply_status = reply.get_ref().status.to_ascii_uppercase();
            match reply_status.as_str() {
                "SUCCESS" => {
                    let any = reply.into_inner().response.unwrap_or_default();
                    let value: serde_json::Value =
                        payload_from_any(any).decode("a reliable call's result")?;
                    Ok(CallOutcome::Success(value.to_string()))
                }
                "FAILED" => Ok(CallOutcome::Failed(failure(ErrorKind::App))),
                "SKIPPED" => Ok(CallOutcome::Skipped(failure(ErrorKind::InvalidArgument))),
                other => Err(Error::unavailable(format!(
                    "the outcome of reliable call `{call_id}` is {other}: {}; repeat the call \
                     with the same id",
                    reply.get_ref().error
                ))),
            }
        })
    }

    fn push(
        &self,
        _address: &str,
        _client_ids: Vec<String>,
        _message: Payload,
        _broadcast: bool,
        _deadline: Instant,
    ) -> BoxFuture<'static, Result<PushReport>> {
        Box::pin(std::future::ready(Err(Error::invalid_argument(
            "a client cannot push messages; objects push to clients",
        ))))
    }

    fn retain(&self, _live: &[String]) {}

    fn lifecycle(
        &self,
        _address: &str,
        type_name: &str,
        id: &str,
        op: Lifecycle,
        deadline: Instant,
    ) -> BoxFuture<'static, Result<()>> {
        let (gate, mut client) = self.current();
        let link = self.clone();
        let (type_name, id) = (type_name.to_string(), id.to_string());
        let create = self.request(
            CreateObjectRequest {
                r#type: type_name.clone(),
                id: id.clone(),
            },
            deadline,
        );
        let delete = self.request(
            DeleteObjectRequest {
                id,
                r#type: type_name,
            },
            deadline,
        );
        Box::pin(async move {
            let result = match op {
                Lifecycle::Create => client.create_object(create).await.map(|_| ()),
                Lifecycle::Delete => client.delete_object(delete).await.map(|_| ()),
            };
            result.map_err(|status| link.error(gate, &status))
        })
    }
}

/// The error of a reliable call's `FAILED` or `SKIPPED` answer: its message from the `error`
/// field, its kind and code from the `goverse-error-kind` / `goverse-error-code` headers a
/// goverse gate adds. A gate without them (GoVerse's) gives `fallback`, and for an
/// application error the code `reliable_call_failed`.
fn reliable_error(metadata: &MetadataMap, fallback: ErrorKind, message: &str) -> Error {
    use crate::gate::{ERROR_CODE_KEY, ERROR_KIND_KEY};
    let header = |key| metadata.get(key).and_then(|value| value.to_str().ok());
    let kind = header(ERROR_KIND_KEY)
        .and_then(ErrorKind::from_wire_name)
        .unwrap_or(fallback);
    let code = match header(ERROR_CODE_KEY) {
        Some(code) => Some(code.to_string()),
        None if kind == ErrorKind::App => Some("reliable_call_failed".to_string()),
        None => None,
    };
    Error::from_parts(kind, code, message.to_string())
}

/// Keeps a `Register` stream open on the current gate, moving to the next gate with
/// exponential backoff and jitter whenever the stream cannot be opened or ends.
async fn keep_registered(
    link: GateLink,
    messages: mpsc::Sender<PushMessage>,
    backoff_min: Duration,
    backoff_max: Duration,
) {
    let mut backoff = backoff_min;
    loop {
        let (gate, mut client) = link.current();
        let request = link.request(Empty {}, Instant::now() + Duration::from_secs(24 * 3600));
        let mut stream = match client.register(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                tracing::debug!(gate = %link.names[gate], %status, "cannot register with the gate");
                let error = link.error(gate, &status);
                if !error.is_unreachable() {
                    link.refusal.send_replace(Some(error));
                }
                link.fail_over(gate);
                tokio::time::sleep(jittered(backoff)).await;
                backoff = (backoff * 2).min(backoff_max);
                continue;
            }
        };
        let mut first = true;
        loop {
            match stream.message().await {
                Ok(Some(any)) if first => {
                    first = false;
                    match registered_id(&any) {
                        Some(id) => {
                            backoff = backoff_min;
                            link.refusal.send_replace(None);
                            link.client_id.send_replace(Some(id));
                        }
                        None => break,
                    }
                }
                Ok(Some(any)) => {
                    let message = PushMessage {
                        payload: payload_from_any(any),
                    };
                    if messages.send(message).await.is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        link.client_id.send_replace(None);
        link.fail_over(gate);
        tokio::time::sleep(jittered(backoff)).await;
        backoff = (backoff * 2).min(backoff_max);
    }
}

/// The client id in the first message of a `Register` stream.
fn registered_id(any: &prost_types::Any) -> Option<String> {
    use prost::Message as _;
    if !any.type_url.ends_with("gate.RegisterResponse") {
        return None;
    }
    RegisterResponse::decode(&any.value[..])
        .ok()
        .map(|response| response.client_id)
}

/// `base` plus up to half of it at random.
fn jittered(base: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    let fraction = (hasher.finish() % 1000) as u32;
    base + base / 2 * fraction / 1000
}
