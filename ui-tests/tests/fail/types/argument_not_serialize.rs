// An argument type without serde derives cannot travel between nodes.
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
    pub async fn norm(&self, point: Point) -> i64 {
        point.x.abs() + point.y.abs()
    }
}

fn main() {}
