// #[goverse::object] on a free function.
#[goverse::object]
pub async fn add(n: i64) -> i64 {
    n + 1
}

fn main() {}
