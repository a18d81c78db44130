// The error type of a `Result` must convert into goverse::Error (no `From` impl here).
#[derive(Debug)]
pub struct Overdrawn;

#[derive(Default)]
pub struct Account {
    balance: i64,
}

#[goverse::object]
impl Account {
    #[method]
    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, Overdrawn> {
        if amount > self.balance {
            return Err(Overdrawn);
        }
        self.balance -= amount;
        Ok(self.balance)
    }
}

fn main() {}
