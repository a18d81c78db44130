// Options go in parentheses: `#[method(name = "x")]`, not `#[method = "x"]`.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method = "x"]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
