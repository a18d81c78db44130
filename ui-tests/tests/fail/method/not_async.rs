// A #[method] must be `async fn`.
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[method]
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
