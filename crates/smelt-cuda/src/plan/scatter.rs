//! Host planning of the scatters of the index family (plan/index.rs): for every update
//! element the destination offset in the output, in the updates' order, checked as the CPU
//! ops check them (ScatterElements, ScatterND, TensorScatter).

use super::{dense_strides, i32_of};
use smelt_core::{Error, Result};
use smelt_ops::array::common::wrap_index;

/// ScatterElements destinations: data offset per update, in the updates' order.
pub fn scatter_elements_dst(
    dshape: &[usize],
    ishape: &[usize],
    idx: &[i64],
    axis: i64,
) -> Result<Vec<i64>> {
    if dshape.is_empty() {
        return Err(Error::invalid("ScatterElements of a scalar"));
    }
    let a = super::axis(axis, dshape.len(), "ScatterElements axis")?;
    let base = smelt_ops::array::gather_elements::base_offsets(dshape, ishape, a)?;
    let sa = dense_strides(dshape)[a];
    let dim = dshape[a];
    base.iter()
        .zip(idx)
        .map(|(&b, &i)| Ok(b as i64 + wrap_index(i, dim, "scatter")? as i64 * sa))
        .collect()
}

/// ScatterND destinations: for each index tuple t and slice element j, offset + j, in the
/// updates' order; `ushape` must be indices[:-1] ++ data[k:].
pub fn scatter_nd_dst(
    dshape: &[usize],
    ishape: &[usize],
    ushape: &[usize],
    idx: &[i64],
) -> Result<Vec<i64>> {
    if ishape.is_empty() {
        return Err(Error::invalid("ScatterND indices must have rank >= 1"));
    }
    let k = ishape[ishape.len() - 1];
    if k > dshape.len() {
        return Err(Error::invalid(format!(
            "index tuples of length {k} too long for data {dshape:?}"
        )));
    }
    let want: Vec<usize> = ishape[..ishape.len() - 1]
        .iter()
        .chain(&dshape[k..])
        .copied()
        .collect();
    if ushape != want.as_slice() {
        return Err(Error::invalid(format!(
            "updates shape {ushape:?} should be {want:?}"
        )));
    }
    let st = dense_strides(dshape);
    let slice: usize = dshape[k..].iter().product();
    let n: usize = ishape[..ishape.len() - 1].iter().product();
    let mut dst = Vec::with_capacity(n * slice);
    for t in 0..n {
        let mut off = 0i64;
        for j in 0..k {
            off += wrap_index(idx[t * k + j], dshape[j], "ScatterND")? as i64 * st[j];
        }
        dst.extend((0..slice as i64).map(|j| off + j));
    }
    Ok(dst)
}

/// Whether any destination repeats (then the updates apply serially, in order).
pub fn has_duplicates(dst: &[i64]) -> bool {
    let mut v = dst.to_vec();
    v.sort_unstable();
    v.windows(2).any(|w| w[0] == w[1])
}

/// TensorScatter destinations: the cache offset of every update element, in order (as the
/// CPU op; positions must fall inside the cache unless `circular` wraps them).
pub fn tensor_scatter_dst(
    past: &[usize],
    upd: &[usize],
    idx: Option<Vec<i64>>,
    axis: i64,
    circular: bool,
) -> Result<Vec<i64>> {
    let r = past.len();
    if r != upd.len() || r < 2 {
        return Err(Error::invalid(format!(
            "cache {past:?} and update {upd:?} must have the same rank >= 2"
        )));
    }
    let axis = super::axis(axis, r, "TensorScatter axis")?;
    if axis == 0 {
        return Err(Error::invalid("axis must not be the batch axis"));
    }
    for d in 0..r {
        let ok = if d == axis {
            upd[d] <= past[d]
        } else {
            upd[d] == past[d]
        };
        if !ok {
            return Err(Error::invalid(format!(
                "update {upd:?} does not fit cache {past:?} on axis {d}"
            )));
        }
    }
    let b = past[0];
    let idx = idx.unwrap_or_else(|| vec![0; b]);
    if idx.len() != b {
        return Err(Error::invalid(format!(
            "write_indices has {} entries, batch is {b}",
            idx.len()
        )));
    }
    let (smax, supd) = (past[axis], upd[axis]);
    let inner: usize = past[axis + 1..].iter().product();
    let per: usize = past[1..axis].iter().product();
    i32_of(past.iter().product(), "cache size")?;
    let mut dst = Vec::with_capacity(upd.iter().product());
    for (bi, &start) in idx.iter().enumerate() {
        for p in 0..per {
            let outer = bi * per + p;
            for s in 0..supd {
                let mut pos = start + s as i64;
                if circular {
                    pos = pos.rem_euclid(smax as i64);
                }
                if pos < 0 || pos as usize >= smax {
                    return Err(Error::invalid(format!(
                        "write position {pos} outside cache length {smax} (batch {bi})"
                    )));
                }
                let d0 = ((outer * smax + pos as usize) * inner) as i64;
                dst.extend((0..inner as i64).map(|j| d0 + j));
            }
        }
    }
    Ok(dst)
}
