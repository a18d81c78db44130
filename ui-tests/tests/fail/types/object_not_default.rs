// A fresh activation starts from `Default::default()`: the object type needs `Default`.
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
