//! An echo server and a client in one process, over loopback TCP.
//!
//! The client opens a few streams at once from several threads, sends a
//! message on each, half-closes, and reads the echo; one stream carries
//! 4 MiB so flow control has to step in. Then the client closes the
//! connection gracefully and the server's accept loop ends.
//!
//! Run with `cargo run -p muxplex-blocking --example blocking_echo`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use muxplex_blocking::{Config, Connection};

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    println!("server listening on {address}");

    let server = thread::spawn(move || -> io::Result<()> {
        let (tcp, peer) = listener.accept()?;
        println!("server: TCP connection from {peer}");
        let connection = Connection::server(tcp, Config::default())?;
        loop {
            let stream = match connection.accept_stream() {
                Ok(stream) => stream,
                Err(e) => {
                    println!("server: no more streams ({e})");
                    return Ok(());
                }
            };
            thread::spawn(move || {
                let id = stream.id();
                // Echo until the client finishes; dropping the stream then
                // finishes our direction.
                match io::copy(&mut &stream, &mut &stream) {
                    Ok(bytes) => println!("server: stream {id} echoed {bytes} bytes"),
                    Err(e) => println!("server: stream {id} failed: {e}"),
                }
            });
        }
    });

    let tcp = TcpStream::connect(address)?;
    let connection = Connection::client(tcp, Config::default())?;
    let messages: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        b"many streams, one connection".to_vec(),
        (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect(),
    ];
    thread::scope(|scope| -> io::Result<()> {
        let clients: Vec<_> = messages
            .iter()
            .map(|message| scope.spawn(|| echo_once(&connection, message)))
            .collect();
        for client in clients {
            client.join().expect("client thread")?;
        }
        Ok(())
    })?;

    let reason = connection.close();
    println!("client: connection closed ({reason})");
    server.join().expect("server thread")
}

/// Sends `message` on a new stream, half-closes and checks the echo.
fn echo_once(connection: &Connection, message: &[u8]) -> io::Result<()> {
    let stream = connection.open_stream()?;
    let id = stream.id();
    let mut reply = Vec::new();
    thread::scope(|scope| {
        // Write from one thread while reading on this one, so a message
        // larger than the window cannot deadlock.
        let writer = scope.spawn(|| -> io::Result<()> {
            (&stream).write_all(message)?;
            stream.finish()
        });
        (&stream).read_to_end(&mut reply)?;
        writer.join().expect("writer thread")
    })?;
    println!(
        "client: stream {id} sent {} bytes, got {} back",
        message.len(),
        reply.len()
    );
    if reply != message {
        return Err(io::Error::other(format!("stream {id}: the echo differs")));
    }
    Ok(())
}
