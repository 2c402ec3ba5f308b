//! `ai.smelt::FusedConv`: a convolution with its epilogue,
//! `Y = act(Conv(X, W, B) + Z)`, made by the lowering pass `conv_epilogue`
//! (smelt-passes) for a device that runs it.
//!
//! Inputs: `X`, `W`, `B` (optional) as for Conv; `Z` (optional), the residual added to the
//! convolution's output. Attributes: the Conv's (`kernel_shape`, `strides`, `pads`,
//! `dilations`, `auto_pad`, `group`), and, when there is an activation, `activation` (the op
//! type of a default-domain element-wise op: Relu, LeakyRelu, Clip, HardSwish, Sigmoid, ...),
//! `activation_opset` (the opset it is built for) and its attributes prefixed `act.`
//! (`act.alpha`). A Clip's bounds are attributes (`act.min`, `act.max`, opset 6).
//!
//! Its meaning is its decomposition: Conv, then Add (with broadcasting), then the
//! activation, each as the standard op evaluates it, which is what every case other than
//! the fast one runs. The fast case (f32 X, W and B; Z absent or of Y's shape; an
//! activation with an f32 map, see `Op::f32_map`) applies the residual and the activation to
//! each block of Y inside the convolution, as soon as the block is final (see
//! [`super::conv::Epilogue`]): no intermediate tensor, one pass over Y in cache.

use super::conv::{Conv, Epilogue};
use crate::prelude::*;
use smelt_ir::NoSubgraphs;

/// The domain and op type the lowering pass writes.
pub const DOMAIN: &str = "ai.smelt";
pub const OP_TYPE: &str = "FusedConv";
/// Prefix of the activation's attributes among the fused node's.
pub const ACT_PREFIX: &str = "act.";

#[derive(Debug)]
pub struct FusedConv {
    conv: Conv,
    epilogue: ConvEpilogue,
}

/// What follows the convolution in a fused one: `+ Z` (when the node has the input) and the
/// activation. Also used by the compressed-weight convolution the CPU lowers a FusedConv
/// on a compressed weight to.
#[derive(Debug, Default)]
pub struct ConvEpilogue {
    activation: Option<Box<dyn Op>>,
}

pub fn register(r: &mut Registry) {
    r.register(DOMAIN, OP_TYPE, |ctx| {
        Ok(Box::new(FusedConv::from_attrs(ctx.attrs)?))
    });
}

fn step_ctx() -> EvalCtx<'static> {
    EvalCtx {
        n_outputs: 1,
        subgraphs: &NoSubgraphs,
    }
}

fn one(mut v: Vec<Tensor>) -> Result<Tensor> {
    ensure!(!v.is_empty(), "FusedConv: a step gave no output");
    Ok(v.swap_remove(0))
}

impl ConvEpilogue {
    /// The activation named by a fused node's attributes (see the module doc), if any.
    pub fn from_attrs(a: &Attributes) -> Result<ConvEpilogue> {
        let Some(op_type) = a.string("activation")? else {
            return Ok(ConvEpilogue::default());
        };
        let mut attrs = Attributes::new();
        for (name, v) in &a.0 {
            if let Some(inner) = name.strip_prefix(ACT_PREFIX) {
                attrs = attrs.with(inner, v.clone());
            }
        }
        let opset = a.int_or("activation_opset", 1)?;
        let ctx = OpCtx {
            attrs: &attrs,
            opset,
            n_inputs: 1,
            n_outputs: 1,
            node_name: OP_TYPE,
        };
        let op = crate::registry()
            .build("", &op_type, &ctx)
            .map_err(|e| Error::invalid(format!("FusedConv: activation: {e}")))?;
        ensure!(
            op.f32_map().is_some(),
            "FusedConv: activation '{op_type}' (opset {opset}) is not an element-wise map"
        );
        Ok(ConvEpilogue {
            activation: Some(op),
        })
    }

    /// Runs a convolution whose output has shape `y_shape` and applies the epilogue:
    /// `conv(Some(f))` applies `f` to each block inside the kernel when Z is absent or an
    /// f32 tensor of Y's shape; otherwise `conv(None)` runs and the epilogue follows as
    /// its decomposition.
    pub fn run(
        &self,
        y_shape: &[usize],
        z: Option<&Tensor>,
        conv: impl FnOnce(Option<&Epilogue<'_, f32>>) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let map = self.activation.as_ref().and_then(|a| a.f32_map());
        let z_fits = z.is_none_or(|z| z.dtype() == DType::F32 && z.shape() == y_shape);
        if !z_fits || (self.activation.is_some() && map.is_none()) {
            let y = conv(None)?;
            return self.finish(y, z.cloned());
        }
        if z.is_none() && map.is_none() {
            return conv(None);
        }
        let z = z.map(|z| z.as_slice::<f32>()).transpose()?;
        let f = move |offset: usize, y: &mut [f32]| {
            if let Some(z) = z {
                let n = y.len();
                for (v, r) in y.iter_mut().zip(&z[offset..offset + n]) {
                    *v += r;
                }
            }
            if let Some(f) = &map {
                f(y);
            }
        };
        conv(Some(&f))
    }

    /// The epilogue as its decomposition: Add (with broadcasting), then the activation.
    pub fn finish(&self, mut y: Tensor, z: Option<Tensor>) -> Result<Tensor> {
        let ctx = step_ctx();
        if let Some(z) = z {
            let add = crate::registry().build(
                "",
                "Add",
                &OpCtx {
                    attrs: &Attributes::new(),
                    opset: 14,
                    n_inputs: 2,
                    n_outputs: 1,
                    node_name: OP_TYPE,
                },
            )?;
            y = one(add.eval(&ctx, vec![Some(y), Some(z)])?)?;
        }
        if let Some(a) = &self.activation {
            y = one(a.eval(&ctx, vec![Some(y)])?)?;
        }
        Ok(y)
    }
}

impl FusedConv {
    pub fn from_attrs(a: &Attributes) -> Result<FusedConv> {
        Ok(FusedConv {
            conv: Conv::from_attrs(a)?,
            epilogue: ConvEpilogue::from_attrs(a)?,
        })
    }

    /// The decomposition: Conv, Add, activation, each by its own op.
    fn run_decomposed(&self, inputs: Vec<Option<Tensor>>) -> Result<Tensor> {
        let mut it = inputs.into_iter();
        let (x, w, b, z) = (
            it.next().flatten(),
            it.next().flatten(),
            it.next().flatten(),
            it.next().flatten(),
        );
        let y = one(self.conv.eval(&step_ctx(), vec![x, w, b])?)?;
        self.epilogue.finish(y, z)
    }
}

impl Op for FusedConv {
    fn op_type(&self) -> &str {
        OP_TYPE
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        // Y has the convolution's type and shape: the pass fuses a residual of that shape only
        let conv = InferCtx {
            inputs: &ctx.inputs[..ctx.inputs.len().min(3)],
            consts: &ctx.consts[..ctx.consts.len().min(3)],
            n_outputs: 1,
        };
        self.conv.infer(&conv)
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (x, w) = (req(&inputs, 0)?, req(&inputs, 1)?);
        let (b, z) = (opt(&inputs, 2), opt(&inputs, 3));
        let f32s = [Some(x), Some(w), b]
            .iter()
            .flatten()
            .all(|t| t.dtype() == DType::F32);
        if !f32s {
            return Ok(vec![self.run_decomposed(inputs)?]);
        }
        let (_, _, m, g) = super::conv::conv_geometry_of(&self.conv, x.shape(), w.shape())?;
        let mut y_shape = vec![x.shape()[0], m];
        y_shape.extend(&g.output);
        let y = self.epilogue.run(&y_shape, z, |e| {
            self.conv
                .run_f32_with(x, w.shape(), w.as_slice::<f32>()?, b, e)
        })?;
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::signed;

    /// The fused kernel adds Z and applies the activation to the same f32 values the
    /// decomposition computes, in the same order: only the order of the GEMM's sums could
    /// differ, and it does not (the same kernel runs), so the results agree to rounding of
    /// the activation's fast kernel at most.
    const FUSED_VS_DECOMPOSED: f32 = 1e-6;

    fn attrs(kernel: i64, stride: i64, pad: i64, group: i64) -> Attributes {
        Attributes::new()
            .with("kernel_shape", Attr::Ints(vec![kernel, kernel]))
            .with("strides", Attr::Ints(vec![stride, stride]))
            .with("pads", Attr::Ints(vec![pad; 4]))
            .with("group", Attr::Int(group))
    }

    fn with_act(a: Attributes, act: &str, opset: i64, extra: &[(&str, f32)]) -> Attributes {
        let mut a = a
            .with("activation", Attr::String(act.into()))
            .with("activation_opset", Attr::Int(opset));
        for (k, v) in extra {
            a = a.with(&format!("{ACT_PREFIX}{k}"), Attr::Float(*v));
        }
        a
    }

    fn tensor(shape: &[usize], seed: u64) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(shape.to_vec(), signed(n, seed)).unwrap()
    }

    fn check(a: Attributes, x: &[usize], w: &[usize], bias: bool, residual: bool) {
        let op = FusedConv::from_attrs(&a).unwrap();
        let xt = tensor(x, 1);
        let wt = tensor(w, 2);
        let bt = bias.then(|| tensor(&[w[0]], 3));
        let ctx = EvalCtx {
            n_outputs: 1,
            subgraphs: &NoSubgraphs,
        };
        let y0 = one(op
            .conv
            .eval(&ctx, vec![Some(xt.clone()), Some(wt.clone()), bt.clone()])
            .unwrap())
        .unwrap();
        let zt = residual.then(|| tensor(y0.shape(), 4));
        let inputs = vec![Some(xt), Some(wt), bt, zt];
        let want = op.run_decomposed(inputs.clone()).unwrap();
        let got = one(op.eval(&ctx, inputs).unwrap()).unwrap();
        assert_eq!(got.shape(), want.shape());
        let (g, w) = (
            got.as_slice::<f32>().unwrap(),
            want.as_slice::<f32>().unwrap(),
        );
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= FUSED_VS_DECOMPOSED * b.abs().max(1.0),
                "element {i}: fused {a}, decomposed {b}"
            );
        }
    }

    #[test]
    fn fused_matches_decomposition() {
        // shapes straddling the GEMM's tiles and the epilogue's parallel threshold; plain,
        // strided, grouped and depthwise convs
        let cases: [(Attributes, [usize; 4], [usize; 4]); 5] = [
            (attrs(3, 1, 1, 1), [1, 5, 9, 11], [7, 5, 3, 3]),
            (attrs(1, 1, 0, 1), [2, 17, 13, 13], [33, 17, 1, 1]),
            (attrs(3, 2, 1, 1), [1, 8, 31, 33], [16, 8, 3, 3]),
            (attrs(3, 1, 1, 4), [1, 8, 10, 10], [12, 2, 3, 3]),
            (attrs(5, 2, 2, 24), [1, 24, 129, 130], [24, 1, 5, 5]),
        ];
        let acts: Vec<(&str, i64, Vec<(&str, f32)>)> = vec![
            ("Relu", 14, vec![]),
            ("HardSwish", 14, vec![]),
            ("Sigmoid", 13, vec![]),
            ("LeakyRelu", 16, vec![("alpha", 0.1)]),
            ("HardSigmoid", 6, vec![("alpha", 0.3), ("beta", 0.4)]),
            ("Clip", 6, vec![("min", -0.25), ("max", 0.5)]),
        ];
        for (a, x, w) in &cases {
            for residual in [false, true] {
                check(a.clone(), x, w, true, residual);
                for (act, opset, extra) in &acts {
                    check(
                        with_act(a.clone(), act, *opset, extra),
                        x,
                        w,
                        residual,
                        residual,
                    );
                }
            }
        }
    }

    #[test]
    fn large_output_runs_the_epilogue_in_parallel_blocks() {
        // Y has 64 * 72 * 72 = 331776 elements: above the epilogue's parallel threshold
        check(
            with_act(attrs(3, 1, 1, 1), "Relu", 14, &[]),
            &[1, 16, 72, 72],
            &[64, 16, 3, 3],
            true,
            true,
        );
    }

    #[test]
    fn broadcast_residual_and_f64_run_the_decomposition() {
        let op = FusedConv::from_attrs(&with_act(attrs(3, 1, 1, 1), "Relu", 14, &[])).unwrap();
        let ctx = EvalCtx {
            n_outputs: 1,
            subgraphs: &NoSubgraphs,
        };
        // Z of shape [1, 4, 1, 1] broadcasts over Y [1, 4, 6, 6]
        let inputs = vec![
            Some(tensor(&[1, 3, 6, 6], 1)),
            Some(tensor(&[4, 3, 3, 3], 2)),
            None,
            Some(tensor(&[1, 4, 1, 1], 3)),
        ];
        let got = one(op.eval(&ctx, inputs.clone()).unwrap()).unwrap();
        let want = op.run_decomposed(inputs).unwrap();
        assert_eq!(got.shape(), [1, 4, 6, 6]);
        assert_eq!(
            got.as_slice::<f32>().unwrap(),
            want.as_slice::<f32>().unwrap()
        );
        // f64 runs the decomposition too
        let f = |t: Tensor| Tensor::from_vec(t.shape().to_vec(), t.to_f64_vec().unwrap()).unwrap();
        let inputs = vec![
            Some(f(tensor(&[1, 3, 6, 6], 1))),
            Some(f(tensor(&[4, 3, 3, 3], 2))),
            None,
            None,
        ];
        let got = one(op.eval(&ctx, inputs).unwrap()).unwrap();
        assert_eq!(got.dtype(), DType::F64);
        assert!(got.as_slice::<f64>().unwrap().iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn an_activation_that_is_not_a_map_is_refused() {
        let err =
            FusedConv::from_attrs(&with_act(attrs(3, 1, 1, 1), "Softmax", 13, &[])).unwrap_err();
        assert!(err.to_string().contains("not an element-wise map"), "{err}");
        let err =
            FusedConv::from_attrs(&with_act(attrs(3, 1, 1, 1), "NoSuchOp", 13, &[])).unwrap_err();
        assert!(err.to_string().contains("activation"), "{err}");
    }
}
