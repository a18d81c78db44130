// Hooks take no options.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_activate(name = "start")]
    async fn started(&mut self) {}
}

fn main() {}
