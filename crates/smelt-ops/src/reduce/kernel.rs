//! Shared reduction machinery: which dims are reduced (the [`Plan`]), and a fold over each
//! output element's reduction set that runs as a tight loop when the reduced dims are
//! contiguous (`outer x r x inner`), with a strided fallback otherwise.

use crate::prelude::*;

/// Input elements above which row reductions split across threads.
const PAR_MIN: usize = 1 << 15;

/// How an input of shape `shape` maps onto the outputs of a reduction over `mask`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Input shape.
    pub shape: Vec<usize>,
    /// `mask[d]`: dim `d` is reduced.
    pub mask: Vec<bool>,
    /// Number of output elements (product of kept dims).
    pub out_len: usize,
    /// Elements in each reduction set (product of reduced dims; 0 for an empty set).
    pub r: usize,
    /// `Some((outer, inner))` when the reduced dims (ignoring size-1 dims) are contiguous.
    contig: Option<(usize, usize)>,
}

impl Plan {
    /// `axes` already normalized into `0..rank`.
    pub fn new(shape: &[usize], axes: &[usize]) -> Plan {
        let rank = shape.len();
        let mut mask = vec![false; rank];
        for &a in axes {
            if a < rank {
                mask[a] = true;
            }
        }
        let out_len = (0..rank).filter(|&d| !mask[d]).map(|d| shape[d]).product();
        let r = (0..rank).filter(|&d| mask[d]).map(|d| shape[d]).product();
        // reduced dims that matter (size != 1), and whether they form one block among the
        // dims of size != 1
        let big: Vec<usize> = (0..rank).filter(|&d| shape[d] != 1).collect();
        let red: Vec<usize> = big.iter().copied().filter(|&d| mask[d]).collect();
        let contig = if red.is_empty() {
            Some((out_len, 1))
        } else {
            let first = red[0];
            let last = *red.last().unwrap_or(&first);
            let all_in_block = big
                .iter()
                .filter(|&&d| d >= first && d <= last)
                .all(|&d| mask[d]);
            if all_in_block {
                let outer = shape[..first].iter().product();
                let inner = shape[last + 1..].iter().product();
                Some((outer, inner))
            } else {
                None
            }
        };
        Plan {
            shape: shape.to_vec(),
            mask,
            out_len,
            r,
            contig,
        }
    }

    /// Reduce all dims (the `axes` empty / absent default).
    pub fn all(shape: &[usize]) -> Plan {
        let axes: Vec<usize> = (0..shape.len()).collect();
        Plan::new(shape, &axes)
    }

    /// Output shape: reduced dims become 1 (`keepdims`) or are dropped.
    pub fn out_shape(&self, keepdims: bool) -> Vec<usize> {
        let mut s = Vec::with_capacity(self.shape.len());
        for (d, &n) in self.shape.iter().enumerate() {
            if !self.mask[d] {
                s.push(n);
            } else if keepdims {
                s.push(1);
            }
        }
        s
    }

    /// For every output element `o`: `acc[o] = f(..f(f(init, x0, o), x1, o).., o)` over its
    /// reduction set, in no particular order (`f` must be associative up to rounding, and
    /// `comb` must merge two partial accumulators). `x.len()` must be the input's numel.
    pub fn fold<A: Copy + Sync, B: Copy + Send + Sync>(
        &self,
        x: &[A],
        init: B,
        f: impl Fn(B, A, usize) -> B + Sync,
        comb: impl Fn(B, B) -> B + Sync,
    ) -> Vec<B> {
        let mut acc = vec![init; self.out_len];
        if self.out_len == 0 || self.r == 0 {
            return acc;
        }
        match self.contig {
            Some((outer, 1)) => {
                // rows of r contiguous elements: 8 independent lanes so the loop vectorizes
                let r = self.r;
                let row_fold = |o: usize| {
                    let row = &x[o * r..(o + 1) * r];
                    let mut lanes = [init; 8];
                    let mut chunks = row.chunks_exact(8);
                    for c in &mut chunks {
                        for j in 0..8 {
                            lanes[j] = f(lanes[j], c[j], o);
                        }
                    }
                    let mut t = init;
                    for &v in chunks.remainder() {
                        t = f(t, v, o);
                    }
                    for l in lanes {
                        t = comb(t, l);
                    }
                    t
                };
                if x.len() >= PAR_MIN && outer > 1 && rayon::current_num_threads() > 1 {
                    use rayon::prelude::*;
                    acc.par_iter_mut()
                        .enumerate()
                        .for_each(|(o, a)| *a = row_fold(o));
                } else {
                    for (o, a) in acc.iter_mut().enumerate().take(outer) {
                        *a = row_fold(o);
                    }
                }
            }
            Some((outer, inner)) => {
                let r = self.r;
                for o in 0..outer {
                    let dst = &mut acc[o * inner..(o + 1) * inner];
                    for k in 0..r {
                        let src = &x[(o * r + k) * inner..(o * r + k + 1) * inner];
                        for (i, (d, &v)) in dst.iter_mut().zip(src).enumerate() {
                            *d = f(*d, v, o * inner + i);
                        }
                    }
                }
            }
            None => {
                // strided: walk the input, each element adding into its output slot
                let mut out_dims = Vec::new();
                for (d, &n) in self.shape.iter().enumerate() {
                    out_dims.push(if self.mask[d] { 1 } else { n });
                }
                let st = broadcast_strides(&out_dims, &self.shape);
                for_each_broadcast(&self.shape, &[st], |i, off| {
                    let o = off[0];
                    acc[o] = f(acc[o], x[i], o);
                });
            }
        }
        acc
    }
}

/// Resolves an `axes` list (possibly negative) into a plan. Empty axes reduce everything,
/// unless `noop` (then nothing is reduced).
pub fn plan_for(shape: &[usize], axes: Option<&[i64]>, noop: bool) -> Result<Plan> {
    match axes {
        Some(a) if !a.is_empty() => Ok(Plan::new(shape, &norm_axes(a, shape.len())?)),
        _ if noop => Ok(Plan::new(shape, &[])),
        _ => Ok(Plan::all(shape)),
    }
}

/// Float element types computed in a wider float `C` (f16/bf16/f32 in f32, f64 in f64).
pub trait FloatIo: Elem + Copy {
    type C: num_traits::Float + Elem;
    fn to_c(self) -> Self::C;
    fn from_c(c: Self::C) -> Self;
}
impl FloatIo for f32 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_c(c: f32) -> f32 {
        c
    }
}
impl FloatIo for f64 {
    type C = f64;
    #[inline(always)]
    fn to_c(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_c(c: f64) -> f64 {
        c
    }
}
impl FloatIo for f16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn from_c(c: f32) -> f16 {
        f16::from_f32(c)
    }
}
impl FloatIo for bf16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn from_c(c: f32) -> bf16 {
        bf16::from_f32(c)
    }
}

/// The elements of a float tensor in its compute type (borrowed when they already are).
pub fn float_input<T: FloatIo>(t: &Tensor) -> Result<std::borrow::Cow<'_, [T::C]>> {
    if T::DTYPE == <T::C as Elem>::DTYPE {
        return Ok(std::borrow::Cow::Borrowed(t.as_slice::<T::C>()?));
    }
    Ok(std::borrow::Cow::Owned(
        t.as_slice::<T>()?.iter().map(|&v| v.to_c()).collect(),
    ))
}

/// Builds a tensor of `T` from compute-type values.
pub fn float_output<T: FloatIo>(shape: Vec<usize>, v: Vec<T::C>) -> Result<Tensor> {
    if T::DTYPE == <T::C as Elem>::DTYPE {
        return Tensor::from_vec(shape, v);
    }
    Tensor::from_vec(shape, v.into_iter().map(T::from_c).collect::<Vec<T>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sum over `axes` by walking every input index (the reference).
    fn naive_sum(x: &[f64], shape: &[usize], axes: &[usize]) -> Vec<f64> {
        let out_dims: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
            .collect();
        let ost = strides(&out_dims);
        let mut out = vec![0.0; numel(&out_dims)];
        let ist = strides(shape);
        for (i, &v) in x.iter().enumerate() {
            let mut o = 0;
            for d in 0..shape.len() {
                let idx = (i / ist[d]) % shape[d];
                if !axes.contains(&d) {
                    o += idx * ost[d];
                }
            }
            out[o] += v;
        }
        out
    }

    #[test]
    fn fold_matches_naive() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[3, 31], &[1]),
            (&[2, 32], &[1]),
            (&[33], &[0]),
            (&[4, 33, 3], &[1]),
            (&[2, 3, 5], &[0, 2]),
            (&[2, 1, 5, 3], &[0, 2]),
            (&[2, 3, 4], &[0, 1, 2]),
            (&[5, 1, 32], &[1, 2]),
            (&[3, 4], &[]),
            (&[1200, 33], &[1]),
        ];
        for &(shape, axes) in cases {
            let n = numel(shape);
            let x: Vec<f64> = (0..n).map(|i| ((i * 7919 % 97) as f64) - 40.5).collect();
            let p = Plan::new(shape, axes);
            let got = p.fold(&x, 0.0, |a, v, _| a + v, |a, b| a + b);
            let want = naive_sum(&x, shape, axes);
            assert_eq!(got.len(), want.len(), "{shape:?} {axes:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "{shape:?} {axes:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn empty_sets_and_shapes() {
        let p = Plan::new(&[2, 0, 4], &[1]);
        assert_eq!(p.out_shape(true), vec![2, 1, 4]);
        assert_eq!(
            p.fold::<f32, f32>(&[], 1.0, |a, v, _| a * v, |a, b| a * b),
            vec![1.0; 8]
        );
        let p = Plan::new(&[2, 0, 4], &[0]);
        assert_eq!(p.out_shape(false), vec![0, 4]);
        assert!(p
            .fold::<f32, f32>(&[], 0.0, |a, v, _| a + v, |a, b| a + b)
            .is_empty());
        assert!(plan_for(&[2, 3], Some(&[2]), false).is_err());
        assert!(plan_for(&[2, 3], Some(&[1, -1]), false).is_err());
        assert_eq!(
            plan_for(&[2, 3], Some(&[]), true).unwrap().out_shape(true),
            vec![2, 3]
        );
        assert_eq!(
            plan_for(&[2, 3], None, false).unwrap().out_shape(false),
            Vec::<usize>::new()
        );
    }
}
