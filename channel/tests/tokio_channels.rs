//! Channels end to end over muxplex-tokio and an in-memory duplex:
//! pairing, handshakes, refusals, the preamble deadline, early writes,
//! lifecycle, and plain streams beside channels.

use std::task::{Context, Poll, Waker};
use std::time::Duration;

use muxplex::ResetBy;
use muxplex_channel::preamble::{Answer, AnswerDecoder, Limits, Open, RejectCode};
use muxplex_channel::tokio::{channels, connect};
use muxplex_channel::{ChannelConfig, ChannelError, ChannelState, Channels, connect_with};
use muxplex_tokio::{Config, Connection, Error, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pair() -> (Connection, Connection) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let client = Connection::spawn(a, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());
    (client, server)
}

fn rejected_code(error: ChannelError) -> RejectCode {
    match error {
        ChannelError::Rejected(reject) => reject.code,
        other => panic!("expected a reject, got {other:?}"),
    }
}

/// Reads a raw stream's answer, as a peer without this crate would.
async fn read_answer(stream: &mut muxplex_tokio::Stream) -> Answer {
    let mut decoder = AnswerDecoder::new(Limits::default());
    loop {
        let mut buf = vec![0; decoder.needed()];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream ended before the answer");
        if let Some(answer) = decoder.decode(&mut &buf[..n]).unwrap() {
            return answer;
        }
    }
}

#[tokio::test]
async fn connect_and_listen_pair_by_protocol_and_id_with_handshakes() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let room_a = table.listen("chat", Some(b"a")).unwrap();
    let any_room = table.listen("chat", None).unwrap();

    let mut to_b = connect(&client, "chat", b"b", b"I want b").await.unwrap();
    let mut to_a = connect(&client, "chat", b"a", b"I want a").await.unwrap();
    assert_eq!(to_a.state(), ChannelState::Opening);
    assert!(!to_a.is_connected());

    let request = room_a.accept().await.unwrap();
    assert_eq!(request.open().id, b"a");
    assert_eq!(request.open().handshake, b"I want a");
    let mut at_a = request.accept(b"this is a").await.unwrap();
    let request = any_room.accept().await.unwrap();
    assert_eq!(request.open().id, b"b");
    let mut at_b = request.accept(b"").await.unwrap();
    assert_eq!(at_b.remote_handshake(), b"I want b");

    assert_eq!(to_a.remote_open().await.unwrap(), b"this is a");
    assert_eq!(to_b.remote_open().await.unwrap(), b"");
    assert!(to_a.is_connected());
    assert_eq!(to_a.state(), ChannelState::Open);

    to_a.write_all(b"to a").await.unwrap();
    to_b.write_all(b"to b").await.unwrap();
    let mut buf = [0; 4];
    at_a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"to a");
    at_b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"to b");
    at_a.write_all(b"back").await.unwrap();
    to_a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"back");
    assert_eq!((to_a.protocol(), to_a.id()), ("chat", &b"a"[..]));
}

#[tokio::test]
async fn a_listener_rejects_with_its_reason() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("admin", None).unwrap();
    tokio::spawn(async move {
        let request = listener.accept().await.unwrap();
        let code = RejectCode(RejectCode::APPLICATION.0 + 3);
        request.reject(code, "wrong password").await.unwrap();
    });
    let mut channel = connect(&client, "admin", b"", b"hunter2").await.unwrap();
    channel.write_all(b"never delivered").await.unwrap();
    match channel.remote_open().await {
        Err(ChannelError::Rejected(reject)) => {
            assert_eq!(reject.code, RejectCode(0x103));
            assert_eq!(reject.reason, "wrong password");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        channel.state(),
        ChannelState::Closed(ChannelError::Rejected(_))
    ));
    // Through the I/O traits, a refusal is ConnectionRefused.
    let error = channel.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn unclaimed_channels_are_refused_to_the_opener() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let _other = table.listen("chat", Some(b"x")).unwrap();
    let mut channel = connect(&client, "chat", b"y", b"").await.unwrap();
    match channel.remote_open().await {
        Err(ChannelError::Rejected(reject)) => {
            assert_eq!(reject.code, RejectCode::NO_LISTENER);
            assert!(reject.reason.contains("\"chat\""), "{}", reject.reason);
        }
        other => panic!("{other:?}"),
    }
    let mut channel = connect(&client, "mail", b"", b"").await.unwrap();
    let code = rejected_code(channel.remote_open().await.unwrap_err());
    assert_eq!(code, RejectCode::NO_LISTENER);
}

#[tokio::test(start_paused = true)]
async fn a_preamble_that_never_completes_is_refused_after_the_deadline() {
    let (client, server) = pair();
    let mut config = ChannelConfig::default();
    config.router.preamble_timeout = Duration::from_secs(3);
    let table = channels(&server, config);
    let _listener = table.listen("p", None).unwrap();

    let mut raw = client.open_stream().await.unwrap();
    raw.write_all(b"mxch\x01\x01").await.unwrap();
    // The paused clock runs on to the deadline while everything waits;
    // the guard (virtual time too) turns a missing refusal into a failure
    // rather than a hang.
    let answer = tokio::time::timeout(Duration::from_secs(60), read_answer(&mut raw)).await;
    match answer.expect("no answer within a minute") {
        Answer::Reject(reject) => assert_eq!(reject.code, RejectCode::TIMEOUT),
        other => panic!("{other:?}"),
    }
    // Then the router ends the stream.
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_preamble_of_another_version_is_refused() {
    let (client, server) = pair();
    let _table = channels(&server, ChannelConfig::default());
    let mut raw = client.open_stream().await.unwrap();
    raw.write_all(b"mxch\x02\x01more").await.unwrap();
    match read_answer(&mut raw).await {
        Answer::Reject(reject) => {
            assert_eq!(reject.code, RejectCode::UNSUPPORTED_VERSION);
            assert!(reject.reason.contains("version 2"), "{}", reject.reason);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn early_writes_are_buffered_then_flushed_in_order() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("log", None).unwrap();

    let mut channel = connect(&client, "log", b"", b"").await.unwrap();
    for part in [&b"one "[..], b"two ", b"three "] {
        channel.write_all(part).await.unwrap();
    }
    assert_eq!(channel.state(), ChannelState::Opening);
    let accepting = tokio::spawn(async move {
        let mut channel = listener.accept().await.unwrap().accept(b"").await.unwrap();
        let mut got = String::new();
        channel.read_to_string(&mut got).await.unwrap();
        got
    });
    // Flushing waits for the answer and puts the early bytes first.
    channel.flush().await.unwrap();
    channel.write_all(b"four").await.unwrap();
    channel.shutdown().await.unwrap();
    assert_eq!(accepting.await.unwrap(), "one two three four");
}

#[tokio::test]
async fn the_early_buffer_is_bounded() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("log", None).unwrap();
    let mut config = ChannelConfig::default();
    config.max_early = 4;
    let open = Open::new("log", b"", b"");
    let mut channel = connect_with(client.as_async(), open, &config)
        .await
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    // Four bytes fit; then the writer waits for the answer.
    assert!(matches!(
        channel.poll_write(&mut cx, b"abcdef"),
        Poll::Ready(Ok(4))
    ));
    assert!(channel.poll_write(&mut cx, b"ef").is_pending());
    let accepting = tokio::spawn(async move {
        let mut channel = listener.accept().await.unwrap().accept(b"").await.unwrap();
        let mut got = Vec::new();
        channel.read_to_end(&mut got).await.unwrap();
        got
    });
    channel.write_all(b"ef").await.unwrap();
    channel.shutdown().await.unwrap();
    assert_eq!(accepting.await.unwrap(), b"abcdef");
}

#[tokio::test]
async fn close_and_destroy_are_seen_by_the_peer() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", None).unwrap();

    let mut closing = connect(&client, "p", b"1", b"").await.unwrap();
    let mut destroyed = connect(&client, "p", b"2", b"").await.unwrap();
    let mut first = listener.accept().await.unwrap().accept(b"").await.unwrap();
    let mut second = listener.accept().await.unwrap().accept(b"").await.unwrap();
    if first.id() == b"2" {
        std::mem::swap(&mut first, &mut second);
    }
    closing.remote_open().await.unwrap();
    destroyed.remote_open().await.unwrap();

    // Close: the peer reads the end, and may still write back.
    closing.shutdown().await.unwrap();
    assert_eq!(first.read(&mut [0; 8]).await.unwrap(), 0);
    assert_eq!(first.state(), ChannelState::RemoteClosed);
    first.write_all(b"bye").await.unwrap();
    let mut buf = [0; 3];
    closing.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"bye");

    // Destroy: a reset with the code, on both sides.
    destroyed.destroy(7);
    assert!(matches!(destroyed.state(), ChannelState::Closed(_)));
    let mut buf = [0; 8];
    let error = std::future::poll_fn(|cx| second.poll_read(cx, &mut buf))
        .await
        .unwrap_err();
    match error {
        ChannelError::Stream(Error::Reset {
            by: ResetBy::Peer { code },
            ..
        }) => assert_eq!(code, 7),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        second.state(),
        ChannelState::Closed(ChannelError::Stream(_))
    ));
}

#[tokio::test]
async fn backlogs_are_bounded_and_a_closed_listener_refuses_its_backlog() {
    let (client, server) = pair();
    let mut config = ChannelConfig::default();
    config.backlog = 1;
    let table = channels(&server, config);
    let listener = table.listen("p", None).unwrap();
    let mut one = connect(&client, "p", b"1", b"").await.unwrap();
    let mut two = connect(&client, "p", b"2", b"").await.unwrap();
    // One of them fills the backlog, the other is refused, depending on
    // the order the router read them in; the refused one hears first (an
    // empty read waits for the answer only).
    let (first, result) = std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = one.poll_read(cx, &mut []) {
            return Poll::Ready((true, result));
        }
        two.poll_read(cx, &mut []).map(|result| (false, result))
    })
    .await;
    let (_refused, mut queued) = if first { (one, two) } else { (two, one) };
    assert_eq!(rejected_code(result.unwrap_err()), RejectCode::BACKLOG_FULL);
    assert_eq!(queued.state(), ChannelState::Opening);
    drop(listener);
    let code = rejected_code(queued.remote_open().await.unwrap_err());
    assert_eq!(code, RejectCode::LISTENER_CLOSED);
}

#[tokio::test]
async fn plain_streams_work_beside_channels() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", None).unwrap();
    let mut channel = connect(&client, "p", b"", b"").await.unwrap();
    let mut accepted = listener.accept().await.unwrap().accept(b"").await.unwrap();

    // The peer opens a plain stream: it reaches `accept_plain` whole.
    let mut plain = client.open_stream().await.unwrap();
    plain.write_all(b"GET /index").await.unwrap();
    plain.shutdown().await.unwrap();
    let got = table.accept_plain().await.unwrap();
    let mut rest = Vec::new();
    muxplex_tokio::Stream::from(got.stream)
        .read_to_end(&mut rest)
        .await
        .unwrap();
    assert_eq!([&got.prefix[..], &rest[..]].concat(), b"GET /index");

    // This end opens a plain stream: the peer accepts it as usual.
    let echo = tokio::spawn(async move {
        let mut stream = client.accept_stream().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        stream.write_all(&got).await.unwrap();
        stream.shutdown().await.unwrap();
        client
    });
    let mut stream = server.open_stream().await.unwrap();
    stream.write_all(b"plain").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"plain");
    let _client = echo.await.unwrap();

    // The channel carried on meanwhile.
    channel.write_all(b"still here").await.unwrap();
    let mut buf = [0; 10];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
}

#[tokio::test]
async fn listening_twice_and_accepting_after_the_end_fail() {
    let (client, server) = pair();
    let table: Channels = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", Some(b"x")).unwrap();
    assert!(table.listen("p", Some(b"x")).is_err());
    client.close().await.unwrap();
    assert!(matches!(
        listener.accept().await,
        Err(ChannelError::Stream(_))
    ));
    assert!(table.accept_plain().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn several_tasks_may_accept_on_one_listener() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = std::sync::Arc::new(table.listen("p", None).unwrap());
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let listener = std::sync::Arc::clone(&listener);
            tokio::spawn(async move {
                let request = listener.accept().await.unwrap();
                request.open().id.clone()
            })
        })
        .collect();
    // Both tasks wait in `accept` before any channel comes.
    settle().await;
    let _one = connect(&client, "p", b"1", b"").await.unwrap();
    let _two = connect(&client, "p", b"2", b"").await.unwrap();
    let mut ids = Vec::new();
    for task in tasks {
        // Virtual time: a task left waiting fails here instead of hanging.
        let id = tokio::time::timeout(Duration::from_secs(60), task).await;
        ids.push(id.expect("every accepting task gets a channel").unwrap());
    }
    ids.sort();
    assert_eq!(ids, [b"1".to_vec(), b"2".to_vec()]);
}

#[tokio::test(start_paused = true)]
async fn stalled_preambles_hold_at_most_max_pending_streams() {
    let (client, server) = pair();
    let mut config = ChannelConfig::default();
    config.router.max_pending = 2;
    config.router.preamble_timeout = Duration::from_secs(5);
    let table = channels(&server, config);
    let listener = table.listen("p", None).unwrap();
    let start = tokio::time::Instant::now();

    // Two streams stall in their preamble and fill the router...
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut raw = client.open_stream().await.unwrap();
        raw.write_all(b"mxch").await.unwrap();
        stalled.push(raw);
    }
    settle().await;
    // ...so a complete channel behind them waits in the session's accept
    // queue until the deadline frees their places.
    let _channel = connect(&client, "p", b"late", b"").await.unwrap();
    let request = tokio::time::timeout(Duration::from_secs(60), listener.accept())
        .await
        .expect("routed once the stalled streams are refused")
        .unwrap();
    assert_eq!(request.open().id, b"late");
    assert!(tokio::time::Instant::now() >= start + Duration::from_secs(5));
    for raw in &mut stalled {
        match read_answer(raw).await {
            Answer::Reject(reject) => assert_eq!(reject.code, RejectCode::TIMEOUT),
            other => panic!("{other:?}"),
        }
    }
}

/// Lets the other tasks (drivers, the routing task) run until they wait.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// A virtual-time guard: a future that never finishes fails the test
/// instead of hanging it.
async fn within_a_minute<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("still waiting after a minute")
}

#[tokio::test(start_paused = true)]
async fn a_dropped_routing_task_fails_waiting_accepts() {
    let (client, server) = pair();
    let (table, routing) = Channels::new(
        server.as_async().clone(),
        muxplex_tokio::TokioTimer::default(),
        ChannelConfig::default(),
    );
    let listener = table.listen("p", None).unwrap();
    let waiting = tokio::spawn(async move { listener.accept().await.map(drop) });
    let plain_table = table.clone();
    let waiting_plain = tokio::spawn(async move { plain_table.accept_plain().await.map(drop) });
    settle().await;
    // Cancelled (a runtime shutting down, a `select!`), the task routes
    // nothing more: waiting accepts fail rather than wait for ever.
    drop(routing);
    let result = within_a_minute(waiting).await.unwrap();
    assert_eq!(result.unwrap_err(), ChannelError::RoutingGone);
    let result = within_a_minute(waiting_plain).await.unwrap();
    assert_eq!(result.unwrap_err(), ChannelError::RoutingGone);
    // And a listener made afterwards fails at once.
    let late = table.listen("q", None).unwrap();
    assert_eq!(late.accept().await.unwrap_err(), ChannelError::RoutingGone);
    drop(client);
}

#[tokio::test(start_paused = true)]
async fn a_max_pending_of_zero_still_routes() {
    let (client, server) = pair();
    let mut config = ChannelConfig::default();
    config.router.max_pending = 0;
    let table = channels(&server, config);
    let listener = table.listen("p", None).unwrap();
    let _channel = connect(&client, "p", b"0", b"").await.unwrap();
    let request = within_a_minute(listener.accept()).await.unwrap();
    assert_eq!(request.open().id, b"0");
}

#[tokio::test(start_paused = true)]
async fn plain_streams_that_end_within_the_magic_reach_accept_plain() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    // "mx" could still have been a channel's magic; the end says it is
    // not. So is a stream that ends with no byte at all.
    for sent in [&b"mx"[..], b""] {
        let mut raw = client.open_stream().await.unwrap();
        raw.write_all(sent).await.unwrap();
        raw.shutdown().await.unwrap();
        let plain = within_a_minute(table.accept_plain()).await.unwrap();
        assert_eq!(plain.prefix, sent);
        let mut rest = Vec::new();
        muxplex_tokio::Stream::from(plain.stream)
            .read_to_end(&mut rest)
            .await
            .unwrap();
        assert!(rest.is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_ends_inside_the_open_message_is_refused_as_malformed() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let _listener = table.listen("p", None).unwrap();
    let mut raw = client.open_stream().await.unwrap();
    raw.write_all(b"mxch\x01\x01\x01").await.unwrap();
    raw.shutdown().await.unwrap();
    match within_a_minute(read_answer(&mut raw)).await {
        Answer::Reject(reject) => {
            assert_eq!(reject.code, RejectCode::MALFORMED);
            assert!(reject.reason.contains("ended"), "{}", reject.reason);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_listener_dropped_after_the_routing_task_ended_ends_its_backlog() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", None).unwrap();
    let mut queued = connect(&client, "p", b"", b"").await.unwrap();
    settle().await;
    // A graceful close ends the routing task while the channel waits in
    // the backlog; the session lets open streams finish meanwhile.
    let closing = tokio::spawn(async move { server.close().await });
    settle().await;
    drop(listener);
    // Nobody is left to write a refusal: the stream ends, and the opener
    // hears so before the session's close timeout resets everything.
    let close_timeout = Config::default().close_timeout;
    let answer = tokio::time::timeout(close_timeout / 2, queued.remote_open()).await;
    assert_eq!(
        answer
            .expect("answered before the close timeout")
            .unwrap_err(),
        ChannelError::Unanswered
    );
    drop((closing, table));
}

#[tokio::test(start_paused = true)]
async fn reading_does_not_wait_for_early_writes_to_flush() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("bulk", None).unwrap();
    // Early writes larger than a stream's window: their flush needs the
    // peer to read.
    let mut config = ChannelConfig::default();
    config.max_early = 1 << 20;
    let request = vec![1; 1 << 20];
    let open = Open::new("bulk", b"", b"");
    let mut channel = connect_with(client.as_async(), open, &config)
        .await
        .unwrap();
    channel.write_all(&request).await.unwrap();
    // The peer answers in bulk before it reads the request, as a server
    // may; its writes need this end to read.
    let response = vec![2; 1 << 20];
    let expected = response.clone();
    let peer = tokio::spawn(async move {
        let mut channel = listener.accept().await.unwrap().accept(b"").await.unwrap();
        channel.write_all(&response).await.unwrap();
        let mut got = vec![0; 1 << 20];
        channel.read_exact(&mut got).await.unwrap();
        got
    });
    let mut got = vec![0; 1 << 20];
    within_a_minute(channel.read_exact(&mut got)).await.unwrap();
    assert!(got == expected);
    within_a_minute(channel.flush()).await.unwrap();
    assert!(within_a_minute(peer).await.unwrap() == request);
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_unanswered_ends_the_opener_s_wait() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", None).unwrap();
    let mut channel = connect(&client, "p", b"", b"").await.unwrap();
    drop(within_a_minute(listener.accept()).await.unwrap());
    let error = within_a_minute(channel.remote_open()).await.unwrap_err();
    assert_eq!(error, ChannelError::Unanswered);
}

#[tokio::test(start_paused = true)]
async fn an_endless_preamble_timeout_is_no_deadline() {
    let (client, server) = pair();
    let mut config = ChannelConfig::default();
    config.router.preamble_timeout = Duration::MAX;
    let table = channels(&server, config);
    let listener = table.listen("p", None).unwrap();
    let mut raw = client.open_stream().await.unwrap();
    raw.write_all(b"mxch").await.unwrap();
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    // Still pending, then completed a day later.
    let rest = Open::new("p", b"late", b"")
        .encode(&Limits::default())
        .unwrap();
    raw.write_all(&rest[4..]).await.unwrap();
    let request = within_a_minute(listener.accept()).await.unwrap();
    assert_eq!(request.open().id, b"late");
}

/// A connection through a relay whose server-to-client direction the test
/// holds while the sender says `false`, so that the server's writes back
/// up into its session's send buffer.
fn held_pair(server_config: Config) -> (Connection, Connection, tokio::sync::watch::Sender<bool>) {
    let (client_io, client_relay) = tokio::io::duplex(64 * 1024);
    let (server_relay, server_io) = tokio::io::duplex(1024);
    let (mut to_server_read, mut to_client_write) = tokio::io::split(client_relay);
    let (mut from_server_read, mut to_server_write) = tokio::io::split(server_relay);
    let (flowing, mut flows) = tokio::sync::watch::channel(true);
    tokio::spawn(async move { tokio::io::copy(&mut to_server_read, &mut to_server_write).await });
    tokio::spawn(async move {
        let mut buf = [0; 512];
        while flows.wait_for(|flowing| *flowing).await.is_ok() {
            match from_server_read.read(&mut buf).await {
                Ok(n) if n > 0 => to_client_write.write_all(&buf[..n]).await.unwrap(),
                _ => return,
            }
        }
    });
    let client = Connection::spawn(client_io, Role::Client, Config::default());
    let server = Connection::spawn(server_io, Role::Server, server_config);
    (client, server, flowing)
}

#[tokio::test(start_paused = true)]
async fn routing_goes_on_once_refusals_held_by_a_full_send_buffer_are_out() {
    let server_config = Config::default().with_max_send_buffer(4096);
    let (client, server, flowing) = held_pair(server_config);
    let mut config = ChannelConfig::default();
    // One refusal being written stops the routing task taking streams.
    config.router.max_pending = 1;
    let table = channels(&server, config);
    let listener = table.listen("p", None).unwrap();

    // The server fills its send buffer while nothing reaches the client.
    flowing.send(false).unwrap();
    let bulk = server.open_stream().await.unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10 {
        while let Poll::Ready(result) = bulk.as_async().poll_write(&mut cx, &[0; 1024]) {
            result.unwrap();
        }
        tokio::task::yield_now().await;
    }
    // A refusal then waits for room in the send buffer...
    let mut refused = connect(&client, "nobody", b"", b"").await.unwrap();
    settle().await;
    // ...and goes out once the server's data flows again.
    flowing.send(true).unwrap();
    let error = within_a_minute(refused.remote_open()).await.unwrap_err();
    assert_eq!(rejected_code(error), RejectCode::NO_LISTENER);
    // The routing task takes the next stream.
    let _channel = connect(&client, "p", b"next", b"").await.unwrap();
    let request = within_a_minute(listener.accept()).await.unwrap();
    assert_eq!(request.open().id, b"next");
    drop(bulk);
}

#[tokio::test(start_paused = true)]
async fn a_split_channel_wakes_its_reader_and_its_writer() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("p", None).unwrap();
    let channel = connect(&client, "p", b"", b"").await.unwrap();
    // Two tasks, one per half, both waiting on the answer: the stream
    // keeps one waker per direction, and both halves read it for now.
    let (mut reader, mut writer) = tokio::io::split(channel);
    let reading = tokio::spawn(async move {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        got
    });
    settle().await;
    writer.write_all(b"request").await.unwrap();
    let writing = tokio::spawn(async move {
        writer.flush().await.unwrap();
        writer
    });
    settle().await;
    let mut accepted = listener.accept().await.unwrap().accept(b"").await.unwrap();
    accepted.write_all(b"response").await.unwrap();
    accepted.shutdown().await.unwrap();
    let mut request = [0; 7];
    within_a_minute(accepted.read_exact(&mut request))
        .await
        .unwrap();
    assert_eq!(&request, b"request");
    let _writer = within_a_minute(writing).await.unwrap();
    assert_eq!(within_a_minute(reading).await.unwrap(), b"response");
}

#[tokio::test(start_paused = true)]
async fn a_channel_dropped_before_its_answer_still_sends_its_early_writes() {
    let (client, server) = pair();
    let table = channels(&server, ChannelConfig::default());
    let listener = table.listen("log", None).unwrap();
    let mut channel = connect(&client, "log", b"", b"").await.unwrap();
    channel.write_all(b"last words").await.unwrap();
    // As a stream dropped after a write: what was written goes out, then
    // the end.
    drop(channel);
    let request = within_a_minute(listener.accept()).await.unwrap();
    let mut accepted = request.accept(b"").await.unwrap();
    let mut got = Vec::new();
    within_a_minute(accepted.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"last words");
}
