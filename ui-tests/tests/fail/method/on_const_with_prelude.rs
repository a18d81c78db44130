// #[method] on an associated const, with the prelude (and so the `method` attribute) in scope.
use goverse::prelude::*;

#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub const START: i64 = 0;

    #[method]
    pub async fn get(&self) -> i64 {
        Self::START
    }
}

fn main() {}
