//! The backend-neutral GPU op layer: which ops a GPU backend runs ([`GpuOp`], parsed once
//! per node from its attributes), their output shapes, and the launch plans the kernels
//! take (element counts, strides, grid sizes). Nothing here touches a device: the CUDA
//! backend (`crate::cuda`) and a later wgpu backend supply only the launch and the kernel
//! source, and read these plans.
//!
//! Layout contract: device tensors are dense and row-major; element counts and offsets fit
//! in an i32 (checked here, so kernels index with 32-bit integers).

pub mod attention;
pub mod attention_fuse;
pub mod axis_norm;
pub mod col2im;
pub mod conv;
pub mod einsum;
pub mod elementwise;
pub mod fold;
pub mod fuse;
pub mod gather;
pub mod grid_sample;
pub mod index;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod op;
mod op_types;
pub mod pool;
pub mod quant;
pub mod reduce;
pub mod resize;
pub mod roi_align;
pub mod rotary;
pub mod scatter;
pub mod sequence;
pub mod signal;
pub mod softmax_fuse;
pub mod train;

pub use op::GpuOp;

use smelt_core::{Error, Result};

/// Largest rank of the strided kernels.
pub const MAX_RANK: usize = 8;

/// Threads per block of the 1-d kernels and of the row kernels (a power of two <= 1024).
pub const BLOCK: u32 = 256;

/// Grid size of a grid-stride kernel over `n` elements.
pub fn grid_1d(n: usize) -> u32 {
    n.div_ceil(BLOCK as usize).clamp(0, 1 << 20) as u32
}

/// `n` as a kernel's i32, or an error naming what is too large.
pub fn i32_of(n: usize, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::unsupported(
            "cuda",
            format!("{what} ({n}) exceeds the 32-bit indexing of the GPU kernels"),
        )
    })
}

/// Output dims with up to three operands' element strides over them (0 = broadcast), the
/// parameter block of the strided kernels. `#[repr(C)]`: kernels read it as `Strides`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strides {
    pub rank: i32,
    pub dims: [i32; MAX_RANK],
    pub a: [i32; MAX_RANK],
    pub b: [i32; MAX_RANK],
    pub c: [i32; MAX_RANK],
}

/// Row-major strides of a dense shape.
pub fn dense_strides(shape: &[usize]) -> Vec<i64> {
    let mut s = vec![0i64; shape.len()];
    let mut acc = 1i64;
    for i in (0..shape.len()).rev() {
        s[i] = acc;
        acc *= shape[i] as i64;
    }
    s
}

/// Numpy broadcast of several shapes (the one the CPU ops use).
pub use smelt_core::broadcast_shapes as broadcast_shape;

/// Strides of a dense `shape` read over the broadcast output `out` (0 where broadcast).
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<i64> {
    let dense = dense_strides(shape);
    let off = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                dense[i - off]
            }
        })
        .collect()
}

/// Drops size-1 dims and merges neighbours that are contiguous in every operand (fewer index
/// divisions): the merged dims and each operand's strides over them.
pub fn merge_dims(dims: &[usize], ops: &[&[i64]]) -> (Vec<usize>, Vec<Vec<i64>>) {
    let mut d: Vec<usize> = Vec::new();
    let mut s: Vec<Vec<i64>> = vec![Vec::new(); ops.len()];
    for i in 0..dims.len() {
        if dims[i] == 1 {
            continue;
        }
        let mergeable = !d.is_empty()
            && ops
                .iter()
                .enumerate()
                .all(|(k, o)| s[k][d.len() - 1] == o[i] * dims[i] as i64);
        if mergeable {
            let last = d.len() - 1;
            d[last] *= dims[i];
            for (k, o) in ops.iter().enumerate() {
                s[k][last] = o[i];
            }
        } else {
            d.push(dims[i]);
            for (k, o) in ops.iter().enumerate() {
                s[k].push(o[i]);
            }
        }
    }
    (d, s)
}

/// Packs dims and up to three stride lists into [`Strides`] (after [`merge_dims`]).
pub fn pack_strides(dims: &[usize], ops: &[&[i64]]) -> Result<Strides> {
    let (d, s) = merge_dims(dims, ops);
    if d.len() > MAX_RANK {
        return Err(Error::unsupported(
            "cuda",
            format!("rank {} after merging dims exceeds {MAX_RANK}", d.len()),
        ));
    }
    let mut p = Strides {
        rank: d.len() as i32,
        ..Default::default()
    };
    for (i, &n) in d.iter().enumerate() {
        p.dims[i] = i32_of(n, "a dimension")?;
        let lists = [&mut p.a, &mut p.b, &mut p.c];
        for (k, l) in lists.into_iter().enumerate().take(ops.len()) {
            l[i] = i32::try_from(s[k][i])
                .map_err(|_| Error::unsupported("cuda", "a stride exceeds 32 bits"))?;
        }
    }
    Ok(p)
}

/// Resolves a possibly negative axis against `rank`.
pub fn axis(a: i64, rank: usize, what: &str) -> Result<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if v < 0 || v >= r.max(1) {
        return Err(Error::invalid(format!(
            "{what} {a} is out of range for rank {rank}"
        )));
    }
    Ok(v as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_merge_contiguous_dims_and_keep_broadcast() {
        let out = [2usize, 3, 4];
        let a = broadcast_strides(&[2, 3, 4], &out);
        let b = broadcast_strides(&[4], &out);
        let p = pack_strides(&out, &[&a, &b]).unwrap();
        // a is contiguous throughout, b repeats every 4: [6, 4] with a = [4, 1], b = [0, 1]
        assert_eq!(p.rank, 2);
        assert_eq!(&p.dims[..2], &[6, 4]);
        assert_eq!(&p.a[..2], &[4, 1]);
        assert_eq!(&p.b[..2], &[0, 1]);
    }
}
