//! MaxUnpool: scatters pooled values back to the positions MaxPool's `Indices` recorded.
//! `X: [N, C, D1..Dn]`, `I: int64 [N, C, D1..Dn]` (flat indices into the output), optional
//! `output_shape: int64 [rank]` -> `Y`. Values are scattered into the default shape, of
//! spatial size `(D - 1) * stride + kernel - pad_begin - pad_end` (the indices address it),
//! which is then zero-extended at the end of each dim to `output_shape` when given (as the
//! ONNX reference does). Positions not written are zero.

use super::spatial::{split_nc, WindowAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct MaxUnpool {
    window: WindowAttrs,
}

pub fn register(r: &mut Registry) {
    r.register("", "MaxUnpool", |ctx| {
        let window = WindowAttrs::parse(ctx.attrs)?;
        ensure!(
            window.kernel.is_some(),
            "MaxUnpool: missing attribute 'kernel_shape'"
        );
        Ok(Box::new(MaxUnpool { window }))
    });
}

/// The default (inferred) unpooled shape of `x` under `window`: the shape the indices
/// address.
pub fn unpooled_shape(window: &WindowAttrs, x: &[usize]) -> Result<Vec<usize>> {
    let (n, c, sp) = split_nc(x, "MaxUnpool")?;
    let nd = sp.len();
    let k = window.kernel(nd, None)?;
    let st = window.strides(nd)?;
    let (pb, pe) = window.explicit_pads(nd)?;
    let mut out = vec![n, c];
    for d in 0..nd {
        let full = (sp[d].max(1) - 1) * st[d] + k[d];
        ensure!(
            full >= pb[d] + pe[d],
            "MaxUnpool: pads {}+{} exceed the unpooled size {full} on dim {d}",
            pb[d],
            pe[d]
        );
        out.push(full - pb[d] - pe[d]);
    }
    Ok(out)
}

impl MaxUnpool {
    fn out_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        unpooled_shape(&self.window, x)
    }

    fn run<T: Elem + Copy>(
        &self,
        x: &Tensor,
        idx: &[i64],
        shape: Vec<usize>,
        output_shape: Option<Vec<usize>>,
    ) -> Result<Tensor> {
        let xs = x.as_slice::<T>()?;
        let total = numel(&shape);
        let mut y = vec![T::default(); total];
        for (&v, &i) in xs.iter().zip(idx) {
            ensure!(
                i >= 0 && (i as usize) < total,
                "MaxUnpool: index {i} out of range for unpooled shape {shape:?}"
            );
            y[i as usize] = v;
        }
        let Some(os) = output_shape.filter(|os| os != &shape) else {
            return Tensor::from_vec(shape, y);
        };
        ensure!(
            os.len() == shape.len(),
            "MaxUnpool: output_shape {os:?} must have rank {}",
            shape.len()
        );
        ensure!(
            os.iter().zip(&shape).all(|(a, b)| a >= b),
            "MaxUnpool: output_shape {os:?} is smaller than the unpooled shape {shape:?}"
        );
        let mut out = vec![T::default(); numel(&os)];
        let dst = broadcast_strides(&os, &os);
        let mut k = 0;
        for_each_broadcast(&shape, &[dst], |_, o| {
            out[o[0]] = y[k];
            k += 1;
        });
        Tensor::from_vec(os, out)
    }
}

impl Op for MaxUnpool {
    fn op_type(&self) -> &str {
        "MaxUnpool"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let i = req(&inputs, 1)?;
        ensure!(
            i.shape() == x.shape(),
            "MaxUnpool: indices shape {:?} differs from X shape {:?}",
            i.shape(),
            x.shape()
        );
        let idx = i.to_i64_vec()?;
        let shape = self.out_shape(x.shape())?;
        let os = match opt(&inputs, 2) {
            Some(t) => {
                let s = t.to_i64_vec()?;
                ensure!(
                    s.iter().all(|&d| d >= 0),
                    "MaxUnpool: output_shape {s:?} has a negative dim"
                );
                Some(s.iter().map(|&d| d as usize).collect())
            }
            None => None,
        };
        Ok(vec![
            dispatch_numeric!(x.dtype(), T => self.run::<T>(x, &idx, shape, os)?, other => return Err(Error::dtype(other, "MaxUnpool"))),
        ])
    }
}
