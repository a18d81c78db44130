//! The counter example: an embedded node (no services), a `Counter` object type with exclusive
//! and shared methods, a call from one object to another, and an application error.
//!
//! Run it with `cargo run --example counter`.

use goverse::prelude::*;
use serde::{Deserialize, Serialize};

/// A counter object: its state is this struct.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    /// `&mut self`: exclusive turn. No other call on this object runs meanwhile.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }

    /// `&self`: may run concurrently with other `&self` calls on the same object.
    #[method]
    pub async fn get(&self) -> i64 {
        self.value
    }

    /// Moves `n` from this counter to counter `to`, through `to`'s proxy.
    #[method]
    pub async fn give(&mut self, ctx: &Context, to: String, n: i64) -> Result<i64, goverse::Error> {
        if n > self.value {
            return Err(goverse::Error::app("insufficient", "not enough to give"));
        }
        ctx.object::<Counter>(&to).add(n).await?;
        self.value -= n;
        Ok(self.value)
    }
}

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let node = goverse::Node::builder().start().await?; // embedded: one node, no services
    println!("started embedded node `{}`", node.node_id());

    let visitors = node.object::<Counter>("visitors"); // generated typed proxy: CounterProxy
    assert_eq!(visitors.add(5).await?, 5);
    println!("visitors.add(5)   -> {}", visitors.get().await?);

    let left = visitors.give("archive".to_string(), 3).await?;
    let archive = node.object::<Counter>("archive").get().await?;
    println!("visitors.give(archive, 3) -> visitors = {left}, archive = {archive}");

    match visitors.give("archive".to_string(), 100).await {
        Err(error) => println!("visitors.give(archive, 100) -> {error}"),
        Ok(value) => println!("unexpected success: {value}"),
    }

    let active: Vec<String> = node
        .list_objects()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("active objects: {}", active.join(", "));

    node.shutdown().await?;
    println!("node stopped");
    Ok(())
}
