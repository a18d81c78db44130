// #[goverse::object] belongs on the impl block, not on the struct.
#[goverse::object]
#[derive(Default)]
pub struct Counter {
    value: i64,
}

fn main() {}
