// Results travel between nodes: a #[method] cannot return a reference.
#[derive(Default)]
pub struct Greeter {
    name: String,
}

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn name(&self) -> &str {
        &self.name
    }
}

fn main() {}
