// `every_turn` and `interval` are two policies; only one applies.

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist(every_turn, interval = "5s"))]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
}

fn main() {}
