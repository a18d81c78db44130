// A #[method] cannot have an ABI.
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub async extern "C" fn get(&self) -> i64 {
        0
    }
}

fn main() {}
