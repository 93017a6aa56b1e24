//! Time buckets for trends: a fixed-width, fixed-count window of [`Bucket`]s that slides
//! forward with the newest time seen, so memory stays the same however long bosun runs.

use std::collections::VecDeque;

use crate::model::TaskType;

/// A running mean: a sum and how many values went into it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    /// The sum of the values.
    pub sum: f64,
    /// How many values.
    pub count: u32,
}

impl Mean {
    /// Adds a value.
    pub fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Mean) {
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The mean, when there was a value.
    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / f64::from(self.count))
    }
}

/// How many runs were waiting somewhere (the queue, the operator) during a bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// The most at any sample in the bucket.
    pub peak: u32,
    /// At the bucket's last sample.
    pub last: u32,
}

impl Depth {
    /// A depth sampled once.
    pub fn at(n: u32) -> Depth {
        Depth { peak: n, last: n }
    }

    fn sample(slot: &mut Option<Depth>, n: u32) {
        *slot = Some(match *slot {
            Some(d) => Depth {
                peak: d.peak.max(n),
                last: n,
            },
            None => Depth::at(n),
        });
    }

    fn merge(slot: &mut Option<Depth>, later: Option<Depth>) {
        if let Some(l) = later {
            *slot = Some(match *slot {
                Some(d) => Depth {
                    peak: d.peak.max(l.peak),
                    last: l.last,
                },
                None => l,
            });
        }
    }
}

/// What happened in one stretch of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    /// Runs whose agent and gates finished (awaiting approval, merged, rejected or failed).
    pub finished: u32,
    /// Runs merged.
    pub merged: u32,
    /// Runs rejected by the operator.
    pub rejected: u32,
    /// Runs failed.
    pub failed: u32,
    /// Runs cancelled or interrupted.
    pub stopped: u32,
    /// Gate score of the runs that finished, every type together.
    pub score: Mean,
    /// Gate score of the runs that finished, per task type (in [`TaskType::ALL`] order).
    pub score_by_type: [Mean; 6],
    /// Approval latency (awaiting approval → the operator's decision) in milliseconds, of the
    /// runs decided in the bucket.
    pub latency_ms: Mean,
    /// Tokens (input + output) spent by the runs that finished.
    pub tokens: u64,
    /// Money spent by the runs that finished, in US dollars.
    pub cost_usd: f64,
    /// Runs queued.
    pub queued: Option<Depth>,
    /// Runs awaiting approval.
    pub awaiting: Option<Depth>,
}

impl Bucket {
    /// Merged runs over merged, rejected and failed runs; `None` when none was decided.
    pub fn success_rate(&self) -> Option<f64> {
        let decided = self.merged + self.rejected + self.failed;
        (decided > 0).then(|| f64::from(self.merged) / f64::from(decided))
    }

    /// Adds `later`, which follows this bucket in time.
    pub fn merge(&mut self, later: &Bucket) {
        self.finished += later.finished;
        self.merged += later.merged;
        self.rejected += later.rejected;
        self.failed += later.failed;
        self.stopped += later.stopped;
        self.score.merge(&later.score);
        for (mine, theirs) in self.score_by_type.iter_mut().zip(&later.score_by_type) {
            mine.merge(theirs);
        }
        self.latency_ms.merge(&later.latency_ms);
        self.tokens += later.tokens;
        self.cost_usd += later.cost_usd;
        Depth::merge(&mut self.queued, later.queued);
        Depth::merge(&mut self.awaiting, later.awaiting);
    }

    /// Records the queue and approval depths now.
    pub fn sample_depth(&mut self, queued: u32, awaiting: u32) {
        Depth::sample(&mut self.queued, queued);
        Depth::sample(&mut self.awaiting, awaiting);
    }
}

/// Where a task type's score goes in [`Bucket::score_by_type`].
pub fn type_index(t: TaskType) -> usize {
    match t {
        TaskType::Code => 0,
        TaskType::Docs => 1,
        TaskType::Refactor => 2,
        TaskType::Test => 3,
        TaskType::Release => 4,
        TaskType::Devops => 5,
    }
}

/// The last `capacity` buckets of `width_ms` each, up to the newest time seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    width_ms: u64,
    capacity: usize,
    /// Index (time / width) of `buckets[0]`.
    first: u64,
    buckets: VecDeque<Bucket>,
}

impl Timeline {
    /// An empty window of `capacity` buckets of `width_ms`, ending at `now_ms`.
    pub fn new(width_ms: u64, capacity: usize, now_ms: u64) -> Timeline {
        let width_ms = width_ms.max(1);
        let capacity = capacity.max(1);
        let now = now_ms / width_ms;
        Timeline {
            width_ms,
            capacity,
            first: (now + 1).saturating_sub(capacity as u64),
            buckets: VecDeque::new(),
        }
    }

    /// How long one bucket is.
    pub fn width_ms(&self) -> u64 {
        self.width_ms
    }

    /// How many buckets the window keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The bucket index (time / width) of `at_ms`.
    pub fn index(&self, at_ms: u64) -> u64 {
        at_ms / self.width_ms
    }

    /// The index of the oldest bucket the window holds.
    pub fn first_index(&self) -> u64 {
        self.first
    }

    /// The bucket holding `at_ms`, sliding the window forward when `at_ms` is newer than it;
    /// `None` when `at_ms` is older than the window.
    pub fn at(&mut self, at_ms: u64) -> Option<&mut Bucket> {
        let i = self.index(at_ms);
        self.reach(i);
        let offset = i.checked_sub(self.first)?;
        self.buckets.get_mut(usize::try_from(offset).ok()?)
    }

    /// Makes the window end at index `i` or later.
    pub fn reach(&mut self, i: u64) {
        let end = self.first + self.buckets.len() as u64;
        if i < end {
            return;
        }
        let capacity = self.capacity as u64;
        if i - end >= capacity {
            // A jump longer than the window: nothing kept survives it.
            self.buckets.clear();
            self.first = (i + 1).saturating_sub(capacity);
        }
        while self.first + (self.buckets.len() as u64) <= i {
            self.buckets.push_back(Bucket::default());
        }
        while self.buckets.len() > self.capacity {
            self.buckets.pop_front();
            self.first += 1;
        }
    }

    /// `columns` buckets of `per_column` base buckets each, oldest first, the last one holding
    /// `end_ms`. Depths carry forward through buckets with no sample (nothing changed, so the
    /// depth stayed); buckets older than the window are empty.
    pub fn series(&self, end_ms: u64, columns: usize, per_column: usize) -> Vec<Bucket> {
        let per = per_column.max(1) as u64;
        let end = self.index(end_ms);
        // Align columns so a column's buckets do not change as time moves within it.
        let last_start = end - end % per;
        let start = last_start.saturating_sub(per * (columns.saturating_sub(1)) as u64);
        let mut out = vec![Bucket::default(); columns];
        let mut carry: (Option<u32>, Option<u32>) = (None, None);
        for (k, b) in self.buckets.iter().enumerate() {
            let i = self.first + k as u64;
            if i > end {
                break;
            }
            let mut filled = b.clone();
            filled.queued = filled.queued.or(carry.0.map(Depth::at));
            filled.awaiting = filled.awaiting.or(carry.1.map(Depth::at));
            carry = (
                filled.queued.map(|d| d.last),
                filled.awaiting.map(|d| d.last),
            );
            if i >= start
                && let Some(slot) = usize::try_from((i - start) / per)
                    .ok()
                    .and_then(|c| out.get_mut(c))
            {
                slot.merge(&filled);
            }
        }
        // Columns the window has not reached yet hold the depth the newest bucket ended with.
        let reached = self.first + self.buckets.len() as u64;
        for (column, slot) in out.iter_mut().enumerate() {
            let column_start = start + column as u64 * per;
            if column_start >= reached && column_start <= end {
                slot.queued = slot.queued.or(carry.0.map(Depth::at));
                slot.awaiting = slot.awaiting.or(carry.1.map(Depth::at));
            }
        }
        out
    }

    /// Sets the depth at the end of each bucket from changes (bucket index, +1 or -1) rebuilt
    /// from the runs' timestamps; changes older than the window set the starting depth. The
    /// window is first made to reach index `until`.
    pub fn set_depths(&mut self, queued: &[(u64, i64)], awaiting: &[(u64, i64)], until: u64) {
        self.reach(until);
        let prefix =
            |deltas: &[(u64, i64)], buckets: &mut VecDeque<Bucket>, first: u64, q: bool| {
                let mut sorted = deltas.to_vec();
                sorted.sort_unstable_by_key(|(i, _)| *i);
                let mut level: i64 = 0;
                let mut it = sorted.into_iter().peekable();
                for (k, b) in buckets.iter_mut().enumerate() {
                    let i = first + k as u64;
                    while let Some((_, d)) = it.next_if(|(j, _)| *j <= i) {
                        level += d;
                    }
                    let n = u32::try_from(level.max(0)).unwrap_or(u32::MAX);
                    if q {
                        b.queued = Some(Depth::at(n));
                    } else {
                        b.awaiting = Some(Depth::at(n));
                    }
                }
            };
        prefix(queued, &mut self.buckets, self.first, true);
        prefix(awaiting, &mut self.buckets, self.first, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_forgets_the_oldest_bucket() {
        let mut t = Timeline::new(10, 3, 25);
        assert_eq!(t.first_index(), 0);
        t.at(5).unwrap().merged += 1;
        t.at(25).unwrap().merged += 1;
        assert!(t.at(35).is_some());
        // Bucket 0 slid out; a time that old is ignored.
        assert!(t.at(5).is_none());
        let s = t.series(35, 3, 1);
        assert_eq!(s.iter().map(|b| b.merged).collect::<Vec<_>>(), [0, 1, 0]);
        // A jump past the whole window keeps nothing.
        t.at(1_000).unwrap();
        assert!(t.series(1_000, 3, 1).iter().all(|b| b.merged == 0));
    }

    #[test]
    fn columns_merge_buckets_and_depths_carry_forward() {
        let mut t = Timeline::new(10, 100, 0);
        t.at(0).unwrap().sample_depth(2, 0);
        t.at(10).unwrap().finished += 1;
        t.at(30).unwrap().sample_depth(5, 1);
        t.at(31).unwrap().sample_depth(4, 1);
        let s = t.series(59, 3, 2);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].finished, 1);
        assert_eq!(s[0].queued, Some(Depth { peak: 2, last: 2 }));
        assert_eq!(s[1].queued, Some(Depth { peak: 5, last: 4 }));
        // Nothing sampled after 31: the depth stayed 4.
        assert_eq!(s[2].queued, Some(Depth::at(4)));
        assert_eq!(s[2].awaiting, Some(Depth::at(1)));
    }

    #[test]
    fn depths_rebuilt_from_deltas() {
        let mut t = Timeline::new(10, 5, 0);
        // Two runs queued in bucket 1; one leaves in bucket 3.
        t.set_depths(&[(1, 1), (1, 1), (3, -1)], &[], 4);
        let q: Vec<u32> = t
            .series(49, 5, 1)
            .iter()
            .map(|b| b.queued.map_or(99, |d| d.last))
            .collect();
        assert_eq!(q, [0, 2, 2, 1, 1]);
    }

    #[test]
    fn means_and_success_rates() {
        let mut m = Mean::default();
        assert_eq!(m.value(), None);
        m.add(1.0);
        m.add(0.5);
        assert_eq!(m.value(), Some(0.75));
        let b = Bucket {
            merged: 3,
            rejected: 1,
            failed: 0,
            stopped: 5,
            ..Bucket::default()
        };
        assert_eq!(b.success_rate(), Some(0.75));
        assert_eq!(Bucket::default().success_rate(), None);
    }
}
