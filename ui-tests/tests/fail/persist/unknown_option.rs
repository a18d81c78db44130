// `persist` takes only `every_turn` or `interval`.

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist(sometimes))]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
}

fn main() {}
