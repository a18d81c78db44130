// A reference nested inside a generic argument: `Vec<&str>`.
#[derive(Default)]
pub struct Greeter;

#[goverse::object]
impl Greeter {
    #[method]
    pub async fn greet_all(&self, names: Vec<&str>) -> usize {
        names.len()
    }
}

fn main() {}
