//! The HTTP APIs: GoVerse-compatible `/api/v1`, server-sent events and the JSON API.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::GateCore;
use crate::error::{Error, Result};

/// Serves the HTTP APIs on `address`; returns the bound address and the server task.
pub(super) async fn serve(
    core: Arc<GateCore>,
    address: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let _ = (core, address);
    Err(Error::unavailable("the HTTP gate is being built"))
}
