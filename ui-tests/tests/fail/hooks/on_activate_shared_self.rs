// Hooks change the state: `&mut self`, not `&self`.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_activate]
    async fn started(&self) {}
}

fn main() {}
