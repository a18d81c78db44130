//! Serving what peers route to this node: a call, create or delete arrives only where the
//! sender believes the object lives; if this node does not serve it (any more), the answer is a
//! `moved` error and the sender routes again — the method did not run.

use std::sync::Arc;

use tokio::time::Instant;

use super::{CallOptions, Delivery, Lifecycle, Router};
use crate::codec::Payload;
use crate::error::Result;
use crate::id::ObjectKey;
use crate::object::context::{CallChain, Caller};
use crate::persistence::CallOutcome;

/// A call that arrived from a peer, to be served on this node.
#[derive(Debug)]
pub(crate) struct IncomingCall {
    pub(crate) type_name: String,
    pub(crate) id: Arc<str>,
    pub(crate) method: String,
    pub(crate) args: Payload,
    /// `(type, id)` of the waiting turns, outermost first.
    pub(crate) chain: Vec<(String, String)>,
    pub(crate) caller: Option<Caller>,
    /// The sender made the call for a client of its gate.
    pub(crate) from_client: bool,
    pub(crate) deadline: Instant,
}

impl IncomingCall {
    /// The options the call runs with here: the sender's deadline, chain, caller and origin.
    fn options(&mut self, router: &Router) -> CallOptions {
        let mut chain = CallChain::default();
        for (type_name, id) in std::mem::take(&mut self.chain) {
            if let Some(name) = router.inner.registry.static_name(&type_name) {
                chain = chain.push(ObjectKey::new(name, Arc::from(id)));
            }
        }
        CallOptions {
            deadline: Some(self.deadline),
            chain,
            caller: self.caller.take(),
            from_client: self.from_client,
            ..CallOptions::default()
        }
    }
}

impl Router {
    /// Serves a reliable call that arrived from a peer.
    pub(crate) async fn serve_reliable(
        &self,
        mut call: IncomingCall,
        call_id: &str,
    ) -> Result<CallOutcome> {
        let options = call.options(self);
        self.call_reliable_by_name(
            &call.type_name,
            &call.id,
            &call.method,
            call_id,
            call.args,
            options,
            Delivery::Here,
        )
        .await
    }

    /// Serves a call that arrived from a peer.
    pub(crate) async fn serve_incoming(&self, mut call: IncomingCall) -> Result<Payload> {
        let object_type = self.inner.registry.get(&call.type_name)?;
        let options = call.options(self);
        object_type
            .call(
                self,
                call.id,
                &call.method,
                call.args,
                options,
                Delivery::Here,
            )
            .await
    }

    /// Serves a create or delete that a peer routed here.
    pub(crate) async fn serve_lifecycle(
        &self,
        type_name: &str,
        id: Arc<str>,
        op: Lifecycle,
    ) -> Result<()> {
        let object_type = self.inner.registry.get(type_name)?;
        object_type.lifecycle(self, id, op, Delivery::Here).await
    }
}
