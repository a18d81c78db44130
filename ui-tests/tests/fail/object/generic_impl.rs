// A generic impl block has no single concrete type nor wire name.
#[derive(Default)]
pub struct Holder<T> {
    value: T,
}

#[goverse::object]
impl<T: Default + Send + Sync + 'static> Holder<T> {
    #[method]
    pub async fn touch(&mut self) {}
}

fn main() {}
