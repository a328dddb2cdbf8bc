//! A session, client or server, fed arbitrary bytes from its peer in
//! arbitrary pieces while its application reads, writes and opens: it must
//! never panic or hang, keep received data within its budget, and either
//! stay open or close with a typed reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muxplex::{Config, Event, Instant, Session, StreamId};

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let config = Config::default()
        .with_max_session_buffer(1 << 20)
        .with_max_streams(64)
        .with_accept_backlog(8);
    let mut now = Instant::ZERO;
    let mut session = match control & 1 {
        0 => Session::client(config, now).expect("valid config"),
        _ => Session::server(config, now).expect("valid config"),
    };
    let piece = usize::from(control >> 1).max(1);
    let mut out = [0u8; 4096];
    let mut scratch = [0u8; 1500];
    let mut closes = 0;
    for (round, chunk) in input.chunks(piece).enumerate() {
        now += core::time::Duration::from_millis(7);
        session.handle_input(now, chunk);
        if round % 3 == 0 {
            session.handle_timeout(now);
            if let Ok(id) = session.open_stream(now) {
                let _ = session.stream(id).map(|mut s| s.write(chunk));
            }
        }
        while let Some(id) = session.accept_stream() {
            let _ = session.stream(id).map(|mut s| s.write(b"hello"));
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::Readable(id) | Event::Writable(id) => {
                    read_some(&mut session, id, &mut scratch)
                }
                Event::Closed(_) => closes += 1,
                _ => {}
            }
        }
        while session.poll_transmit(&mut out) > 0 {}
        assert!(session.buffered_bytes() <= 1 << 20);
    }
    session.handle_eof(now);
    while let Some(event) = session.poll_event() {
        if let Event::Closed(_) = event {
            closes += 1;
        }
    }
    assert_eq!(closes, 1, "every session ends exactly once");
});

fn read_some(session: &mut Session, id: StreamId, scratch: &mut [u8]) {
    if let Ok(mut stream) = session.stream(id) {
        while let Ok(n) = stream.read(scratch) {
            if n == 0 {
                break;
            }
        }
    }
}
