//! Round-robin data scheduling with strict priorities.
//!
//! Streams with data and window wait in a queue per priority. The highest
//! non-empty priority always goes first; within it, streams take turns one
//! frame at a time. Entries may go stale (the stream was reset or freed);
//! the session checks each entry it pops. A stream whose priority changes
//! is moved at once.

use alloc::collections::{BTreeMap, VecDeque};

use crate::stream_id::StreamId;

/// Empty priority levels kept for reuse before they are pruned; keeping a
/// few avoids an allocation per frame when one stream comes and goes.
const SPARE_LEVELS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    levels: BTreeMap<i32, VecDeque<StreamId>>,
}

impl Scheduler {
    /// Queues `id` behind the other streams of its priority.
    pub(crate) fn push(&mut self, id: StreamId, priority: i32) {
        self.levels.entry(priority).or_default().push_back(id);
    }

    /// Takes the next stream: the front of the highest non-empty priority.
    pub(crate) fn pop(&mut self) -> Option<(StreamId, i32)> {
        let (&priority, queue) = self
            .levels
            .iter_mut()
            .rev()
            .find(|(_, queue)| !queue.is_empty())?;
        let id = queue.pop_front()?;
        if self.levels.len() > SPARE_LEVELS {
            self.levels.retain(|_, queue| !queue.is_empty());
        }
        Some((id, priority))
    }

    /// Takes `id` out of the queue of `priority`, so a stream whose
    /// priority changes while it waits can be queued at its new level.
    pub(crate) fn remove(&mut self, id: StreamId, priority: i32) {
        if let Some(queue) = self.levels.get_mut(&priority)
            && let Some(index) = queue.iter().position(|&queued| queued == id)
        {
            queue.remove(index);
        }
    }

    /// How many entries are queued, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.levels.values().map(VecDeque::len).sum()
    }

    /// Keeps only the entries for which `keep` holds, in order, and drops
    /// the levels left empty.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(StreamId) -> bool) {
        self.levels.retain(|_, queue| {
            queue.retain(|&id| keep(id));
            !queue.is_empty()
        });
    }

    /// Forgets every queued stream.
    pub(crate) fn clear(&mut self) {
        self.levels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_first_then_round_robin() {
        let mut scheduler = Scheduler::default();
        scheduler.push(StreamId::new(1), 0);
        scheduler.push(StreamId::new(3), 0);
        scheduler.push(StreamId::new(5), 7);
        assert_eq!(scheduler.pop(), Some((StreamId::new(5), 7)));
        assert_eq!(scheduler.pop(), Some((StreamId::new(1), 0)));
        scheduler.push(StreamId::new(1), 0);
        assert_eq!(scheduler.pop(), Some((StreamId::new(3), 0)));
        assert_eq!(scheduler.pop(), Some((StreamId::new(1), 0)));
        assert_eq!(scheduler.pop(), None);
    }

    #[test]
    fn prunes_empty_levels() {
        let mut scheduler = Scheduler::default();
        for priority in 0..100 {
            scheduler.push(StreamId::new(1), priority);
            assert!(scheduler.pop().is_some());
        }
        assert!(scheduler.levels.len() <= SPARE_LEVELS + 1);
    }
}
