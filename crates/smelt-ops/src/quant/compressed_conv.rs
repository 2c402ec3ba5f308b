//! `CompressedConv`: Conv whose weight `[M, C/group, k..]` is compressed, decoded a block
//! of output channels at a time inside the convolution (the GEMM of each block reads the
//! decoded rows, then the scratch is reused). A lowered kernel built by the CPU backend from
//! a Conv fed by `LinearDequantize` / `LutToDense` on constants; never saved.
//!
//! With more than one image (N > 1), the images would each decode every block: the weight
//! is then decoded whole once per run instead (one layer's f32 weight held for the run).
//!
//! Inputs: X `[N, C, D..]` f32, optional bias `[M]`, optional residual Z. Attributes: the
//! Conv node's. Lowered from a FusedConv, it applies the same epilogue (`+ Z`, the
//! activation) to each block of its output (see `crate::nn::fused_conv`).

use super::compressed_matmul::SCRATCH_ELEMS;
use super::packed::Packed;
use crate::nn::conv::{conv_geometry_of, Conv, WeightRows};
use crate::nn::fused_conv::ConvEpilogue;
use crate::prelude::*;

#[derive(Debug)]
pub struct CompressedConv {
    pub conv: Conv,
    pub w: Arc<Packed>,
    /// What a FusedConv applied after the convolution (empty for a plain Conv).
    pub epilogue: ConvEpilogue,
}

struct Rows<'a>(&'a Packed);

impl WeightRows<f32> for Rows<'_> {
    fn block_rows(&self, cols: usize) -> usize {
        (SCRATCH_ELEMS / cols.max(1)).max(8)
    }
    fn rows<'a>(&'a self, r0: usize, r1: usize, _: usize, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        self.0.decode_rows(r0, r1, scratch);
        scratch
    }
}

impl Op for CompressedConv {
    fn op_type(&self) -> &str {
        "CompressedConv"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let (b, z) = (opt(&inputs, 1), opt(&inputs, 2));
        let (_, _, m, g) = conv_geometry_of(&self.conv, x.shape(), &self.w.shape)?;
        let mut y_shape = vec![x.shape()[0], m];
        y_shape.extend(&g.output);
        let y = self.epilogue.run(&y_shape, z, |e| {
            if x.shape().first().is_some_and(|&n| n > 1) {
                let w = self.w.decode_all();
                self.conv.run_f32_with(x, &self.w.shape, &w[..], b, e)
            } else {
                self.conv
                    .run_f32_with(x, &self.w.shape, &Rows(&self.w), b, e)
            }
        })?;
        Ok(vec![y])
    }
}
