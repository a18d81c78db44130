// A function is either a #[method] or a hook, not both.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    #[on_activate]
    pub async fn start(&mut self) {}
}

fn main() {}
