//! Round-robin data scheduling with strict priorities.
//!
//! Streams with data and window wait in a queue per priority. The highest
//! non-empty priority always goes first; within it, streams take turns of
//! equal bytes (a deficit round robin): a turn is one quantum (the
//! session's `max_frame_size`) of data, in as many frames as the stream's
//! buffered parts make, so a stream fed small chunks gets the same share as
//! one fed large writes. A stream whose turn is not used up goes back to the
//! front of its level with what it spent ([`Scheduler::resume`], O(1)); a
//! frame never is cut to fit the turn, so what a last frame overran is
//! carried into the stream's next turn instead, and no stream gets more
//! than one frame above its share.
//!
//! Each queue is a doubly linked list through a slab of nodes, and a stream
//! keeps the [`Slot`] of its node, so taking a stream out (it was reset or
//! freed, or its priority changed) costs O(1) plus finding its level, and
//! no entry ever outlives its stream: nothing needs sweeping, and every
//! entry popped is live.

use alloc::vec::Vec;

use crate::stream_id::StreamId;

/// No node: the end of a list, or the free list's end.
const NIL: u32 = u32::MAX;

/// A slab holding at most this many nodes once empty again is kept for
/// reuse; a larger one (left by a burst) is freed.
const KEPT_NODES: usize = 256;

/// Where a stream waits in the [`Scheduler`], kept in its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(u32);

impl Slot {
    /// The stream does not wait in the scheduler.
    pub(crate) const NONE: Slot = Slot(NIL);

    /// Whether the stream waits in the scheduler.
    pub(crate) fn is_queued(self) -> bool {
        self != Slot::NONE
    }
}

/// One queued stream, or a free node (linked through `next`).
#[derive(Clone, Copy, Debug)]
struct Node {
    id: StreamId,
    priority: i32,
    /// Bytes the stream sent in its current turn (0 for a new turn).
    spent: u32,
    prev: u32,
    next: u32,
}

/// The queue of one priority, never empty.
#[derive(Clone, Copy, Debug)]
struct Level {
    priority: i32,
    head: u32,
    tail: u32,
}

#[derive(Debug)]
pub(crate) struct Scheduler {
    nodes: Vec<Node>,
    /// The first free node, or `NIL`.
    free: u32,
    /// The non-empty levels by ascending priority, so the highest is last:
    /// a stream at a new level costs a binary search and a shift of the
    /// levels above it, popping costs nothing to find.
    levels: Vec<Level>,
    len: usize,
    /// Streams queued while their SYN or ACK was still to go out on their
    /// first Data frame (some may have sent it since): when a higher
    /// priority arrives above them, the session sends those flags ahead
    /// (see `Session::release_openings`).
    openings: Vec<(StreamId, Slot)>,
    /// A level arrived above others: the session should look through
    /// `openings`.
    review_openings: bool,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            nodes: Vec::new(),
            free: NIL,
            levels: Vec::new(),
            len: 0,
            openings: Vec::new(),
            review_openings: false,
        }
    }
}

impl Scheduler {
    /// Queues `id` behind the other streams of its priority, for a new
    /// turn; the stream keeps the slot until it is popped or removed.
    pub(crate) fn push(&mut self, id: StreamId, priority: i32) -> Slot {
        self.insert(id, priority, 0, false)
    }

    /// Queues a stream that just sent and has more: it has sent `spent`
    /// bytes in its turn (what [`pop`](Self::pop) gave plus this frame).
    /// Under a `quantum`, it goes on at the front of its priority; else its
    /// turn ends, and it queues at the back with the overrun spent already.
    pub(crate) fn resume(&mut self, id: StreamId, priority: i32, spent: u32, quantum: u32) -> Slot {
        match spent.checked_sub(quantum) {
            None => self.insert(id, priority, spent, true),
            Some(overrun) => self.insert(id, priority, overrun, false),
        }
    }

    /// Whether a stream of a priority above `priority` waits.
    pub(crate) fn has_above(&self, priority: i32) -> bool {
        self.levels
            .last()
            .is_some_and(|level| level.priority > priority)
    }

    /// Records that `id`, queued at `slot`, still owes its SYN or ACK.
    pub(crate) fn note_opening(&mut self, id: StreamId, slot: Slot) {
        self.openings.push((id, slot));
        // Entries of streams no longer queued go now and then, so the list
        // stays within a multiple of the streams queued even if the
        // session never transmits (the entries left are each a live node).
        if self.openings.len() > 2 * self.len + 16 {
            let nodes = &self.nodes;
            self.openings
                .retain(|&(id, slot)| nodes.get(slot.0 as usize).is_some_and(|node| node.id == id));
        }
    }

    /// The streams to review, if a review is due (see `openings`); the
    /// session notes again those it keeps.
    pub(crate) fn take_openings(&mut self) -> Option<Vec<(StreamId, Slot)>> {
        core::mem::take(&mut self.review_openings).then(|| core::mem::take(&mut self.openings))
    }

    fn insert(&mut self, id: StreamId, priority: i32, spent: u32, front: bool) -> Slot {
        let node = Node {
            id,
            priority,
            spent,
            prev: NIL,
            next: NIL,
        };
        let index = match self.free {
            NIL => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
            index => {
                self.free = self.nodes[index as usize].next;
                self.nodes[index as usize] = node;
                index
            }
        };
        match self.level_index(priority) {
            Ok(at) if front => {
                let head = self.levels[at].head;
                self.nodes[head as usize].prev = index;
                self.nodes[index as usize].next = head;
                self.levels[at].head = index;
            }
            Ok(at) => {
                let tail = self.levels[at].tail;
                self.nodes[tail as usize].next = index;
                self.nodes[index as usize].prev = tail;
                self.levels[at].tail = index;
            }
            Err(at) => {
                if at == self.levels.len() && at > 0 && !self.openings.is_empty() {
                    self.review_openings = true;
                }
                self.levels.insert(
                    at,
                    Level {
                        priority,
                        head: index,
                        tail: index,
                    },
                );
            }
        }
        self.len += 1;
        Slot(index)
    }

    /// Takes the next stream: the front of the highest non-empty priority,
    /// with the bytes it already sent in its turn. Its slot is free again.
    pub(crate) fn pop(&mut self) -> Option<(StreamId, u32)> {
        let head = self.levels.last()?.head;
        let Node { id, spent, .. } = self.nodes[head as usize];
        self.remove(Slot(head));
        Some((id, spent))
    }

    /// Takes a queued stream out, wherever it waits.
    pub(crate) fn remove(&mut self, slot: Slot) {
        let index = slot.0;
        let Node {
            priority,
            prev,
            next,
            ..
        } = self.nodes[index as usize];
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        if prev == NIL || next == NIL {
            let at = self
                .level_index(priority)
                .expect("a queued stream's level exists");
            let level = &mut self.levels[at];
            if prev == NIL {
                level.head = next;
            }
            if next == NIL {
                level.tail = prev;
            }
            if level.head == NIL {
                self.levels.remove(at);
            }
        }
        // A free node holds no stream (0 is the session's id, never queued).
        self.nodes[index as usize].id = StreamId::new(0);
        self.nodes[index as usize].next = self.free;
        self.free = index;
        self.len -= 1;
        if self.len == 0 {
            self.release_nodes();
        }
    }

    /// How many streams are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets every queued stream (their slots are void afterwards).
    pub(crate) fn clear(&mut self) {
        self.levels.clear();
        self.len = 0;
        self.release_nodes();
    }

    /// Nothing queued: the slab starts over, and a large one goes; no
    /// stream waits to be reviewed.
    fn release_nodes(&mut self) {
        if self.nodes.capacity() > KEPT_NODES {
            self.nodes = Vec::new();
        }
        self.nodes.clear();
        self.free = NIL;
        self.openings.clear();
        self.review_openings = false;
    }

    fn level_index(&self, priority: i32) -> Result<usize, usize> {
        self.levels
            .binary_search_by_key(&priority, |level| level.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u32) -> StreamId {
        StreamId::new(value)
    }

    /// The next stream, for a test that does not look at turns.
    fn pop(scheduler: &mut Scheduler) -> Option<StreamId> {
        scheduler.pop().map(|(id, _)| id)
    }

    #[test]
    fn a_stream_goes_on_until_its_turn_is_used_up() {
        let mut scheduler = Scheduler::default();
        scheduler.push(id(1), 0);
        scheduler.push(id(3), 0);
        assert_eq!(scheduler.pop(), Some((id(1), 0)));
        scheduler.resume(id(1), 0, 8192, 16384);
        assert!(!scheduler.has_above(0));
        scheduler.push(id(5), 2);
        assert!(scheduler.has_above(0) && !scheduler.has_above(2));
        assert_eq!(scheduler.pop(), Some((id(5), 0)), "a higher priority first");
        assert_eq!(
            scheduler.pop(),
            Some((id(1), 8192)),
            "then the turn goes on"
        );
        // Its turn used up, with 100 bytes over: to the back, owing them.
        scheduler.resume(id(1), 0, 16484, 16384);
        assert_eq!(scheduler.pop(), Some((id(3), 0)));
        // The only stream of a level put back in front starts the level anew.
        scheduler.resume(id(3), 0, 7, 16384);
        assert_eq!(scheduler.pop(), Some((id(3), 7)));
        assert_eq!(scheduler.pop(), Some((id(1), 100)));
        assert_eq!(scheduler.pop(), None);
    }

    #[test]
    fn higher_priority_first_then_round_robin() {
        let mut scheduler = Scheduler::default();
        scheduler.push(id(1), 0);
        scheduler.push(id(3), 0);
        scheduler.push(id(5), 7);
        assert_eq!(scheduler.len(), 3);
        assert_eq!(pop(&mut scheduler), Some(id(5)));
        assert_eq!(pop(&mut scheduler), Some(id(1)));
        scheduler.push(id(1), 0);
        assert_eq!(pop(&mut scheduler), Some(id(3)));
        assert_eq!(pop(&mut scheduler), Some(id(1)));
        assert_eq!(pop(&mut scheduler), None);
        assert_eq!(scheduler.len(), 0);
    }

    #[test]
    fn removes_from_anywhere_in_a_level() {
        let mut scheduler = Scheduler::default();
        let slots: Vec<Slot> = (0..5).map(|i| scheduler.push(id(2 * i + 1), 0)).collect();
        let high = scheduler.push(id(99), 5);
        // Middle, head, tail, and a level's only entry.
        scheduler.remove(slots[2]);
        scheduler.remove(slots[0]);
        scheduler.remove(slots[4]);
        scheduler.remove(high);
        assert_eq!(scheduler.len(), 2);
        assert_eq!(scheduler.levels.len(), 1, "the emptied level is gone");
        // Freed slots are reused without disturbing the order.
        scheduler.push(id(11), 0);
        let popped: Vec<StreamId> = core::iter::from_fn(|| pop(&mut scheduler)).collect();
        assert_eq!(popped, [id(3), id(7), id(11)]);
    }

    extern crate std;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// One call on a scheduler, on the stream `pick` (modulo the streams
    /// there are).
    #[derive(Clone, Debug)]
    enum Op {
        Push { pick: u8, priority: i32 },
        Pop,
        Remove { pick: u8 },
        Reprioritize { pick: u8, priority: i32 },
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), -3..4i32).prop_map(|(pick, priority)| Op::Push { pick, priority }),
            4 => Just(Op::Pop),
            2 => any::<u8>().prop_map(|pick| Op::Remove { pick }),
            2 => (any::<u8>(), -3..4i32)
                .prop_map(|(pick, priority)| Op::Reprioritize { pick, priority }),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        // Under Miri every case takes seconds: a few still check the logic
        // for undefined behaviour, the full count runs in the normal tests.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            if cfg!(miri) { 2 } else { 256 }
        ))]
        /// Against a reference of one FIFO per priority, with the slots
        /// kept as the session keeps them: every pop is the front of the
        /// highest non-empty priority, removals take out exactly their
        /// stream wherever it waits (a reused node never disturbs another
        /// stream's place), and `len` is the count queued.
        #[test]
        fn matches_a_fifo_per_priority(ops in prop::collection::vec(op(), 1..300)) {
            let mut scheduler = Scheduler::default();
            // Per stream: its slot and priority, as the stream state holds them.
            let mut slots: BTreeMap<u32, (Slot, i32)> =
                (0..16).map(|n| (2 * n + 1, (Slot::NONE, 0))).collect();
            let mut reference: BTreeMap<i32, alloc::collections::VecDeque<u32>> = BTreeMap::new();
            let unlink = |reference: &mut BTreeMap<i32, alloc::collections::VecDeque<u32>>,
                          priority: i32,
                          stream: u32| {
                let level = reference.get_mut(&priority).unwrap();
                level.retain(|&queued| queued != stream);
                if level.is_empty() {
                    reference.remove(&priority);
                }
            };
            for op in ops {
                let pick = |pick: u8| 2 * u32::from(pick % 16) + 1;
                match op {
                    Op::Push { pick: p, priority } => {
                        let stream = pick(p);
                        let (slot, _) = slots[&stream];
                        if !slot.is_queued() {
                            let slot = scheduler.push(id(stream), priority);
                            slots.insert(stream, (slot, priority));
                            reference.entry(priority).or_default().push_back(stream);
                        }
                    }
                    Op::Pop => {
                        let expected = reference.iter_mut().next_back().map(|(&priority, level)| {
                            (priority, level.pop_front().unwrap())
                        });
                        if let Some((priority, _)) = expected
                            && reference[&priority].is_empty()
                        {
                            reference.remove(&priority);
                        }
                        let popped = pop(&mut scheduler);
                        prop_assert_eq!(popped, expected.map(|(_, stream)| id(stream)));
                        if let Some(stream) = popped {
                            slots.get_mut(&stream.get()).unwrap().0 = Slot::NONE;
                        }
                    }
                    Op::Remove { pick: p } => {
                        let stream = pick(p);
                        let (slot, priority) = slots[&stream];
                        if slot.is_queued() {
                            scheduler.remove(slot);
                            slots.insert(stream, (Slot::NONE, priority));
                            unlink(&mut reference, priority, stream);
                        }
                    }
                    Op::Reprioritize { pick: p, priority } => {
                        let stream = pick(p);
                        let (slot, old) = slots[&stream];
                        if slot.is_queued() && old != priority {
                            scheduler.remove(slot);
                            let slot = scheduler.push(id(stream), priority);
                            slots.insert(stream, (slot, priority));
                            unlink(&mut reference, old, stream);
                            reference.entry(priority).or_default().push_back(stream);
                        }
                    }
                    Op::Clear => {
                        scheduler.clear();
                        reference.clear();
                        for (slot, _) in slots.values_mut() {
                            *slot = Slot::NONE;
                        }
                    }
                }
                let queued: usize = reference.values().map(|level| level.len()).sum();
                prop_assert_eq!(scheduler.len(), queued);
                prop_assert_eq!(scheduler.levels.len(), reference.len());
            }
        }
    }

    #[test]
    fn empty_levels_go_at_once() {
        let mut scheduler = Scheduler::default();
        for priority in 0..100 {
            scheduler.push(id(1), priority);
            assert_eq!(pop(&mut scheduler), Some(id(1)));
            assert!(scheduler.levels.is_empty());
        }
        for priority in (0..100).rev() {
            scheduler.push(id(priority as u32 * 2 + 1), priority);
        }
        assert_eq!(scheduler.levels.len(), 100);
        assert_eq!(pop(&mut scheduler), Some(id(199)), "the highest first");
        scheduler.clear();
        assert_eq!((scheduler.len(), pop(&mut scheduler)), (0, None));
    }
}
