// A hook's error type must convert into goverse::Error.
#[derive(Debug)]
pub struct BootError;

#[derive(Default)]
pub struct Counter;

#[goverse::object]
impl Counter {
    #[on_activate]
    async fn started(&mut self) -> Result<(), BootError> {
        Err(BootError)
    }
}

fn main() {}
