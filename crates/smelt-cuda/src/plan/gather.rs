//! Host planning of the gathers of the index family (plan/index.rs): checked indices and
//! offsets, output shapes and the kernels' strides for GatherElements, Tile, OneHot,
//! GatherND, Compress, CenterCropPad, DepthToSpace / SpaceToDepth. Checks are the CPU ops'.

use super::{dense_strides, i32_of, Strides, MAX_RANK};
use smelt_core::{Error, Result};
use smelt_ops::array::common::wrap_index;

/// OneHot's plan: the output shape, (outer, depth, inner), and per index position the hot
/// position (-1: none).
pub struct OneHotPlan {
    pub shape: Vec<usize>,
    pub dims: (usize, usize, usize),
    pub tgt: Vec<i32>,
}

/// OneHot: output shape, (outer, depth, inner), and per index position the hot position
/// (-1: none), as the CPU op (indices truncated, negatives wrapped once).
pub fn one_hot(ishape: &[usize], idx: &[f64], depth: f64, axis: i64) -> Result<OneHotPlan> {
    if !(depth >= 1.0 && depth < (1u64 << 40) as f64) {
        return Err(Error::invalid(format!("OneHot depth {depth} must be >= 1")));
    }
    let depth = depth as usize;
    let a = super::axis(axis, ishape.len() + 1, "OneHot axis")?;
    let outer: usize = ishape[..a].iter().product();
    let inner: usize = ishape[a..].iter().product();
    let mut shape = ishape.to_vec();
    shape.insert(a, depth);
    i32_of(shape.iter().product(), "OneHot output size")?;
    let tgt = idx
        .iter()
        .map(|&v| {
            let x = v.trunc() as i64;
            let x = if x < 0 { x + depth as i64 } else { x };
            if (0..depth as i64).contains(&x) {
                x as i32
            } else {
                -1
            }
        })
        .collect();
    Ok(OneHotPlan {
        shape,
        dims: (outer, depth, inner),
        tgt,
    })
}

/// GatherND: output shape, per index tuple the data offset of its slice, and the slice
/// length (as the CPU op: batch dims shared, negative indices wrapped).
pub fn gather_nd(
    ds: &[usize],
    is: &[usize],
    idx: &[i64],
    b: usize,
) -> Result<(Vec<usize>, Vec<i64>, usize)> {
    if !(!is.is_empty() && b < is.len() && b < ds.len()) || ds[..b] != is[..b] {
        return Err(Error::invalid(format!(
            "batch_dims {b} does not fit data {ds:?} and indices {is:?}"
        )));
    }
    let k = is[is.len() - 1];
    if b + k > ds.len() {
        return Err(Error::invalid(format!(
            "index tuples of length {k} too long for data {ds:?} with batch_dims {b}"
        )));
    }
    let batch: usize = ds[..b].iter().product();
    let per: usize = is[b..is.len() - 1].iter().product();
    let slice: usize = ds[b + k..].iter().product();
    let st = dense_strides(&ds[b..]);
    let bstride: usize = ds[b..].iter().product();
    let shape: Vec<usize> = is[..is.len() - 1]
        .iter()
        .chain(&ds[b + k..])
        .copied()
        .collect();
    let mut src = Vec::with_capacity(batch * per);
    for bi in 0..batch {
        for t in 0..per {
            let tup = &idx[(bi * per + t) * k..][..k];
            let mut off = (bi * bstride) as i64;
            for (j, &i) in tup.iter().enumerate() {
                off += wrap_index(i, ds[b + j], "GatherND")? as i64 * st[j];
            }
            src.push(off);
        }
    }
    i32_of(
        ds.iter().product::<usize>().max(shape.iter().product()),
        "GatherND size",
    )?;
    Ok((shape, src, slice))
}

/// Compress: output shape, per output row (outer x kept) its data offset, and the row
/// length (as the CPU op: no axis flattens; the condition may be shorter than the dim).
pub fn compress(
    shape: &[usize],
    cond: &[i64],
    axis: Option<i64>,
) -> Result<(Vec<usize>, Vec<i64>, usize)> {
    let n: usize = shape.iter().product();
    let (sh, a) = match axis {
        Some(ax) => {
            if shape.is_empty() {
                return Err(Error::invalid("Compress of a scalar with an axis"));
            }
            (
                shape.to_vec(),
                super::axis(ax, shape.len(), "Compress axis")?,
            )
        }
        None => (vec![n], 0),
    };
    let dim = sh[a];
    if cond.len() > dim {
        return Err(Error::invalid(format!(
            "Compress condition has {} entries for a dim of {dim}",
            cond.len()
        )));
    }
    let keep: Vec<usize> = (0..cond.len()).filter(|&i| cond[i] != 0).collect();
    let (outer, inner) = (
        sh[..a].iter().product::<usize>(),
        sh[a + 1..].iter().product::<usize>(),
    );
    let mut oshape = sh.clone();
    oshape[a] = keep.len();
    i32_of(n, "Compress size")?;
    let src = (0..outer)
        .flat_map(|o| keep.iter().map(move |&k| ((o * dim + k) * inner) as i64))
        .collect();
    Ok((oshape, src, inner))
}

/// CenterCropPad: output shape, the per-dim coordinate tables (concatenated; -1: zero
/// fill) and the kernel's strides (dims = output dims, a = input strides, b = table
/// offsets), from the CPU op's maps.
pub fn center_crop_pad(
    shape: &[usize],
    target: &[usize],
    axes: Option<&[i64]>,
) -> Result<(Vec<usize>, Vec<i32>, Strides)> {
    use smelt_ops::array::pad::{pad_map, Mode};
    let r = shape.len();
    let axes = match axes {
        Some(a) => smelt_ops::util::norm_axes(a, r)?,
        None => (0..r).collect(),
    };
    if target.len() != axes.len() {
        return Err(Error::invalid(format!(
            "shape {target:?} has {} entries for {} axes",
            target.len(),
            axes.len()
        )));
    }
    if r > MAX_RANK {
        return Err(Error::unsupported("CenterCropPad", format!("rank {r}")));
    }
    let st = dense_strides(shape);
    let mut oshape = shape.to_vec();
    let mut table = Vec::new();
    let mut p = Strides {
        rank: r as i32,
        ..Default::default()
    };
    for (d, &n) in shape.iter().enumerate() {
        let o = axes.iter().position(|&a| a == d).map_or(n, |j| target[j]);
        let begin = if o >= n {
            ((o - n) / 2) as i64
        } else {
            -(((n - o) / 2) as i64)
        };
        let m = pad_map(o, n, begin, Mode::Constant)?;
        p.dims[d] = i32_of(o, "a dimension")?;
        p.a[d] = st[d] as i32;
        p.b[d] = i32_of(table.len(), "table size")?;
        table.extend(m.iter().map(|c| c.map_or(-1, |c| c as i32)));
        oshape[d] = o;
    }
    i32_of(
        shape.iter().product::<usize>().max(oshape.iter().product()),
        "size",
    )?;
    Ok((oshape, table, p))
}
