// `idempotent` twice.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method(idempotent, idempotent)]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
