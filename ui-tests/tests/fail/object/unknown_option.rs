// `persistent` is not an option (the option is `persist`).
#[derive(Default)]
pub struct Counter;

#[goverse::object(persistent)]
impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
