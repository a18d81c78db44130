// The context is shared: `ctx: &Context`, not `ctx: &mut Context`.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async fn id(&self, ctx: &mut goverse::Context) -> String {
        ctx.object_id().to_string()
    }
}

fn main() {}
