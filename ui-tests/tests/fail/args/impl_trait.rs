// `impl Trait` is not a concrete type.
#[derive(Default)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn greet(&self, name: impl Into<String>) -> String {
        name.into()
    }
}

fn main() {}
