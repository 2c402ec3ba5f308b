//! Data movement and views: Transpose, Slice and Expand as one strided copy (output dims,
//! input strides, a base offset); Concat as block copies; Gather; and the shape arithmetic
//! of the no-copy views (Reshape, Flatten, Squeeze, Unsqueeze).

use super::{
    axis, broadcast_shape, broadcast_strides, dense_strides, i32_of, pack_strides, Strides,
};
use smelt_core::{Error, Result};

/// A strided copy: y[i] = x[base + offset(i)] over the output shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    pub out_shape: Vec<usize>,
    pub n: usize,
    pub base: i32,
    pub strides: Strides,
}

fn copy_plan(out_shape: Vec<usize>, base: i64, st: &[i64]) -> Result<CopyPlan> {
    let n = out_shape.iter().product();
    i32_of(n, "element count")?;
    Ok(CopyPlan {
        strides: pack_strides(&out_shape, &[st])?,
        out_shape,
        n,
        base: i32::try_from(base)
            .map_err(|_| Error::unsupported("cuda", "offset exceeds 32 bits"))?,
    })
}

/// Transpose by `perm` (None: reversed dims).
pub fn transpose(shape: &[usize], perm: Option<&[i64]>) -> Result<CopyPlan> {
    let r = shape.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p
            .iter()
            .map(|&a| axis(a, r, "perm entry"))
            .collect::<Result<_>>()?,
        None => (0..r).rev().collect(),
    };
    let mut seen = vec![false; r];
    if perm.len() != r || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return Err(Error::invalid(format!(
            "perm {perm:?} is not a permutation of {r} dims"
        )));
    }
    i32_of(shape.iter().product(), "element count")?;
    let s = dense_strides(shape);
    copy_plan(
        perm.iter().map(|&p| shape[p]).collect(),
        0,
        &perm.iter().map(|&p| s[p]).collect::<Vec<_>>(),
    )
}

/// Expand x to broadcast with `target`.
pub fn expand(shape: &[usize], target: &[usize]) -> Result<CopyPlan> {
    let out = broadcast_shape(&[shape, target])?;
    i32_of(shape.iter().product(), "element count")?;
    let st = broadcast_strides(shape, &out);
    copy_plan(out, 0, &st)
}

/// Tile `shape` by `reps` (one per dim): a strided copy over [r0, d0, r1, d1, ...] reading
/// x with stride 0 along each repeat dim; returns the plan (over those 2R dims) and the
/// output shape [r0 * d0, r1 * d1, ...] to view the result as.
pub fn tile(shape: &[usize], reps: &[i64]) -> Result<(CopyPlan, Vec<usize>)> {
    if reps.len() != shape.len() || reps.iter().any(|&r| r < 0) {
        return Err(Error::invalid(format!(
            "Tile repeats {reps:?} for a rank {} input",
            shape.len()
        )));
    }
    i32_of(shape.iter().product(), "element count")?;
    let dense = dense_strides(shape);
    let (mut vshape, mut vst) = (Vec::new(), Vec::new());
    for (i, &r) in reps.iter().enumerate() {
        vshape.extend([r as usize, shape[i]]);
        vst.extend([0, dense[i]]);
    }
    let out = reps
        .iter()
        .zip(shape)
        .map(|(&r, &d)| r as usize * d)
        .collect();
    Ok((copy_plan(vshape, 0, &vst)?, out))
}

/// DepthToSpace (`to_space`, DCR or `crd` mode) / SpaceToDepth of an NCHW `shape` by block
/// `b`: a transpose of a 6-d view (the CPU op's reshape-transpose-reshape); returns the
/// plan and the output shape to view the result as.
pub fn depth_space(
    shape: &[usize],
    b: i64,
    to_space: bool,
    crd: bool,
) -> Result<(CopyPlan, Vec<usize>)> {
    let &[n, c, h, w] = shape else {
        return Err(Error::invalid(format!("{shape:?} is not NCHW")));
    };
    if b < 1 {
        return Err(Error::invalid(format!("blocksize {b} must be >= 1")));
    }
    let b = b as usize;
    let (view, perm, out) = if to_space {
        if !c.is_multiple_of(b * b) {
            return Err(Error::shape(format!("channels {c} not divisible by {b}²")));
        }
        let cb = c / (b * b);
        let out = vec![n, cb, h * b, w * b];
        if crd {
            (vec![n, cb, b, b, h, w], [0, 1, 4, 2, 5, 3], out)
        } else {
            (vec![n, b, b, cb, h, w], [0, 3, 4, 1, 5, 2], out)
        }
    } else {
        if !h.is_multiple_of(b) || !w.is_multiple_of(b) {
            return Err(Error::shape(format!("{h}x{w} not divisible by {b}")));
        }
        (
            vec![n, c, h / b, b, w / b, b],
            [0, 3, 5, 1, 2, 4],
            vec![n, c * b * b, h / b, w / b],
        )
    };
    Ok((transpose(&view, Some(&perm))?, out))
}

/// ONNX Slice: per listed axis, start/end clamped as the spec says, any non-zero step.
pub fn slice(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<CopyPlan> {
    let r = shape.len();
    let k = starts.len();
    if ends.len() != k || axes.is_some_and(|a| a.len() != k) || steps.is_some_and(|s| s.len() != k)
    {
        return Err(Error::invalid(
            "Slice: starts, ends, axes and steps differ in length",
        ));
    }
    i32_of(shape.iter().product(), "element count")?;
    let dense = dense_strides(shape);
    let mut out = shape.to_vec();
    let mut st = dense.clone();
    let mut base = 0i64;
    let mut done = vec![false; r];
    for i in 0..k {
        let a = axis(axes.map_or(i as i64, |a| a[i]), r, "Slice axis")?;
        if std::mem::replace(&mut done[a], true) {
            return Err(Error::invalid(format!("Slice: axis {a} repeated")));
        }
        let step = steps.map_or(1, |s| s[i]);
        if step == 0 {
            return Err(Error::invalid("Slice: step 0"));
        }
        let d = shape[a] as i64;
        if d == 0 {
            continue;
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = if step > 0 {
            (norm(starts[i]).clamp(0, d), norm(ends[i]).clamp(0, d))
        } else {
            (
                norm(starts[i]).clamp(0, d - 1),
                norm(ends[i]).clamp(-1, d - 1),
            )
        };
        let len = if step > 0 {
            if e > s {
                (e - s + step - 1) / step
            } else {
                0
            }
        } else if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        };
        out[a] = len as usize;
        if len > 0 {
            base += s * dense[a];
        }
        st[a] = dense[a] * step;
    }
    copy_plan(out, base, &st)
}

/// Concat along `axis`: each input is [outer, run_i] copied at column offset_i of the
/// output [outer, out_run].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcatPlan {
    pub out_shape: Vec<usize>,
    pub outer: usize,
    pub out_run: usize,
    /// (run, offset) per input.
    pub parts: Vec<(usize, usize)>,
}

pub fn concat(shapes: &[&[usize]], ax: i64) -> Result<ConcatPlan> {
    let first = shapes
        .first()
        .ok_or_else(|| Error::invalid("Concat of no inputs"))?;
    let r = first.len();
    let a = axis(ax, r, "Concat axis")?;
    let mut out = first.to_vec();
    out[a] = 0;
    for s in shapes {
        if s.len() != r || (0..r).any(|d| d != a && s[d] != first[d]) {
            return Err(Error::shape(format!(
                "Concat: {s:?} does not match {first:?} off axis {a}"
            )));
        }
        out[a] += s[a];
    }
    let inner: usize = first[a + 1..].iter().product();
    let outer: usize = first[..a].iter().product();
    let mut off = 0;
    let parts = shapes
        .iter()
        .map(|s| {
            let run = s[a] * inner;
            off += run;
            (run, off - run)
        })
        .collect();
    i32_of(out.iter().product(), "element count")?;
    Ok(ConcatPlan {
        out_run: out[a] * inner,
        out_shape: out,
        outer,
        parts,
    })
}

/// Gather along `axis`: x [outer, axis_len, inner] and nidx indices give y [outer, nidx, inner].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatherPlan {
    pub out_shape: Vec<usize>,
    pub outer: usize,
    pub axis_len: usize,
    pub nidx: usize,
    pub inner: usize,
}

pub fn gather(data: &[usize], idx: &[usize], ax: i64) -> Result<GatherPlan> {
    let a = axis(ax, data.len(), "Gather axis")?;
    let mut out = data[..a].to_vec();
    out.extend(idx);
    out.extend(&data[a + 1..]);
    i32_of(out.iter().product(), "element count")?;
    i32_of(data.iter().product(), "element count")?;
    Ok(GatherPlan {
        outer: data[..a].iter().product(),
        axis_len: data[a],
        nidx: idx.iter().product(),
        inner: data[a + 1..].iter().product(),
        out_shape: out,
    })
}

/// GatherElements of data `dshape` by indices of `ishape` along `ax`: the strides over the
/// indices' dims (the data's, 0 on the axis; not merged, the axis must stay apart) and
/// the axis stride.
pub fn gather_elements(dshape: &[usize], ishape: &[usize], ax: i64) -> Result<(Strides, i32)> {
    let r = dshape.len();
    let a = axis(ax, r, "GatherElements axis")?;
    if ishape.len() != r || (0..r).any(|d| d != a && ishape[d] > dshape[d]) {
        return Err(Error::shape(format!(
            "GatherElements: indices {ishape:?} do not fit data {dshape:?}"
        )));
    }
    if r > super::MAX_RANK {
        return Err(Error::unsupported("GatherElements", format!("rank {r}")));
    }
    i32_of(dshape.iter().product(), "element count")?;
    i32_of(ishape.iter().product(), "element count")?;
    let dense = dense_strides(dshape);
    let mut st = Strides {
        rank: r as i32,
        ..Default::default()
    };
    for d in 0..r {
        st.dims[d] = ishape[d] as i32;
        st.a[d] = if d == a { 0 } else { dense[d] as i32 };
    }
    Ok((st, dense[a] as i32))
}

/// Reshape's target: 0 copies the input dim (unless `allowzero`), one -1 is inferred.
pub fn reshape(shape: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*shape.get(i).ok_or_else(|| {
                Error::shape(format!("Reshape: 0 at {i} past rank {}", shape.len()))
            })?),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(Error::shape(format!("Reshape: bad target {target:?}"))),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::shape(format!("Reshape {shape:?} to {target:?}")));
        }
        out[i] = n / known;
    }
    if out.iter().product::<usize>() != n {
        return Err(Error::shape(format!(
            "Reshape {shape:?} to {target:?}: element counts differ"
        )));
    }
    Ok(out)
}

pub fn flatten(shape: &[usize], ax: i64) -> Result<Vec<usize>> {
    let r = shape.len() as i64;
    let a = if ax < 0 { ax + r } else { ax };
    if a < 0 || a > r {
        return Err(Error::invalid(format!("Flatten axis {ax} for rank {r}")));
    }
    let a = a as usize;
    Ok(vec![
        shape[..a].iter().product(),
        shape[a..].iter().product(),
    ])
}

/// Squeeze `axes` (None: every dim of size 1).
pub fn squeeze(shape: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    match axes {
        None => Ok(shape.iter().copied().filter(|&d| d != 1).collect()),
        Some(a) => {
            let ax: Vec<usize> = a
                .iter()
                .map(|&v| axis(v, shape.len(), "Squeeze axis"))
                .collect::<Result<_>>()?;
            if let Some(&bad) = ax.iter().find(|&&d| shape[d] != 1) {
                return Err(Error::shape(format!(
                    "Squeeze: dim {bad} of {shape:?} is not 1"
                )));
            }
            Ok((0..shape.len())
                .filter(|d| !ax.contains(d))
                .map(|d| shape[d])
                .collect())
        }
    }
}

pub fn unsqueeze(shape: &[usize], axes: &[i64]) -> Result<Vec<usize>> {
    let r = shape.len() + axes.len();
    let mut ax: Vec<usize> = axes
        .iter()
        .map(|&v| axis(v, r, "Unsqueeze axis"))
        .collect::<Result<_>>()?;
    ax.sort_unstable();
    if ax.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!("Unsqueeze: repeated axes {axes:?}")));
    }
    let mut it = shape.iter();
    Ok((0..r)
        .map(|d| {
            if ax.contains(&d) {
                1
            } else {
                *it.next().unwrap_or(&1)
            }
        })
        .collect())
}

/// Split's part sizes along an axis of `dim`: the `split` attribute (opsets < 13) or input,
/// else `num_outputs` parts of ceil(dim / n) with a smaller last part (opset 18), else
/// `n_out` equal parts.
pub fn split_sizes(
    dim: usize,
    given: Option<Vec<i64>>,
    num_outputs: Option<i64>,
    n_out: usize,
) -> Result<Vec<usize>> {
    if let Some(s) = given.filter(|s| !s.is_empty()) {
        if s.iter().any(|&v| v < 0) || s.iter().sum::<i64>() != dim as i64 {
            return Err(Error::invalid(format!(
                "split sizes {s:?} do not sum to the axis size {dim}"
            )));
        }
        return Ok(s.iter().map(|&v| v as usize).collect());
    }
    if let Some(n) = num_outputs {
        if n < 1 {
            return Err(Error::invalid(format!("num_outputs {n} must be >= 1")));
        }
        let chunk = dim.div_ceil(n as usize);
        let mut left = dim;
        return Ok((0..n)
            .map(|_| {
                let c = chunk.min(left);
                left -= c;
                c
            })
            .collect());
    }
    if n_out == 0 || !dim.is_multiple_of(n_out) {
        return Err(Error::invalid(format!(
            "axis size {dim} does not split evenly into {n_out} outputs"
        )));
    }
    Ok(vec![dim / n_out; n_out])
}

/// Pad as a gather through per-dim coordinate maps (the CPU op's `pad_map`): output dims,
/// one table of input coordinates (-1: the fill value) holding each dim's map at `offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PadPlan {
    pub out_shape: Vec<usize>,
    pub table: Vec<i32>,
    pub strides: Strides,
}

/// Plans Pad of `shape` by `pads` ([begins.., ends..] over `axes`, all dims when None).
pub fn pad(
    shape: &[usize],
    pads: &[i64],
    axes: Option<&[i64]>,
    mode: smelt_ops::array::pad::Mode,
) -> Result<PadPlan> {
    let r = shape.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|&v| axis(v, r, "Pad axis"))
            .collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::invalid(format!(
            "Pad: {} pads for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    if r > super::MAX_RANK {
        return Err(Error::unsupported("Pad", format!("rank {r} on the GPU")));
    }
    let (mut pb, mut pe) = (vec![0i64; r], vec![0i64; r]);
    for (k, &a) in axes.iter().enumerate() {
        pb[a] = pads[k];
        pe[a] = pads[axes.len() + k];
    }
    let mut out = Vec::with_capacity(r);
    let mut table = Vec::new();
    let mut st = Strides {
        rank: r as i32,
        ..Default::default()
    };
    let dense = dense_strides(shape);
    for d in 0..r {
        let o = (shape[d] as i64)
            .checked_add(pb[d])
            .and_then(|v| v.checked_add(pe[d]))
            .filter(|&v| v >= 0)
            .ok_or_else(|| {
                Error::shape(format!(
                    "Pad: dim {d} of {shape:?} with pads {} and {}",
                    pb[d], pe[d]
                ))
            })?;
        let map = smelt_ops::array::pad::pad_map(o as usize, shape[d], pb[d], mode)?;
        st.dims[d] = i32_of(o as usize, "a dimension")?;
        st.a[d] = i32_of(dense[d] as usize, "a stride")?;
        st.b[d] = i32_of(table.len(), "the Pad table")?;
        table.extend(map.iter().map(|m| m.map_or(-1, |v| v as i32)));
        out.push(o as usize);
    }
    i32_of(out.iter().product(), "element count")?;
    i32_of(shape.iter().product(), "element count")?;
    Ok(PadPlan {
        out_shape: out,
        table,
        strides: st,
    })
}

/// The output shape of a view op over `shape`; `param` is input 1 (Reshape's target,
/// Squeeze's or Unsqueeze's axes from opset 13) read on the host.
pub fn view_shape(
    v: &super::op::ViewKind,
    shape: &[usize],
    param: Option<Vec<i64>>,
) -> Result<Vec<usize>> {
    use super::op::ViewKind;
    match v {
        ViewKind::Identity => Ok(shape.to_vec()),
        ViewKind::Flatten { axis } => flatten(shape, *axis),
        ViewKind::Reshape { allowzero } => {
            let t = param.ok_or_else(|| Error::invalid("Reshape without a shape input"))?;
            reshape(shape, &t, *allowzero)
        }
        ViewKind::Squeeze { axes } => squeeze(shape, axes.clone().or(param).as_deref()),
        ViewKind::Unsqueeze { axes } => {
            let a = axes
                .clone()
                .or(param)
                .ok_or_else(|| Error::invalid("Unsqueeze without axes"))?;
            unsqueeze(shape, &a)
        }
    }
}

/// Shape's output: dims `start..end` of `dims` (negative from the end, both clamped to
/// `[0, rank]`).
pub fn shape_of(dims: &[usize], start: i64, end: Option<i64>) -> Vec<i64> {
    let r = dims.len() as i64;
    let fix = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
    let (s, e) = (fix(start), end.map_or(r, fix));
    (s..e.max(s)).map(|d| dims[d as usize] as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn slice_clamps_like_onnx() {
        let p = slice(&[10], &[-3], &[i64::MAX], None, None).unwrap();
        assert_eq!((p.out_shape.clone(), p.base), (vec![3], 7));
        let p = slice(&[10], &[9], &[i64::MIN], None, Some(&[-2])).unwrap();
        assert_eq!(
            (p.out_shape.clone(), p.base, p.strides.a[0]),
            (vec![5], 9, -2)
        );
        let p = slice(&[4, 5], &[1], &[100], Some(&[1]), None).unwrap();
        assert_eq!(p.out_shape, vec![4, 4]);
        assert_eq!(
            slice(&[4], &[3], &[1], None, None).unwrap().out_shape,
            vec![0]
        );
    }
    #[test]
    fn shape_slices_clamp() {
        assert_eq!(shape_of(&[2, 3, 4], 0, None), vec![2, 3, 4]);
        assert_eq!(shape_of(&[2, 3, 4], -2, Some(100)), vec![3, 4]);
        assert_eq!(shape_of(&[2, 3, 4], 2, Some(1)), Vec::<i64>::new());
    }

    #[test]
    fn views() {
        assert_eq!(reshape(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert!(reshape(&[2, 3], &[4, -1], false).is_err());
        assert_eq!(flatten(&[2, 3, 4], 0).unwrap(), vec![1, 24]);
        assert_eq!(squeeze(&[1, 3, 1], Some(&[0])).unwrap(), vec![3, 1]);
        assert_eq!(unsqueeze(&[3], &[0, -1]).unwrap(), vec![1, 3, 1]);
        let c = concat(&[&[2, 3], &[2, 5]], 1).unwrap();
        assert_eq!(
            (c.outer, c.out_run, c.parts.clone()),
            (2, 8, vec![(3, 0), (5, 3)])
        );
        let t = transpose(&[2, 3], None).unwrap();
        assert_eq!(t.out_shape, vec![3, 2]);
        let (p, out) = depth_space(&[1, 8, 2, 3], 2, true, false).unwrap();
        assert_eq!((p.n, out), (48, vec![1, 2, 4, 6]));
        let (p, out) = tile(&[2, 3], &[2, 1]).unwrap();
        assert_eq!((p.n, out), (12, vec![4, 3]));
        assert!(tile(&[2, 3], &[2]).is_err());
    }
}
