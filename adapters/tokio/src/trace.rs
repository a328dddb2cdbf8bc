//! The span each connection's driver runs in, under the `tracing`
//! feature: `muxplex{role=Client peer=10.0.0.2:4000}`. The core's protocol
//! logs (its `log` feature, which `tracing` turns on) are emitted while the
//! driver is polled, so a subscriber that takes `log` records (tracing's
//! `log` bridge) files them under the connection's span. Without the
//! feature the driver is spawned as it is.

use std::future::Future;
use std::net::SocketAddr;

use crate::Role;

/// Spawns `driver` on the current runtime, in the connection's span.
#[cfg(feature = "tracing")]
pub(crate) fn spawn_driver<F>(driver: F, role: Role, peer: Option<SocketAddr>)
where
    F: Future<Output = Result<(), crate::Error>> + Send + 'static,
{
    use tracing::Instrument as _;
    let span = tracing::info_span!(
        "muxplex",
        role = ?role,
        peer = peer.map(tracing::field::display),
    );
    tokio::spawn(driver.instrument(span));
}

/// Spawns `driver` on the current runtime.
#[cfg(not(feature = "tracing"))]
pub(crate) fn spawn_driver<F>(driver: F, _role: Role, _peer: Option<SocketAddr>)
where
    F: Future<Output = Result<(), crate::Error>> + Send + 'static,
{
    tokio::spawn(driver);
}
