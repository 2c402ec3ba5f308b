//! Gemm: `Y = alpha * A' x B' + beta * C`, where `A'` is `A` (`[M, K]`) or its transpose
//! (`transA`), `B'` is `B` (`[K, N]`) or its transpose (`transB`), and `C` (optional from
//! opset 11) broadcasts unidirectionally to `[M, N]`. Float and 32/64-bit integer dtypes.

use super::blas::{row_major, transposed, GemmScalar};
use crate::prelude::*;

#[derive(Debug)]
pub struct Gemm {
    alpha: f64,
    beta: f64,
    trans_a: bool,
    trans_b: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "Gemm", |ctx| {
        let a = ctx.attrs;
        Ok(Box::new(Gemm {
            alpha: a.float_or("alpha", 1.0)? as f64,
            beta: a.float_or("beta", 1.0)? as f64,
            trans_a: a.int_or("transA", 0)? != 0,
            trans_b: a.int_or("transB", 0)? != 0,
        }))
    });
}

impl Gemm {
    /// (M, N, K) from the shapes of A and B, checking ranks and the inner dim.
    fn dims(&self, a: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
        ensure!(a.len() == 2, "Gemm: A must be 2-D, got shape {a:?}");
        ensure!(b.len() == 2, "Gemm: B must be 2-D, got shape {b:?}");
        let (m, k) = if self.trans_a {
            (a[1], a[0])
        } else {
            (a[0], a[1])
        };
        let (kb, n) = if self.trans_b {
            (b[1], b[0])
        } else {
            (b[0], b[1])
        };
        if k != kb {
            return Err(Error::shape(format!(
                "Gemm: inner dims differ: A' is {m}x{k}, B' is {kb}x{n} (A {a:?}, B {b:?})"
            )));
        }
        Ok((m, n, k))
    }

    fn run<T: GemmScalar>(&self, a: &Tensor, b: &Tensor, c: Option<&Tensor>) -> Result<Tensor> {
        let (m, n, k) = self.dims(a.shape(), b.shape())?;
        let mut y = vec![T::zero(); m * n];
        let mut beta = T::zero();
        if let Some(c) = c {
            ensure!(
                c.dtype() == a.dtype(),
                "Gemm: C is {} but A is {}",
                c.dtype(),
                a.dtype()
            );
            ensure!(
                c.rank() <= 2,
                "Gemm: C must have rank <= 2, got {:?}",
                c.shape()
            );
            let bs = broadcast_shapes(&[c.shape(), &[m, n]])
                .ok()
                .filter(|s| s == &[m, n]);
            ensure!(
                bs.is_some(),
                "Gemm: C of shape {:?} does not broadcast to [{m}, {n}]",
                c.shape()
            );
            if self.beta != 0.0 {
                let cs = c.as_slice::<T>()?;
                let st = broadcast_strides(c.shape(), &[m, n]);
                for_each_broadcast(&[m, n], &[st], |o, off| y[o] = cs[off[0]]);
                beta = T::from_f64(self.beta);
            }
        }
        let sa = if self.trans_a {
            transposed(m)
        } else {
            row_major(k)
        };
        let sb = if self.trans_b {
            transposed(k)
        } else {
            row_major(n)
        };
        T::gemm(
            m,
            n,
            k,
            a.as_slice::<T>()?,
            sa,
            b.as_slice::<T>()?,
            sb,
            &mut y,
            n,
            T::from_f64(self.alpha),
            beta,
            true,
        );
        Tensor::from_vec(vec![m, n], y)
    }
}

impl Op for Gemm {
    fn op_type(&self) -> &str {
        "Gemm"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let a = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let b = ctx.inputs.get(1).cloned().flatten().unwrap_or_default();
        let shape = match (a.concrete_shape(), b.concrete_shape()) {
            (Some(sa), Some(sb)) => self
                .dims(&sa, &sb)
                .ok()
                .map(|(m, n, _)| vec![Dim::Fixed(m), Dim::Fixed(n)]),
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: a.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = req(&inputs, 0)?;
        let b = req(&inputs, 1)?;
        ensure!(
            a.dtype() == b.dtype(),
            "Gemm: A is {} but B is {}",
            a.dtype(),
            b.dtype()
        );
        let c = opt(&inputs, 2);
        let y = dispatch_numeric!(a.dtype(), T => self.run::<T>(a, b, c)?, other => return Err(Error::dtype(other, "Gemm")));
        Ok(vec![y])
    }
}
