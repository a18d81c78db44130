//! The handle inside every generated proxy.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Router;
use crate::error::Result;
use crate::object::context::{CallChain, Caller};
use crate::object::{ExclusiveMethod, SharedMethod};

/// Per-proxy call settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    /// Overrides the node's default call timeout.
    pub(crate) timeout: Option<Duration>,
    /// An absolute deadline inherited from the calling turn.
    pub(crate) deadline: Option<Instant>,
    /// The turns waiting on calls made through this proxy.
    pub(crate) chain: CallChain,
    /// Who the calls are made for.
    pub(crate) caller: Option<Caller>,
    /// Calls made by an object's timer.
    pub(crate) from_timer: bool,
    /// Calls a gate makes for a client (identified or anonymous): their origin is
    /// [`Origin::Client`](crate::access::Origin::Client) on every hop.
    pub(crate) from_client: bool,
    /// Calls through this proxy are reliable, with this call id.
    pub(crate) reliable: Option<Arc<str>>,
}

/// The routing handle inside every proxy: which object, through which node, with which options.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct ObjectHandle {
    router: Router,
    id: Arc<str>,
    options: CallOptions,
}

impl ObjectHandle {
    pub(crate) fn new(router: Router, id: Arc<str>, options: CallOptions) -> Self {
        ObjectHandle {
            router,
            id,
            options,
        }
    }

    /// The object id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The same handle with another timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        let mut handle = self.clone();
        handle.options.timeout = Some(timeout);
        handle
    }

    /// The same handle making reliable calls with `call_id`.
    pub fn reliable(&self, call_id: impl Into<String>) -> Self {
        let mut handle = self.clone();
        handle.options.reliable = Some(call_id.into().into());
        handle
    }

    /// Calls an `&mut self` method.
    pub async fn call_exclusive<M: ExclusiveMethod>(&self, args: M::Args) -> Result<M::Output> {
        if let Some(call_id) = &self.options.reliable {
            return self
                .router
                .call_reliable_typed::<M>(&self.id, &self.options, call_id, args)
                .await;
        }
        self.router
            .call_exclusive::<M>(&self.id, &self.options, args)
            .await
    }

    /// Calls an `&self` method.
    pub async fn call_shared<M: SharedMethod>(&self, args: M::Args) -> Result<M::Output> {
        if let Some(call_id) = &self.options.reliable {
            return self
                .router
                .call_reliable_typed::<M>(&self.id, &self.options, call_id, args)
                .await;
        }
        self.router
            .call_shared::<M>(&self.id, &self.options, args)
            .await
    }
}
