// Results travel between nodes: a #[method] cannot return `impl Trait`.
#[derive(Default)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn name(&self) -> impl std::fmt::Display {
        "hello"
    }
}

fn main() {}
