// Shared turns may run on several threads at once: the object type must be `Send + Sync`.
use std::cell::Cell;

#[derive(Default)]
pub struct Counter {
    value: Cell<i64>,
}

#[goverse::object]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        self.value.get()
    }
}

fn main() {}
