// The context is lent to the method: `ctx: &Context`, not `ctx: Context`.
use goverse::Context;

#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async fn id(&self, ctx: Context) -> String {
        ctx.object_id().to_string()
    }
}

fn main() {}
