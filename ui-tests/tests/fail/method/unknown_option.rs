// `retry` is not an option of #[method].
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method(retry)]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
