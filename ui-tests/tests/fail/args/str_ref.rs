// Arguments must be owned: `&str` instead of `String`.
#[derive(Default)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

fn main() {}
