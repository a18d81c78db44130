// A wire name with a space (and a slash) in it.
#[derive(Default)]
pub struct Counter;

#[goverse::object(name = "my counter/v1")]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
