//! Pool configuration: how many sessions, when to scale, how to back off,
//! how to pick.

use alloc::vec::Vec;
use core::time::Duration;

/// How [`Pool::pick`](super::Pool::pick) chooses a session for a new
/// stream. Whatever the policy, only *pickable* sessions are candidates:
/// live, not draining after a GoAway, and not slow (see
/// [`PoolConfig::slow_rtt_factor`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Policy {
    /// The session carrying the fewest open streams (ties: the lowest slot
    /// index). The default: it needs no tuning and evens out load as the
    /// host reports it.
    #[default]
    LeastLoaded,
    /// Each pickable session in turn, by slot index.
    RoundRobin,
    /// The same key goes to the same session: rendezvous (highest random
    /// weight) hashing of the key over the pickable slots. A key moves only
    /// when its session stops being pickable, or to a session that has just
    /// become pickable (which takes about 1/n of the keys, the least any
    /// scheme can move without remembering keys). A pick without a key
    /// falls back to [`LeastLoaded`](Policy::LeastLoaded).
    Sticky,
    /// Smooth weighted round robin: over any run of picks each pickable
    /// session gets a share proportional to its weight, interleaved rather
    /// than in bursts.
    Weighted(Weights),
}

/// Where [`Policy::Weighted`] takes its weights from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Weights {
    /// Inversely proportional to each session's smoothed round-trip time,
    /// so a session twice as far away gets half the streams. A session
    /// without an RTT sample yet gets the average weight of those that
    /// have one (all equal when none has).
    #[default]
    Rtt,
    /// Each endpoint's weight in [`PoolConfig::endpoints`], shared among
    /// its pickable sessions: the endpoints' shares of new streams follow
    /// their weights however many sessions each has.
    Endpoint,
}

/// Tunables of a [`Pool`](super::Pool). Start from
/// [`PoolConfig::default`] and adjust with the `with_*` methods, which
/// also keep the values consistent (for instance `min_sessions <=
/// max_sessions`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// The endpoints sessions are dialed to, by weight (default one
    /// endpoint of weight 1). The pool names them by index in
    /// [`Action::Dial`](super::Action::Dial); the host knows what each is
    /// (an address, say). Sessions are spread so that each endpoint has
    /// about its weight's share, an endpoint that fails is left alone for
    /// its backoff while the others take its sessions, and sessions move
    /// back once it is dialed again. Weight 0 never dials an endpoint; an
    /// empty list, or one whose weights are all 0, counts as weight 1 for
    /// each (at least one) endpoint.
    pub endpoints: Vec<u32>,
    /// Sessions the pool keeps up even when idle (default 1). Lost ones
    /// are redialed; idle ones are never closed below this number.
    pub min_sessions: usize,
    /// Sessions the pool may have live, dialing or waiting to redial at
    /// once (default 4). Draining sessions are not counted: they take no
    /// new streams and leave on their own.
    pub max_sessions: usize,
    /// Open streams per session above which the pool dials another session,
    /// once every pickable session is above it (default 100, a common
    /// server limit on concurrent streams per connection).
    pub target_streams_per_session: usize,
    /// How long a session beyond `min_sessions` may carry no streams before
    /// the pool closes it (default 5 min; `None` never closes idle ones).
    pub idle_timeout: Option<Duration>,
    /// How long a dial may go unreported before it counts as failed and
    /// the pool tells the host to abandon it (default 20 s, as gRPC's
    /// minimum connect timeout; at least [`PoolConfig::MIN_INTERVAL`]).
    pub connect_timeout: Duration,
    /// How long an endpoint is left alone after its first failure in a row
    /// (default 1 s). Failures while it is left alone (dials already under
    /// way) are not counted again.
    pub backoff_initial: Duration,
    /// How much each further consecutive failure multiplies the delay by
    /// (default 1.6).
    pub backoff_multiplier: f64,
    /// The largest delay before jitter (default 120 s).
    pub backoff_max: Duration,
    /// The relative spread around each delay (default 0.2: +/-20 %), so
    /// sessions that failed together do not all redial at the same moment.
    pub backoff_jitter: f64,
    /// How long a session must stay up to prove healthy, unless it answers
    /// a ping first (default 10 s). Proving healthy resets its endpoint's
    /// backoff, so a server that accepts connections and drops them at once
    /// is still redialed ever more slowly.
    pub healthy_after: Duration,
    /// Consecutive failures of one endpoint after which the pool stops
    /// dialing it (default `None`: retry forever); once every endpoint is
    /// given up, so is the pool. A failed dial, a dial past the connect
    /// timeout and a lost session each count as one. See
    /// [`Action::GaveUp`](super::Action::GaveUp) for what giving up means.
    pub max_attempts: Option<u32>,
    /// A session whose smoothed RTT is more than this many times the lowest
    /// smoothed RTT among live sessions is *slow* and never picked
    /// (default 3; `None` never treats a session as slow).
    pub slow_rtt_factor: Option<u32>,
    /// How new streams are spread over sessions (default
    /// [`Policy::LeastLoaded`]).
    pub policy: Policy,
    /// How often the pool asks for a ping on every live session
    /// ([`Action::Ping`](super::Action::Ping)), the first one interval after
    /// it came up (default 5 s, at least [`PoolConfig::MIN_INTERVAL`];
    /// `None` never). The answers
    /// ([`Pool::pong`](super::Pool::pong)) give the RTT by which slow
    /// sessions are skipped and [`Weights::Rtt`] weighs picks, and prove the
    /// session healthy.
    pub ping_interval: Option<Duration>,
    /// How many times a request that failed without reaching the peer may
    /// run again on another session (default 2: three attempts in all); see
    /// [`Pool::may_retry`](super::Pool::may_retry).
    pub max_retries: u32,
    /// Seeds the jitter, so the same seed and the same inputs give the same
    /// actions (default 0). Give each process its own seed in production,
    /// or every client redials in lockstep.
    pub seed: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            endpoints: alloc::vec![1],
            min_sessions: 1,
            max_sessions: 4,
            target_streams_per_session: 100,
            idle_timeout: Some(Duration::from_secs(300)),
            connect_timeout: Duration::from_secs(20),
            backoff_initial: Duration::from_secs(1),
            backoff_multiplier: 1.6,
            backoff_max: Duration::from_secs(120),
            backoff_jitter: 0.2,
            healthy_after: Duration::from_secs(10),
            max_attempts: None,
            slow_rtt_factor: Some(3),
            policy: Policy::LeastLoaded,
            ping_interval: Some(Duration::from_secs(5)),
            max_retries: 2,
            seed: 0,
        }
    }
}

impl PoolConfig {
    /// The shortest connect timeout and ping interval the pool uses, a
    /// shorter one (zero, say) being taken as this: a deadline must lie
    /// after the instant it is set at, or a host loop that sleeps until
    /// [`Pool::poll_timeout`](super::Pool::poll_timeout) would spin at one
    /// instant.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

    /// Sets the endpoints by weight, one entry each, in the order the host
    /// numbers them.
    #[must_use]
    pub fn with_endpoints(mut self, weights: impl IntoIterator<Item = u32>) -> Self {
        self.endpoints = weights.into_iter().collect();
        self
    }

    /// The endpoint weights actually used: at least one endpoint, and some
    /// weight above 0.
    pub(super) fn effective_endpoints(&self) -> Vec<u32> {
        if self.endpoints.iter().any(|&w| w > 0) {
            self.endpoints.clone()
        } else {
            alloc::vec![1; self.endpoints.len().max(1)]
        }
    }

    /// Sets the sessions kept up when idle; raises `max_sessions` to match
    /// if needed.
    #[must_use]
    pub fn with_min_sessions(mut self, count: usize) -> Self {
        self.min_sessions = count;
        self.max_sessions = self.max_sessions.max(count).max(1);
        self
    }

    /// Sets the most sessions at once (at least 1); lowers `min_sessions`
    /// to match if needed.
    #[must_use]
    pub fn with_max_sessions(mut self, count: usize) -> Self {
        self.max_sessions = count.max(1);
        self.min_sessions = self.min_sessions.min(self.max_sessions);
        self
    }

    /// Sets the stream count per session above which the pool scales out.
    #[must_use]
    pub fn with_target_streams_per_session(mut self, streams: usize) -> Self {
        self.target_streams_per_session = streams;
        self
    }

    /// Sets how long an extra session may stay idle; `None` keeps them.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how long a dial may take before it counts as failed.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the reconnect backoff: the first delay, the factor per further
    /// failure (at least 1) and the cap. `max` is raised to `initial` if
    /// below it.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, multiplier: f64, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self.backoff_max = max.max(initial);
        self
    }

    /// Sets the relative jitter, clamped to `0..=1` (0 disables it).
    #[must_use]
    pub fn with_backoff_jitter(mut self, jitter: f64) -> Self {
        self.backoff_jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Sets how long a session must stay up to prove healthy.
    #[must_use]
    pub fn with_healthy_after(mut self, uptime: Duration) -> Self {
        self.healthy_after = uptime;
        self
    }

    /// Sets the consecutive failures of an endpoint after which the pool
    /// stops dialing it (at least 1); `None` retries forever.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts.map(|n| n.max(1));
        self
    }

    /// Sets the RTT ratio above which a session is slow (at least 2);
    /// `None` never treats a session as slow.
    #[must_use]
    pub fn with_slow_rtt_factor(mut self, factor: Option<u32>) -> Self {
        self.slow_rtt_factor = factor.map(|f| f.max(2));
        self
    }

    /// Sets the selection policy.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets how often live sessions are pinged; `None` never pings, so
    /// the pool sees no RTT (unless the host reports pongs of its own).
    #[must_use]
    pub fn with_ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets how many times [`Pool::may_retry`](super::Pool::may_retry)
    /// allows a not-delivered request to run again.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the jitter seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The session bound actually used, whatever the fields were set to
    /// directly: at least 1.
    pub(super) fn effective_max(&self) -> usize {
        self.max_sessions.max(1)
    }

    /// The connect timeout actually used: at least [`Self::MIN_INTERVAL`].
    pub(super) fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout.max(Self::MIN_INTERVAL)
    }

    /// The ping interval actually used: at least [`Self::MIN_INTERVAL`].
    pub(super) fn effective_ping_interval(&self) -> Option<Duration> {
        self.ping_interval
            .map(|every| every.max(Self::MIN_INTERVAL))
    }

    /// The floor actually used: never above the bound.
    pub(super) fn effective_min(&self) -> usize {
        self.min_sessions.min(self.effective_max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_keep_bounds_consistent() {
        let config = PoolConfig::default().with_max_sessions(0);
        assert_eq!((config.min_sessions, config.max_sessions), (1, 1));
        let config = PoolConfig::default().with_min_sessions(6);
        assert_eq!((config.min_sessions, config.max_sessions), (6, 6));
        let config = PoolConfig::default().with_backoff(
            Duration::from_secs(5),
            f64::NAN,
            Duration::from_secs(1),
        );
        assert_eq!(config.backoff_multiplier, 1.0);
        assert_eq!(config.backoff_max, Duration::from_secs(5));
        assert_eq!(
            PoolConfig::default()
                .with_backoff_jitter(3.0)
                .backoff_jitter,
            1.0
        );
    }

    #[test]
    fn fields_set_directly_are_clamped_in_use() {
        let config = PoolConfig {
            max_sessions: 0,
            min_sessions: 3,
            ..PoolConfig::default()
        };
        assert_eq!((config.effective_min(), config.effective_max()), (1, 1));
    }
}
