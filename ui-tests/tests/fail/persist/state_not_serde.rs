// `persist` needs the object's state to be `Serialize + DeserializeOwned`.

#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object(persist)]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }
}

fn main() {}
