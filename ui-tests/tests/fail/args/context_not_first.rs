// `&Context` must come right after the receiver.
use goverse::Context;

#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[method]
    pub async fn add(&mut self, n: i64, ctx: &Context) -> i64 {
        let _ = ctx;
        self.value += n;
        self.value
    }
}

fn main() {}
