// A #[method] cannot be `unsafe`.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async unsafe fn get(&self) -> i64 {
        0
    }
}

fn main() {}
