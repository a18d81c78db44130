//! Receivers, contexts and return types: shared and exclusive turns, `&Context`, plain, unit,
//! `Result<T, goverse::Error>`, `goverse::Result<T>` and `Result<T, E>` with `E: Into<Error>`
//! returns, raw identifiers, `Self` in signatures, and method names that a proxy could clash
//! with (`id`, `handle`, `from_handle`, `object_id`).

use goverse::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    balance: i64,
    history: Vec<i64>,
}

/// An application error that converts into goverse's.
#[derive(Debug)]
pub struct Overdrawn(i64);

impl From<Overdrawn> for goverse::Error {
    fn from(error: Overdrawn) -> Self {
        goverse::Error::app("overdrawn", format!("short by {}", error.0))
    }
}

#[goverse::object]
impl Account {
    /// Exclusive, plain return.
    #[method]
    pub async fn deposit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.history.push(amount);
        self.balance
    }

    /// Shared, no arguments.
    #[method]
    pub async fn balance(&self) -> i64 {
        self.balance
    }

    /// Exclusive, unit return, no arguments.
    #[method]
    pub async fn clear(&mut self) {
        self.balance = 0;
        self.history.clear();
    }

    /// Explicit unit return.
    #[method]
    pub async fn noop(&self) -> () {}

    /// `Result<T, goverse::Error>`.
    #[method]
    pub async fn withdraw(&mut self, amount: i64) -> Result<i64, goverse::Error> {
        if amount > self.balance {
            return Err(goverse::Error::app("insufficient", "not enough money"));
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    /// The `goverse::Result<T>` alias.
    #[method]
    pub async fn checked_deposit(&mut self, amount: i64) -> goverse::Result<i64> {
        if amount <= 0 {
            return Err(goverse::Error::invalid_argument("amount must be positive"));
        }
        self.balance += amount;
        Ok(self.balance)
    }

    /// `Result<T, E>` with an application error type that has `From<E> for goverse::Error`.
    #[method]
    pub async fn strict_withdraw(&mut self, amount: i64) -> Result<i64, Overdrawn> {
        if amount > self.balance {
            return Err(Overdrawn(amount - self.balance));
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    /// `&Context` right after `&self`, and no other argument.
    #[method]
    pub async fn whoami(&self, ctx: &Context) -> String {
        format!("{}/{}", ctx.object_type(), ctx.object_id())
    }

    /// `&Context` right after `&mut self`, followed by arguments, returning a `Result`.
    #[method]
    pub async fn transfer(&mut self, ctx: &Context, to: String, amount: i64) -> Result<i64> {
        if amount > self.balance {
            return Err(Error::app("insufficient", "not enough to transfer"));
        }
        ctx.object::<Account>(&to).deposit(amount).await?;
        self.balance -= amount;
        Ok(self.balance)
    }

    /// A raw identifier as the method name and as an argument name.
    #[method]
    pub async fn r#type(&self, r#in: String) -> String {
        format!("account:{in}", in = r#in)
    }

    /// `Self` in the argument and in the result.
    #[method]
    pub async fn snapshot(&self) -> Self {
        self.clone()
    }

    #[method]
    pub async fn restore(&mut self, from: Self) -> Option<Self> {
        Some(std::mem::replace(self, from))
    }

    /// A `mut` binding is still a plain name.
    #[method]
    pub async fn add_all(&mut self, mut amounts: Vec<i64>) -> i64 {
        amounts.sort();
        for amount in amounts {
            self.balance += amount;
        }
        self.balance
    }

    /// Names the proxy itself could use.
    #[method]
    pub async fn id(&self, ctx: &Context) -> String {
        ctx.object_id().to_string()
    }

    #[method]
    pub async fn handle(&self, handle: u32) -> u32 {
        handle + 1
    }

    #[method]
    pub async fn from_handle(&self) -> bool {
        true
    }

    #[method]
    pub async fn object_id(&self) -> String {
        "shadowed".to_string()
    }

    /// Not a method: stays an ordinary associated function.
    pub fn helper() -> i64 {
        7
    }
}

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let node = Node::builder().start().await?;
    let alice = node.object::<Account>("alice");

    assert_eq!(alice.deposit(100).await?, 100);
    assert_eq!(alice.balance().await?, 100);
    alice.noop().await?;
    assert_eq!(alice.withdraw(30).await?, 70);
    let error = alice.withdraw(1000).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::App);
    assert_eq!(error.code(), Some("insufficient"));
    assert_eq!(alice.checked_deposit(5).await?, 75);
    assert_eq!(
        alice.checked_deposit(-5).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(alice.strict_withdraw(5).await?, 70);
    let error = alice.strict_withdraw(100).await.unwrap_err();
    assert_eq!(error.code(), Some("overdrawn"));
    assert_eq!(error.message(), "short by 30");
    assert_eq!(alice.whoami().await?, "Account/alice");
    assert_eq!(alice.transfer("bob".to_string(), 20).await?, 50);
    assert_eq!(node.object::<Account>("bob").balance().await?, 20);
    assert_eq!(alice.r#type("x".to_string()).await?, "account:x");
    assert_eq!(alice.add_all(vec![3, 1, 2]).await?, 56);

    let snapshot = alice.snapshot().await?;
    assert_eq!(snapshot.balance, 56);
    assert_eq!(snapshot.history, vec![100]);
    let before = alice.restore(Account::default()).await?;
    assert_eq!(before, Some(snapshot));
    assert_eq!(alice.balance().await?, 0);
    alice.deposit(1).await?;
    alice.clear().await?;
    assert_eq!(alice.balance().await?, 0);

    assert_eq!(alice.id().await?, "alice");
    assert_eq!(alice.handle(41).await?, 42);
    assert!(alice.from_handle().await?);
    assert_eq!(alice.object_id().await?, "shadowed");
    assert_eq!(Proxy::object_id(&alice), "alice");
    assert_eq!(Account::helper(), 7);

    // Wire names: raw identifiers are unrawed, for the method and its parameters.
    let types = node.object_types();
    let account = types.iter().find(|t| t.name == "Account").unwrap();
    let raw = account.methods.iter().find(|m| m.name == "type").unwrap();
    assert_eq!(raw.params, ["in"]);
    let transfer = account
        .methods
        .iter()
        .find(|m| m.name == "transfer")
        .unwrap();
    assert_eq!(
        transfer.params,
        ["to", "amount"],
        "the context is not a parameter"
    );
    assert_eq!(transfer.kind, goverse::TurnKind::Exclusive);
    let whoami = account.methods.iter().find(|m| m.name == "whoami").unwrap();
    assert_eq!(whoami.kind, goverse::TurnKind::Shared);
    assert!(whoami.params.is_empty());
    assert_eq!(account.methods.len(), 17, "`helper` is not a method");

    node.shutdown().await
}
