// A hook returns nothing or `Result<(), E>`; nobody receives an `i64`.
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[on_activate]
    async fn started(&mut self) -> i64 {
        self.value
    }
}

fn main() {}
