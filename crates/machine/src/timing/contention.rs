//! Contention at a node's memory/directory controller.
//!
//! Each memory transaction occupies its home node's controller for a fixed
//! time. CPUs are simulated in turns (quanta), so requests reach the model
//! out of time order: a CPU that ran ahead may already have booked the
//! controller far into the "future" of a CPU simulated later. A single
//! "busy until" clock would make the lagging CPU wait for the whole lead.
//! Instead each controller keeps a history of its busy intervals (the
//! history-based queue model of the Graphite simulator, Miller et al.,
//! HPCA 2010): a request arriving at cycle `t` takes the earliest idle gap
//! of the needed length starting at or after `t`, and waits from `t` to the
//! start of that gap. Requests in time order therefore see exact FCFS
//! queueing; a request arriving late fills the gaps left at its own time
//! rather than queueing behind later requests. Intervals are coalesced when
//! they touch, and those older than [`WINDOW`] cycles before the newest
//! booking are forgotten; a request older than that is not delayed.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;

/// How far back (in cycles) the busy history reaches: 2^22 cycles, about
/// 10 ms at 400 MHz, far longer than a scheduling quantum.
pub const WINDOW: u64 = 1 << 22;

/// How many intervals from the back a request's place is looked for
/// linearly before a binary search.
const NEAR: usize = 64;

/// One node's controller: its booked busy intervals.
///
/// The intervals are kept sorted in a deque: in-order requests append at the
/// back, late ones are inserted a few places from it (about as many as the
/// bookings made after their time), and expired ones leave at the front.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct NodeQueue {
    /// Disjoint, non-touching busy intervals `(start, end)` (end exclusive),
    /// sorted.
    busy: VecDeque<(u64, u64)>,
    /// The latest end of any booking.
    newest: u64,
}

impl fmt::Debug for NodeQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeQueue")
            .field("intervals", &self.busy.len())
            .field("newest", &self.newest)
            .finish()
    }
}

impl NodeQueue {
    /// Books `occupancy` cycles for a request arriving at cycle `t` and
    /// returns how long it waits before the controller starts serving it.
    pub fn reserve(&mut self, t: u64, occupancy: u64) -> u64 {
        if occupancy == 0 || t.saturating_add(WINDOW) < self.newest {
            return 0;
        }
        let q = &mut self.busy;
        // The first interval ending after `t` (ends are sorted too): usually
        // at or near the back, else found by binary search.
        let mut i = q.len();
        while i > 0 && q[i - 1].1 > t {
            i -= 1;
            if q.len() - i == NEAR {
                i = q.partition_point(|&(_, e)| e <= t);
                break;
            }
        }
        let mut start = t;
        while let Some(&(s, e)) = q.get(i) {
            if s >= start + occupancy {
                break;
            }
            start = e;
            i += 1;
        }
        let end = start + occupancy;
        let merge_prev = i > 0 && q[i - 1].1 == start;
        let merge_next = i < q.len() && q[i].0 == end;
        match (merge_prev, merge_next) {
            (true, true) => {
                q[i - 1].1 = q[i].1;
                q.remove(i);
            }
            (true, false) => q[i - 1].1 = end,
            (false, true) => q[i].0 = start,
            (false, false) => q.insert(i, (start, end)),
        }
        if end > self.newest {
            self.newest = end;
            while q
                .front()
                .is_some_and(|&(_, e)| e.saturating_add(WINDOW) < end)
            {
                q.pop_front();
            }
        }
        start - t
    }

    /// Number of busy intervals kept (for tests).
    #[cfg(test)]
    pub fn intervals(&self) -> usize {
        self.busy.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcfs_in_time_order() {
        let mut q = NodeQueue::default();
        assert_eq!(q.reserve(100, 60), 0);
        assert_eq!(q.reserve(100, 60), 60);
        assert_eq!(q.reserve(100, 60), 120);
        assert_eq!(q.reserve(130, 60), 150); // busy until 280
        assert_eq!(q.reserve(1000, 60), 0);
        assert_eq!(q.intervals(), 2);
    }

    #[test]
    fn late_requests_fill_gaps_instead_of_queueing_behind_the_future() {
        let mut q = NodeQueue::default();
        // A CPU that ran ahead booked [10_000, 10_060) and [10_200, 10_260).
        assert_eq!(q.reserve(10_000, 60), 0);
        assert_eq!(q.reserve(10_200, 60), 0);
        // A lagging CPU at cycle 50 is not delayed by them.
        assert_eq!(q.reserve(50, 60), 0);
        // One arriving at 9_990 would overlap [10_000..): it waits for the
        // first gap long enough, [10_060, 10_200).
        assert_eq!(q.reserve(9_990, 60), 70);
        // The gap [10_120, 10_200) still holds one more.
        assert_eq!(q.reserve(10_100, 60), 20);
        // Only [10_180, 10_200) is left, too short: the next request queues
        // after 10_260.
        assert_eq!(q.reserve(10_001, 60), 259);
        assert_eq!(q.intervals(), 3);
    }

    #[test]
    fn zero_occupancy_and_ancient_requests_never_wait() {
        let mut q = NodeQueue::default();
        assert_eq!(q.reserve(5, 0), 0);
        q.reserve(3 * WINDOW, 60);
        assert_eq!(q.reserve(10, 60), 0);
        assert_eq!(q.intervals(), 1);
    }

    #[test]
    fn history_is_pruned() {
        let mut q = NodeQueue::default();
        for i in 0..10u64 {
            q.reserve(i * WINDOW, 10);
        }
        assert!(q.intervals() <= 2, "{} intervals kept", q.intervals());
    }
}
