// Hooks are `async fn` too.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_activate]
    fn started(&mut self) {}
}

fn main() {}
