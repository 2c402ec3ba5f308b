//! Launches of each [`GpuOp`]: the plan comes from `crate::plan`, this side only allocates
//! outputs and launches kernels (or cuBLAS) on the stream.
//!
//! Contract: `run` takes the node's inputs with device tensors where the op's role is
//! `Data` and host tensors where it is `Host`; it returns the node's outputs on the device.
//! An input the kernels do not take (dtype, a shape case) gives `Error::UnsupportedOp`,
//! which the executor answers by running the node on the CPU.

mod elementwise;
mod image;
mod index;
mod layout;
mod linalg;
mod nn;
mod select;

use super::stream::Stream;
use super::tensor::GpuTensor;
use crate::plan::GpuOp;
use smelt_core::{DType, Error, Result, Tensor};

/// One input of a node as the launch sees it.
pub enum Input {
    Dev(GpuTensor),
    Host(Tensor),
}

pub(crate) struct Ins<'a>(pub &'a [Option<Input>]);

impl Ins<'_> {
    fn dev(&self, i: usize) -> Result<&GpuTensor> {
        match self.0.get(i) {
            Some(Some(Input::Dev(t))) => Ok(t),
            Some(Some(Input::Host(_))) => Err(Error::invalid(format!(
                "input {i} is on the host, the kernel reads it on the device"
            ))),
            _ => Err(Error::invalid(format!("input {i} missing"))),
        }
    }
    /// A device input that must be f32 (anything else: unsupported, run on the CPU).
    fn f32(&self, i: usize) -> Result<&GpuTensor> {
        let t = self.dev(i)?;
        if t.dtype() != DType::F32 {
            return Err(Error::unsupported(
                "cuda",
                format!("input {i} is {}, the kernel takes f32", t.dtype()),
            ));
        }
        Ok(t)
    }
    fn f32_opt(&self, i: usize) -> Result<Option<&GpuTensor>> {
        match self.0.get(i) {
            None | Some(None) => Ok(None),
            _ => self.f32(i).map(Some),
        }
    }
    fn host(&self, i: usize) -> Result<Option<&Tensor>> {
        match self.0.get(i) {
            None | Some(None) => Ok(None),
            Some(Some(Input::Host(t))) => Ok(Some(t)),
            Some(Some(Input::Dev(_))) => Err(Error::invalid(format!(
                "input {i} is on the device, the op reads it on the host"
            ))),
        }
    }
    fn host_ints(&self, i: usize) -> Result<Option<Vec<i64>>> {
        self.host(i)?.map(|t| t.to_i64_vec()).transpose()
    }
}

/// Runs `op` on `ins`; returns its first `n_outputs` outputs (at least one).
pub fn run(
    s: &Stream,
    op: &GpuOp,
    ins: &[Option<Input>],
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let ins = Ins(ins);
    // ops with several outputs
    match op {
        GpuOp::Split {
            axis,
            split,
            num_outputs,
        } => return layout::split(s, &ins, *axis, split.clone(), *num_outputs, n_outputs),
        GpuOp::Index(x) => return index::run(s, x, &ins, n_outputs),
        GpuOp::LayerNorm { axis, eps } => {
            return nn::layer_norm(
                s,
                ins.f32(0)?,
                ins.f32(1)?,
                ins.f32_opt(2)?,
                *axis,
                *eps,
                n_outputs,
            )
        }
        _ => {}
    }
    let y = match op {
        GpuOp::Unary { op, p, q } => elementwise::unary(s, ins.f32(0)?, *op, *p, *q)?,
        GpuOp::Clip {
            min,
            max,
            from_inputs,
        } => elementwise::clip(s, &ins, *min, *max, *from_inputs)?,
        GpuOp::Binary(b) => elementwise::binary(s, ins.f32(0)?, ins.f32(1)?, *b)?,
        GpuOp::Compare(c) => elementwise::compare(s, ins.f32(0)?, ins.f32(1)?, *c)?,
        GpuOp::Where => elementwise::where_(s, &ins)?,
        GpuOp::Cast { to } => elementwise::cast(s, ins.dev(0)?, *to)?,
        GpuOp::MatMul => linalg::matmul(s, ins.f32(0)?, ins.f32(1)?)?,
        GpuOp::Gemm(g) => linalg::gemm(s, g, ins.f32(0)?, ins.f32(1)?, ins.f32_opt(2)?)?,
        GpuOp::Conv(c) => nn::conv(s, c, ins.f32(0)?, ins.f32(1)?, ins.f32_opt(2)?)?,
        GpuOp::ConvTranspose(c) => {
            nn::conv_transpose(s, c, ins.f32(0)?, ins.f32(1)?, ins.f32_opt(2)?)?
        }
        GpuOp::Pool(p) => nn::pool(s, p, ins.f32(0)?)?,
        GpuOp::GlobalPool { max } => nn::global_pool(s, ins.f32(0)?, *max)?,
        GpuOp::BatchNorm { eps } => nn::batch_norm(s, &ins, *eps)?,
        GpuOp::Softmax { axis, log } => nn::softmax(s, ins.f32(0)?, *axis, *log)?,
        GpuOp::Reduce(r) => nn::reduce(s, r, ins.f32(0)?, ins.host_ints(1)?)?,
        GpuOp::Transpose { perm } => layout::transpose(s, ins.f32(0)?, perm.as_deref())?,
        GpuOp::Concat { axis } => layout::concat(s, &ins, *axis)?,
        GpuOp::Slice { attrs } => layout::slice(s, &ins, attrs.as_ref())?,
        GpuOp::Gather { axis } => layout::gather(s, &ins, *axis)?,
        GpuOp::Expand => layout::expand(s, &ins)?,
        GpuOp::Resize(a) => image::resize(s, a, &ins)?,
        GpuOp::ArgExt {
            max,
            axis,
            keepdims,
            last,
        } => nn::arg_ext(s, ins.f32(0)?, *max, *axis, *keepdims, *last)?,
        GpuOp::Pad { mode, attrs } => layout::pad(s, &ins, *mode, attrs.as_ref())?,
        GpuOp::Split { .. } | GpuOp::LayerNorm { .. } | GpuOp::Index(_) => {
            unreachable!("handled above")
        }
        GpuOp::Constant | GpuOp::Shape { .. } | GpuOp::Size | GpuOp::View(_) => {
            return Err(Error::invalid(
                "location-free ops (Constant, Shape, Size, views) are run by the executor",
            ))
        }
    };
    Ok(vec![y])
}

/// 1-d launch geometry of `n` elements.
fn geom(n: usize) -> (u32, u32) {
    (crate::plan::grid_1d(n), crate::plan::BLOCK)
}
