//! The smallest object: one shared method, nothing imported, compile only.

#[derive(Default)]
pub struct Ping;

#[goverse::object]
impl Ping {
    #[method]
    pub async fn ping(&self) -> String {
        "pong".to_string()
    }
}

fn main() {}
