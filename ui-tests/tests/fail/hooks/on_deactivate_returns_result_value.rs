// A hook's `Result` carries `()`, not a value.
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[on_deactivate]
    async fn stopped(&mut self) -> goverse::Result<i64> {
        Ok(self.value)
    }
}

fn main() {}
