// `name` needs a value: `#[method(name = "Get")]`.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method(name)]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
