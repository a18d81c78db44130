//! Every option: `name`, `persist` and `crate` on the object; `name` and `idempotent` on a
//! method, alone and together; the `#[goverse::method]` path form.

use goverse::{Object, TurnKind};
use serde::{Deserialize, Serialize};

/// A re-export of goverse, as a facade crate would have it.
mod facade {
    pub use goverse as runtime;
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(name = "Wire.Counter-v1", persist, crate = ::goverse)]
impl Counter {
    #[method(name = "Add", idempotent)]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }

    #[method(idempotent)]
    pub async fn get(&self) -> i64 {
        self.value
    }

    #[method(name = "reset_to_zero")]
    pub async fn reset(&mut self) {
        self.value = 0;
    }

    #[goverse::method]
    pub async fn double(&mut self) -> i64 {
        self.value *= 2;
        self.value
    }
}

#[derive(Default)]
pub struct Plain;

#[goverse::object(crate = crate::facade::runtime)]
impl Plain {
    #[method]
    pub async fn hello(&self) -> String {
        "hello".to_string()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(
        <Counter as Object>::save_policy(),
        Some(goverse::SavePolicy::Periodic(None))
    );
    assert_eq!(<Plain as Object>::save_policy(), None);
    assert_eq!(<Counter as Object>::TYPE_NAME, "Wire.Counter-v1");
    assert_eq!(<Plain as Object>::TYPE_NAME, "Plain");

    let node = goverse::Node::builder().start().await.unwrap();
    let types = node.object_types();
    let counter = types
        .iter()
        .find(|t| t.name == "Wire.Counter-v1")
        .expect("the wire name is registered");
    let methods: Vec<(&str, TurnKind, bool)> = counter
        .methods
        .iter()
        .map(|m| (m.name, m.kind, m.idempotent))
        .collect();
    assert_eq!(
        methods,
        [
            ("Add", TurnKind::Exclusive, true),
            ("get", TurnKind::Shared, true),
            ("reset_to_zero", TurnKind::Exclusive, false),
            ("double", TurnKind::Exclusive, false),
        ]
    );
    assert!(types.iter().any(|t| t.name == "Plain"));

    let c = node.object::<Counter>("c1");
    assert_eq!(c.add(20).await.unwrap(), 20);
    assert_eq!(c.double().await.unwrap(), 40);
    assert_eq!(c.get().await.unwrap(), 40);
    c.reset().await.unwrap();
    assert_eq!(c.get().await.unwrap(), 0);
    assert_eq!(node.object::<Plain>("p").hello().await.unwrap(), "hello");
    node.shutdown().await.unwrap();
}
