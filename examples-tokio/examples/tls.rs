//! muxplex under TLS: tokio-rustls (with the `ring` provider) over loopback
//! TCP, and muxplex over the TLS stream, as over any `AsyncRead +
//! AsyncWrite`.
//!
//! A self-signed certificate for `localhost` is made at start with rcgen
//! (nothing is read from disk or the network); the server presents it and
//! the client trusts exactly it. The client opens 24 streams at once, each
//! with a payload of a different size (one empty, one of 2 MiB), and checks
//! every echoed byte. Then it closes gracefully: the session's end shuts
//! the TLS stream down with a close_notify, so the server sees a clean end
//! (the client's GoAway(0), then the end of the TLS stream), which it
//! checks. A wrong echo or an unclean end makes the example exit non-zero.
//!
//! Run with `cargo run -p muxplex-examples --example tls`.

use std::sync::Arc;

use muxplex_examples::check::{
    BoxError, echo_and_close, expect_count, serve_echo, within_time_limit,
};
use muxplex_tokio::{Config, Connection, Role};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const STREAMS: usize = 24;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    within_time_limit(run()).await
}

/// The example; see the top of the file.
async fn run() -> Result<(), BoxError> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    // The provider named, not taken from the process default, so that the
    // example does not depend on which providers the build enabled.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)?;
    let mut roots = RootCertStore::empty();
    roots.add(certificate)?;
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = acceptor.accept(tcp).await?;
        let connection = Connection::try_spawn(tls, Role::Server, Config::default())?;
        serve_echo(connection).await
    });

    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let connector = TlsConnector::from(Arc::new(client_config));
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (_, session) = tls.get_ref();
    println!(
        "client: TLS established ({:?}, {:?})",
        session.protocol_version().ok_or("no protocol version")?,
        session
            .negotiated_cipher_suite()
            .ok_or("no cipher suite")?
            .suite()
    );
    let connection = Connection::try_spawn(tls, Role::Client, Config::default())?;
    echo_and_close(&connection, STREAMS, "over TLS").await?;
    let echoed = server.await??;
    println!("server: echoed {echoed} streams; clean close (GoAway(0), then TLS close_notify)");
    expect_count("streams echoed by the server", echoed, STREAMS)
}
