// The same option twice.
#[derive(Default)]
pub struct Counter;

#[goverse::object(name = "Counter", name = "Tally")]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
