//! The registry of object types linked into the binary, collected through `inventory`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{MethodEntry, MethodInfo, Object, SavePolicy};
use crate::codec::Payload;
use crate::error::{Error, Result};
use crate::persistence::CallOutcome;
use crate::routing::{CallOptions, Delivery, Lifecycle, Router};

/// What `#[goverse::object]` submits to `inventory` for each object type.
pub struct ObjectRegistration {
    type_name: &'static str,
    rust_name: fn() -> &'static str,
    vtable: fn() -> Arc<dyn ObjectType>,
}

impl std::fmt::Debug for ObjectRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRegistration")
            .field("type_name", &self.type_name)
            .field("rust_name", &(self.rust_name)())
            .finish()
    }
}

impl ObjectRegistration {
    /// The registration of object type `T`.
    pub const fn of<T: Object>() -> Self {
        ObjectRegistration {
            type_name: T::TYPE_NAME,
            rust_name: std::any::type_name::<T>,
            vtable: vtable::<T>,
        }
    }
}

inventory::collect!(ObjectRegistration);

fn vtable<T: Object>() -> Arc<dyn ObjectType> {
    Arc::new(TypedObjectType::<T>(PhantomData))
}

/// An object type seen without its Rust type: what the runtime needs to serve calls that name
/// the type and method as strings.
pub(crate) trait ObjectType: Send + Sync {
    /// The Rust type's path, for messages.
    fn rust_name(&self) -> &'static str;
    /// The type's methods.
    fn methods(&self) -> Vec<MethodInfo>;
    /// When the type's state is saved; `None` if it is not `persist`.
    fn save_policy(&self) -> Option<SavePolicy>;
    /// Runs an encoded call; the result comes back in the arguments' codec.
    fn call<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        method: &str,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<Payload>>;
    /// Runs a reliable call with encoded (named) arguments.
    #[allow(clippy::too_many_arguments)]
    fn call_reliable<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        method: &str,
        call_id: Arc<str>,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<CallOutcome>>;
    /// Creates or deletes an object.
    fn lifecycle<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        op: Lifecycle,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<()>>;
}

/// The dispatch-table entry of `method`, or a `NotFound` error listing the type's methods.
fn find_method<T: Object>(method: &str) -> Result<&'static MethodEntry<T>> {
    T::METHODS
        .iter()
        .find(|entry| entry.info().name == method)
        .ok_or_else(|| {
            let names: Vec<&str> = T::METHODS.iter().map(|e| e.info().name).collect();
            Error::not_found(format!(
                "object type `{}` has no method `{method}`; its methods are: {}",
                T::TYPE_NAME,
                names.join(", ")
            ))
        })
}

struct TypedObjectType<T>(PhantomData<fn() -> T>);

impl<T: Object> ObjectType for TypedObjectType<T> {
    fn rust_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn methods(&self) -> Vec<MethodInfo> {
        T::METHODS.iter().map(|entry| *entry.info()).collect()
    }

    fn save_policy(&self) -> Option<SavePolicy> {
        T::save_policy()
    }

    fn call<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        method: &str,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<Payload>> {
        let entry = find_method::<T>(method);
        Box::pin(async move {
            router
                .call_encoded::<T>(id, entry?, args, options, delivery)
                .await
        })
    }

    fn call_reliable<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        method: &str,
        call_id: Arc<str>,
        args: Payload,
        options: CallOptions,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<CallOutcome>> {
        let entry = find_method::<T>(method);
        Box::pin(async move {
            router
                .call_reliable::<T>(id, entry?, call_id, args, options, delivery)
                .await
        })
    }

    fn lifecycle<'a>(
        &self,
        router: &'a Router,
        id: Arc<str>,
        op: Lifecycle,
        delivery: Delivery,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { router.lifecycle::<T>(id, op, delivery).await })
    }
}

/// Every object type linked into the binary, by wire name.
pub(crate) struct Registry {
    types: BTreeMap<&'static str, Arc<dyn ObjectType>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.types.keys()).finish()
    }
}

impl Registry {
    /// Collects every registration; two Rust types with one wire name are an error naming both.
    pub(crate) fn collect() -> Result<Self> {
        let mut types: BTreeMap<&'static str, Arc<dyn ObjectType>> = BTreeMap::new();
        for registration in inventory::iter::<ObjectRegistration> {
            let rust_name = (registration.rust_name)();
            if let Some(existing) = types.get(registration.type_name) {
                if existing.rust_name() == rust_name {
                    continue;
                }
                return Err(Error::invalid_argument(format!(
                    "object types `{}` and `{rust_name}` are both registered as `{}`; give one \
                     of them another wire name with #[goverse::object(name = \"...\")]",
                    existing.rust_name(),
                    registration.type_name
                )));
            }
            types.insert(registration.type_name, (registration.vtable)());
        }
        Ok(Registry { types })
    }

    /// The type registered under `name`, or a `NotFound` error listing the known types.
    pub(crate) fn get(&self, name: &str) -> Result<&Arc<dyn ObjectType>> {
        self.types.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.types.keys().copied().collect();
            Error::not_found(format!(
                "unknown object type `{name}`; registered types: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// The registry's own copy of a type name (for keys rebuilt from the wire).
    #[cfg(feature = "etcd")]
    pub(crate) fn static_name(&self, name: &str) -> Option<&'static str> {
        self.types.get_key_value(name).map(|(name, _)| *name)
    }

    /// The shortest periodic save interval of any registered type (`default` standing for the
    /// types that use the node's), or `None` if no type saves periodically.
    pub(crate) fn shortest_save_interval(&self, default: Duration) -> Option<Duration> {
        self.types
            .values()
            .filter_map(|ty| match ty.save_policy()? {
                SavePolicy::Periodic(interval) => Some(interval.unwrap_or(default)),
                SavePolicy::EveryTurn => None,
            })
            .min()
    }

    /// The registered type names with their methods.
    pub(crate) fn describe(&self) -> Vec<(&'static str, Vec<MethodInfo>)> {
        self.types
            .iter()
            .map(|(name, ty)| (*name, ty.methods()))
            .collect()
    }
}
