//! Hygiene of the generated code: goverse is a dependency only under the name
//! `renamed_goverse`, nothing of the standard prelude is in scope, and decoys named like
//! prelude items stand where an unqualified path in the generated code would find them. The
//! objects below compile only if the expansion names the runtime through the resolved crate path
//! and everything else by absolute paths; the tests then call them through the generated proxies.
#![no_implicit_prelude]

/// Decoys: an unqualified `Result`, `Option`, `Default`, `Clone`, `Send`, `Future`, `Box`,
/// `Context`, `Error`, `goverse` or `inventory` in the generated code would resolve to these and
/// fail to compile.
#[allow(dead_code)]
mod decoys {
    pub(crate) struct Result;
    pub(crate) struct Option;
    pub(crate) struct Box;
    pub(crate) struct Vec;
    pub(crate) struct String;
    pub(crate) struct Context;
    pub(crate) struct Error;
    pub(crate) trait Default {}
    pub(crate) trait Clone {}
    pub(crate) trait Send {}
    pub(crate) trait Sync {}
    pub(crate) trait Future {}
    pub(crate) trait Into {}
    pub(crate) mod goverse {}
    pub(crate) mod inventory {}
}

#[allow(unused_imports)]
use decoys::{
    Box, Clone, Context, Default, Error, Future, Into, Option, Result, Send, String, Sync, Vec,
    goverse, inventory,
};

/// Hooks append here: `"<id>: <event>"`.
static EVENTS: ::std::sync::Mutex<::std::vec::Vec<::std::string::String>> =
    ::std::sync::Mutex::new(::std::vec::Vec::new());

fn record(event: ::std::string::String) {
    EVENTS.lock().unwrap().push(event);
}

/// A counter with every kind of method and both hooks; default options.
#[derive(::std::fmt::Debug, ::std::default::Default)]
pub struct Counter {
    value: i64,
    activated: bool,
}

#[::renamed_goverse::object]
impl Counter {
    /// Exclusive, plain return.
    #[method]
    pub async fn add(&mut self, n: i64) -> i64 {
        self.value += n;
        self.value
    }

    /// Shared, no arguments.
    #[method]
    pub async fn get(&self) -> i64 {
        self.value
    }

    /// Unit return.
    #[method]
    pub async fn reset(&mut self) {
        self.value = 0;
    }

    /// `&Context`, arguments, a `Result` with the fully qualified error, a call to another
    /// object through its proxy; both method options.
    #[method(name = "Give", idempotent)]
    pub async fn give(
        &mut self,
        ctx: &::renamed_goverse::Context,
        to: ::std::string::String,
        n: i64,
    ) -> ::std::result::Result<i64, ::renamed_goverse::Error> {
        if n > self.value {
            return ::std::result::Result::Err(::renamed_goverse::Error::app(
                "insufficient",
                "not enough to give",
            ));
        }
        ctx.object::<Counter>(&to).add(n).await?;
        self.value -= n;
        ::std::result::Result::Ok(self.value)
    }

    /// The crate's `Result` alias and generic argument types.
    #[method]
    pub async fn census(
        &self,
        ctx: &::renamed_goverse::Context,
        tags: ::std::vec::Vec<::std::option::Option<::std::string::String>>,
    ) -> ::renamed_goverse::Result<
        ::std::collections::HashMap<::std::string::String, ::std::primitive::usize>,
    > {
        let mut counts = ::std::collections::HashMap::new();
        for tag in tags {
            let tag = tag.unwrap_or_else(|| ::std::string::ToString::to_string(ctx.object_id()));
            *counts.entry(tag).or_insert(0) += 1;
        }
        ::std::result::Result::Ok(counts)
    }

    /// Whether `on_activate` ran before this call.
    #[method]
    pub async fn activated(&self) -> bool {
        self.activated
    }

    #[on_activate]
    async fn start(&mut self, ctx: &::renamed_goverse::Context) -> ::renamed_goverse::Result<()> {
        self.activated = true;
        record(::std::format!("{}: activate", ctx.object_id()));
        ::std::result::Result::Ok(())
    }

    #[on_deactivate]
    async fn stop(&mut self, ctx: &::renamed_goverse::Context) {
        record(::std::format!(
            "{}: deactivate at {}",
            ctx.object_id(),
            self.value
        ));
    }
}

/// An entry of the ledger: a user type with serde derives.
#[derive(
    ::std::fmt::Debug,
    ::std::clone::Clone,
    ::std::cmp::PartialEq,
    ::serde::Serialize,
    ::serde::Deserialize,
)]
pub struct Entry {
    /// What for.
    pub memo: ::std::string::String,
    /// How much.
    pub amount: i64,
}

/// An application error with a conversion into goverse's.
#[derive(::std::fmt::Debug)]
pub struct Rejected(pub ::std::string::String);

impl ::std::convert::From<Rejected> for ::renamed_goverse::Error {
    fn from(error: Rejected) -> Self {
        ::renamed_goverse::Error::app("rejected", error.0)
    }
}

/// Every object option, spelled with the renamed crate; hooks without a context.
#[derive(
    ::std::fmt::Debug,
    ::std::clone::Clone,
    ::std::default::Default,
    ::std::cmp::PartialEq,
    ::serde::Serialize,
    ::serde::Deserialize,
)]
pub struct Ledger {
    entries: ::std::vec::Vec<Entry>,
}

#[::renamed_goverse::object(name = "hygiene.Ledger", persist, crate = ::renamed_goverse)]
impl Ledger {
    /// A user struct argument; `Result<T, E>` with an application error type.
    #[method]
    pub async fn post(
        &mut self,
        entry: Entry,
    ) -> ::std::result::Result<::std::primitive::usize, Rejected> {
        if entry.amount == 0 {
            return ::std::result::Result::Err(Rejected(::std::format!(
                "empty entry `{}`",
                entry.memo
            )));
        }
        self.entries.push(entry);
        ::std::result::Result::Ok(self.entries.len())
    }

    /// `Self` as the result type; a raw identifier as the name.
    #[method]
    pub async fn r#copy(&self) -> Self {
        ::std::clone::Clone::clone(self)
    }

    #[on_activate]
    async fn open(&mut self) {}

    #[on_deactivate]
    async fn close(&mut self) -> ::std::result::Result<(), ::renamed_goverse::Error> {
        ::std::result::Result::Ok(())
    }
}

/// Marks written through the renamed crate path are recognised too.
#[derive(::std::fmt::Debug, ::std::default::Default)]
pub struct Pinger {
    started: bool,
}

#[::renamed_goverse::object]
impl Pinger {
    #[::renamed_goverse::on_activate]
    async fn start(&mut self) {
        self.started = true;
    }

    /// Whether `on_activate` ran.
    #[::renamed_goverse::method]
    pub async fn ping(&self) -> bool {
        self.started
    }
}

/// The calls, from a module that brings the standard prelude back: only the objects above are
/// defined without it.
mod tests {
    use ::std::prelude::rust_2024::*;

    use super::{Counter, CounterProxy, EVENTS, Entry, Ledger, LedgerProxy, Pinger};

    fn events_of(id: &str) -> ::std::vec::Vec<::std::string::String> {
        let prefix = ::std::format!("{id}: ");
        EVENTS
            .lock()
            .unwrap()
            .iter()
            .filter(|event| event.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Runs `test` on a fresh embedded node inside an explicitly built multi-thread runtime.
    fn on_node<F, Fut>(test: F)
    where
        F: ::std::ops::FnOnce(::renamed_goverse::Node) -> Fut,
        Fut: ::std::future::Future<Output = ()>,
    {
        let runtime = ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let node = ::renamed_goverse::Node::builder()
                .start()
                .await
                .expect("an embedded node starts");
            test(node).await;
        });
    }

    #[test]
    fn calls_run_through_the_generated_proxies() {
        on_node(|node| async move {
            ::std::assert!(
                node.object::<Pinger>("hygiene-pinger")
                    .ping()
                    .await
                    .unwrap()
            );
            let alice: CounterProxy = node.object::<Counter>("hygiene-alice");
            ::std::assert_eq!(alice.add(10).await.unwrap(), 10);
            ::std::assert_eq!(alice.get().await.unwrap(), 10);
            ::std::assert!(alice.activated().await.unwrap());
            ::std::assert_eq!(
                alice
                    .give(::std::string::String::from("hygiene-bob"), 4)
                    .await
                    .unwrap(),
                6
            );
            ::std::assert_eq!(
                node.object::<Counter>("hygiene-bob").get().await.unwrap(),
                4
            );
            let error = alice
                .give(::std::string::String::from("hygiene-bob"), 100)
                .await
                .unwrap_err();
            ::std::assert_eq!(error.kind(), ::renamed_goverse::ErrorKind::App);
            ::std::assert_eq!(error.code(), ::std::option::Option::Some("insufficient"));

            let counts = alice
                .census(::std::vec![
                    ::std::option::Option::Some(::std::string::String::from("x")),
                    ::std::option::Option::None,
                    ::std::option::Option::Some(::std::string::String::from("x")),
                ])
                .await
                .unwrap();
            ::std::assert_eq!(counts.len(), 2);
            ::std::assert_eq!(counts["x"], 2);
            ::std::assert_eq!(counts["hygiene-alice"], 1);
            alice.reset().await.unwrap();
            ::std::assert_eq!(alice.get().await.unwrap(), 0);

            let ledger: LedgerProxy = node.object::<Ledger>("hygiene-ledger");
            let entry = Entry {
                memo: ::std::string::String::from("rent"),
                amount: -500,
            };
            ::std::assert_eq!(
                ledger
                    .post(::std::clone::Clone::clone(&entry))
                    .await
                    .unwrap(),
                1
            );
            let error = ledger
                .post(Entry {
                    memo: ::std::string::String::from("nothing"),
                    amount: 0,
                })
                .await
                .unwrap_err();
            ::std::assert_eq!(error.code(), ::std::option::Option::Some("rejected"));
            ::std::assert_eq!(error.message(), "empty entry `nothing`");
            ::std::assert_eq!(
                ledger.r#copy().await.unwrap(),
                Ledger {
                    entries: ::std::vec![entry],
                }
            );

            node.shutdown().await.unwrap();
            ::std::assert_eq!(
                events_of("hygiene-alice"),
                ["hygiene-alice: activate", "hygiene-alice: deactivate at 0",]
            );
            ::std::assert_eq!(
                events_of("hygiene-bob"),
                ["hygiene-bob: activate", "hygiene-bob: deactivate at 4"]
            );
        });
    }

    #[test]
    fn types_register_under_their_wire_names() {
        on_node(|node| async move {
            ::std::assert_eq!(<Counter as ::renamed_goverse::Object>::TYPE_NAME, "Counter");
            ::std::assert!(<Counter as ::renamed_goverse::Object>::save_policy().is_none());
            ::std::assert_eq!(
                <Ledger as ::renamed_goverse::Object>::TYPE_NAME,
                "hygiene.Ledger"
            );
            ::std::assert!(<Ledger as ::renamed_goverse::Object>::save_policy().is_some());

            let types = node.object_types();
            let counter = types.iter().find(|t| t.name == "Counter").unwrap();
            let names: ::std::vec::Vec<&str> = counter.methods.iter().map(|m| m.name).collect();
            ::std::assert_eq!(
                names,
                ["add", "get", "reset", "Give", "census", "activated"]
            );
            let give = counter.methods.iter().find(|m| m.name == "Give").unwrap();
            ::std::assert!(give.idempotent);
            ::std::assert_eq!(give.params, ["to", "n"]);
            ::std::assert_eq!(give.kind, ::renamed_goverse::TurnKind::Exclusive);

            let ledger = types.iter().find(|t| t.name == "hygiene.Ledger").unwrap();
            let names: ::std::vec::Vec<&str> = ledger.methods.iter().map(|m| m.name).collect();
            ::std::assert_eq!(names, ["post", "copy"]);
            node.shutdown().await.unwrap();
        });
    }
}
