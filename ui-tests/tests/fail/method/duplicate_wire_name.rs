// Two methods with the same wire name: `get` and `fetch` renamed to "get".
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        self.value
    }

    #[method(name = "get")]
    pub async fn fetch(&self) -> i64 {
        self.value
    }
}

fn main() {}
