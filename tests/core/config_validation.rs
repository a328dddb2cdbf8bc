//! Every `Config` field is checked when a session is built (issue 13).

use core::time::Duration;

use muxplex::{Config, ConfigError, INITIAL_STREAM_WINDOW, Instant, MAX_FRAME_SIZE_LIMIT, Session};

/// A change to a default config, and the field it puts out of range.
type Case = (fn(&mut Config), &'static str);

fn build(config: Config) -> Result<Session, ConfigError> {
    Session::client(config, Instant::ZERO)
}

#[test]
fn zero_counts_are_refused_by_name() {
    let cases: [Case; 6] = [
        (|c| c.max_pending_pongs = 0, "max_pending_pongs"),
        (|c| c.max_outstanding_pings = 0, "max_outstanding_pings"),
        (|c| c.max_unacked_outbound = 0, "max_unacked_outbound"),
        (|c| c.max_streams = 0, "max_streams"),
        (|c| c.max_session_buffer = 0, "max_session_buffer"),
        (|c| c.max_send_buffer = 0, "max_send_buffer"),
    ];
    for (set, field) in cases {
        let mut config = Config::default();
        set(&mut config);
        assert_eq!(build(config).err(), Some(ConfigError::Zero(field)));
    }
}

#[test]
fn zero_durations_are_refused_by_name() {
    let cases: [Case; 5] = [
        (
            |c| c.keepalive_interval = Some(Duration::ZERO),
            "keepalive_interval",
        ),
        (
            |c| c.keepalive_timeout = Duration::ZERO,
            "keepalive_timeout",
        ),
        (|c| c.open_timeout = Some(Duration::ZERO), "open_timeout"),
        (
            |c| c.stream_close_timeout = Some(Duration::ZERO),
            "stream_close_timeout",
        ),
        (|c| c.write_timeout = Some(Duration::ZERO), "write_timeout"),
    ];
    for (set, field) in cases {
        let mut config = Config::default();
        set(&mut config);
        let error = build(config).err();
        assert_eq!(error, Some(ConfigError::ZeroDuration(field)));
        assert!(error.unwrap().to_string().contains(field));
    }
}

#[test]
fn frame_size_and_window_limits() {
    for size in [0, MAX_FRAME_SIZE_LIMIT + 1, u32::MAX] {
        let mut config = Config::default();
        config.max_frame_size = size;
        assert_eq!(build(config).err(), Some(ConfigError::MaxFrameSize(size)));
    }
    let mut config = Config::default();
    config.max_frame_size = MAX_FRAME_SIZE_LIMIT;
    assert!(build(config).is_ok());
    let mut config = Config::default();
    config.max_stream_window = INITIAL_STREAM_WINDOW - 1;
    assert_eq!(
        build(config).err(),
        Some(ConfigError::MaxStreamWindow(INITIAL_STREAM_WINDOW - 1))
    );
}

#[test]
fn setters_clamp_into_range() {
    let config = Config::default()
        .with_max_unacked_outbound(0)
        .with_keepalive_interval(Some(Duration::ZERO))
        .with_keepalive_timeout(Duration::ZERO)
        .with_open_timeout(Some(Duration::ZERO))
        .with_stream_close_timeout(Some(Duration::ZERO))
        .with_max_streams(0)
        .with_max_session_buffer(0)
        .with_max_frame_size(u32::MAX)
        .with_max_stream_window(0);
    assert!(config.validate().is_ok());
    assert_eq!(config.max_unacked_outbound, 1);
    assert_eq!(config.keepalive_interval, None);
}

#[test]
fn extreme_values_build_and_saturate() {
    let mut config = Config::default()
        .with_keepalive_interval(Some(Duration::MAX))
        .with_keepalive_timeout(Duration::MAX)
        .with_close_timeout(Duration::MAX)
        .with_open_timeout(Some(Duration::MAX));
    config.max_streams = usize::MAX;
    config.accept_backlog = usize::MAX;
    config.max_unacked_outbound = usize::MAX;
    config.max_stream_window = u32::MAX;
    let mut session = build(config).expect("valid");
    session.open_stream(Instant::ZERO).expect("open");
    assert_eq!(session.poll_timeout(), Some(Instant::from_micros(u64::MAX)));
    session.close(Instant::from_micros(u64::MAX - 1));
    session.handle_timeout(Instant::from_micros(u64::MAX));
    assert!(session.is_closed());
}

#[test]
fn permitted_zeroes_work() {
    // No inbound streams at all, and a close that resets at once.
    let config = Config::default()
        .with_accept_backlog(0)
        .with_close_timeout(Duration::ZERO);
    let mut session = build(config).expect("valid");
    session.open_stream(Instant::ZERO).expect("open");
    session.close(Instant::ZERO);
    session.handle_timeout(Instant::ZERO);
    assert!(session.is_closed());
}
