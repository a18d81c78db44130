// `unsafe impl` is never an object impl.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
unsafe impl Counter {
    #[method]
    pub async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
