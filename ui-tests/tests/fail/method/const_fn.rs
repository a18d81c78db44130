// A #[method] cannot be `const` (it must be `async`, and a `const fn` cannot be).
#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[method]
    pub const fn get(&self) -> i64 {
        0
    }
}

fn main() {}
