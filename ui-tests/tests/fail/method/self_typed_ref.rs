// An explicitly typed receiver, `self: &Self`, is refused even though it is a shared borrow.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async fn get(self: &Self) -> i64 {
        0
    }
}

fn main() {}
