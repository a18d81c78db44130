// A hook in an impl block that lacks #[goverse::object].
#[derive(Default)]
pub struct Counter;

impl Counter {
    #[goverse::on_deactivate]
    async fn stopped(&mut self) {}
}

fn main() {}
