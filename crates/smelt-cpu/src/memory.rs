//! Memory planning of intermediate values by lifetime.
//!
//! Each intermediate lives from the node that produces it to the last node that reads it
//! (graph outputs to the end). Values whose lifetimes do not overlap can share memory; the
//! planner assigns every buffer an offset in one arena so that buffers alive at the same time
//! never overlap, placing the largest first at the lowest offset that fits ("greedy by size",
//! as TFLite's arena planner does). The arena size is what a run needs for intermediates; the
//! live peak is the lower bound no placement can beat.

/// One intermediate value's buffer: its size and the node indices of its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub value: String,
    pub bytes: u64,
    /// Index of the producing node.
    pub first: usize,
    /// Index of the last node that reads it (inclusive).
    pub last: usize,
}

/// The buffers of one run and their arena placement.
#[derive(Clone, Debug, Default)]
pub struct MemoryPlan {
    pub buffers: Vec<Buffer>,
    /// Offset of each buffer in the arena (same order as `buffers`).
    pub offsets: Vec<u64>,
    /// Sum of all intermediate sizes: the memory needed if nothing were ever freed.
    pub total_bytes: u64,
    /// Largest sum of sizes alive at one node.
    pub peak_live_bytes: u64,
    /// Size of the arena with lifetime reuse.
    pub arena_bytes: u64,
}

/// Buffers are aligned to this in the arena.
pub const ALIGN: u64 = 64;

impl MemoryPlan {
    pub fn new(buffers: Vec<Buffer>) -> MemoryPlan {
        let total_bytes = buffers.iter().map(|b| b.bytes).sum();
        let end = buffers.iter().map(|b| b.last + 1).max().unwrap_or(0);
        let mut live = vec![0u64; end + 1];
        for b in &buffers {
            for l in &mut live[b.first..=b.last] {
                *l += b.bytes;
            }
        }
        let peak_live_bytes = live.into_iter().max().unwrap_or(0);
        let mut order: Vec<usize> = (0..buffers.len()).collect();
        order.sort_by(|&a, &b| {
            buffers[b]
                .bytes
                .cmp(&buffers[a].bytes)
                .then(buffers[a].first.cmp(&buffers[b].first))
        });
        let mut offsets = vec![0u64; buffers.len()];
        let mut placed: Vec<usize> = Vec::with_capacity(buffers.len());
        let mut arena_bytes = 0;
        for &i in &order {
            let b = &buffers[i];
            let size = b.bytes.div_ceil(ALIGN) * ALIGN;
            // buffers alive at the same time as b, by offset
            let mut busy: Vec<(u64, u64)> = placed
                .iter()
                .filter(|&&j| buffers[j].first <= b.last && b.first <= buffers[j].last)
                .map(|&j| {
                    (
                        offsets[j],
                        offsets[j] + buffers[j].bytes.div_ceil(ALIGN) * ALIGN,
                    )
                })
                .collect();
            busy.sort_unstable();
            let mut at = 0u64;
            for (s, e) in busy {
                if at + size <= s {
                    break;
                }
                at = at.max(e);
            }
            offsets[i] = at;
            arena_bytes = arena_bytes.max(at + size);
            placed.push(i);
        }
        MemoryPlan {
            buffers,
            offsets,
            total_bytes,
            peak_live_bytes,
            arena_bytes,
        }
    }

    /// Whether no two buffers alive at the same time overlap in the arena.
    pub fn is_valid(&self) -> bool {
        let n = self.buffers.len();
        (0..n).all(|i| {
            (i + 1..n).all(|j| {
                let (a, b) = (&self.buffers[i], &self.buffers[j]);
                let time = a.first <= b.last && b.first <= a.last;
                let (ai, bi) = (self.offsets[i], self.offsets[j]);
                let space = ai < bi + b.bytes && bi < ai + a.bytes;
                !(time && space && a.bytes > 0 && b.bytes > 0)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(bytes: u64, first: usize, last: usize) -> Buffer {
        Buffer {
            value: format!("v{first}_{last}"),
            bytes,
            first,
            last,
        }
    }

    #[test]
    fn a_chain_reuses_two_buffers() {
        // x0 -> x1 -> x2 -> x3, each read only by the next node: two buffers at a time
        let p = MemoryPlan::new((0..4).map(|k| buf(1000, k, k + 1)).collect());
        assert!(p.is_valid());
        assert_eq!(p.total_bytes, 4000);
        assert_eq!(p.peak_live_bytes, 2000);
        assert_eq!(p.arena_bytes, 2 * 1024);
    }

    #[test]
    fn random_lifetimes_are_placed_without_overlap() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..50 {
            let bufs: Vec<Buffer> = (0..40)
                .map(|_| {
                    let first = (next() % 30) as usize;
                    let last = first + (next() % 10) as usize;
                    buf(next() % 5000 + 1, first, last)
                })
                .collect();
            let p = MemoryPlan::new(bufs);
            assert!(p.is_valid());
            assert!(p.arena_bytes >= p.peak_live_bytes);
            assert!(p.arena_bytes <= p.total_bytes + 40 * ALIGN);
        }
    }
}
