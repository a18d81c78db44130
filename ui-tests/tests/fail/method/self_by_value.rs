// The runtime keeps the object: a method cannot take `self` by value.
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[method]
    pub async fn into_value(self) -> i64 {
        self.value
    }
}

fn main() {}
