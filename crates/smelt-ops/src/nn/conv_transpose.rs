//! ConvTranspose: the gradient of Conv with respect to its input. `X: [N, C, D1..Dn]`,
//! `W: [C, M/group, k1..kn]`, optional `B: [M]` -> `Y: [N, M, O1..On]` with
//! `O = stride * (D - 1) + output_padding + (k - 1) * dilation + 1 - pad_begin - pad_end`,
//! or `output_shape` (then the pads are derived; SAME_UPPER puts the odd pad at the end).
//!
//! Per image and group: `cols = W_g^T · X_g` (GEMM), then col2im scatters the columns into
//! Y. f16/bf16 compute in f32.

use super::im2col::col2im;
use super::spatial::{split_nc, AutoPad, Geometry, WindowAttrs};
use crate::linalg::blas::{row_major, transposed, GemmScalar};
use crate::prelude::*;

#[derive(Debug)]
pub struct ConvTranspose {
    window: WindowAttrs,
    group: usize,
    output_padding: Option<Vec<i64>>,
    output_shape: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "ConvTranspose", |ctx| {
        let a = ctx.attrs;
        let group = a.int_or("group", 1)?;
        ensure!(group >= 1, "ConvTranspose: group must be >= 1, got {group}");
        let output_padding = a.ints("output_padding")?;
        if let Some(p) = &output_padding {
            ensure!(
                p.iter().all(|&v| v >= 0),
                "ConvTranspose: output_padding must be >= 0, got {p:?}"
            );
        }
        let output_shape = a.ints("output_shape")?;
        if let Some(s) = &output_shape {
            ensure!(
                s.iter().all(|&v| v >= 0),
                "ConvTranspose: output_shape must be >= 0, got {s:?}"
            );
        }
        Ok(Box::new(ConvTranspose {
            window: WindowAttrs::parse(a)?,
            group: group as usize,
            output_padding,
            output_shape,
        }))
    });
}

impl ConvTranspose {
    /// (N, C, M, geometry of the forward conv from Y to X).
    fn geometry(&self, x: &[usize], w: &[usize]) -> Result<(usize, usize, usize, Geometry)> {
        let (n, c, sp) = split_nc(x, "ConvTranspose")?;
        let nd = sp.len();
        ensure!(
            w.len() == x.len(),
            "ConvTranspose: weights {w:?} must have the rank of the input {x:?}"
        );
        ensure!(
            w[0] == c,
            "ConvTranspose: input has {c} channels but weights {w:?} expect {}",
            w[0]
        );
        ensure!(
            c % self.group == 0,
            "ConvTranspose: {c} input channels are not divisible by group {}",
            self.group
        );
        let m = w[1].checked_mul(self.group).ok_or_else(|| {
            Error::shape(format!(
                "ConvTranspose: weights {w:?} with group {} have too many output channels",
                self.group
            ))
        })?;
        let kernel = self.window.kernel(nd, Some(&w[2..]))?;
        let strides = self.window.strides(nd)?;
        let dilations = self.window.dilations(nd)?;
        let opad: Vec<usize> = match &self.output_padding {
            None => vec![0; nd],
            Some(p) => {
                ensure!(
                    p.len() == nd,
                    "ConvTranspose: output_padding has {} values for {nd} spatial dims",
                    p.len()
                );
                p.iter().map(|&v| v as usize).collect()
            }
        };
        // Extents are computed in i128: dims (up to 2^63) times strides or dilations (up
        // to 2^31), plus output_padding and output_shape (up to 2^63), cannot overflow it.
        let (mut pb, mut pe): (Vec<i128>, Vec<i128>) = {
            let (b, e) = self.window.explicit_pads(nd)?;
            (
                b.iter().map(|&v| v as i128).collect(),
                e.iter().map(|&v| v as i128).collect(),
            )
        };
        for (d, &k) in kernel.iter().enumerate() {
            ensure!(k >= 1, "ConvTranspose: kernel size 0 on spatial dim {d}");
        }
        // full (unpadded) output extent per dim
        let full: Vec<i128> = (0..nd)
            .map(|d| {
                strides[d] as i128 * (sp[d].max(1) as i128 - 1)
                    + opad[d] as i128
                    + (kernel[d] as i128 - 1) * dilations[d] as i128
                    + 1
            })
            .collect();
        let target: Option<Vec<i128>> = match (&self.output_shape, self.window.auto_pad) {
            (Some(s), _) => {
                ensure!(
                    s.len() >= nd,
                    "ConvTranspose: output_shape {s:?} has fewer than {nd} spatial dims"
                );
                Some(s[s.len() - nd..].iter().map(|&v| v as i128).collect())
            }
            (None, AutoPad::SameUpper | AutoPad::SameLower) => Some(
                (0..nd)
                    .map(|d| sp[d] as i128 * strides[d] as i128)
                    .collect(),
            ),
            (None, _) => None,
        };
        if let Some(t) = &target {
            for d in 0..nd {
                let total = full[d] - t[d];
                let (small, big) = (total.div_euclid(2), total - total.div_euclid(2));
                (pb[d], pe[d]) = if self.window.auto_pad == AutoPad::SameUpper {
                    (small, big)
                } else {
                    (big, small)
                };
            }
        } else if self.window.auto_pad == AutoPad::Valid {
            pb.fill(0);
            pe.fill(0);
        }
        let mut out = Vec::with_capacity(nd);
        for d in 0..nd {
            ensure!(
                pb[d] >= 0,
                "ConvTranspose: output_shape needs a negative leading pad on dim {d}"
            );
            let o = full[d] - pb[d] - pe[d];
            ensure!(
                o >= 0,
                "ConvTranspose: pads {}+{} exceed the output extent {} on dim {d}",
                pb[d],
                pe[d],
                full[d]
            );
            let too_big = || {
                Error::shape(format!(
                    "ConvTranspose: output extent {o} (pads {}+{}) on dim {d} is too large",
                    pb[d], pe[d]
                ))
            };
            out.push(usize::try_from(o).map_err(|_| too_big())?);
            if usize::try_from(pb[d]).is_err() {
                return Err(too_big());
            }
        }
        // the output [N, M, O1..On] is allocated at evaluation: its size must be possible
        smelt_core::check_shape(&[&[n, m][..], &out].concat())?;
        let g = Geometry {
            input: out,
            output: sp,
            kernel,
            strides,
            dilations,
            pads_begin: pb.iter().map(|&v| v as usize).collect(),
            pads_end: pe
                .iter()
                .map(|&v| v.clamp(0, usize::MAX as i128) as usize)
                .collect(),
        };
        Ok((n, c, m, g))
    }

    fn run_t<T: GemmScalar + std::ops::AddAssign>(
        &self,
        x: &[T],
        n: usize,
        c: usize,
        m: usize,
        g: &Geometry,
        w: &[T],
        bias: Option<&[T]>,
    ) -> Vec<T> {
        let group = self.group;
        let (cg, mg) = (c / group, m / group);
        let xprod: usize = g.output.iter().product();
        let yprod: usize = g.input.iter().product();
        let kprod: usize = g.kernel.iter().product();
        let rows = mg * kprod;
        let mut y = vec![T::zero(); n * m * yprod];
        let mut col = vec![T::zero(); rows * xprod];
        for img in 0..n {
            for gi in 0..group {
                let xg = &x[(img * c + gi * cg) * xprod..(img * c + (gi + 1) * cg) * xprod];
                let wg = &w[gi * cg * rows..(gi + 1) * cg * rows];
                // cols [rows, xprod] = W_g^T [rows, cg] x X_g [cg, xprod]
                T::gemm(
                    rows,
                    xprod,
                    cg,
                    wg,
                    transposed(rows),
                    xg,
                    row_major(xprod),
                    &mut col,
                    xprod,
                    T::one(),
                    T::zero(),
                    true,
                );
                let yg = &mut y[(img * m + gi * mg) * yprod..(img * m + (gi + 1) * mg) * yprod];
                col2im(&col, mg, g, yg);
            }
        }
        if let Some(b) = bias {
            for (i, plane) in y.chunks_mut(yprod.max(1)).enumerate() {
                let bv = b[i % m];
                plane.iter_mut().for_each(|v| *v += bv);
            }
        }
        y
    }

    fn run(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        ensure!(
            w.dtype() == x.dtype(),
            "ConvTranspose: X is {} but W is {}",
            x.dtype(),
            w.dtype()
        );
        let (n, c, m, g) = self.geometry(x.shape(), w.shape())?;
        if let Some(b) = b {
            ensure!(
                b.dtype() == x.dtype(),
                "ConvTranspose: X is {} but B is {}",
                x.dtype(),
                b.dtype()
            );
            ensure!(
                b.shape() == [m],
                "ConvTranspose: bias must have shape [{m}], got {:?}",
                b.shape()
            );
        }
        let mut shape = vec![n, m];
        shape.extend(&g.input);
        macro_rules! via_f32 {
            ($t:ty) => {{
                let f = |v: &[$t]| v.iter().map(|a| a.to_f32()).collect::<Vec<f32>>();
                let bias = match b {
                    Some(b) => Some(f(b.as_slice::<$t>()?)),
                    None => None,
                };
                let y = self.run_t::<f32>(
                    &f(x.as_slice::<$t>()?),
                    n,
                    c,
                    m,
                    &g,
                    &f(w.as_slice::<$t>()?),
                    bias.as_deref(),
                );
                Tensor::from_vec(
                    shape,
                    y.into_iter().map(<$t>::from_f32).collect::<Vec<$t>>(),
                )
            }};
        }
        match x.dtype() {
            DType::F32 => Tensor::from_vec(
                shape,
                self.run_t(
                    x.as_slice::<f32>()?,
                    n,
                    c,
                    m,
                    &g,
                    w.as_slice::<f32>()?,
                    b.map(|b| b.as_slice::<f32>()).transpose()?,
                ),
            ),
            DType::F64 => Tensor::from_vec(
                shape,
                self.run_t(
                    x.as_slice::<f64>()?,
                    n,
                    c,
                    m,
                    &g,
                    w.as_slice::<f64>()?,
                    b.map(|b| b.as_slice::<f64>()).transpose()?,
                ),
            ),
            DType::F16 => via_f32!(f16),
            DType::BF16 => via_f32!(bf16),
            other => Err(Error::dtype(other, "ConvTranspose")),
        }
    }
}

impl Op for ConvTranspose {
    fn op_type(&self) -> &str {
        "ConvTranspose"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let w = ctx.inputs.get(1).cloned().flatten().unwrap_or_default();
        let shape = match (x.concrete_shape(), w.concrete_shape()) {
            (Some(xs), Some(ws)) => self
                .geometry(&xs, &ws)
                .ok()
                .map(|(n, _, m, g)| [n, m].into_iter().chain(g.input).map(Dim::Fixed).collect()),
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![self.run(
            req(&inputs, 0)?,
            req(&inputs, 1)?,
            opt(&inputs, 2),
        )?])
    }
}
