//! GatherElements: out[i] = data[i with i[axis] replaced by indices[i]]; the output has the
//! indices' shape (same rank as data, each non-axis dim <= data's). Negative indices wrap.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct GatherElements {
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "GatherElements", |ctx| {
        Ok(Box::new(GatherElements {
            axis: ctx.attrs.int_or("axis", 0)?,
        }))
    });
}

/// For every element of `ishape` (row-major), the data offset with the axis coordinate left
/// out, checking the non-axis coordinates fit `dshape`.
pub fn base_offsets(dshape: &[usize], ishape: &[usize], a: usize) -> Result<Vec<usize>> {
    ensure!(
        dshape.len() == ishape.len(),
        "indices rank {} differs from data rank {}",
        ishape.len(),
        dshape.len()
    );
    for d in 0..dshape.len() {
        ensure!(
            d == a || ishape[d] <= dshape[d],
            "indices shape {ishape:?} exceeds data shape {dshape:?} on axis {d}"
        );
    }
    let st = strides(dshape);
    let mut st2 = st.clone();
    st2[a] = 0;
    let mut v = Vec::with_capacity(numel(ishape));
    for_each_broadcast(ishape, &[st2], |_, o| v.push(o[0]));
    Ok(v)
}

impl Op for GatherElements {
    fn op_type(&self) -> &str {
        "GatherElements"
    }
    /// The data's dtype with the indices' shape.
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ValueInfo {
            dtype: in_info(ctx, 0).and_then(|i| i.dtype),
            shape: in_info(ctx, 1).and_then(|i| i.shape.clone()),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let it = req(&inputs, 1)?;
        let a = norm_axis(self.axis, x.rank())?;
        let dim = x.shape()[a];
        let sa = strides(x.shape())[a];
        let base = base_offsets(x.shape(), it.shape(), a)?;
        let idx = it.to_i64_vec()?;
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let out: Vec<T> = base.iter().zip(&idx).map(|(&b, &i)| Ok(s[b + wrap_index(i, dim, "GatherElements")? * sa].clone())).collect::<Result<_>>()?;
            Ok(vec![mk(x.dtype(), it.shape().to_vec(), out)?])
        })
    }
}
