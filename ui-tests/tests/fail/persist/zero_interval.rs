// A zero interval would save after every turn: `every_turn` says so.

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist(interval = "0s"))]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
}

fn main() {}
