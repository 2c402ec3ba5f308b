//! Helpers shared by op implementations: input access, axis handling, broadcasting maps.

use smelt_core::tensor::{numel, strides};
use smelt_core::{broadcast_shapes, DType, Elem, Error, Result, Tensor};

/// The required input `i`, or an error naming it.
pub fn req(inputs: &[Option<Tensor>], i: usize) -> Result<&Tensor> {
    inputs
        .get(i)
        .and_then(|t| t.as_ref())
        .ok_or_else(|| Error::invalid(format!("missing required input #{i}")))
}

/// Takes required input `i` out of the vector (so its buffer can be reused).
pub fn take(inputs: &mut [Option<Tensor>], i: usize) -> Result<Tensor> {
    inputs
        .get_mut(i)
        .and_then(|t| t.take())
        .ok_or_else(|| Error::invalid(format!("missing required input #{i}")))
}

/// Optional input `i` (absent or empty-named).
pub fn opt(inputs: &[Option<Tensor>], i: usize) -> Option<&Tensor> {
    inputs.get(i).and_then(|t| t.as_ref())
}

/// The dtype named by an attribute in ONNX `TensorProto.DataType` numbering (Cast's `to`,
/// EyeLike's `dtype`, ...). Types smelt does not have are an unsupported error.
pub fn dtype_from_onnx(code: i64) -> Result<DType> {
    if let Some(d) = DType::from_onnx(code) {
        return Ok(d);
    }
    Err(match code {
        14 | 15 => Error::Unsupported(format!("complex data type {code}")),
        24 => Error::Unsupported("data type FLOAT8E8M0 (24)".into()),
        25 | 26 => Error::Unsupported(format!("2-bit data type {code}")),
        _ => Error::invalid(format!("unknown ONNX data type {code}")),
    })
}

/// Maps a possibly negative axis into `0..rank`. A scalar (rank 0) has no axis, so every
/// axis is out of range for it: callers index the shape with the result.
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(Error::invalid(format!(
            "axis {axis} out of range for rank {rank}"
        )));
    }
    Ok(a as usize)
}

/// [`norm_axis`] over a list, rejecting duplicates.
pub fn norm_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = norm_axis(a, rank)?;
        if out.contains(&a) {
            return Err(Error::invalid(format!("axis {a} repeated in {axes:?}")));
        }
        out.push(a);
    }
    Ok(out)
}

/// Strides of `shape` broadcast to `out` (0 on broadcast dims), aligned to `out`'s rank.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    let off = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                st[i - off]
            }
        })
        .collect()
}

/// Calls `f(out_index, offsets)` for every element of `out`, where `offsets[k]` is the
/// element offset into input `k` (broadcast with `strides[k]`). Walks the last dim innermost.
pub fn for_each_broadcast(
    out: &[usize],
    in_strides: &[Vec<usize>],
    mut f: impl FnMut(usize, &[usize]),
) {
    let n = numel(out);
    if n == 0 {
        return;
    }
    let k = in_strides.len();
    let rank = out.len();
    let mut idx = vec![0usize; rank];
    let mut offs = vec![0usize; k];
    for o in 0..n {
        f(o, &offs);
        // increment the multi-index, updating offsets incrementally
        let mut d = rank;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            for (j, s) in in_strides.iter().enumerate() {
                offs[j] += s[d];
            }
            if idx[d] < out[d] {
                break;
            }
            for (j, s) in in_strides.iter().enumerate() {
                offs[j] -= s[d] * out[d];
            }
            idx[d] = 0;
        }
    }
}

/// Element-wise `f(a)`; the output has `a`'s shape.
pub fn unary_map<A: Elem, C: Elem>(a: &Tensor, f: impl Fn(A) -> C) -> Result<Tensor> {
    let v: Vec<C> = a.as_slice::<A>()?.iter().map(|x| f(x.clone())).collect();
    Tensor::from_vec(a.shape().to_vec(), v)
}

/// Element-wise `f(a, b)` with numpy broadcasting.
pub fn binary_map<A: Elem, B: Elem, C: Elem>(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(A, B) -> C,
) -> Result<Tensor> {
    let sa = a.as_slice::<A>()?;
    let sb = b.as_slice::<B>()?;
    if a.shape() == b.shape() {
        let v = sa
            .iter()
            .zip(sb)
            .map(|(x, y)| f(x.clone(), y.clone()))
            .collect();
        return Tensor::from_vec(a.shape().to_vec(), v);
    }
    let out = broadcast_shapes(&[a.shape(), b.shape()])?;
    if b.len() == 1 && numel(&out) == a.len() {
        let y = sb[0].clone();
        return Tensor::from_vec(out, sa.iter().map(|x| f(x.clone(), y.clone())).collect());
    }
    if a.len() == 1 && numel(&out) == b.len() {
        let x = sa[0].clone();
        return Tensor::from_vec(out, sb.iter().map(|y| f(x.clone(), y.clone())).collect());
    }
    let st = [
        broadcast_strides(a.shape(), &out),
        broadcast_strides(b.shape(), &out),
    ];
    let mut v = Vec::with_capacity(numel(&out));
    for_each_broadcast(&out, &st, |_, o| {
        v.push(f(sa[o[0]].clone(), sb[o[1]].clone()))
    });
    Tensor::from_vec(out, v)
}

/// Element-wise `f(a, b, c)` with numpy broadcasting (Where, Clip with tensors, ...).
pub fn ternary_map<A: Elem, B: Elem, C: Elem, D: Elem>(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    f: impl Fn(A, B, C) -> D,
) -> Result<Tensor> {
    let (sa, sb, sc) = (a.as_slice::<A>()?, b.as_slice::<B>()?, c.as_slice::<C>()?);
    let out = broadcast_shapes(&[a.shape(), b.shape(), c.shape()])?;
    let st = [
        broadcast_strides(a.shape(), &out),
        broadcast_strides(b.shape(), &out),
        broadcast_strides(c.shape(), &out),
    ];
    let mut v = Vec::with_capacity(numel(&out));
    for_each_broadcast(&out, &st, |_, o| {
        v.push(f(sa[o[0]].clone(), sb[o[1]].clone(), sc[o[2]].clone()))
    });
    Tensor::from_vec(out, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn broadcast_add_matches_manual() {
        let a = Tensor::from_vec(vec![2, 3], vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
        let b = Tensor::from_vec(vec![3], vec![10f32, 20., 30.]).unwrap();
        let c = binary_map::<f32, f32, f32>(&a, &b, |x, y| x + y).unwrap();
        assert_eq!(
            c.as_slice::<f32>().unwrap(),
            &[11., 22., 33., 14., 25., 36.]
        );
        let col = Tensor::from_vec(vec![2, 1], vec![100f32, 200.]).unwrap();
        let d = binary_map::<f32, f32, f32>(&col, &b, |x, y| x + y).unwrap();
        assert_eq!(d.shape(), &[2, 3]);
        assert_eq!(
            d.as_slice::<f32>().unwrap(),
            &[110., 120., 130., 210., 220., 230.]
        );
    }
    #[test]
    fn axes() {
        assert_eq!(norm_axis(-1, 3).unwrap(), 2);
        assert!(norm_axis(3, 3).is_err());
        assert!(norm_axes(&[0, -3], 3).is_err());
        // a scalar has no axis 0 (its shape cannot be indexed)
        assert!(norm_axis(0, 0).is_err());
        assert!(norm_axis(-1, 0).is_err());
    }
}
