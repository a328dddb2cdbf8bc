//! Choosing a session for a new stream.

use core::time::Duration;

use super::Pool;
use super::backoff::mix;
use super::config::{Policy, PoolConfig, Weights};
use super::endpoint::Health;
use super::slot::{Entry, Slot};

/// The weight an RTT-weighted session gets per microsecond of RTT it does
/// not have: weight = this / RTT in microseconds, so 1 ms weighs 10^6.
const RTT_WEIGHT_SCALE: u64 = 1_000_000_000;

/// What an endpoint's weight is multiplied by before it is split among its
/// sessions: the least common multiple of 1 to 16.
const ENDPOINT_WEIGHT_SCALE: u64 = 720_720;

impl Pool {
    /// The session a new stream should go to, by the configured
    /// [`Policy`]; `key` matters only to [`Policy::Sticky`]. Only live
    /// sessions that are neither draining nor slow are candidates.
    ///
    /// `None` when there is no candidate. If the pool then has no session
    /// at all, not even one being dialed (as with `min_sessions` 0), it asks
    /// for a dial, so the host can retry once the dial succeeds.
    ///
    /// Picking opens nothing: report the stream with
    /// [`load_changed`](Self::load_changed) once it is open.
    #[must_use]
    pub fn pick(&mut self, key: Option<u64>) -> Option<Slot> {
        self.choose(key, None)
    }

    /// Like [`pick`](Self::pick), but for a stream that just failed on
    /// `avoid` without reaching the peer (refused at its accept backlog,
    /// say): the policy chooses among the other candidates, so a retry
    /// lands elsewhere. `avoid` itself comes back only when it is the sole
    /// candidate, since a retry there beats waiting for a session the load
    /// would never have the pool dial.
    #[must_use]
    pub fn pick_avoiding(&mut self, key: Option<u64>, avoid: Slot) -> Option<Slot> {
        let current = self
            .entries
            .get(avoid.index())
            .is_some_and(|e| e.is_current(avoid));
        let excluded = current.then_some(avoid.index());
        self.choose(key, excluded)
            .or_else(|| self.choose(key, None))
    }

    /// The policy's choice among the candidates other than place
    /// `excluded`, asking for a dial when the pool has nothing at all.
    fn choose(&mut self, key: Option<u64>, excluded: Option<usize>) -> Option<Slot> {
        let fastest = self.fastest_rtt();
        let chosen = match (&self.config.policy, key) {
            (Policy::RoundRobin, _) => self.round_robin(fastest, excluded),
            (Policy::Sticky, Some(key)) => self.rendezvous(key, fastest, excluded),
            (Policy::Weighted(weights), _) => weighted(
                weights,
                &self.config,
                &self.endpoints,
                &mut self.entries,
                fastest,
                excluded,
            ),
            _ => self.least_loaded(fastest, excluded),
        };
        if chosen.is_none() && self.active() == 0 {
            self.dial_if_room();
        }
        chosen.map(|index| self.entries[index].slot(index))
    }

    /// The lowest smoothed RTT among live sessions: the yardstick for slow.
    pub(super) fn fastest_rtt(&self) -> Option<Duration> {
        self.entries
            .iter()
            .filter(|e| e.is_live())
            .filter_map(|e| e.srtt)
            .min()
    }

    /// Live, not draining, not slow.
    pub(super) fn is_pickable(&self, entry: &Entry, fastest: Option<Duration>) -> bool {
        pickable(&self.config, entry, fastest)
    }

    /// Candidate places in index order, `excluded` left out.
    fn candidates(
        &self,
        fastest: Option<Duration>,
        excluded: Option<usize>,
    ) -> impl Iterator<Item = usize> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(move |&(index, e)| Some(index) != excluded && self.is_pickable(e, fastest))
            .map(|(index, _)| index)
    }

    fn least_loaded(&self, fastest: Option<Duration>, excluded: Option<usize>) -> Option<usize> {
        self.candidates(fastest, excluded)
            .min_by_key(|&index| (self.entries[index].streams, index))
    }

    fn round_robin(&mut self, fastest: Option<Duration>, excluded: Option<usize>) -> Option<usize> {
        let start = self.round_robin_next;
        let chosen = self
            .candidates(fastest, excluded)
            .find(|&index| index >= start)
            .or_else(|| self.candidates(fastest, excluded).next())?;
        self.round_robin_next = chosen + 1;
        Some(chosen)
    }

    /// Highest random weight: every candidate scores `hash(key, index)` and
    /// the best wins. Hashing the place rather than the attempt lets a key
    /// return to its place when that place's session is replaced.
    fn rendezvous(
        &self,
        key: u64,
        fastest: Option<Duration>,
        excluded: Option<usize>,
    ) -> Option<usize> {
        let hashed = mix(key);
        self.candidates(fastest, excluded).max_by_key(|&index| {
            let score = mix(hashed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            // Ties (astronomically rare) go to the lower index.
            (score, core::cmp::Reverse(index))
        })
    }
}

/// Live, not draining, and not slow: its RTT is not far above the fastest
/// one's. A session without a sample is not slow, there being nothing
/// against it yet, and the fastest session never is, so some live session
/// is always pickable.
fn pickable(config: &PoolConfig, entry: &Entry, fastest: Option<Duration>) -> bool {
    let slow = match (config.slow_rtt_factor, entry.srtt, fastest) {
        (Some(factor), Some(rtt), Some(fastest)) => rtt > fastest.saturating_mul(factor.max(1)),
        _ => false,
    };
    entry.is_live() && !slow
}

/// Smooth weighted round robin (as nginx): every candidate's score grows by
/// its weight, the highest score wins and pays the total back. Shares match
/// the weights over any window, without bursts. A free function so the
/// weights can stay borrowed from the configuration while scores change.
fn weighted(
    weights: &Weights,
    config: &PoolConfig,
    endpoints: &[Health],
    entries: &mut [Entry],
    fastest: Option<Duration>,
    excluded: Option<usize>,
) -> Option<usize> {
    // Candidates per endpoint, among which its weight is shared.
    let mut sharing = alloc::vec![0u64; endpoints.len()];
    for (index, entry) in entries.iter().enumerate() {
        if Some(index) != excluded && pickable(config, entry, fastest) {
            sharing[entry.endpoint] += 1;
        }
    }
    // An unmeasured session gets the average of the measured ones, so it
    // gets neither the most nor the least; all equal when none is measured.
    let (sum, count) = entries
        .iter()
        .filter(|e| pickable(config, e, fastest))
        .filter_map(|e| e.srtt)
        .fold((0u64, 0u64), |(sum, n), rtt| {
            (sum + u64::from(rtt_weight(rtt)), n + 1)
        });
    let unmeasured = match count {
        0 => 1,
        n => u32::try_from(sum / n).unwrap_or(u32::MAX),
    };
    let mut total: i64 = 0;
    let mut best: Option<(i64, usize)> = None;
    for (index, entry) in entries.iter_mut().enumerate() {
        if Some(index) == excluded || !pickable(config, entry, fastest) {
            continue;
        }
        let weight = match weights {
            Weights::Endpoint => {
                // Scaled by a number every small session count divides, so
                // the split is exact for up to 16 sessions per endpoint.
                let share = u64::from(endpoints[entry.endpoint].weight) * ENDPOINT_WEIGHT_SCALE;
                i64::try_from(share / sharing[entry.endpoint].max(1)).unwrap_or(i64::MAX)
            }
            Weights::Rtt => i64::from(entry.srtt.map_or(unmeasured, rtt_weight)),
        };
        if weight == 0 {
            continue;
        }
        entry.wrr_score = entry.wrr_score.saturating_add(weight);
        total = total.saturating_add(weight);
        if best.is_none_or(|(score, _)| entry.wrr_score > score) {
            best = Some((entry.wrr_score, index));
        }
    }
    let (_, chosen) = best?;
    let entry = &mut entries[chosen];
    entry.wrr_score = entry.wrr_score.saturating_sub(total);
    Some(chosen)
}

/// Inversely proportional to the RTT, at least 1 and at most 10^9.
fn rtt_weight(rtt: Duration) -> u32 {
    let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
    u32::try_from(RTT_WEIGHT_SCALE / micros)
        .unwrap_or(u32::MAX)
        .max(1)
}
