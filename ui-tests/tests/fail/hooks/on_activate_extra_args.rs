// A hook takes nothing but an optional `ctx: &Context`.
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[goverse::object]
impl Counter {
    #[on_activate]
    async fn started(&mut self, ctx: &goverse::Context, start: i64) {
        let _ = ctx;
        self.value = start;
    }
}

fn main() {}
