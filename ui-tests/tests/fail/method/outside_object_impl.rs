// #[method] in an impl block that lacks #[goverse::object].
#[derive(Default)]
pub struct Counter;

impl Counter {
    #[goverse::method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
