//! TopK, NonMaxSuppression, NonZero and Unique launches (IndexOp cases; kernels in kernels/index.cu).

use super::index::{index_ints, need_host, sized, upload_i64};
use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::index as plan;
use smelt_core::{DType, Error, Result, Tensor};

pub(super) fn topk(
    s: &Stream,
    ins: &Ins,
    axis: i64,
    largest: bool,
    k_attr: Option<i64>,
) -> Result<Vec<GpuTensor>> {
    let x = ins.dev(0)?;
    let k = match k_attr {
        Some(k) => k,
        None => {
            let v = index_ints(need_host(ins, 1, "TopK K")?, "TopK K")?;
            if v.len() != 1 {
                return Err(Error::invalid("TopK: K must hold one value"));
            }
            v[0]
        }
    };
    if x.shape().is_empty() {
        return Err(Error::invalid("TopK: input must have rank >= 1"));
    }
    let a = crate::plan::axis(axis, x.shape().len(), "TopK axis")?;
    let (o, n, inn) = plan::split3(x.shape(), a);
    if k < 0 || k as usize > n {
        return Err(Error::invalid(format!(
            "TopK: k = {k} out of range for axis {a} of size {n}"
        )));
    }
    i32_of(x.len(), "TopK size")?;
    let mut shape = x.shape().to_vec();
    shape[a] = k as usize;
    let vals = s.alloc(x.dtype(), &shape)?;
    let idx = s.alloc(DType::I64, &shape)?;
    let name = match x.dtype() {
        DType::F32 => "topk_f32",
        DType::F64 => "topk_f64",
        DType::F16 => "topk_f16",
        DType::I32 => "topk_i32",
        DType::I64 => "topk_i64",
        DType::U8 => "topk_u8",
        DType::I8 => "topk_i8",
        DType::U16 => "topk_u16",
        DType::I16 => "topk_i16",
        DType::U32 => "topk_u32",
        DType::U64 => "topk_u64",
        d => return Err(Error::unsupported("cuda", format!("TopK of {d}"))),
    };
    if !vals.is_empty() {
        let (xp, vp, ip) = (x.ptr(), vals.ptr(), idx.ptr());
        let (o, n, inn, k, l) = (o as i32, n as i32, inn as i32, k as i32, largest as i32);
        let (g, b) = geom(x.len());
        s.launch(name, g, b, args![&xp, &vp, &ip, &o, &n, &inn, &k, &l])?;
    }
    Ok(vec![vals, idx])
}

/// A float scalar input (None: absent or empty), as the CPU op reads the thresholds.
fn opt_float(ins: &Ins, i: usize, what: &str) -> Result<Option<f64>> {
    match ins.host(i)? {
        Some(t) if !t.is_empty() => {
            if t.len() != 1 || !t.dtype().is_float() {
                return Err(Error::invalid(format!("{what} must be a float scalar")));
            }
            Ok(Some(t.to_f64_vec()?[0]))
        }
        _ => Ok(None),
    }
}

pub(super) fn nms(s: &Stream, ins: &Ins, center: bool) -> Result<GpuTensor> {
    let (boxes, scores) = (ins.f32(0)?, ins.f32(1)?);
    let (bs, ss) = (boxes.shape(), scores.shape());
    if bs.len() != 3 || bs[2] != 4 {
        return Err(Error::invalid(format!(
            "boxes must be [B, N, 4], got {bs:?}"
        )));
    }
    let (nb, n) = (bs[0], bs[1]);
    if ss.len() != 3 || ss[0] != nb || ss[2] != n {
        return Err(Error::invalid(format!(
            "scores must be [B, C, {n}], got {ss:?}"
        )));
    }
    let nc = ss[1];
    let max_out = match ins.host(2)?.filter(|t| !t.is_empty()) {
        Some(t) => {
            let v = t.to_i64_vec()?;
            if v.len() != 1 {
                return Err(Error::invalid(
                    "max_output_boxes_per_class must be a scalar",
                ));
            }
            v[0].max(0) as usize
        }
        None => 0,
    };
    let iou_th = opt_float(ins, 3, "iou_threshold")?.unwrap_or(0.0);
    let score_th = opt_float(ins, 4, "score_threshold")?;
    let nbc = nb * nc;
    let cap = max_out.min(n);
    if cap == 0 || nbc == 0 {
        return s.alloc(DType::I64, &[0, 3]);
    }
    i32_of(nb * n * n, "NonMaxSuppression pairs")?;
    i32_of(nbc * n, "NonMaxSuppression scores")?;
    let over = s.alloc(DType::U8, &[nb, n, n])?;
    let order = s.alloc(DType::I32, &[nbc * n])?;
    let sel = s.alloc(DType::I32, &[nbc * cap])?;
    let cnt = s.alloc(DType::I32, &[nbc])?;
    let (bp, sp, op, selp, cp) = (boxes.ptr(), scores.ptr(), over.ptr(), sel.ptr(), cnt.ptr());
    let (orp, nb32, n32, nc32, nbc32) = (order.ptr(), nb as i32, n as i32, nc as i32, nbc as i32);
    let (ctr, has_th, th) = (
        center as i32,
        score_th.is_some() as i32,
        score_th.unwrap_or(0.0),
    );
    let (mo, cap32) = (max_out.min(i32::MAX as usize) as i32, cap as i32);
    let (g, b) = geom(nb * n * n);
    s.launch(
        "nms_over",
        g,
        b,
        args![&bp, &op, &nb32, &n32, &ctr, &iou_th],
    )?;
    let (g, b) = geom(nbc * n);
    s.launch(
        "nms_order",
        g,
        b,
        args![&sp, &orp, &nbc32, &n32, &has_th, &th],
    )?;
    let (g, b) = geom(nbc);
    s.launch(
        "nms_greedy",
        g,
        b,
        args![&sp, &orp, &op, &selp, &cp, &nbc32, &nc32, &n32, &mo, &cap32, &has_th, &th],
    )?;
    // the selection count decides the output shape: read back the per-class counts
    let counts = s.download(&cnt)?.to_i64_vec()?;
    let mut offs = Vec::with_capacity(nbc + 1);
    let mut acc = 0i64;
    offs.push(0);
    for c in &counts {
        acc += c;
        offs.push(acc);
    }
    let out = s.alloc(DType::I64, &[acc as usize, 3])?;
    if acc > 0 {
        let od = upload_i64(s, offs)?;
        let (odp, outp) = (od.ptr(), out.ptr());
        let (g, b) = geom(nbc * cap);
        s.launch(
            "nms_write",
            g,
            b,
            args![&selp, &odp, &outp, &nbc32, &nc32, &cap32],
        )?;
    }
    Ok(out)
}

/// NonZero: chunk counts on the device, read back to size the output, then the
/// coordinates written in element order (kernels nonzero_count / nonzero_write).
pub(super) fn non_zero(s: &Stream, x: &GpuTensor) -> Result<GpuTensor> {
    let shape: Vec<usize> = if x.shape().is_empty() {
        vec![1]
    } else {
        x.shape().to_vec()
    };
    let r = shape.len();
    if r > crate::plan::MAX_RANK {
        return Err(Error::unsupported("NonZero", format!("rank {r}")));
    }
    let n = i32_of(x.len(), "NonZero size")?;
    if n == 0 {
        return s.alloc(DType::I64, &[r, 0]);
    }
    let d = x.dtype();
    let count = sized(
        [
            "nonzero_count_8",
            "nonzero_count_16",
            "nonzero_count_32",
            "nonzero_count_64",
        ],
        d,
    )?;
    let write = sized(
        [
            "nonzero_write_8",
            "nonzero_write_16",
            "nonzero_write_32",
            "nonzero_write_64",
        ],
        d,
    )?;
    let blocks = (x.len().div_ceil(crate::plan::BLOCK as usize)).clamp(1, 1024);
    let chunk = x.len().div_ceil(blocks) as i32;
    let fl = d.is_float() as i32;
    let counts = s.alloc(DType::I32, &[blocks])?;
    let (xp, cp) = (x.ptr(), counts.ptr());
    let b = crate::plan::BLOCK;
    s.launch(count, blocks as u32, b, args![&xp, &n, &chunk, &fl, &cp])?;
    let c = s.download(&counts)?.to_i64_vec()?;
    let mut offs = Vec::with_capacity(blocks);
    let mut total = 0i64;
    for v in c {
        offs.push(total as i32);
        total += v;
    }
    let out = s.alloc(DType::I64, &[r, total as usize])?;
    if total == 0 {
        return Ok(out);
    }
    let od = s.upload(&Tensor::from_vec(vec![blocks], offs)?)?;
    let mut st = crate::plan::Strides {
        rank: r as i32,
        ..Default::default()
    };
    for (i, &dim) in shape.iter().enumerate() {
        st.dims[i] = dim as i32;
    }
    let (op, outp, tot) = (od.ptr(), out.ptr(), total as i32);
    s.launch(
        write,
        blocks as u32,
        b,
        args![&xp, &n, &chunk, &fl, &op, &outp, &tot, &st],
    )?;
    Ok(out)
}

/// Largest n * n * item length Unique compares on the GPU (its pairwise kernels); larger
/// inputs run on the CPU.
const UNIQUE_MAX_WORK: usize = 1 << 34;

/// Unique: grouping and ranks on the device (pairwise item comparisons), the group count
/// read back to size the outputs.
pub(super) fn unique(
    s: &Stream,
    x: &GpuTensor,
    sorted: bool,
    axis: Option<i64>,
) -> Result<Vec<GpuTensor>> {
    let (shape, a) = match axis {
        Some(ax) => {
            if x.shape().is_empty() {
                return Err(Error::invalid("Unique of a scalar with an axis"));
            }
            (
                x.shape().to_vec(),
                crate::plan::axis(ax, x.shape().len(), "Unique axis")?,
            )
        }
        None => (vec![x.len()], 0),
    };
    let (o, n, inn) = plan::split3(&shape, a);
    let work = (n as u128) * (n as u128) * ((o * inn) as u128);
    if n == 0 || o * inn == 0 || work > UNIQUE_MAX_WORK as u128 {
        return Err(Error::unsupported(
            "Unique",
            format!("{n} items of {} elements on the GPU", o * inn),
        ));
    }
    i32_of(x.len(), "Unique size")?;
    let dt = x.dtype();
    let suffix = match dt {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::F16 => "f16",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::U8 | DType::Bool => "u8",
        DType::I8 => "i8",
        DType::U16 => "u16",
        DType::I16 => "i16",
        DType::U32 => "u32",
        DType::U64 => "u64",
        d => return Err(Error::unsupported("cuda", format!("Unique of {d}"))),
    };
    let group = static_name(&format!("unique_group_{suffix}"))?;
    let rank = static_name(&format!("unique_rank_{suffix}"))?;
    let leader = s.alloc(DType::I32, &[n])?;
    let eqc = s.alloc(DType::I32, &[n])?;
    let grank = s.alloc(DType::I32, &[n])?;
    let ng = s.upload(&Tensor::from_vec(vec![1], vec![0i32])?)?;
    let (xp, lp, ep, rp, gp) = (x.ptr(), leader.ptr(), eqc.ptr(), grank.ptr(), ng.ptr());
    let (o32, n32, i32v, so) = (o as i32, n as i32, inn as i32, sorted as i32);
    let (g, b) = geom(n);
    s.launch(group, g, b, args![&xp, &o32, &n32, &i32v, &lp, &ep, &gp])?;
    s.launch(rank, g, b, args![&xp, &o32, &n32, &i32v, &lp, &so, &rp])?;
    // the group count decides the output shapes
    let groups = s.download(&ng)?.to_i64_vec()?[0] as usize;
    let mut yshape = shape.clone();
    yshape[a] = groups;
    let y = s.alloc(dt, &yshape)?;
    let first = s.alloc(DType::I64, &[groups])?;
    let inv = s.alloc(DType::I64, &[n])?;
    let counts = s.alloc(DType::I64, &[groups])?;
    let write = sized(
        [
            "unique_write_8",
            "unique_write_16",
            "unique_write_32",
            "unique_write_64",
        ],
        dt,
    )?;
    let (yp, fp, ip, cp, g32) = (y.ptr(), first.ptr(), inv.ptr(), counts.ptr(), groups as i32);
    let (gr, bl) = geom(x.len());
    s.launch(
        write,
        gr,
        bl,
        args![&xp, &yp, &lp, &rp, &ep, &fp, &ip, &cp, &o32, &n32, &i32v, &g32],
    )?;
    Ok(vec![y, first, inv, counts])
}

/// The kernel names `launch` takes are `&'static str`: the Unique kernels by dtype.
fn static_name(name: &str) -> Result<&'static str> {
    const NAMES: [&str; 22] = [
        "unique_group_f32",
        "unique_group_f64",
        "unique_group_f16",
        "unique_group_i32",
        "unique_group_i64",
        "unique_group_u8",
        "unique_group_i8",
        "unique_group_u16",
        "unique_group_i16",
        "unique_group_u32",
        "unique_group_u64",
        "unique_rank_f32",
        "unique_rank_f64",
        "unique_rank_f16",
        "unique_rank_i32",
        "unique_rank_i64",
        "unique_rank_u8",
        "unique_rank_i8",
        "unique_rank_u16",
        "unique_rank_i16",
        "unique_rank_u32",
        "unique_rank_u64",
    ];
    NAMES
        .iter()
        .find(|&&k| k == name)
        .copied()
        .ok_or_else(|| Error::invalid(format!("no kernel {name}")))
}
