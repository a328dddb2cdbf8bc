//! The async pool against an in-memory service that can be stopped and
//! restarted, on tokio's paused clock: healing after a restart with dials
//! on the backoff schedule, scaling out under load and back in when idle,
//! GoAway, the retry helper's delivery rule, slow sessions found by
//! their pings, and opens moving off a stopped endpoint and back. Every wait is protocol
//! time, so minutes pass at once and nothing depends on real time.

mod common;

use common::delay_copy;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use muxplex::{Delivery, ResetBy};
use muxplex_tokio::{
    Config, Connection, Error, Pool, PoolConfig, PoolOptions, Role, SessionInfo, Stream,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

/// What the service does with the streams of one connection.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    /// Echoes every stream.
    Echo,
    /// Never accepts, with no backlog: every stream is refused with an RST
    /// before the peer's application sees it.
    Refuse,
    /// Accepts, answers one byte, then resets: delivered, then failed.
    AcceptThenReset,
    /// Echoes after 5 s; GoAway(0) reaches the client right after the
    /// first stream's ACK, as from a server that starts draining.
    GoAwayAfterFirst,
    /// Echoes over a link whose bytes take this long each way.
    Delayed(Duration),
}

#[derive(Default)]
struct ServiceState {
    up: bool,
    /// Behaviour of the n-th connection; the last one repeats.
    behaviours: Vec<Behaviour>,
    accepted: usize,
    /// When each dial reached the service, up or not.
    dials: Vec<Instant>,
    /// The tasks of live connections, aborted by `stop`.
    tasks: Vec<JoinHandle<()>>,
}

/// A service reachable in memory. Stopping it drops every connection (the
/// client sees its transport end) and refuses dials until it restarts.
#[derive(Clone, Default)]
struct Service(Arc<Mutex<ServiceState>>);

impl Service {
    fn new(behaviours: &[Behaviour]) -> Self {
        let service = Service::default();
        {
            let mut state = service.0.lock().unwrap();
            state.up = true;
            state.behaviours = behaviours.to_vec();
        }
        service
    }

    fn connector(
        &self,
    ) -> impl Fn() -> std::future::Ready<io::Result<tokio::io::DuplexStream>> + Send + Sync + 'static
    {
        let service = self.clone();
        move || std::future::ready(service.dial())
    }

    fn dial(&self) -> io::Result<tokio::io::DuplexStream> {
        let mut state = self.0.lock().unwrap();
        state.dials.push(Instant::now());
        if !state.up {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let n = state.accepted.min(state.behaviours.len() - 1);
        let behaviour = state.behaviours[n];
        state.accepted += 1;
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        if behaviour == Behaviour::GoAwayAfterFirst {
            // muxplex itself sends GoAway only at the end of a close, so a
            // relay slips one in, as a draining yamux server sends it.
            let (relayed, server) = tokio::io::duplex(1 << 20);
            state
                .tasks
                .push(tokio::spawn(relay_with_goaway(theirs, relayed)));
            state.tasks.push(tokio::spawn(serve(server, behaviour)));
        } else if let Behaviour::Delayed(delay) = behaviour {
            let (relayed, server) = tokio::io::duplex(1 << 20);
            let (client_read, client_write) = tokio::io::split(theirs);
            let (server_read, server_write) = tokio::io::split(relayed);
            state
                .tasks
                .push(tokio::spawn(delay_copy(client_read, server_write, delay)));
            state
                .tasks
                .push(tokio::spawn(delay_copy(server_read, client_write, delay)));
            state.tasks.push(tokio::spawn(serve(server, behaviour)));
        } else {
            state.tasks.push(tokio::spawn(serve(theirs, behaviour)));
        }
        Ok(ours)
    }

    fn stop(&self) {
        let mut state = self.0.lock().unwrap();
        state.up = false;
        for task in state.tasks.drain(..) {
            task.abort();
        }
    }

    fn start(&self) {
        self.0.lock().unwrap().up = true;
    }

    fn dials(&self) -> Vec<Instant> {
        self.0.lock().unwrap().dials.clone()
    }
}

/// One server connection, owning its driver so that aborting this task
/// drops the transport.
async fn serve(io: tokio::io::DuplexStream, behaviour: Behaviour) {
    let config = match behaviour {
        Behaviour::Refuse => Config::default().with_accept_backlog(0),
        _ => Config::default(),
    };
    let (server, driver) = Connection::new(io, Role::Server, config);
    let accepting = async move {
        while let Ok(stream) = server.accept_stream().await {
            match behaviour {
                Behaviour::Echo | Behaviour::Refuse | Behaviour::Delayed(_) => {
                    tokio::spawn(echo(stream, Duration::ZERO));
                }
                Behaviour::GoAwayAfterFirst => {
                    tokio::spawn(echo(stream, Duration::from_secs(5)));
                }
                Behaviour::AcceptThenReset => {
                    let mut stream = stream;
                    let _ = stream.write_all(b"!").await;
                    sleep(Duration::from_millis(10)).await;
                    stream.reset(7);
                }
            }
        }
    };
    // The driver's end shows on the client side; the test judges that.
    let (_, ()) = tokio::join!(driver, accepting);
}

/// GoAway(0): type 3, no flags, stream 0, code 0.
const GO_AWAY: [u8; 12] = [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// Passes frames between `client` and `server`, adding a GoAway after the
/// server's first frame that acknowledges a stream.
async fn relay_with_goaway(client: tokio::io::DuplexStream, server: tokio::io::DuplexStream) {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let downstream = async {
        let mut injected = false;
        let mut header = [0u8; 12];
        while server_read.read_exact(&mut header).await.is_ok() {
            // Only Data frames (type 0) carry a payload of `length` bytes.
            let length = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
            let mut payload = vec![0; if header[1] == 0 { length } else { 0 }];
            if server_read.read_exact(&mut payload).await.is_err() {
                break;
            }
            let ack = u16::from_be_bytes([header[2], header[3]]) & 0x2 != 0;
            let mut out = [&header[..], &payload].concat();
            if ack && !injected {
                injected = true;
                out.extend_from_slice(&GO_AWAY);
            }
            if client_write.write_all(&out).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

async fn echo(mut stream: Stream, delay: Duration) -> io::Result<()> {
    let mut request = Vec::new();
    stream.read_to_end(&mut request).await?;
    sleep(delay).await;
    stream.write_all(&request).await?;
    stream.shutdown().await
}

/// One request on a pooled stream: send, finish, read the answer.
async fn request(mut stream: Stream, body: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

fn no_jitter() -> PoolConfig {
    PoolConfig::default().with_backoff_jitter(0.0).with_seed(1)
}

/// Milliseconds from `start` to each instant.
fn millis_since(start: Instant, times: &[Instant]) -> Vec<u128> {
    times.iter().map(|t| (*t - start).as_millis()).collect()
}

/// Waits (on the paused clock) until `done` holds, checking every 10 ms.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(start_paused = true)]
async fn heals_after_a_restart_with_dials_on_the_backoff_schedule() {
    let start = Instant::now();
    let service = Service::new(&[Behaviour::Echo]);
    let pool = Pool::new(service.connector(), no_jitter().with_min_sessions(2));
    let answer = request(pool.open_stream().await.unwrap(), b"before").await;
    assert_eq!(answer.unwrap(), b"before");
    assert_eq!(pool.stats().live, 2);

    // Up long enough to prove healthy, then the service dies.
    sleep(Duration::from_secs(30)).await;
    service.stop();
    until("both sessions lost", || pool.stats().backing_off == 2).await;
    assert_eq!(pool.stats().failures, 2);

    // An open made during the outage waits for the service to come back.
    sleep(Duration::from_secs(2)).await;
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { request(pool.open_stream().await?, b"waited").await })
    };
    sleep(Duration::from_secs(4)).await;
    assert!(
        !waiting.is_finished(),
        "no session while the service is down"
    );
    service.start();
    assert_eq!(waiting.await.unwrap().unwrap(), b"waited");

    // Each slot: dialed at 0; lost at 30 s; redialed after 1, 1.6, 2.56
    // (refused at 31, 32.6, 35.16) and 4.096 s (39.256, served).
    let schedule = [
        0,
        30_000 + 1_000,
        31_000 + 1_600,
        32_600 + 2_560,
        35_160 + 4_096,
    ];
    let dials = millis_since(start, &service.dials());
    assert_eq!(dials.len(), 2 * schedule.len(), "dials at {dials:?}");
    for (pair, expected) in dials.chunks(2).zip(schedule) {
        for &at in pair {
            assert!(at.abs_diff(expected) <= 2, "dials at {dials:?}");
        }
    }

    // Healed: every stream opened after the restart succeeds.
    until("both sessions back", || pool.stats().live == 2).await;
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let body = format!("request {i}");
                let answer = request(pool.open_stream().await?, body.as_bytes()).await?;
                assert_eq!(answer, body.as_bytes());
                io::Result::Ok(())
            })
        })
        .collect();
    for request in requests {
        request.await.unwrap().expect("a request after the restart");
    }
    assert_eq!(
        pool.stats().failures,
        8,
        "per slot, the loss and 3 refused dials"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_waits_at_most_the_open_timeout() {
    let service = Service::new(&[Behaviour::Echo]);
    service.stop();
    let options = PoolOptions::from(no_jitter()).with_open_timeout(Duration::from_secs(3));
    let pool = Pool::new(service.connector(), options);
    let before = Instant::now();
    let error = pool.open_stream().await.unwrap_err();
    assert_eq!(error, Error::PoolTimeout);
    assert_eq!(error.delivery(), Some(Delivery::NotDelivered));
    assert_eq!(before.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_pool_that_gave_up_fails_opens_at_once_until_resumed() {
    let service = Service::new(&[Behaviour::Echo]);
    service.stop();
    let config = no_jitter().with_max_attempts(Some(2));
    let pool = Pool::new(service.connector(), config);
    let before = Instant::now();
    // Refused at 0 and after 1 s; then the pool gives up.
    assert_eq!(pool.open_stream().await.unwrap_err(), Error::PoolGaveUp);
    assert_eq!(before.elapsed(), Duration::from_secs(1));
    assert!(pool.stats().gave_up);

    service.start();
    pool.resume();
    let answer = request(pool.open_stream().await.unwrap(), b"resumed").await;
    assert_eq!(answer.unwrap(), b"resumed");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_pool_closes_its_sessions_after_their_streams() {
    let service = Service::new(&[Behaviour::Echo]);
    let pool = Pool::new(service.connector(), no_jitter().with_min_sessions(2));
    let held = pool.open_stream().await.unwrap();
    drop(pool);
    sleep(Duration::from_secs(1)).await;
    // The stream still held finishes its request on a closing session.
    assert_eq!(request(held, b"last").await.unwrap(), b"last");
    let ended = || {
        service
            .0
            .lock()
            .unwrap()
            .tasks
            .iter()
            .all(|t| t.is_finished())
    };
    until("every server connection ended", ended).await;
}

#[tokio::test(start_paused = true)]
async fn scales_out_to_max_sessions_under_load_and_back_when_idle() {
    let service = Service::new(&[Behaviour::Echo]);
    let config = no_jitter()
        .with_min_sessions(1)
        .with_max_sessions(3)
        .with_target_streams_per_session(4)
        .with_idle_timeout(Some(Duration::from_secs(60)));
    let pool = Pool::new(service.connector(), config);
    let peak = Arc::new(Mutex::new(0));

    // 40 clients arrive over 4 s, each holding its stream 10 s.
    let clients: Vec<_> = (0..40u64)
        .map(|i| {
            let pool = pool.clone();
            let peak = Arc::clone(&peak);
            tokio::spawn(async move {
                sleep(Duration::from_millis(100 * i)).await;
                let mut stream = pool.open_stream().await?;
                let live = pool.stats().live;
                {
                    let mut peak = peak.lock().unwrap();
                    *peak = (*peak).max(live);
                }
                stream.write_all(b"hold").await?;
                sleep(Duration::from_secs(10)).await;
                stream.shutdown().await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                assert_eq!(answer, b"hold");
                io::Result::Ok(())
            })
        })
        .collect();
    sleep(Duration::from_secs(8)).await;
    let busy = pool.sessions();
    assert_eq!(busy.len(), 3, "scaled out to max_sessions: {busy:?}");
    assert!(busy.iter().all(|s| s.streams > 0), "load spread: {busy:?}");
    assert_eq!(pool.stats().streams, 40);
    for client in clients {
        client.await.unwrap().expect("a client under load");
    }
    assert_eq!(*peak.lock().unwrap(), 3, "never beyond max_sessions");

    // Idle: the extras close after the idle timeout, the minimum stays.
    assert_eq!(pool.stats().live, 3);
    sleep(Duration::from_secs(59)).await;
    assert_eq!(pool.stats().live, 3, "not before the idle timeout");
    sleep(Duration::from_secs(2)).await;
    let stats = pool.stats();
    assert_eq!((stats.live, stats.streams, stats.failures), (1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_is_retried_on_another_session() {
    // The first connection refuses every stream at its accept backlog.
    let service = Service::new(&[Behaviour::Refuse, Behaviour::Echo]);
    let pool = Pool::new(service.connector(), no_jitter().with_min_sessions(2));
    until("both sessions up", || pool.stats().live == 2).await;

    let attempts = Arc::new(Mutex::new(Vec::new()));
    let answer = pool
        .retry(|stream| {
            let attempts = Arc::clone(&attempts);
            async move {
                let slot = stream.pool_slot().unwrap();
                let outcome = request(stream, b"once").await;
                let delivery = outcome.as_ref().err().and_then(|e| {
                    let inner = e.get_ref()?.downcast_ref::<Error>()?;
                    inner.delivery()
                });
                attempts.lock().unwrap().push((slot.index(), delivery));
                outcome
            }
        })
        .await
        .expect("served on the other session");
    assert_eq!(answer, b"once");
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts, [(0, Some(Delivery::NotDelivered)), (1, None)]);
}

#[tokio::test(start_paused = true)]
async fn a_delivered_failure_is_not_retried() {
    let service = Service::new(&[Behaviour::AcceptThenReset]);
    let pool = Pool::new(service.connector(), no_jitter().with_min_sessions(2));
    let attempts = Arc::new(Mutex::new(0));
    let error = pool
        .retry(|mut stream| {
            *attempts.lock().unwrap() += 1;
            async move {
                stream.write_all(b"charge the card").await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                io::Result::Ok(answer)
            }
        })
        .await
        .unwrap_err();
    let inner = error.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(
        matches!(
            inner,
            Some(Error::Reset {
                by: ResetBy::Peer { code: 7 },
                delivery: Delivery::Delivered
            })
        ),
        "{error:?}"
    );
    assert_eq!(*attempts.lock().unwrap(), 1, "may have been delivered");
}

#[tokio::test(start_paused = true)]
async fn after_goaway_streams_go_to_a_replacement_and_the_old_session_drains() {
    let service = Service::new(&[Behaviour::GoAwayAfterFirst, Behaviour::Echo]);
    let pool = Pool::new(service.connector(), no_jitter().with_max_sessions(2));
    let first = pool.open_stream().await.unwrap();
    assert_eq!(first.pool_slot().unwrap().index(), 0);
    let slow = tokio::spawn(request(first, b"slow"));
    // The service has the stream and answered with GoAway.
    sleep(Duration::from_secs(1)).await;

    let second = pool.open_stream().await.unwrap();
    assert_eq!(
        second.pool_slot().unwrap().index(),
        1,
        "not the draining one"
    );
    let stats = pool.stats();
    assert_eq!((stats.draining, stats.live, stats.failures), (1, 1, 0));
    assert_eq!(request(second, b"fresh").await.unwrap(), b"fresh");

    // The stream in flight finishes; then the drained session goes.
    assert_eq!(slow.await.unwrap().unwrap(), b"slow");
    until("drained", || pool.stats().draining == 0).await;
    let stats = pool.stats();
    assert_eq!((stats.live, stats.dials, stats.failures), (1, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_goaway_is_acted_on_before_any_open_runs_into_it() {
    let service = Service::new(&[Behaviour::GoAwayAfterFirst, Behaviour::Echo]);
    let pool = Pool::new(service.connector(), no_jitter().with_max_sessions(2));
    let first = pool.open_stream().await.unwrap();
    let slow = tokio::spawn(request(first, b"slow"));
    // No open follows: the session's watcher alone must see the GoAway,
    // drain the session and dial its replacement.
    until("replaced without an open", || {
        let stats = pool.stats();
        stats.draining == 1 && stats.live == 1
    })
    .await;
    assert_eq!(pool.stats().dials, 2);
    assert_eq!(slow.await.unwrap().unwrap(), b"slow");
    until("drained", || pool.stats().draining == 0).await;
}

#[tokio::test(start_paused = true)]
async fn a_session_found_slow_by_its_pings_is_no_longer_picked() {
    // One connection's bytes take 50 ms each way, the other's 1 ms.
    let service = Service::new(&[
        Behaviour::Delayed(Duration::from_millis(50)),
        Behaviour::Delayed(Duration::from_millis(1)),
    ]);
    let config = no_jitter()
        .with_min_sessions(2)
        .with_ping_interval(Some(Duration::from_secs(1)));
    let pool = Pool::new(service.connector(), config);
    until("both sessions up", || pool.stats().live == 2).await;

    // Unmeasured, the two are alike: least-loaded spreads the streams.
    let first = pool.open_stream().await.unwrap();
    let second = pool.open_stream().await.unwrap();
    assert_ne!(first.pool_slot(), second.pool_slot());
    drop((first, second));

    until("one session found slow", || {
        pool.sessions().iter().any(|s| s.slow)
    })
    .await;
    let sessions = pool.sessions();
    let (slow, fast): (Vec<&SessionInfo>, Vec<_>) = sessions.iter().partition(|s| s.slow);
    assert_eq!((slow.len(), fast.len()), (1, 1), "{sessions:?}");
    let (slow, fast) = (slow[0], fast[0]);
    let slow_rtt = slow.smoothed_rtt.expect("measured");
    let fast_rtt = fast.smoothed_rtt.expect("measured");
    assert!(slow_rtt >= Duration::from_millis(100), "{sessions:?}");
    assert!(fast_rtt < Duration::from_millis(10), "{sessions:?}");
    let stats = pool.stats();
    assert_eq!((stats.live, stats.failures), (2, 0), "slow, not lost");

    // Every new stream goes to the fast session, however loaded it gets.
    let mut held = Vec::new();
    for _ in 0..10 {
        let stream = pool.open_stream().await.unwrap();
        assert_eq!(stream.pool_slot(), Some(fast.slot), "{:?}", pool.sessions());
        held.push(stream);
    }
    let answer = request(held.pop().unwrap(), b"fast").await.unwrap();
    assert_eq!(answer, b"fast");
    // Still measured, still slow.
    sleep(Duration::from_secs(10)).await;
    let slow_now = pool.sessions().into_iter().find(|s| s.slot == slow.slot);
    assert!(slow_now.is_some_and(|s| s.slow), "{:?}", pool.sessions());
}

#[tokio::test(start_paused = true)]
async fn opens_move_off_a_stopped_endpoint_and_back_after_it_restarts() {
    let services: Arc<[Service; 3]> =
        Arc::new(std::array::from_fn(|_| Service::new(&[Behaviour::Echo])));
    let dialer = Arc::clone(&services);
    let config = no_jitter().with_min_sessions(3).with_max_sessions(3);
    let pool = Pool::with_endpoints(
        [(0usize, 1), (1, 1), (2, 1)],
        move |&endpoint: &usize| std::future::ready(dialer[endpoint].dial()),
        config,
    );
    let live = |pool: &Pool| -> Vec<usize> { pool.endpoints().iter().map(|e| e.live).collect() };
    until("one session per endpoint", || live(&pool) == [1, 1, 1]).await;
    let endpoint_of = |pool: &Pool, stream: &Stream| {
        let slot = stream.pool_slot().expect("pooled");
        let info = pool.sessions().into_iter().find(|s| s.slot == slot);
        info.expect("its session").endpoint
    };

    services[0].stop();
    // Its session is lost and redialed at once to the other two; opens go
    // there, and they work.
    until("endpoint 0 left alone", || {
        let endpoints = pool.endpoints();
        endpoints[0].down_until.is_some() && endpoints[0].live == 0 && pool.stats().live == 3
    })
    .await;
    let mut held = Vec::new();
    for i in 0..6 {
        let stream = pool.open_stream().await.unwrap();
        assert_ne!(
            endpoint_of(&pool, &stream),
            0,
            "open {i}: {:?}",
            pool.sessions()
        );
        held.push(stream);
    }
    for stream in held {
        assert_eq!(request(stream, b"away").await.unwrap(), b"away");
    }

    services[0].start();
    // After its backoff a session moves back; opens reach it again.
    until("a session back on endpoint 0", || live(&pool) == [1, 1, 1]).await;
    // Held open, so the least-loaded policy spreads them over all three.
    let mut held = Vec::new();
    let mut reached = [0; 3];
    for _ in 0..6 {
        let stream = pool.open_stream().await.unwrap();
        reached[endpoint_of(&pool, &stream)] += 1;
        held.push(stream);
    }
    assert_eq!(reached, [2; 3], "{:?}", pool.sessions());
    for stream in held {
        assert_eq!(request(stream, b"back").await.unwrap(), b"back");
    }
    // Its pings or its uptime prove it healthy, which clears its record.
    until("endpoint 0 healthy again", || {
        pool.endpoints()[0].consecutive_failures == 0
    })
    .await;
}
