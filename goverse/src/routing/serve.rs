//! Serving what peers route to this node: a call, create or delete arrives only where the
//! sender believes the object lives; if this node does not serve it (any more), the answer is a
//! `moved` error and the sender routes again — the method did not run.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::attempt::{Attempt, EncodedAttempt, LifecycleAttempt, Step};
use super::{CallOptions, Route, Router};
use crate::codec::Payload;
use crate::error::{Error, Result};
use crate::id::{ObjectKey, validate_id};
use crate::object::context::{CallChain, Caller};
use crate::object::{MethodEntry, Object};

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
    pub(crate) deadline: Instant,
}

impl Router {
    /// Serves an encoded call that a peer routed here; answers `moved` if this node does not
    /// serve the object (the method then did not run).
    pub(crate) async fn serve_encoded<T: Object>(
        &self,
        id: Arc<str>,
        entry: &'static MethodEntry<T>,
        args: Payload,
        options: CallOptions,
    ) -> Result<Payload> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        let meta = self.prepare(&key, entry.info().name, &options)?;
        if !matches!(self.route(&key), Ok(Route::Local))
            || !self.inner.admitting.load(Ordering::Acquire)
        {
            return Err(Error::moved(format!(
                "node `{}` does not serve {key}",
                self.node_id()
            )));
        }
        match EncodedAttempt::new(key, entry, args, meta)
            .local(self)
            .await
        {
            Step::Done(result) => result,
            Step::Retry(why) | Step::Backoff(why) => Err(Error::moved(why)),
        }
    }

    /// Serves a call that arrived from a peer.
    pub(crate) async fn serve_incoming(&self, call: IncomingCall) -> Result<Payload> {
        let object_type = self.inner.registry.get(&call.type_name)?.clone();
        let mut chain = CallChain::default();
        for (type_name, id) in call.chain {
            if let Some(name) = self.inner.registry.static_name(&type_name) {
                chain = chain.push(ObjectKey::new(name, Arc::from(id)));
            }
        }
        let options = CallOptions {
            deadline: Some(call.deadline),
            chain,
            caller: call.caller,
            ..CallOptions::default()
        };
        object_type
            .serve(self, call.id, &call.method, call.args, options)
            .await
    }

    /// Serves a create or delete that a peer routed here.
    pub(crate) async fn serve_lifecycle<T: Object>(
        &self,
        id: Arc<str>,
        create: bool,
    ) -> Result<()> {
        let key = ObjectKey::new(T::TYPE_NAME, id);
        validate_id(key.id())?;
        if !matches!(self.route(&key), Ok(Route::Local)) {
            return Err(Error::moved(format!(
                "node `{}` does not serve {key}",
                self.node_id()
            )));
        }
        let deadline = Instant::now() + self.inner.config.call_timeout;
        let mut attempt = if create {
            LifecycleAttempt::<T>::create(key, deadline)
        } else {
            LifecycleAttempt::<T>::delete(key, deadline)
        };
        match attempt.local(self).await {
            Step::Done(result) => result,
            Step::Retry(why) | Step::Backoff(why) => Err(Error::moved(why)),
        }
    }

    /// Serves a create that a peer routed here, by type name.
    pub(crate) async fn serve_create(&self, type_name: &str, id: Arc<str>) -> Result<()> {
        self.inner
            .registry
            .get(type_name)?
            .clone()
            .serve_lifecycle(self, id, true)
            .await
    }

    /// Serves a delete that a peer routed here, by type name.
    pub(crate) async fn serve_delete(&self, type_name: &str, id: Arc<str>) -> Result<()> {
        self.inner
            .registry
            .get(type_name)?
            .clone()
            .serve_lifecycle(self, id, false)
            .await
    }
}
