// Arguments travel between nodes: a #[method] cannot be generic.
#[derive(Default)]
pub struct Store;

#[goverse::object]
impl Store {
    #[method]
    pub async fn put<T: serde::Serialize>(&mut self, value: T) {
        let _ = value;
    }
}

fn main() {}
