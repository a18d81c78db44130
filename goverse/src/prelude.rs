//! The names almost every goverse program needs: `use goverse::prelude::*;`.

pub use crate::{Context, Error, ErrorKind, Node, Object, Proxy, Result, method, object};
