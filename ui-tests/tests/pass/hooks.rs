//! Lifecycle hooks in every accepted shape: with and without `ctx: &Context`, returning nothing,
//! `goverse::Result<()>`, `Result<(), goverse::Error>` or `Result<(), E>` with `E: Into<Error>`.

use std::sync::Mutex;

use goverse::prelude::*;

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(event: impl Into<String>) {
    EVENTS.lock().unwrap().push(event.into());
}

fn events() -> Vec<String> {
    EVENTS.lock().unwrap().clone()
}

/// Hooks without a context, returning nothing.
#[derive(Default)]
pub struct Quiet {
    started: bool,
}

#[goverse::object]
impl Quiet {
    #[on_activate]
    async fn start(&mut self) {
        self.started = true;
        record("quiet: activate");
    }

    #[on_deactivate]
    async fn stop(&mut self) {
        record("quiet: deactivate");
    }

    #[method]
    pub async fn started(&self) -> bool {
        self.started
    }
}

/// Hooks with a context, returning `goverse::Result<()>` and `Result<(), goverse::Error>`.
#[derive(Default)]
pub struct Loud {
    name: String,
}

#[goverse::object]
impl Loud {
    #[on_activate]
    async fn start(&mut self, ctx: &Context) -> goverse::Result<()> {
        if ctx.object_id().starts_with("bad") {
            return Err(Error::app(
                "refused",
                "ids starting with `bad` do not start",
            ));
        }
        self.name = ctx.object_id().to_string();
        record(format!("loud {}: activate", ctx.object_id()));
        Ok(())
    }

    #[on_deactivate]
    async fn stop(&mut self, ctx: &Context) -> Result<(), goverse::Error> {
        record(format!(
            "loud {}: deactivate as {}",
            ctx.object_id(),
            self.name
        ));
        Ok(())
    }

    #[method]
    pub async fn name(&self) -> String {
        self.name.clone()
    }
}

/// An application error for hooks.
#[derive(Debug)]
pub struct HookError;

impl From<HookError> for goverse::Error {
    fn from(_: HookError) -> Self {
        goverse::Error::app("hook", "hook failed")
    }
}

/// Only an `on_deactivate`, returning `Result<(), E>` with an application error; hooks declared
/// after the methods.
#[derive(Default)]
pub struct Tail;

#[goverse::object]
impl Tail {
    #[method]
    pub async fn ping(&self) -> u8 {
        1
    }

    #[on_deactivate]
    async fn stop(&mut self) -> Result<(), HookError> {
        record("tail: deactivate");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> goverse::Result<()> {
    let node = Node::builder().start().await?;
    assert!(node.object::<Quiet>("q").started().await?);
    assert_eq!(node.object::<Loud>("l").name().await?, "l");
    let error = node.object::<Loud>("bad").name().await.unwrap_err();
    assert_eq!(error.code(), Some("refused"));
    assert_eq!(node.object::<Tail>("t").ping().await?, 1);
    assert_eq!(
        events(),
        ["quiet: activate", "loud l: activate"],
        "a refused activation records nothing"
    );

    node.shutdown().await?;
    let mut after = events();
    after.sort();
    assert_eq!(
        after,
        [
            "loud l: activate",
            "loud l: deactivate as l",
            "quiet: activate",
            "quiet: deactivate",
            "tail: deactivate",
        ]
    );
    Ok(())
}
