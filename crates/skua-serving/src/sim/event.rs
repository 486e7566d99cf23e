//! The event queue: a min-heap on (time, class, sequence number), so equal times pop in a fixed
//! order and a run is reproducible bit for bit.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something that happens at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Request (by workload index) arrives.
    Arrival(u32),
    /// The iteration in flight on an instance ends.
    IterationEnd(u32),
    /// The oldest KV transfer into an instance completes.
    TransferDone(u32),
    /// The role controller is asked.
    ControllerTick,
    /// Engine metrics are scraped into the view.
    Refresh,
    /// Per-instance time series are sampled.
    Sample,
    /// An idle instance with work starts its next iteration. Runs after every other event of the
    /// same instant, so requests arriving together share a batch.
    Wake(u32),
}

impl Event {
    fn class(self) -> u8 {
        match self {
            Event::Wake(_) => 1,
            _ => 0,
        }
    }
}

#[derive(Debug)]
struct Entry {
    t: f64,
    class: u8,
    seq: u64,
    event: Event,
}

impl Entry {
    fn cmp_key(&self, o: &Self) -> Ordering {
        self.t
            .total_cmp(&o.t)
            .then(self.class.cmp(&o.class))
            .then(self.seq.cmp(&o.seq))
    }
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp_key(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the earliest first.
        o.cmp_key(self)
    }
}

/// Pending events.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl Queue {
    /// Schedules `event` at `t` seconds.
    pub fn push(&mut self, t: f64, event: Event) {
        self.next_seq += 1;
        self.heap.push(Entry {
            t,
            class: event.class(),
            seq: self.next_seq,
            event,
        });
    }

    /// The earliest event.
    pub fn pop(&mut self) -> Option<(f64, Event)> {
        self.heap.pop().map(|e| (e.t, e.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_class_then_insertion() {
        let mut q = Queue::default();
        q.push(2.0, Event::Refresh);
        q.push(1.0, Event::Wake(0));
        q.push(1.0, Event::Arrival(5));
        q.push(1.0, Event::Arrival(3));
        q.push(0.5, Event::Sample);
        let order: Vec<Event> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(
            order,
            vec![
                Event::Sample,
                Event::Arrival(5),
                Event::Arrival(3),
                Event::Wake(0),
                Event::Refresh
            ]
        );
    }
}
