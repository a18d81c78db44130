// An impl block of a concrete instantiation of a generic type.
#[derive(Default)]
pub struct Holder<T> {
    value: T,
}

#[goverse::object]
impl Holder<u32> {
    #[method]
    pub async fn get(&self) -> u32 {
        self.value
    }
}

fn main() {}
