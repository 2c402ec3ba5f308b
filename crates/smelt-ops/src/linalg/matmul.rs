//! MatMul: numpy `matmul`. A rank-1 `A` is promoted to `[1, K]` and a rank-1 `B` to `[K, 1]`
//! (the added dim is removed from the result); leading batch dims broadcast.
//! `[..., M, K] x [..., K, N] -> [broadcast(...), M, N]`. All numeric dtypes.

use super::blas::{batched_gemm, row_major, GemmScalar};
use crate::prelude::*;

#[derive(Debug)]
pub struct MatMul;

pub fn register(r: &mut Registry) {
    r.register("", "MatMul", |_| Ok(Box::new(MatMul)));
}

/// The geometry of a numpy matmul: `m`, `n`, `k` (A's batch dims are folded into `m` when B
/// has none), per-batch element offsets into `A`
/// and `B`, and the output shape.
pub struct MatMulPlan {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a_off: Vec<usize>,
    pub b_off: Vec<usize>,
    pub out_shape: Vec<usize>,
}

/// The dims of a numpy matmul `A x B` (1-D operands promoted to matrices).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatMulDims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// A's batch dims (all but its last two).
    pub batch_a: Vec<usize>,
    /// B's batch dims.
    pub batch_b: Vec<usize>,
    /// The two broadcast together.
    pub batch: Vec<usize>,
    pub out_shape: Vec<usize>,
}

/// Checks shapes `a` and `b` for a matmul and resolves its dims (any backend's plan starts
/// here).
pub fn matmul_dims(a: &[usize], b: &[usize]) -> Result<MatMulDims> {
    ensure!(
        !a.is_empty() && !b.is_empty(),
        "MatMul: inputs must have rank >= 1, got {a:?} and {b:?}"
    );
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (kb, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != kb {
        return Err(Error::shape(format!(
            "MatMul: inner dims differ: A {a:?} has K={k}, B {b:?} has K={kb}"
        )));
    }
    let ba = a2[..a2.len() - 2].to_vec();
    let bb = b2[..b2.len() - 2].to_vec();
    let batch = broadcast_shapes(&[&ba, &bb]).map_err(|_| {
        Error::shape(format!(
            "MatMul: batch dims of {a:?} and {b:?} do not broadcast"
        ))
    })?;
    let mut out_shape = batch.clone();
    if a.len() > 1 {
        out_shape.push(m);
    }
    if b.len() > 1 {
        out_shape.push(n);
    }
    Ok(MatMulDims {
        m,
        n,
        k,
        batch_a: ba,
        batch_b: bb,
        batch,
        out_shape,
    })
}

/// The output shape of `A x B` (shape inference: no per-batch plan, whose size follows the
/// batch dims).
pub fn matmul_out_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    Ok(matmul_dims(a, b)?.out_shape)
}

/// Plans `A x B` for shapes `a` and `b` with numpy semantics. The plan holds two offsets
/// per batch: call it for tensors that exist, not for declared shapes.
pub fn plan_matmul(a: &[usize], b: &[usize]) -> Result<MatMulPlan> {
    let MatMulDims {
        m,
        n,
        k,
        batch_a: ba,
        batch_b: bb,
        batch,
        out_shape,
    } = matmul_dims(a, b)?;
    let (ba, bb) = (&ba[..], &bb[..]);
    if numel(bb) == 1 && a.len() > 2 && numel(&batch) == numel(ba) {
        // B is shared by every batch: fold A's batch dims into M (one large product)
        return Ok(MatMulPlan {
            m: numel(ba) * m,
            n,
            k,
            a_off: vec![0],
            b_off: vec![0],
            out_shape,
        });
    }
    let sa = broadcast_strides(ba, &batch);
    let sb = broadcast_strides(bb, &batch);
    let mut a_off = Vec::with_capacity(numel(&batch));
    let mut b_off = Vec::with_capacity(numel(&batch));
    for_each_broadcast(&batch, &[sa, sb], |_, o| {
        a_off.push(o[0] * m * k);
        b_off.push(o[1] * k * n);
    });
    Ok(MatMulPlan {
        m,
        n,
        k,
        a_off,
        b_off,
        out_shape,
    })
}

/// `A x B` with numpy semantics, for any element type of the kernel.
pub fn matmul_t<T: GemmScalar>(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let p = plan_matmul(a.shape(), b.shape())?;
    let mut c = vec![T::zero(); numel(&p.out_shape)];
    if p.k == 0 {
        return Tensor::from_vec(p.out_shape, c);
    }
    batched_gemm(
        p.m,
        p.n,
        p.k,
        a.as_slice::<T>()?,
        row_major(p.k),
        &p.a_off,
        b.as_slice::<T>()?,
        row_major(p.n),
        &p.b_off,
        &mut c,
    );
    Tensor::from_vec(p.out_shape, c)
}

/// `A x B` with numpy semantics for any numeric dtype (both inputs must share it).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    ensure!(
        a.dtype() == b.dtype(),
        "MatMul: A is {} but B is {}",
        a.dtype(),
        b.dtype()
    );
    dispatch_numeric!(a.dtype(), T => matmul_t::<T>(a, b), other => Err(Error::dtype(other, "MatMul")))
}

impl Op for MatMul {
    fn op_type(&self) -> &str {
        "MatMul"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let a = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let b = ctx.inputs.get(1).cloned().flatten().unwrap_or_default();
        let shape = match (a.concrete_shape(), b.concrete_shape()) {
            (Some(sa), Some(sb)) => matmul_out_shape(&sa, &sb)
                .ok()
                .map(|s| s.into_iter().map(Dim::Fixed).collect()),
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: a.dtype.or(b.dtype),
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![matmul(req(&inputs, 0)?, req(&inputs, 1)?)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn shapes_and_errors() {
        assert_eq!(
            plan_matmul(&[3], &[3]).unwrap().out_shape,
            Vec::<usize>::new()
        );
        assert_eq!(
            plan_matmul(&[2, 1, 4, 3], &[5, 3, 7]).unwrap().out_shape,
            vec![2, 5, 4, 7]
        );
        assert_eq!(plan_matmul(&[4, 3], &[3]).unwrap().out_shape, vec![4]);
        assert!(plan_matmul(&[4, 3], &[4, 3]).is_err());
        assert!(plan_matmul(&[2, 4, 3], &[3, 3, 2]).is_err());
        let a = Tensor::from_vec(vec![2, 3], vec![1i64, 2, 3, 4, 5, 6]).unwrap();
        let b = Tensor::from_vec(vec![3], vec![1i64, -1, 2]).unwrap();
        let c = matmul(&a, &b).unwrap();
        assert_eq!(c.as_slice::<i64>().unwrap(), &[5, 11]);
        // folded batch ([2, 2, 3] x [3, 1]) agrees with per-batch products
        let a3 =
            Tensor::from_vec(vec![2, 2, 3], (0..12).map(|v| v as f32 - 5.0).collect()).unwrap();
        let b2 = Tensor::from_vec(vec![1, 3, 1], vec![1f32, 2., -1.]).unwrap();
        let p = plan_matmul(a3.shape(), b2.shape()).unwrap();
        assert_eq!(
            (p.m, p.a_off.len(), p.out_shape.clone()),
            (4, 1, vec![2, 2, 1])
        );
        let c = matmul(&a3, &b2).unwrap();
        assert_eq!(c.as_slice::<f32>().unwrap(), &[-10., -4., 2., 8.]);
    }
}
