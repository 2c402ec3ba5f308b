//! Conv, pooling, normalisations and reductions.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::conv::{self, ConvAttrs, ConvTransposeAttrs};
use crate::plan::matmul::GemmPlan;
use crate::plan::reduce::{self, ReduceAttrs, ReduceOp};
use crate::plan::{i32_of, norm, BLOCK};
use smelt_core::{DType, Result};

/// Conv: groups == 1 by im2col + one strided-batched GEMM over the images, then the bias;
/// grouped and depthwise convs by the direct kernel (always f32); cuDNN first where it
/// takes the conv (see `conv_dnn`). At fp16/bf16 precision the im2col writes 16-bit
/// columns and the weights are the stream's cached 16-bit copy.
///
/// `x` may come in the stream's 16-bit type (stored so for a conv reader, see
/// `exec/lowp.rs`); with `out16` a large 2-d conv runs on cuDNN with 16-bit data and
/// returns y in that type (see `conv_dnn`); every other path widens a 16-bit x first and
/// returns f32.
pub(super) fn conv(
    s: &Stream,
    a: &ConvAttrs,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
    out16: Option<DType>,
) -> Result<GpuTensor> {
    if let Some(y) = super::conv_dnn::conv(s, a, x, w, bias, a.relu, out16)? {
        return Ok(y);
    }
    let x = &super::as_f32(s, x)?;
    let (p, out) = conv::plan(a, x.shape(), w.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, wp, yp) = (x.ptr(), w.ptr(), y.ptr());
    if p.groups != 1 {
        let bp = bias.map_or(0u64, |b| b.ptr());
        let (g, b) = geom(y.len());
        s.launch("conv2d_direct_f32", g, b, args![&xp, &wp, &bp, &yp, &p])?;
        if a.relu {
            bias_relu(s, &y, None, 1, 1, true)?;
        }
        return Ok(y);
    }
    let (k, pix) = p.col_dims();
    let n = p.n as usize;
    // 1x1, stride 1, no padding: the input already is the column matrix
    let direct = p.kh == 1
        && p.kw == 1
        && p.sh == 1
        && p.sw == 1
        && p.ph == 0
        && p.pw == 0
        && p.oh == p.h
        && p.ow == p.w;
    let wop = super::linalg::operand(s, w)?;
    let col;
    let xop;
    let colp = if direct {
        xop = super::linalg::operand(s, x)?;
        xop.ptr
    } else if s.precision.is_16bit() {
        // 16-bit elements in an F16 tensor whatever the type (only the bytes matter)
        col = s.alloc(DType::F16, &[n, k, pix])?;
        let (cp, bf) = (col.ptr(), super::linalg::bf16_flag(s));
        let (g, b) = im2col_geom(n * k, pix);
        s.launch_2d("im2col_16bit", g, b, args![&xp, &cp, &p, &bf])?;
        cp
    } else {
        col = s.alloc(DType::F32, &[n, k, pix])?;
        let cp = col.ptr();
        let (g, b) = im2col_geom(n * k, pix);
        s.launch_2d("im2col_f32", g, b, args![&xp, &cp, &p])?;
        cp
    };
    let gp = GemmPlan {
        batch: n,
        m: p.m as usize,
        n: pix,
        k,
        trans_a: false,
        trans_b: false,
        stride_a: 0,
        stride_b: k * pix,
        out_shape: out,
    };
    super::linalg::gemm_raw(s, &gp, wop.ptr, colp, yp, 1.0, 0.0)?;
    if bias.is_some() || a.relu {
        bias_relu(s, &y, bias, p.m, i32_of(pix, "pixels")?, a.relu)?;
    }
    Ok(y)
}

/// In place on y laid out [.., c, inner]: + bias per channel (when given), then Relu (when
/// `relu`; a Conv fused with its Relu reader).
fn bias_relu(
    s: &Stream,
    y: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: i32,
    inner: i32,
    relu: bool,
) -> Result<()> {
    let (yp, bp, total, r) = (
        y.ptr(),
        bias.map_or(0u64, |b| b.ptr()),
        i32_of(y.len(), "element count")?,
        relu as i32,
    );
    let (g, b) = geom(y.len());
    s.launch(
        "channel_bias_f32",
        g,
        b,
        args![&yp, &bp, &c, &inner, &total, &r],
    )
}

/// The im2col kernels' launch: a block of up to `BLOCK` threads (a multiple of 32 covering
/// short rows) over a row's `pix` pixels, and up to 65535 rows in y (the kernel walks the
/// rest).
fn im2col_geom(rows: usize, pix: usize) -> ((u32, u32), u32) {
    let block = (pix.next_multiple_of(32)).clamp(32, BLOCK as usize);
    let gx = pix.div_ceil(block).min(1 << 16);
    let gy = rows.min(65535);
    ((gx as u32, gy as u32), block as u32)
}

/// ConvTranspose by the direct kernel (each output gathers its taps; no atomics).
pub(super) fn conv_transpose(
    s: &Stream,
    a: &ConvTransposeAttrs,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let (p, out) = conv::plan_transpose(a, x.shape(), w.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, wp, yp, bp) = (x.ptr(), w.ptr(), y.ptr(), bias.map_or(0u64, |b| b.ptr()));
    let (g, b) = geom(y.len());
    s.launch("conv_transpose2d_f32", g, b, args![&xp, &wp, &bp, &yp, &p])?;
    Ok(y)
}

pub(super) fn global_pool(s: &Stream, x: &GpuTensor, max: bool) -> Result<GpuTensor> {
    let sh = x.shape();
    if sh.len() < 2 {
        return Err(smelt_core::Error::shape(format!(
            "global pooling of {sh:?}"
        )));
    }
    let mut out = sh[..2].to_vec();
    out.extend(std::iter::repeat_n(1, sh.len() - 2));
    let r: usize = sh[2..].iter().product();
    let op = if max { ReduceOp::Max } else { ReduceOp::Mean };
    launch_reduce(s, x, out, sh[0] * sh[1], r, 1, op)
}

pub(super) fn batch_norm(s: &Stream, ins: &Ins, eps: f32) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let ps = [ins.f32(1)?, ins.f32(2)?, ins.f32(3)?, ins.f32(4)?];
    let shapes: Vec<&[usize]> = ps.iter().map(|t| t.shape()).collect();
    let (c, inner, total) = norm::batch_norm(x.shape(), &shapes)?;
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (sp, bp, mp, vp) = (ps[0].ptr(), ps[1].ptr(), ps[2].ptr(), ps[3].ptr());
    let (c, inner, n) = (c as i32, i32_of(inner, "inner")?, total as i32);
    let (g, b) = geom(total);
    s.launch(
        "batchnorm_f32",
        g,
        b,
        args![&xp, &yp, &sp, &bp, &mp, &vp, &c, &inner, &n, &eps],
    )?;
    Ok(y)
}

/// Softmax (kind 0) / LogSoftmax (1) / Hardmax (2) over `axis` with the opset rule
/// `coerce` (see `plan::norm::softmax3`): rows by the row kernel, other axes (and Hardmax)
/// one thread per (outer, inner).
pub(super) fn softmax_nd(
    s: &Stream,
    x: &GpuTensor,
    axis: i64,
    coerce: bool,
    kind: i32,
) -> Result<GpuTensor> {
    let (outer, n, inner) = norm::softmax3(x.shape(), axis, coerce)?;
    let y = s.alloc(DType::F32, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, yp) = (x.ptr(), y.ptr());
    let (o, nn, i) = (outer as i32, n as i32, inner as i32);
    if inner == 1 && kind != 2 && n <= 1024 {
        // short rows (attention scores): a warp per row
        let per_block = (BLOCK / 32) as usize;
        s.launch(
            "softmax_warp_f32",
            outer.div_ceil(per_block) as u32,
            BLOCK,
            args![&xp, &yp, &o, &nn, &kind],
        )?;
    } else if inner == 1 && kind != 2 {
        s.launch(
            "softmax_rows_f32",
            outer as u32,
            BLOCK,
            args![&xp, &yp, &o, &nn, &kind],
        )?;
    } else {
        let (g, b) = geom(outer * inner);
        s.launch("softmax_mid_f32", g, b, args![&xp, &yp, &o, &nn, &i, &kind])?;
    }
    Ok(y)
}

/// What a LayerNormalization writes (see `exec/lowp.rs`): its f32 output; that and a
/// 16-bit copy, made the stream's last converted activation (for the GEMMs reading it
/// next); or the output in 16 bits only (every reader takes 16 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NormOut {
    F32,
    F32And16(DType),
    Only16(DType),
}

/// LayerNormalization of `x` (f32, or f16 / bf16 stored so by its producer; `scale` and
/// `bias` f32, as the callers check); with `n_outputs` > 1 also Mean and InvStdDev (the
/// input's shape with the normalised dims set to 1), f32. Rows of up to 2048 values, a multiple of 4, run a warp per row
/// (`layernorm_warpV`); others a block per row, on f32 (a 16-bit `x` is widened first).
#[allow(clippy::too_many_arguments)]
pub(super) fn layer_norm(
    s: &Stream,
    x: &GpuTensor,
    scale: &GpuTensor,
    bias: Option<&GpuTensor>,
    axis: i64,
    eps: f32,
    n_outputs: usize,
    out: NormOut,
) -> Result<Vec<GpuTensor>> {
    let r = norm::layer_norm(x.shape(), axis, scale.shape(), bias.map(|b| b.shape()))?;
    let xt = match x.dtype() {
        DType::F32 => 0i32,
        DType::F16 => 1,
        DType::BF16 => 2,
        d => {
            return Err(smelt_core::Error::unsupported(
                "LayerNormalization",
                format!("input is {d}, the kernel takes f32, f16 or bf16"),
            ))
        }
    };
    let ax = crate::plan::axis(axis, x.shape().len(), "LayerNormalization axis")?;
    let stat: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(d, &v)| if d < ax { v } else { 1 })
        .collect();
    let stats = if n_outputs > 1 {
        Some((s.alloc(DType::F32, &stat)?, s.alloc(DType::F32, &stat)?))
    } else {
        None
    };
    let (mp, ip) = stats
        .as_ref()
        .map_or((0u64, 0u64), |(m, i)| (m.ptr(), i.ptr()));
    let y = match out {
        NormOut::Only16(_) => None,
        _ => Some(s.alloc(DType::F32, x.shape())?),
    };
    let y16 = match out {
        NormOut::F32And16(d) | NormOut::Only16(d) if !x.is_empty() => Some(s.alloc(d, x.shape())?),
        _ => None,
    };
    let bf = y16.as_ref().is_some_and(|t| t.dtype() == DType::BF16) as i32;
    let (sp, bp) = (scale.ptr(), bias.map_or(0u64, |b| b.ptr()));
    let (yp, y16p) = (
        y.as_ref().map_or(0u64, |t| t.ptr()),
        y16.as_ref().map_or(0u64, |t| t.ptr()),
    );
    let (rows, n) = (r.rows as i32, r.n as i32);
    // the warp kernels' vector loads: 16-byte f32 rows, 8-byte 16-bit rows
    let aligned = [
        (x.ptr(), if xt == 0 { 16 } else { 8 }),
        (sp, 16),
        (bp, 16),
        (yp, 16),
        (y16p, 8),
    ]
    .iter()
    .all(|&(p, a)| p % a == 0);
    let v = [2usize, 4, 8, 16].into_iter().find(|&v| r.n <= 128 * v);
    match v {
        Some(v) if r.rows > 0 && r.n % 4 == 0 && aligned => {
            // eight rows (warps) per block, fewer when there are few rows (more blocks)
            let rows_per_block = if r.rows >= 2048 { 8 } else { 2 };
            let name = match v {
                2 => "layernorm_warp2",
                4 => "layernorm_warp4",
                8 => "layernorm_warp8",
                _ => "layernorm_warp16",
            };
            let xp = x.ptr();
            s.launch(
                name,
                r.rows.div_ceil(rows_per_block) as u32,
                (32 * rows_per_block) as u32,
                args![&xp, &xt, &sp, &bp, &yp, &mp, &ip, &rows, &n, &eps, &y16p, &bf],
            )?;
        }
        _ if r.rows > 0 => {
            let xf = super::as_f32(s, x)?;
            // the block-per-row kernel writes f32 always: a scratch output for 16 bits only
            let scratch;
            let yp = match &y {
                Some(t) => t.ptr(),
                None => {
                    scratch = s.alloc(DType::F32, x.shape())?;
                    scratch.ptr()
                }
            };
            let xp = xf.ptr();
            s.launch(
                "layernorm_rows_f32",
                r.rows as u32,
                BLOCK,
                args![&xp, &sp, &bp, &yp, &mp, &ip, &rows, &n, &eps, &y16p, &bf],
            )?;
        }
        _ => {}
    }
    let first = match (y, y16) {
        (Some(y), Some(c)) => {
            // the next GEMM reading y takes this copy (see `linalg::operand`)
            s.set_last_act(&y, c);
            y
        }
        (Some(y), None) => y,
        (None, Some(c)) => c,
        // an empty 16-bit output
        (None, None) => s.alloc(out_type(out), x.shape())?,
    };
    Ok(match stats {
        Some((m, i)) => vec![first, m, i],
        None => vec![first],
    })
}

fn out_type(out: NormOut) -> DType {
    match out {
        NormOut::Only16(d) => d,
        _ => DType::F32,
    }
}

pub(super) fn reduce(
    s: &Stream,
    a: &ReduceAttrs,
    x: &GpuTensor,
    axes_in: Option<Vec<i64>>,
) -> Result<GpuTensor> {
    let axes = a.axes.clone().or(axes_in);
    let p = reduce::plan(
        x.shape(),
        axes.as_deref(),
        a.keepdims,
        a.noop_with_empty_axes,
    )?;
    if p.identity {
        return x.view(p.out_shape);
    }
    launch_reduce(s, x, p.out_shape, p.outer, p.r, p.inner, a.op)
}

fn launch_reduce(
    s: &Stream,
    x: &GpuTensor,
    out: Vec<usize>,
    outer: usize,
    r: usize,
    inner: usize,
    op: ReduceOp,
) -> Result<GpuTensor> {
    let y = s.alloc(DType::F32, &out)?;
    if y.is_empty() {
        return Ok(y);
    }
    // r == 0 (an empty reduction set) gives each op's identity, as on the CPU: the kernels
    // start from it and finish with it (0, 1, -inf, +inf; log 0 = -inf; Mean 0 / 0 = NaN)
    let (xp, yp, code) = (x.ptr(), y.ptr(), op as i32);
    let (o, rr, i) = (
        i32_of(outer, "outer")?,
        i32_of(r, "reduced size")?,
        i32_of(inner, "inner")?,
    );
    if inner == 1 {
        s.launch(
            "reduce_rows_f32",
            outer as u32,
            BLOCK,
            args![&xp, &yp, &o, &rr, &code],
        )?;
    } else {
        let (g, b) = geom(outer * inner);
        s.launch("reduce_mid_f32", g, b, args![&xp, &yp, &o, &rr, &i, &code])?;
    }
    Ok(y)
}

/// ArgMax / ArgMin: first (or last) index of the extreme along `axis`, NaN the extreme.
pub(super) fn arg_ext(
    s: &Stream,
    x: &GpuTensor,
    max: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
) -> Result<GpuTensor> {
    let sh = x.shape();
    if sh.is_empty() || sh.contains(&0) {
        return Err(smelt_core::Error::unsupported(
            "ArgMax/ArgMin",
            "a scalar or empty input on the GPU",
        ));
    }
    let p = reduce::plan(sh, Some(&[axis]), keepdims, false)?;
    let a = crate::plan::axis(axis, sh.len(), "axis")?;
    let (outer, r, inner) = (
        sh[..a].iter().product::<usize>(),
        sh[a],
        sh[a + 1..].iter().product::<usize>(),
    );
    let y = s.alloc(DType::I64, &p.out_shape)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (o, rr, i) = (
        i32_of(outer, "outer")?,
        i32_of(r, "axis")?,
        i32_of(inner, "inner")?,
    );
    let (mx, lst) = (max as i32, last as i32);
    let (g, b) = geom(outer * inner);
    s.launch("arg_ext_f32", g, b, args![&xp, &yp, &o, &rr, &i, &mx, &lst])?;
    Ok(y)
}
