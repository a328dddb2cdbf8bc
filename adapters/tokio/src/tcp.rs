//! TCP with `TCP_NODELAY` set: the driver already gathers the frames
//! waiting together into one write, so Nagle's algorithm only holds small
//! frames until the peer's delayed ACK (40 ms and more per request).

use std::io;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

use crate::{Config, Connection, Role};

/// Dials `addr`, sets `TCP_NODELAY`, and spawns a client connection over
/// it on the current runtime (see [`Connection::spawn`]).
pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Connection> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let peer = tcp.peer_addr().ok();
    Connection::try_spawn_for(tcp, Role::Client, config, peer)
}

/// Accepts the next TCP connection on `listener`, sets `TCP_NODELAY`, and
/// spawns a server connection over it on the current runtime.
pub async fn accept(listener: &TcpListener, config: Config) -> io::Result<Connection> {
    let (tcp, peer) = listener.accept().await?;
    tcp.set_nodelay(true)?;
    Connection::try_spawn_for(tcp, Role::Server, config, Some(peer))
}
