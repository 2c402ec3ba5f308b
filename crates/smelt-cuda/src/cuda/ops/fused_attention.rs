//! The CUDA side of `plan::attention_fuse`: one generated kernel computing, per (b, h) and
//! tile of [`ROWS`] query rows, the scores `alpha * q k^T`, the softmax fusion's groups and
//! softmax on them (the same generated lines and row arithmetic as `super::fused_softmax`),
//! and `p v`, reading q, k and v through their strides and writing the output through its
//! strides. At fp16 / bf16 only, with the GEMM path's rounding: q, k, v and the
//! probabilities are rounded to the 16-bit type before their products (exact in f32), the
//! sums are f32. The sums' order differs from cuBLAS's, so results match the nodes run
//! apart within the reduced-precision bound, not bit for bit.
//!
//! Shared memory holds the tile's q rows, one chunk of [`CHUNK`] k or v rows (padded
//! against bank conflicts) and the tile's score rows; shapes whose tiles do not fit in
//! 48 KiB, heads over 128 wide, batch or head counts that differ between q, k and v, or
//! more than 2^31 scores are `Error::UnsupportedOp` (the executor runs the nodes apart).

use super::fused::group_lines;
use super::fused::{leaf_index, out_type, strided_offsets, Access};
use crate::cuda::device::Func;
use crate::cuda::stream::Stream;
use crate::cuda::tensor::GpuTensor;
use crate::plan::fuse::{Fusion, Ty};
use crate::plan::{broadcast_shape, broadcast_strides, dense_strides, i32_of, MAX_RANK};
use smelt_core::{DType, Error, Result};
use std::collections::HashMap;
use std::ffi::c_void;
use std::fmt::Write;

/// Query rows per block (four warps, four rows each in the softmax).
pub(crate) const ROWS: usize = 16;
/// k or v rows per shared-memory chunk.
pub(crate) const CHUNK: usize = 32;
const THREADS: usize = 128;
/// Widest head (q/k and v rows).
pub(crate) const MAX_HEAD: usize = 128;
const SMEM_FLOATS: usize = 12 * 1024;

/// One operand: its tensor and the permutation of its axes giving the logical
/// [b, h, rows, cols] (see `plan::attention_fuse::AttnOperand`).
pub(crate) struct Operand<'a> {
    pub t: &'a GpuTensor,
    pub perm: [usize; 4],
}

impl Operand<'_> {
    /// Logical dims and element strides.
    fn layout(&self, what: &str) -> Result<([usize; 4], [i64; 4])> {
        logical(self.t.shape(), self.perm).ok_or_else(|| {
            Error::unsupported(
                "fused attention",
                format!("{what} has rank {}", self.t.shape().len()),
            )
        })
    }
}

/// The dims and element strides of the logical axes of a dense tensor of `shape` (rank
/// 4), logical axis i being its axis `perm[i]`.
fn logical(shape: &[usize], perm: [usize; 4]) -> Option<([usize; 4], [i64; 4])> {
    if shape.len() != 4 {
        return None;
    }
    let dense = dense_strides(shape);
    Some((perm.map(|a| shape[a]), perm.map(|a| dense[a])))
}

/// The output's shape and the element strides of the product's axes [b, h, sq, dv] in it:
/// dense [b, h, sq, dv], or with `inv` the tensor whose axis `inv[a]` is the product's a.
fn output_layout(o_dims: [usize; 4], inv: Option<[usize; 4]>) -> (Vec<usize>, [i64; 4]) {
    match inv {
        Some(inv) => {
            let mut shape = [0usize; 4];
            for a in 0..4 {
                shape[inv[a]] = o_dims[a];
            }
            let dense = dense_strides(&shape);
            (shape.to_vec(), inv.map(|j| dense[j]))
        }
        None => {
            let dense = dense_strides(&o_dims);
            (o_dims.to_vec(), [dense[0], dense[1], dense[2], dense[3]])
        }
    }
}

/// Compiled kernels by (fusion index, leaf accesses, the leaves' compiled-in key strides,
/// the compiled-in constants).
#[derive(Default)]
pub(crate) struct Kernels(HashMap<(usize, Vec<Access>, Vec<i64>, Consts), Func>);

/// What a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Consts {
    pub d: usize,
    pub dv: usize,
    pub skv: usize,
    /// q, k, v already in the 16-bit type
    pub src16: [bool; 3],
    pub bf: bool,
    pub out16: bool,
    /// The tensor-core variant's (warps per block, keys per chunk); none: the SIMT one.
    pub tc: Option<(usize, usize)>,
    /// q, k, v: rows contiguous and every row start 16-byte aligned (the tensor-core
    /// variant loads them 16 bytes at a time).
    pub vec: [bool; 3],
    /// The output's columns contiguous, its row starts even and 8-byte aligned, dv even
    /// (the tensor-core variant stores two adjacent columns at once).
    pub pair: bool,
}

/// The kernel's groups: the group before the softmax with the index of its leaf that is
/// the scores (or none: the softmax reads the scores), and the group after with the index
/// of its leaf that is the probabilities.
pub(crate) struct Groups<'a> {
    pub pre: Option<(&'a Fusion, usize)>,
    pub post: Option<(&'a Fusion, usize)>,
}

/// `softmax(pre(alpha * q k^T)) -> post` times v, for q [b, h, sq, d], k [b, h, skv, d],
/// v [b, h, skv, dv] (logical, through their permutations); `leaves` are the groups'
/// other leaves (the group before's, then the group after's) in order, each broadcasting
/// to the scores [b, h, sq, skv]. The output is [b, h, sq, dv], or with `out_inv` the
/// tensor whose axis `out_inv[a]` is its axis a (a Transpose after it), f32 or 16-bit
/// `out16`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    s: &Stream,
    kernels: &mut Kernels,
    k_idx: usize,
    (q, k, v): (Operand, Operand, Operand),
    alpha: f32,
    groups: &Groups,
    leaves: &[&GpuTensor],
    out_inv: Option<[usize; 4]>,
    out16: Option<DType>,
) -> Result<GpuTensor> {
    let unsupported = |why: String| Err(Error::unsupported("fused attention", why));
    let Some(bits16) = s.precision.storage_16bit() else {
        return unsupported(format!("precision {}", s.precision.name()));
    };
    let (qd, qs) = q.layout("q")?;
    let (kd, ks) = k.layout("k")?;
    let (vd, vs) = v.layout("v")?;
    let [b, h, sq, d] = qd;
    let (skv, dv) = (kd[2], vd[3]);
    if kd[..2] != qd[..2] || vd[..2] != qd[..2] || kd[3] != d || vd[2] != skv {
        return unsupported(format!("q {qd:?}, k {kd:?} and v {vd:?} disagree"));
    }
    if d == 0 || dv == 0 || skv == 0 || d > MAX_HEAD || dv > MAX_HEAD {
        return unsupported(format!("heads of {d} and {dv}, {skv} keys"));
    }
    // 8 elements are 16 bytes or more, so rows 8-element aligned are 16-byte aligned
    let vec = [(q.t, qd, qs), (k.t, kd, ks), (v.t, vd, vs)].map(|(t, dims, st)| {
        st[3] == 1 && dims[3] % 8 == 0 && st[..3].iter().all(|&x| x % 8 == 0) && t.ptr() % 16 == 0
    });
    let tc = (s.dev.capability().0 >= 8 && !crate::exec::env_flag_off("SMELT_ATTENTION_TC"))
        .then(|| super::fused_attention_tc::shape(b * h, sq, skv, d, dv, !vec[0]))
        .flatten();
    if tc.is_none() && ROWS * d + CHUNK * (d.max(dv) + 1) + ROWS * skv > SMEM_FLOATS {
        return unsupported(format!("{skv} keys of {d} do not fit in shared memory"));
    }
    let scores = [b, h, sq, skv];
    i32_of(scores.iter().product(), "scores")?;
    let mut src16 = [false; 3];
    for (i, (o, name)) in [(&q, "q"), (&k, "k"), (&v, "v")].into_iter().enumerate() {
        match o.t.dtype() {
            DType::F32 => {}
            t if t == bits16 => src16[i] = true,
            t => return unsupported(format!("{name} is {t}")),
        }
    }
    let types: Vec<Ty> = [groups.pre, groups.post]
        .into_iter()
        .flatten()
        .flat_map(|(f, given)| f.leaves_but(given).map(|l| l.1))
        .collect();
    if types.len() != leaves.len() {
        return unsupported(format!(
            "{} leaves for {} planned",
            leaves.len(),
            types.len()
        ));
    }
    for (x, t) in leaves.iter().zip(&types) {
        let want = super::fused::dtype(*t);
        if x.dtype() != want {
            return unsupported(format!("a leaf is {}, planned {want}", x.dtype()));
        }
    }
    let o_dims = [b, h, sq, dv];
    let (out_shape, os) = output_layout(o_dims, out_inv);
    let y = s.alloc(out16.map_or(DType::F32, |_| bits16), &out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    // every leaf broadcasts into the scores (not past them, as a larger mask would)
    let mut all: Vec<&[usize]> = leaves.iter().map(|x| x.shape()).collect();
    all.push(&scores);
    if broadcast_shape(&all).ok().as_deref() != Some(&scores[..]) {
        return unsupported(format!(
            "a leaf does not broadcast into the scores {scores:?}"
        ));
    }
    let (access, mut blob) = leaf_index(&scores, leaves)?;
    if leaves.is_empty() {
        // the kernel's index block always has room for one leaf
        blob.resize(1 + 2 * MAX_RANK, 0);
    }
    let consts = Consts {
        d,
        dv,
        skv,
        src16,
        bf: bits16 == DType::BF16,
        out16: out16.is_some(),
        tc,
        vec: vec.map(|v| v && tc.is_some()),
        pair: tc.is_some()
            && os[3] == 1
            && os[..3].iter().all(|&x| x % 2 == 0)
            && dv % 2 == 0
            && y.ptr() % 8 == 0,
    };
    // the tensor-core variant compiles in each leaf's stride along the keys (the last of
    // its merged dims when there are several keys; with one, any)
    let key_stride: Vec<i64> = match tc {
        Some(_) if skv > 1 => leaves
            .iter()
            .map(|x| broadcast_strides(x.shape(), &scores)[3])
            .collect(),
        Some(_) => vec![0; leaves.len()],
        None => Vec::new(),
    };
    let key = (k_idx, access, key_stride, consts);
    let func = match kernels.0.get(&key) {
        Some(&f) => f,
        None => {
            let src = render(&consts, groups, &types, &key.1, &key.2);
            let f = s.dev.generated(&src, "fused_attention")?;
            kernels.0.insert(key, f);
            f
        }
    };
    let strides: Vec<i64> = [qs, ks, vs, os].concat();
    let ptrs: Vec<u64> = [y.ptr(), q.t.ptr(), k.t.ptr(), v.t.ptr()]
        .into_iter()
        .chain(leaves.iter().map(|x| x.ptr()))
        .collect();
    let ints = [
        i32_of(b, "batch")?,
        i32_of(h, "heads")?,
        i32_of(sq, "query rows")?,
    ];
    let mut args: Vec<*mut c_void> = ptrs
        .iter()
        .map(|p| p as *const u64 as *mut c_void)
        .collect();
    for v in &ints {
        args.push(v as *const i32 as *mut c_void);
    }
    args.push(&alpha as *const f32 as *mut c_void);
    args.push(strides.as_ptr() as *mut c_void);
    args.push(blob.as_ptr() as *mut c_void);
    let (rows, threads) = tc.map_or((ROWS, THREADS), |(w, _)| (16 * w, 32 * w));
    let blocks = b * h * sq.div_ceil(rows);
    let grid = u32::try_from(blocks)
        .map_err(|_| Error::unsupported("fused attention", "too many blocks"))?;
    s.launch_func(func, "fused_attention", grid, threads as u32, &mut args)?;
    Ok(y)
}

/// The kernel source: `fused_attention(OUT* y, const Q* q, const K* k, const V* v,
/// const T0* x0, .., int B, int H, int SQ, float alpha, AStr st, FIdx s)`; on devices
/// with tensor cores (`c.tc`), `super::fused_attention_tc`'s, with the strided leaves'
/// strides along the keys `key_stride` compiled in.
fn render(
    c: &Consts,
    groups: &Groups,
    types: &[Ty],
    access: &[Access],
    key_stride: &[i64],
) -> String {
    if let Some((warps, chunk)) = c.tc {
        return super::fused_attention_tc::render(
            c, warps, chunk, groups, types, access, key_stride,
        );
    }
    let nl = types.len();
    let dm = c.d.max(c.dv);
    let mut k = header(c, nl);
    let load = |i: usize, e: &str| {
        if c.src16[i] {
            format!("from16({e})")
        } else {
            format!("round16({e})")
        }
    };
    k += &signature(c, types, THREADS);
    let (d, dv, skv) = (c.d, c.dv, c.skv);
    let nk = skv.div_ceil(32);
    let _ = writeln!(
        k,
        "    const int D = {d}, DV = {dv}, n = {skv}, R = {ROWS}, C = {CHUNK}, DM = {dm};"
    );
    k += "    __shared__ float Qs[R][D];\n    __shared__ float KV[C][DM + 1];\n";
    k += "    __shared__ float Ss[R][n];\n";
    k += BLOCK_BASES;
    k += "    int warp = tid >> 5, lane = tid & 31;\n";
    // q rows
    let _ = writeln!(
        k,
        "    for (int e = tid; e < R * D; e += {THREADS}) {{ int r = e / D, c = e % D; Qs[r][c] = q0 + r < SQ ? {} : 0.0f; }}",
        load(0, "qp[qb + (long long)(q0 + r) * st.q[2] + c * st.q[3]]")
    );
    // scores, a chunk of k rows at a time
    k += "    for (int j0 = 0; j0 < n; j0 += C) {\n        __syncthreads();\n";
    let _ = writeln!(
        k,
        "        for (int e = tid; e < C * D; e += {THREADS}) {{ int r = e / D, c = e % D; KV[r][c] = j0 + r < n ? {} : 0.0f; }}",
        load(1, "kp[kb + (long long)(j0 + r) * st.k[2] + c * st.k[3]]")
    );
    k += "        __syncthreads();\n";
    let _ = writeln!(
        k,
        "        for (int e = tid; e < R * C; e += {THREADS}) {{ int r = e / C, c = e % C; float acc = 0.0f;"
    );
    // products of 16-bit values are exact in f32, so a fused multiply-add rounds as the
    // multiply and add apart would (the program is compiled without contraction)
    k += "            for (int t = 0; t < D; ++t) acc = __fmaf_rn(Qs[r][t], KV[c][t], acc);\n";
    k +=
        "            if (j0 + c < n) Ss[r][j0 + c] = alpha * acc; }\n    }\n    __syncthreads();\n";
    // softmax rows with their groups (a warp per row)
    let strided: Vec<usize> = (0..nl).filter(|&p| access[p] == Access::Strided).collect();
    k += "    for (int rr = warp; rr < R; rr += 4) {\n";
    k += "        int qi = q0 + rr;\n        if (qi >= SQ) continue;\n";
    k += "        int r = (bb * H + hh) * SQ + qi;\n";
    if !strided.is_empty() {
        let _ = writeln!(k, "        {}", strided_offsets(&strided, "r * n", "ob"));
    }
    let _ = writeln!(k, "        float v[{nk}];\n        float m = (-SM_INF);");
    let _ = writeln!(
        k,
        "#pragma unroll\n        for (int k = 0; k < {nk}; ++k) {{\n            int j = lane + 32 * k;"
    );
    k += "            float in = (-SM_INF);\n            if (j < n) {\n";
    k += "                int i = r * n + j;\n                float sv = Ss[rr][j];\n";
    let mut next = 0usize;
    match groups.pre {
        Some((f, given)) => {
            let param = params(f, given, &mut next);
            group_block(&mut k, f, given, &param, access, "sv", "in");
        }
        None => k += "                in = sv; (void)i;\n",
    }
    k += "            }\n            v[k] = in;\n            m = fmaxf(m, v[k]);\n        }\n";
    k += "        m = warp_max(m);\n        float sum = 0.0f;\n";
    let _ = writeln!(
        k,
        "#pragma unroll\n        for (int k = 0; k < {nk}; ++k) {{\n            int j = lane + 32 * k;"
    );
    k += "            float e = j < n ? expf(v[k] - m) : 0.0f;\n            sum += e;\n            v[k] = e;\n        }\n";
    k += "        sum = warp_sum(sum);\n        float inv = 1.0f / sum;\n";
    let _ = writeln!(
        k,
        "#pragma unroll\n        for (int k = 0; k < {nk}; ++k) {{\n            int j = lane + 32 * k;"
    );
    k += "            if (j < n) {\n                int i = r * n + j;\n";
    k += "                float p = v[k] * inv;\n                float o = p; (void)i;\n";
    if let Some((f, given)) = groups.post {
        let param = params(f, given, &mut next);
        group_block(&mut k, f, given, &param, access, "p", "o");
    }
    k += "                Ss[rr][j] = round16(o);\n            }\n        }\n    }\n";
    // p v, a chunk of v rows at a time
    let per = (ROWS * dv).div_ceil(THREADS);
    let _ = writeln!(
        k,
        "    float acc[{per}];\n#pragma unroll\n    for (int u = 0; u < {per}; ++u) acc[u] = 0.0f;"
    );
    k += "    for (int j0 = 0; j0 < n; j0 += C) {\n        __syncthreads();\n";
    let _ = writeln!(
        k,
        "        for (int e = tid; e < C * DV; e += {THREADS}) {{ int r = e / DV, c = e % DV; KV[r][c] = j0 + r < n ? {} : 0.0f; }}",
        load(2, "vp[vb + (long long)(j0 + r) * st.v[2] + c * st.v[3]]")
    );
    k += "        __syncthreads();\n        int jn = n - j0 < C ? n - j0 : C;\n";
    let _ = writeln!(
        k,
        "#pragma unroll\n        for (int u = 0; u < {per}; ++u) {{ int e = tid + {THREADS} * u; if (e < R * DV) {{ int r = e / DV, c = e % DV;"
    );
    k +=
        "            for (int t = 0; t < jn; ++t) acc[u] = __fmaf_rn(Ss[r][j0 + t], KV[t][c], acc[u]); } }\n    }\n";
    let store = stored(c, "acc[u]");
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int u = 0; u < {per}; ++u) {{ int e = tid + {THREADS} * u; int r = e / DV, c = e % DV;"
    );
    let _ = writeln!(
        k,
        "        if (e < R * DV && q0 + r < SQ) y[ob + (long long)(q0 + r) * st.o[2] + c * st.o[3]] = {store}; }}\n}}"
    );
    k
}

/// The index and stride blocks and the 16-bit conversions every variant's source starts
/// with (`nl` leaves).
pub(super) fn header(c: &Consts, nl: usize) -> String {
    let bf = c.bf as i32;
    let mut k = String::new();
    let _ = writeln!(
        k,
        "struct FIdx {{ int rank; int dims[{MAX_RANK}]; int st[{}][{MAX_RANK}]; }};",
        nl.max(1)
    );
    k += "struct AStr { long long q[4], k[4], v[4], o[4]; };\n";
    let _ = writeln!(
        k,
        "__device__ __forceinline__ float from16(unsigned short h) {{ if ({bf}) return __uint_as_float(((unsigned)h) << 16); float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h)); return f; }}"
    );
    k += "__device__ __forceinline__ float round16(float v) { return from16(to_16bit(v, ";
    let _ = writeln!(k, "{bf})); }}");
    k
}

/// The block's tile of R query rows of one (b, h), `tid`, and the (b, h) offsets of q, k, v
/// and the output: the first lines of every variant's body.
pub(super) const BLOCK_BASES: &str =
    "    int tiles = (SQ + R - 1) / R, tile = blockIdx.x % tiles, bh = blockIdx.x / tiles;
    int hh = bh % H, bb = bh / H, q0 = tile * R, tid = threadIdx.x;
    long long qb = bb * st.q[0] + hh * st.q[1], kb = bb * st.k[0] + hh * st.k[1];
    long long vb = bb * st.v[0] + hh * st.v[1], ob = bb * st.o[0] + hh * st.o[1];
";

/// The C expression storing f32 `v` as the output's type (16 bits with `c.out16`).
pub(super) fn stored(c: &Consts, v: &str) -> String {
    if c.out16 {
        format!("to_16bit({v}, {})", c.bf as i32)
    } else {
        v.to_string()
    }
}

/// The kernel's signature up to its opening brace, for blocks of `threads` (the output
/// never overlaps an input, so every pointer is `__restrict__`).
pub(super) fn signature(c: &Consts, types: &[Ty], threads: usize) -> String {
    let src = |i: usize| {
        if c.src16[i] {
            "unsigned short"
        } else {
            "float"
        }
    };
    let mut k = format!(
        "extern \"C\" __global__ void __launch_bounds__({threads}) fused_attention({}* __restrict__ y, const {}* __restrict__ qp, const {}* __restrict__ kp, const {}* __restrict__ vp",
        out_type(Ty::F32, c.out16.then_some(DType::F16)),
        src(0),
        src(1),
        src(2)
    );
    for (j, t) in types.iter().enumerate() {
        let _ = write!(k, ", const {}* __restrict__ x{j}", super::fused::ctype(*t));
    }
    k += ", int B, int H, int SQ, float alpha, AStr st, FIdx s) {\n";
    k
}

/// A block of lines (at a row kernel's element depth) computing group `f` with its leaf
/// `given` the C float expression `input` (its other leaves as `param` numbers them) and
/// assigning the result to `target`.
pub(super) fn group_block(
    k: &mut String,
    f: &Fusion,
    given: usize,
    param: &[Option<usize>],
    access: &[Access],
    input: &str,
    target: &str,
) {
    *k += "                {\n";
    for line in group_lines(f, param, access, Some((given, input)), true) {
        let _ = writeln!(k, "                {line}");
    }
    let _ = writeln!(
        k,
        "                {target} = t{};\n                }}",
        f.steps.len() - 1
    );
}

/// Group `f`'s leaves as kernel parameters: leaf `given` is computed in the kernel, the
/// others take the next parameter numbers from `next` on.
pub(super) fn params(f: &Fusion, given: usize, next: &mut usize) -> Vec<Option<usize>> {
    (0..f.leaves.len())
        .map(|j| {
            (j != given).then(|| {
                *next += 1;
                *next - 1
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fuse::{plan, Uses};
    use crate::plan::op::GpuOp;

    /// BERT's heads: x [b, s, h, d] read as [b, h, s, d] (q, v; k through k^T's swap gives
    /// the same), the product [b, h, s, d] written as [b, s, h, d].
    #[test]
    fn heads_are_read_and_written_through_their_permutations() {
        let (b, s, h, d) = (2usize, 5usize, 3usize, 4usize);
        let (dims, st) = logical(&[b, s, h, d], [0, 2, 1, 3]).unwrap();
        assert_eq!(dims, [b, h, s, d]);
        assert_eq!(st, [(s * h * d) as i64, d as i64, (h * d) as i64, 1]);
        assert_eq!(logical(&[b, s, h * d], [0, 2, 1, 3]), None);
        let (shape, os) = output_layout([b, h, s, d], Some([0, 2, 1, 3]));
        assert_eq!(shape, [b, s, h, d]);
        assert_eq!(os, [(s * h * d) as i64, d as i64, (h * d) as i64, 1]);
        let (shape, os) = output_layout([b, h, s, d], None);
        assert_eq!(shape, [b, h, s, d]);
        assert_eq!(os, [(h * s * d) as i64, (s * d) as i64, d as i64, 1]);
    }

    /// The BERT block's groups render (with the mask leaf strided, the two scalars) and
    /// compile with NVRTC where libnvrtc is present, f32 and 16-bit sources, f16 and bf16.
    #[test]
    fn renders_and_compiles_a_bert_attention() {
        let w = || smelt_core::Tensor::from_vec(vec![8, 8], vec![0.5f32; 64]).unwrap();
        let g =
            crate::plan::attention_fuse::tests::bert_attention(2, 5, 2, 4, [w(), w(), w()], false);
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let groups = plan(&g, &ops, &Uses::of(&g));
        let pre = groups
            .iter()
            .find(|f| f.label == "Where+Add")
            .expect("the mask group");
        let post = groups
            .iter()
            .find(|f| f.label == "IsNaN+Where")
            .expect("the guard");
        let given_pre = pre
            .leaves
            .iter()
            .position(|(id, _)| {
                Uses::of(&g)
                    .producer(*id)
                    .is_some_and(|p| g.nodes[p].op_type == "MatMul")
            })
            .expect("the scores leaf");
        let sm = g.nodes.iter().position(|n| n.op_type == "Softmax").unwrap();
        let given_post = post
            .leaves
            .iter()
            .position(|(id, _)| Some(*id) == g.nodes[sm].outputs[0])
            .expect("the probabilities leaf");
        let gr = Groups {
            pre: Some((pre, given_pre)),
            post: Some((post, given_post)),
        };
        let mut types: Vec<Ty> = Vec::new();
        for (f, given) in [(pre, given_pre), (post, given_post)] {
            types.extend(f.leaves_but(given).map(|l| l.1));
        }
        // the mask (strided), zero and -inf (scalars), then the guard's zero
        let access: Vec<Access> = types
            .iter()
            .map(|t| {
                if *t == Ty::Bool {
                    Access::Strided
                } else {
                    Access::Scalar
                }
            })
            .collect();
        let mut srcs = Vec::new();
        for (src16, bf, out16) in [
            ([false; 3], false, false),
            ([true, true, false], true, true),
        ] {
            let c = Consts {
                d: 64,
                dv: 64,
                skv: 128,
                src16,
                bf,
                out16,
                tc: None,
                vec: [false; 3],
                pair: false,
            };
            let src = render(&c, &gr, &types, &access, &[]);
            assert!(src.contains("const int D = 64, DV = 64, n = 128"), "{src}");
            assert!(src.contains("float v[4];"), "{src}");
            assert!(src.contains("ob0 + j * s.st[0][s.rank - 1]"), "{src}");
            assert!(src.contains("Ss[rr][j] = round16(o);"), "{src}");
            assert_eq!(src.contains("from16(qp["), src16[0], "{src}");
            srcs.push(src);
        }
        // SMELT_DUMP_ATTENTION=<dir>: the variants scripts/cuda/emulate runs on the CPU
        // (d, dv, keys, 16-bit q/k/v, bf16, 16-bit output)
        type Variant = (&'static str, usize, usize, usize, [bool; 3], bool, bool);
        let variants: [Variant; 10] = [
            ("d64_dv64_n128_f32in", 64, 64, 128, [false; 3], false, false),
            ("d64_dv64_n128_f16in", 64, 64, 128, [true; 3], false, true),
            (
                "d64_dv64_n128_bf16mix",
                64,
                64,
                128,
                [true, true, false],
                true,
                true,
            ),
            ("d40_dv40_n77_f32in", 40, 40, 77, [false; 3], false, false),
            ("d40_dv40_n77_f16in", 40, 40, 77, [true; 3], false, true),
            ("d32_dv32_n300_f32in", 32, 32, 300, [false; 3], false, false),
            ("d32_dv32_n300_f16in", 32, 32, 300, [true; 3], false, true),
            (
                "d48_dv80_n100_mix",
                48,
                80,
                100,
                [true, false, true],
                false,
                true,
            ),
            ("d80_dv24_n33_f32in", 80, 24, 33, [false; 3], false, false),
            // two chunks of 64 keys (v rows over 64), none checked
            ("d64_dv96_n128_f16in", 64, 96, 128, [true; 3], false, true),
        ];
        // each also as the tensor-core variant, with 4, 1 or 2 warps per block: _tc loads
        // q, k, v 16 bytes at a time and stores column pairs, _tcs an element at a time; the
        // mask's key stride compiled in as 1 ([b, 1, 1, skv] or [b, 1, sq, skv]), for _tcb
        // (as _tc) as 0 (a mask [b, 1, sq, 1] broadcast over the keys); _tc4: _tc at four warps
        for (v, (name, d, dv, skv, src16, bf, out16)) in variants.into_iter().enumerate() {
            let w = [4, 1, 2][v % 3];
            let mut tags = vec![(None, false, 1, ""), (Some(w), true, 1, "_tc")];
            tags.push((Some(w), false, 1, "_tcs"));
            if matches!(name, "d40_dv40_n77_f16in" | "d32_dv32_n300_f16in") {
                tags.push((Some(w), true, 0, "_tcb"));
            }
            if name == "d64_dv64_n128_f16in" {
                // BERT-base's (batch 32: four warps)
                tags.push((Some(4), true, 1, "_tc4"));
            }
            for (tc, vec, mask_key_stride, tag) in tags {
                let tc = tc.map(|w| {
                    let (_, ch) =
                        super::super::fused_attention_tc::shape(1 << 20, 1, skv, d, dv, !vec)
                            .expect("a tensor-core shape");
                    (w, ch)
                });
                let c = Consts {
                    d,
                    dv,
                    skv,
                    src16,
                    bf,
                    out16,
                    tc,
                    vec: [vec; 3],
                    pair: vec,
                };
                let key_stride = [mask_key_stride, 0, 0, 0];
                let src = render(&c, &gr, &types, &access, &key_stride);
                if let Some(dir) = smelt_core::settings::var("SMELT_DUMP_ATTENTION") {
                    let path = std::path::Path::new(&dir).join(format!("{name}{tag}.cu"));
                    std::fs::write(&path, &src).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                }
                srcs.push(src);
            }
        }
        if !crate::cuda::device::nvrtc_present() {
            eprintln!("SKIP: libnvrtc not found (the generated kernels are not compiled here)");
            return;
        }
        std::env::set_var("SMELT_KERNEL_CACHE", "off");
        for s in &srcs {
            let ptx = crate::cuda::device::compile_generated(s, "--gpu-architecture=compute_90")
                .unwrap_or_else(|e| panic!("{e}\n{s}"));
            assert!(
                ptx.contains(".entry fused_attention("),
                "no kernel in the PTX"
            );
        }
    }
}
