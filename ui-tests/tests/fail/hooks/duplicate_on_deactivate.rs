// Two #[on_deactivate] hooks on one object.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_deactivate]
    async fn save(&mut self) {}

    #[on_deactivate]
    async fn flush(&mut self) {}
}

fn main() {}
