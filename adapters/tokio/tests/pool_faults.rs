//! The async pool when the caller's code misbehaves or gives up early: a
//! connector that panics, and opens dropped while they wait. On tokio's
//! paused clock, so long timeouts pass at once.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use muxplex_tokio::{Config, Connection, Pool, PoolConfig, PoolOptions, Role};
use tokio::io::DuplexStream;

/// A transport to a server session that stays up as long as the client's.
fn served() -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let server = Connection::spawn(theirs, Role::Server, Config::default());
    tokio::spawn(async move {
        // Its end (and why) is no concern here.
        let _ = server.closed().await;
    });
    ours
}

/// A connect timeout far beyond the open timeout, so only an open that
/// learns of a failed dial at once can succeed.
fn patient_dials() -> PoolOptions {
    let config = PoolConfig::default()
        .with_backoff_jitter(0.0)
        .with_connect_timeout(Duration::from_secs(600));
    PoolOptions::from(config).with_open_timeout(Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn a_connector_future_that_panics_counts_as_a_failed_dial_at_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let connector = move || {
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            assert!(!first, "a connector bug (this panic is expected)");
            io::Result::Ok(served())
        }
    };
    let pool = Pool::new(connector, patient_dials());
    pool.open_stream()
        .await
        .expect("redialed after the backoff, not after the connect timeout");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(pool.stats().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_connector_that_panics_when_called_counts_as_a_failed_dial_at_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let connector = move || {
        assert!(
            counted.fetch_add(1, Ordering::SeqCst) > 0,
            "a connector bug (this panic is expected)"
        );
        std::future::ready(io::Result::Ok(served()))
    };
    let pool = Pool::new(connector, patient_dials());
    pool.open_stream()
        .await
        .expect("redialed after the backoff, not after the connect timeout");
    assert_eq!(pool.stats().failures, 1);
}

/// A waker that counts nothing: what matters is who still holds it.
struct Idle;

impl Wake for Idle {
    fn wake(self: Arc<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn an_open_dropped_while_waiting_leaves_no_waker_behind() {
    // Every dial hangs, so opens wait; each caller gives up on its own.
    let pool = Pool::new(
        std::future::pending::<io::Result<DuplexStream>>,
        PoolConfig::default(),
    );
    let idle = Arc::new(Idle);
    for _ in 0..3 {
        let waker = Waker::from(Arc::clone(&idle));
        let mut cx = Context::from_waker(&waker);
        let mut open = pin!(pool.open_stream());
        assert!(matches!(open.as_mut().poll(&mut cx), Poll::Pending));
    }
    // Had the pool kept the wakers of opens that are gone, a caller whose
    // every request times out during an outage would grow its list (and
    // keep each finished task's memory) until a dial succeeds.
    assert_eq!(Arc::strong_count(&idle), 1, "the pool still holds a waker");
}

/// Counts its drops: a connect attempt the pool abandoned.
struct Abandoned(Arc<AtomicUsize>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn connects_that_never_finish_are_dropped_at_the_connect_timeout() {
    let (started, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (counted, abandoned) = (Arc::clone(&started), Arc::clone(&dropped));
    let connector = move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let guard = Abandoned(Arc::clone(&abandoned));
        async move {
            let _guard = guard;
            std::future::pending::<io::Result<DuplexStream>>().await
        }
    };
    let config = PoolConfig::default()
        .with_backoff_jitter(0.0)
        .with_connect_timeout(Duration::from_secs(5));
    let options = PoolOptions::from(config).with_open_timeout(Duration::from_secs(30));
    let pool = Pool::new(connector, options);
    // Every endpoint is unreachable: the open fails with the documented
    // error once its own timeout passes, it does not hang.
    assert_eq!(
        pool.open_stream().await.unwrap_err(),
        muxplex_tokio::Error::PoolTimeout
    );
    // Each hanging connect was given up and dropped at the connect timeout
    // (one may still be running), and the place was redialed after it.
    let (started, dropped) = (
        started.load(Ordering::SeqCst),
        dropped.load(Ordering::SeqCst),
    );
    assert!(started >= 3, "redialed after each timeout: {started} dials");
    assert!(dropped + 1 >= started, "{dropped} of {started} dropped");
    assert!(pool.stats().failures >= 2);
}

#[tokio::test(start_paused = true)]
async fn timeouts_of_duration_max_mean_wait_as_long_as_it_takes() {
    // "Never time out" spelled as the largest duration: no deadline may
    // overflow the clock (a panic in the open, or in every dial).
    let config = PoolConfig::default().with_connect_timeout(Duration::MAX);
    let options = PoolOptions::from(config).with_open_timeout(Duration::MAX);
    let pool = Pool::new(|| std::future::ready(io::Result::Ok(served())), options);
    pool.open_stream()
        .await
        .expect("a session, however long it takes");
    assert_eq!(pool.stats().failures, 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_pool_abandons_its_dials() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let abandoned = Arc::clone(&dropped);
    let connector = move || {
        let guard = Abandoned(Arc::clone(&abandoned));
        async move {
            let _guard = guard;
            std::future::pending::<io::Result<DuplexStream>>().await
        }
    };
    let config = PoolConfig::default()
        .with_min_sessions(2)
        .with_connect_timeout(Duration::MAX);
    let pool = Pool::new(connector, config);
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(pool);
    // Far less than any timeout: the dials end with the pool, instead of
    // running (and keeping the pool's state) until their connect timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}

/// A pool made in a runtime without tokio's timer cannot keep its open
/// timeout or its sessions' deadlines: it is refused when it is made, as a
/// connection is, rather than leaving its opens waiting on a task that
/// panicked.
#[test]
fn a_pool_in_a_runtime_without_a_timer_is_refused_when_it_is_made() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(async {
            let made = std::panic::catch_unwind(|| {
                Pool::new(
                    || async { Ok(tokio::io::duplex(1 << 16).0) },
                    PoolConfig::default(),
                )
            });
            match made {
                Ok(pool) => Err(format!("made: {:?}", pool.open_stream().await.err())),
                Err(panic) => Ok(panic.downcast_ref::<String>().cloned().unwrap_or_default()),
            }
        });
        let _ = done.send(outcome);
    });
    let outcome = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the open hung");
    let message = outcome.expect("refused at creation");
    assert!(message.contains("enable_time"), "{message}");
}
