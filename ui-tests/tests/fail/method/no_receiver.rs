// An associated function without a receiver cannot be a #[method].
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async fn zero() -> i64 {
        0
    }
}

fn main() {}
