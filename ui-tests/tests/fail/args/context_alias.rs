// The context is recognized by its name: under an alias it is taken for an ordinary argument.
use goverse::Context as Ctx;

#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async fn id(&self, ctx: &Ctx) -> String {
        ctx.object_id().to_string()
    }
}

fn main() {}
