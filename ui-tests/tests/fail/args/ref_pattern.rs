// `ref` bindings are patterns too.
#[derive(Default)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn greet(&self, ref name: String) -> String {
        format!("hello {name}")
    }
}

fn main() {}
