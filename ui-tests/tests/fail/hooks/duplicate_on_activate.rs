// Two #[on_activate] hooks on one object.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_activate]
    async fn load(&mut self) {}

    #[on_activate]
    async fn warm_up(&mut self) {}
}

fn main() {}
