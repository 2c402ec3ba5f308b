//! Palettization: each grid cell's values are replaced by the nearest of `2^bits` table
//! entries (Core ML's lookup-table compression).
//!
//! k-means, in 1-D, on the cell's sorted values, in two steps:
//! 1. A globally optimal start. The sorted values are merged into at most ~2·`GROUPS` runs
//!    (a run closes at `n / GROUPS` values or a value span of `(max - min) / GROUPS`, so both
//!    the dense middle and the sparse tails keep resolution), and the optimal partition of
//!    the runs into `k` contiguous clusters is found by dynamic programming (divide and
//!    conquer over the monotone split points: `O(k · m log m)` for m runs).
//! 2. Exact Lloyd iterations on all the values from there. With prefix sums one iteration
//!    is `k` binary searches (cluster boundaries are the midpoints between neighbouring
//!    centroids) and `k` means, `O(k log n)`; run to a fixed point (`MAX_ITERS` at most).
//!    Each iteration can only lower the error.
//!
//! Uniform: entries evenly spaced over `[min, max]`.

use crate::grid::{runs_by_cell, Cells};
use rayon::prelude::*;

const MAX_ITERS: usize = 300;
/// Target number of runs the dynamic programme sees.
const GROUPS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    KMeans,
    Uniform,
}

/// A palettized weight: one index per element and `2^bits` entries per cell.
pub struct Palettized {
    pub codes: Vec<u8>,
    pub lut: Vec<f32>,
}

/// Prefix sums of count, sum and sum of squares over runs.
struct Prefix {
    n: Vec<f64>,
    s: Vec<f64>,
    s2: Vec<f64>,
}

impl Prefix {
    /// Squared error of runs `a..b` around their mean.
    fn cost(&self, a: usize, b: usize) -> f64 {
        let n = self.n[b] - self.n[a];
        if n <= 0.0 {
            return 0.0;
        }
        let s = self.s[b] - self.s[a];
        ((self.s2[b] - self.s2[a]) - s * s / n).max(0.0)
    }
    fn mean(&self, a: usize, b: usize) -> f64 {
        (self.s[b] - self.s[a]) / (self.n[b] - self.n[a])
    }
}

/// Fills `cur[i]` (best cost of the first `i` runs in one more cluster than `prev` covers)
/// for `i` in `lo..hi`, knowing the best split lies in `olo..=ohi`.
#[allow(clippy::too_many_arguments)]
fn solve(
    p: &Prefix,
    prev: &[f64],
    cur: &mut [f64],
    arg: &mut [usize],
    lo: usize,
    hi: usize,
    olo: usize,
    ohi: usize,
) {
    if lo >= hi {
        return;
    }
    let mid = (lo + hi) / 2;
    let (mut best, mut bt) = (f64::INFINITY, olo);
    for t in olo..=ohi.min(mid - 1) {
        let c = prev[t] + p.cost(t, mid);
        if c < best {
            best = c;
            bt = t;
        }
    }
    cur[mid] = best;
    arg[mid] = bt;
    solve(p, prev, cur, arg, lo, mid, olo, bt);
    solve(p, prev, cur, arg, mid + 1, hi, bt, ohi);
}

/// Optimal `k` centroids of weighted runs (prefix sums over `m` runs, `m > k`).
fn optimal_runs(p: &Prefix, m: usize, k: usize) -> Vec<f64> {
    let mut prev: Vec<f64> = (0..=m).map(|i| p.cost(0, i)).collect();
    let mut args: Vec<Vec<usize>> = Vec::with_capacity(k);
    args.push(vec![0; m + 1]);
    for j in 1..k {
        let mut cur = vec![f64::INFINITY; m + 1];
        let mut arg = vec![0usize; m + 1];
        // j + 1 clusters need at least j + 1 runs
        solve(p, &prev, &mut cur, &mut arg, j + 1, m + 1, j, m);
        args.push(arg);
        prev = cur;
    }
    let mut ends = vec![m];
    let mut i = m;
    for j in (1..k).rev() {
        i = args[j][i];
        ends.push(i);
    }
    ends.push(0);
    ends.reverse();
    ends.windows(2).map(|w| p.mean(w[0], w[1])).collect()
}

/// k-means of sorted values `v` into at most `k` centroids (ascending).
fn kmeans_sorted(v: &[f32], k: usize) -> Vec<f32> {
    let n = v.len();
    let mut uniq: Vec<f32> = v.to_vec();
    uniq.dedup();
    if uniq.len() <= k {
        return uniq;
    }
    // step 1: runs, then the optimal partition of the runs
    let cap = n.div_ceil(GROUPS).max(1);
    let width = (v[n - 1] as f64 - v[0] as f64) / GROUPS as f64;
    let mut runs = Prefix {
        n: vec![0.0],
        s: vec![0.0],
        s2: vec![0.0],
    };
    let (mut cnt, mut start) = (0usize, v[0] as f64);
    for &x in v {
        let x = x as f64;
        if cnt == cap || x - start > width {
            let (nn, ss, s2) = (
                *runs.n.last().unwrap(),
                *runs.s.last().unwrap(),
                *runs.s2.last().unwrap(),
            );
            runs.n.push(nn);
            runs.s.push(ss);
            runs.s2.push(s2);
            cnt = 0;
            start = x;
        }
        let l = runs.n.len() - 1;
        runs.n[l] += 1.0;
        runs.s[l] += x;
        runs.s2[l] += x * x;
        cnt += 1;
    }
    let m = runs.n.len() - 1;
    let mut c: Vec<f64> = if m > k {
        optimal_runs(&runs, m, k)
    } else {
        (0..m).map(|i| runs.mean(i, i + 1)).collect()
    };
    c.resize(k, *c.last().unwrap_or(&0.0));
    // step 2: Lloyd on all values
    let mut p = vec![0.0f64; n + 1];
    for (i, &x) in v.iter().enumerate() {
        p[i + 1] = p[i] + x as f64;
    }
    let mut splits = vec![0usize; k + 1];
    splits[k] = n;
    let mut prev = vec![usize::MAX; k + 1];
    for _ in 0..MAX_ITERS {
        c.sort_by(f64::total_cmp);
        for j in 1..k {
            let b = (c[j - 1] + c[j]) / 2.0;
            splits[j] = v.partition_point(|&x| (x as f64) < b);
        }
        for j in 0..k {
            let (a, b) = (splits[j], splits[j + 1]);
            if b > a {
                c[j] = (p[b] - p[a]) / (b - a) as f64;
            }
        }
        if splits == prev {
            break;
        }
        prev.clone_from(&splits);
    }
    c.sort_by(f64::total_cmp);
    c.dedup();
    c.into_iter().map(|x| x as f32).collect()
}

/// Palettizes `w` (shape `shape`) per cell of `grid` with `2^bits` entries a cell.
pub fn palettize(
    w: &[f32],
    shape: &[usize],
    grid: &[usize],
    bits: u32,
    method: Method,
) -> Palettized {
    let k = 1usize << bits;
    let cells = runs_by_cell(shape, grid);
    let tables: Vec<Vec<f32>> = cells
        .par_iter()
        .map(|runs| {
            let mut vals: Vec<f32> = runs
                .iter()
                .flat_map(|&(s, l)| w[s..s + l].iter().copied())
                .collect();
            let mut t = match method {
                Method::KMeans => {
                    if vals.len() > 1 << 16 {
                        vals.par_sort_unstable_by(f32::total_cmp);
                    } else {
                        vals.sort_unstable_by(f32::total_cmp);
                    }
                    kmeans_sorted(&vals, k)
                }
                Method::Uniform => {
                    let (lo, hi) = vals
                        .iter()
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                            (a.min(x), b.max(x))
                        });
                    if vals.is_empty() || lo == hi {
                        vec![if vals.is_empty() { 0.0 } else { lo }]
                    } else {
                        (0..k)
                            .map(|j| lo + (hi - lo) * j as f32 / (k - 1) as f32)
                            .collect()
                    }
                }
            };
            // pad to k entries with the last (never chosen: ties go to the first)
            let last = *t.last().unwrap_or(&0.0);
            t.resize(k, last);
            t
        })
        .collect();
    let mut codes = vec![0u8; w.len()];
    let last = shape[shape.len() - 1].max(1);
    let map = Cells::new(shape, grid);
    // boundaries between neighbouring entries, per table
    let mids: Vec<Vec<f32>> = tables
        .iter()
        .map(|t| t.windows(2).map(|p| (p[0] + p[1]) / 2.0).collect())
        .collect();
    codes
        .par_chunks_mut(last)
        .zip(w.par_chunks(last))
        .enumerate()
        .for_each(|(row, (out, wr))| {
            let (base, bl) = map.row(row);
            for (b, (o, wb)) in out.chunks_mut(bl).zip(wr.chunks(bl)).enumerate() {
                let (t, m) = (&tables[base + b], &mids[base + b]);
                for (c, &x) in o.iter_mut().zip(wb) {
                    let mut i = m.partition_point(|&v| v < x);
                    // a padded duplicate: take the first equal entry
                    while i > 0 && t[i - 1] == t[i] {
                        i -= 1;
                    }
                    *c = i as u8;
                }
            }
        });
    Palettized {
        codes,
        lut: tables.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_finds_well_separated_clusters() {
        let mut v: Vec<f32> = Vec::new();
        for (c, n) in [(-3.0f32, 50), (0.5, 200), (2.0, 80), (7.0, 10)] {
            for i in 0..n {
                v.push(c + (i as f32 / n as f32 - 0.5) * 0.01);
            }
        }
        v.sort_by(f32::total_cmp);
        let t = kmeans_sorted(&v, 4);
        for (got, want) in t.iter().zip([-3.0, 0.5, 2.0, 7.0]) {
            assert!((got - want).abs() < 0.01, "{t:?}");
        }
    }

    #[test]
    fn every_element_gets_its_nearest_entry() {
        let shape = [6, 40];
        let w: Vec<f32> = (0..240)
            .map(|i| ((i * 7919) % 241) as f32 / 60.0 - 2.0)
            .collect();
        for method in [Method::KMeans, Method::Uniform] {
            for grid in [vec![1, 1], vec![3, 1], vec![6, 4]] {
                for bits in [1, 2, 3, 4] {
                    let p = palettize(&w, &shape, &grid, bits, method);
                    let k = 1 << bits;
                    crate::grid::for_each_run(&shape, &grid, |s, l, c| {
                        let t = &p.lut[c * k..(c + 1) * k];
                        for e in s..s + l {
                            let d = (t[p.codes[e] as usize] - w[e]).abs();
                            assert!(t.iter().all(|&x| (x - w[e]).abs() >= d - 1e-6));
                        }
                    });
                }
            }
        }
    }

    #[test]
    fn fewer_distinct_values_than_entries_are_exact() {
        let w: Vec<f32> = (0..64).map(|i| (i % 3) as f32).collect();
        let p = palettize(&w, &[8, 8], &[1, 1], 2, Method::KMeans);
        for (e, &x) in w.iter().enumerate() {
            assert_eq!(p.lut[p.codes[e] as usize], x);
        }
    }
}
