// The wire name is a string literal: `name = "Tally"`.
#[derive(Default)]
pub struct Counter;

#[goverse::object(name = Tally)]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
