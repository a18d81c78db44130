// #[method] on a free function, with no #[goverse::object] around it.
use goverse::method;

#[method]
pub async fn get() -> i64 {
    0
}

fn main() {}
