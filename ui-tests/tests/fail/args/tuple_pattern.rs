// Arguments travel as named parameters: a pattern has no name.
#[derive(Default)]
pub struct Plane;

#[goverse::object]
impl Plane {
    #[method]
    pub async fn distance(&self, (x, y): (f64, f64)) -> f64 {
        (x * x + y * y).sqrt()
    }
}

fn main() {}
