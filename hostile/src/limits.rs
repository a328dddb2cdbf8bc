//! The bounds the suite holds the muxplex server to, read from the `Debug`
//! form of its default `Config` where the config has the setting: the
//! write timeout, and the budgets of the memory formula documented on
//! `muxplex::Session`.

use std::time::Duration;

/// Growth any single hostile connection may cause with the defaults.
pub(crate) const CONNECTION_CAP: u64 = 256 << 20;
/// The write timeout assumed while the config has none.
pub(crate) const ASSUMED_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a stuck-output socket may take beyond the write timeout to close.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// What the echo application itself may hold per stream, outside the
/// session: its task, the split halves' lock, `tokio::io::copy`'s 8 KiB
/// buffer and allocator overhead.
pub(crate) const APP_PER_STREAM: u64 = 16 << 10;
/// What the adapter may hold per connection outside the session: its
/// 64 KiB read buffer and its 64 KiB transmit queue, twice over.
pub(crate) const ADAPTER_PER_CONNECTION: u64 = 256 << 10;

/// Where the write timeout comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteTimeout {
    /// Given with `--write-timeout` or `HOSTILE_WRITE_TIMEOUT`.
    Given(Duration),
    /// Read from the server's `Config`.
    Config(Duration),
    /// The server's `Config` has a write timeout, switched off.
    Disabled,
    /// The server's `Config` has no write timeout at all.
    Missing,
}

impl WriteTimeout {
    /// The timeout the stuck-output scenarios wait for.
    pub(crate) fn duration(self) -> Duration {
        match self {
            WriteTimeout::Given(d) | WriteTimeout::Config(d) => d,
            WriteTimeout::Disabled | WriteTimeout::Missing => ASSUMED_WRITE_TIMEOUT,
        }
    }

    /// How the table shows it.
    pub(crate) fn describe(self) -> String {
        match self {
            WriteTimeout::Given(d) => format!("write timeout {} (given)", secs(d)),
            WriteTimeout::Config(d) => format!("write timeout {}", secs(d)),
            WriteTimeout::Disabled => "write timeout off in Config; 10 s assumed".into(),
            WriteTimeout::Missing => "no write timeout in Config yet; 10 s assumed".into(),
        }
    }
}

/// Seconds, as the table shows them.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The muxplex server's configuration as far as the bounds need it.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// The stuck-output deadline.
    pub write_timeout: WriteTimeout,
    /// `max_session_buffer`.
    pub session_buffer: Option<u64>,
    /// The session-wide send budget (a field named `*send_buffer*` or
    /// `*send_budget*`); `None` while the config has none, and then the
    /// formula has no finite bound.
    pub send_buffer: Option<u64>,
    /// `accept_backlog`.
    pub accept_backlog: Option<u64>,
    /// `max_streams`.
    pub max_streams: Option<u64>,
}

impl Limits {
    /// Reads the limits from a `Config`'s `Debug` text; `given` overrides
    /// the write timeout.
    pub(crate) fn from_config(debug: &str, given: Option<Duration>) -> Limits {
        let fields = fields(debug);
        let find = |test: &dyn Fn(&str) -> bool| {
            fields
                .iter()
                .find(|(name, _)| test(name))
                .map(|(_, value)| value.as_str())
        };
        let number = |name: &str| find(&|n| n == name).and_then(|v| v.parse().ok());
        let write_timeout = match (given, find(&|n| n.contains("write_timeout"))) {
            (Some(d), _) => WriteTimeout::Given(d),
            (None, None) => WriteTimeout::Missing,
            (None, Some(value)) => match parse_duration(value) {
                Some(d) => WriteTimeout::Config(d),
                None => WriteTimeout::Disabled,
            },
        };
        Limits {
            write_timeout,
            session_buffer: number("max_session_buffer"),
            send_buffer: find(&|n| n.contains("send_buffer") || n.contains("send_budget"))
                .and_then(|v| v.parse().ok()),
            accept_backlog: number("accept_backlog"),
            max_streams: number("max_streams"),
        }
    }

    /// The heap bound documented on `muxplex::Session` for one connection
    /// holding `streams` streams,
    /// `16 KiB + 32 B × R + 512 B × S + 2 × max_session_buffer + 2 × send budget`
    /// with `R = max(accept_backlog, 1024)`, plus what lives outside the
    /// session ([`APP_PER_STREAM`], [`ADAPTER_PER_CONNECTION`]); `None`
    /// while a term is unknown (no send budget: unbounded).
    pub(crate) fn formula(&self, streams: usize) -> Option<u64> {
        let streams = (streams as u64).min(self.max_streams.unwrap_or(u64::MAX));
        let resets = self.accept_backlog?.max(1024);
        let session = (16 << 10)
            + 32 * resets
            + 512 * streams
            + 2 * self.session_buffer?
            + 2 * self.send_buffer?;
        Some(session + APP_PER_STREAM * streams + ADAPTER_PER_CONNECTION)
    }

    /// The growth one hostile connection with `streams` streams may cause:
    /// [`CONNECTION_CAP`], or the formula where it is lower.
    pub(crate) fn per_connection(&self, streams: usize) -> u64 {
        self.formula(streams)
            .map_or(CONNECTION_CAP, |f| f.min(CONNECTION_CAP))
    }
}

/// The `name: value` fields of a `Debug` struct, top level only.
fn fields(debug: &str) -> Vec<(String, String)> {
    let Some(body) = debug
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map(|(body, _)| body)
    else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in body.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .filter_map(|part| part.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// A `Duration`'s `Debug` form (`10s`, `1.5s`, `500ms`, `250µs`, `7ns`),
/// bare or in `Some(..)`; `None` for `None` or anything else.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value
        .strip_prefix("Some(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or(value);
    let split = value.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "µs" | "us" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(number * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: &str = "Config { max_frame_size: 16384, keepalive_interval: Some(30s), \
        keepalive_timeout: 10s, accept_backlog: 256, max_streams: 16384, \
        open_timeout: None, max_session_buffer: 268435456 }";

    #[test]
    fn without_a_send_budget_or_write_timeout() {
        let limits = Limits::from_config(TODAY, None);
        assert_eq!(limits.write_timeout, WriteTimeout::Missing);
        assert_eq!(limits.write_timeout.duration(), ASSUMED_WRITE_TIMEOUT);
        assert_eq!(limits.session_buffer, Some(256 << 20));
        assert_eq!(limits.formula(10), None);
        assert_eq!(limits.per_connection(10), CONNECTION_CAP);
    }

    #[test]
    fn with_a_send_budget_and_write_timeout() {
        let text = "Config { accept_backlog: 256, max_streams: 16384, \
            max_session_buffer: 67108864, max_send_buffer: 16777216, \
            write_timeout: Some(2.5s) }";
        let limits = Limits::from_config(text, None);
        assert_eq!(
            limits.write_timeout,
            WriteTimeout::Config(Duration::from_millis(2500))
        );
        let session = (16 << 10) + 32 * 1024 + 512 * 2 + (128 << 20) + (32 << 20);
        let expected = session + 2 * APP_PER_STREAM + ADAPTER_PER_CONNECTION;
        assert_eq!(limits.formula(2), Some(expected));
        assert_eq!(limits.per_connection(2), expected);
        let given = Limits::from_config(text, Some(Duration::from_secs(3)));
        assert_eq!(
            given.write_timeout,
            WriteTimeout::Given(Duration::from_secs(3))
        );
    }

    #[test]
    fn a_switched_off_write_timeout() {
        let limits = Limits::from_config("Config { write_timeout: None }", None);
        assert_eq!(limits.write_timeout, WriteTimeout::Disabled);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_duration("Some(250µs)"),
            Some(Duration::from_micros(250))
        );
    }
}
