// `interval` is a positive duration with a unit.

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist(interval = "10 parsecs"))]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
}

fn main() {}
