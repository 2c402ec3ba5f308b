//! Slicing and stacking along an axis for any dtype (shared by Loop and Scan).

use crate::prelude::*;

/// `t[.., i, ..]` with `axis` removed.
pub(crate) fn slice_axis(t: &Tensor, axis: usize, i: usize) -> Result<Tensor> {
    let sh = t.shape();
    ensure!(
        axis < sh.len() && i < sh[axis],
        "index {i} along axis {axis} out of range for shape {sh:?}"
    );
    let outer: usize = sh[..axis].iter().product();
    let inner: usize = sh[axis + 1..].iter().product();
    let n = sh[axis];
    let mut out_shape = sh.to_vec();
    out_shape.remove(axis);
    dispatch_any!(t.dtype(), T => {
        let s = t.as_slice::<T>()?;
        let mut v: Vec<T> = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            v.extend_from_slice(&s[(o * n + i) * inner..(o * n + i + 1) * inner]);
        }
        Tensor::new(t.dtype(), out_shape, T::into_data(v))
    })
}

/// Stacks equally shaped, equally typed tensors along a new axis `axis` (0..=rank).
pub(crate) fn stack(ts: &[Tensor], axis: usize) -> Result<Tensor> {
    let first = ts
        .first()
        .ok_or_else(|| Error::invalid("stack of no tensors"))?;
    let sh = first.shape().to_vec();
    ensure!(
        axis <= sh.len(),
        "stack axis {axis} out of range for rank {}",
        sh.len()
    );
    for t in ts {
        ensure!(
            t.shape() == sh.as_slice() && t.dtype() == first.dtype(),
            "stacked values differ: {:?} {} vs {:?} {}",
            t.shape(),
            t.dtype(),
            sh,
            first.dtype()
        );
    }
    let outer: usize = sh[..axis].iter().product();
    let inner: usize = sh[axis..].iter().product();
    let mut out_shape = sh.clone();
    out_shape.insert(axis, ts.len());
    dispatch_any!(first.dtype(), T => {
        let ss: Vec<&[T]> = ts.iter().map(|t| t.as_slice::<T>()).collect::<Result<_>>()?;
        let mut v: Vec<T> = Vec::with_capacity(outer * inner * ts.len());
        for o in 0..outer {
            for s in &ss {
                v.extend_from_slice(&s[o * inner..(o + 1) * inner]);
            }
        }
        Tensor::new(first.dtype(), out_shape, T::into_data(v))
    })
}

/// An empty tensor for a scan output that received no iterations, typed from the body's
/// declared output (f32, shape [0] when unknown). `axis` is where the length-0 dim goes.
pub(crate) fn empty_like_decl(info: &ValueInfo, axis: usize) -> Tensor {
    let dtype = info.dtype.unwrap_or(DType::F32);
    let mut shape: Vec<usize> = match &info.shape {
        Some(s) => s.iter().map(|d| d.fixed().unwrap_or(0)).collect(),
        None => vec![],
    };
    shape.insert(axis.min(shape.len()), 0);
    Tensor::zeros(dtype, shape)
}
