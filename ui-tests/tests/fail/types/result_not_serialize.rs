// A result type without serde derives cannot travel between nodes.
#[derive(Debug)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[derive(Default)]
pub struct Plane;

#[goverse::object]
impl Plane {
    #[method]
    pub async fn origin(&self) -> Point {
        Point { x: 0, y: 0 }
    }
}

fn main() {}
