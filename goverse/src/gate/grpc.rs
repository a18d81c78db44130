//! The GoVerse-compatible gRPC `gate.GateService`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::GateCore;
use crate::error::{Error, Result};

/// Serves `gate.GateService` on `address`; returns the bound address and the server task.
pub(super) async fn serve(
    core: Arc<GateCore>,
    address: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let _ = (core, address);
    Err(Error::unavailable("the gRPC gate is being built"))
}
