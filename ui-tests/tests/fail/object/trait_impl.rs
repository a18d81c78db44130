// #[goverse::object] on a trait impl instead of an inherent impl.
#[derive(Default)]
pub struct Counter;

pub trait Add {
    fn add(&mut self, n: i64) -> i64;
}

#[goverse::object]
impl Add for Counter {
    fn add(&mut self, n: i64) -> i64 {
        n
    }
}

fn main() {}
