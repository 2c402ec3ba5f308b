//! The tensor-core variant of the fused attention kernel (`super::fused_attention`), for
//! devices of compute capability 8.0 and up: the two products run as warp-wide
//! `mma.sync.m16n8k16` (16-bit inputs, f32 sums); the softmax fusion's groups and the
//! softmax run on the score fragments in registers.
//!
//! A block of `W` warps takes `16 W` query rows of one (b, h); each warp takes 16. Keys go
//! in chunks of `CH` (a multiple of 16): q's tile and a chunk of k and of v sit in shared
//! memory as 16-bit values, rows padded by 8 so the fragment loads hit 32 distinct banks
//! (v's fragments come through `ldmatrix.trans`). Rows that are contiguous and 16-byte
//! aligned (`Consts::vec`) load 16 bytes per thread. With one chunk the scores stay in registers from
//! the row statistics to `p v`; with more, a first pass over the chunks gathers each row's
//! maximum and sum (online, per thread, then over the four threads sharing a row) and a
//! second computes the scores again, the probabilities, the group after, and `p v`. So the
//! group after sees the normalised probabilities, as when the nodes run apart.
//!
//! Rounding: q, k, v and the probabilities are rounded to the 16-bit type (as the GEMM
//! path does), products and sums are f32 inside the tensor cores; a fully masked row
//! (every score -inf) gives NaN probabilities, as Softmax does.
//!
//! Fragment layouts (PTX ISA, `mma.m16n8k16`, g = lane / 4, t = lane % 4): A (16 x 16,
//! row) a0: (g, 2t..2t+1), a1: (g + 8, 2t..), a2: (g, 2t + 8..), a3: (g + 8, 2t + 8..);
//! B (16 x 8, col) b0: (2t..2t+1, g), b1: (2t + 8.., g); C (16 x 8) c0, c1: (g, 2t..2t+1),
//! c2, c3: (g + 8, 2t..). Two adjacent C tiles of scores are one A fragment of `p`.

use super::fused::{strided_offsets, Access};
use super::fused_attention::{group_block, header, params, signature, stored, Consts, Groups};
use crate::plan::fuse::Ty;
use std::fmt::Write;

/// The shared memory the variant may use (static, the 48 KiB limit).
const SMEM_BYTES: usize = 48 * 1024;
/// The widest q / k row or v row (after rounding up to 16).
pub(crate) const MAX_HEAD: usize = 128;
/// Below this many blocks, fewer warps per block (more blocks for the SMs).
const TARGET_BLOCKS: usize = 264;

/// (warps per block, keys per chunk) for `b * h` heads of `sq` query rows, `skv` keys,
/// q/k rows of `d` and v rows of `dv`; none when the heads are too wide or nothing fits.
pub(crate) fn shape(
    bh: usize,
    sq: usize,
    skv: usize,
    d: usize,
    dv: usize,
) -> Option<(usize, usize)> {
    let (dp, dvp) = (d.div_ceil(16) * 16, dv.div_ceil(16) * 16);
    if dp > MAX_HEAD || dvp > MAX_HEAD || skv == 0 {
        return None;
    }
    let warps = [4usize, 2, 1]
        .into_iter()
        .find(|&w| bh * sq.div_ceil(16 * w) >= TARGET_BLOCKS)
        .unwrap_or(1);
    let cap = if dvp > 64 { 64 } else { 128 };
    let mut ch = (skv.div_ceil(16) * 16).min(cap);
    while 2 * (16 * warps * (dp + 8) + ch * (dp + 8) + ch * (dvp + 8)) > SMEM_BYTES {
        if ch == 16 {
            return None;
        }
        ch = (ch / 2).div_ceil(16) * 16;
    }
    Some((warps, ch))
}

/// The kernel source (see the module's notes).
pub(super) fn render(
    c: &Consts,
    warps: usize,
    ch: usize,
    groups: &Groups,
    types: &[Ty],
    access: &[Access],
) -> String {
    let nl = types.len();
    let bf = c.bf as i32;
    let ty = if c.bf { "bf16" } else { "f16" };
    let threads = 32 * warps;
    let (d, dv, n) = (c.d, c.dv, c.skv);
    let (dp, dvp) = (d.div_ceil(16) * 16, dv.div_ceil(16) * 16);
    let (nt, ntv) = (ch / 8, dvp / 8);
    let single = n <= ch;
    let mut k = header(c, nl);
    let _ = writeln!(
        k,
        "__device__ __forceinline__ void mma16816(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {{ asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.{ty}.{ty}.f32 {{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%0, %1, %2, %3}};\" : \"+f\"(d[0]), \"+f\"(d[1]), \"+f\"(d[2]), \"+f\"(d[3]) : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1)); }}"
    );
    k += "__device__ __forceinline__ unsigned ld32(const unsigned short* p) { return *reinterpret_cast<const unsigned*>(p); }\n";
    // four 8x8 tiles of 16-bit values, transposed: lanes 8i..8i+7 give tile i's row
    // addresses; lane l gets tile i's (row 2 (l % 4) and the next, column l / 4) in ri
    k += "__device__ __forceinline__ void ldsm4t(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { unsigned a = (unsigned)__cvta_generic_to_shared(p); asm volatile(\"ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\" : \"=r\"(r0), \"=r\"(r1), \"=r\"(r2), \"=r\"(r3) : \"r\"(a)); }\n";
    k += "__device__ __forceinline__ unsigned pack16(unsigned short lo, unsigned short hi) { return (unsigned)lo | ((unsigned)hi << 16); }\n";
    k += &signature(c, types, threads);
    // a tile of operand i (q 0, k 1, v 2) into shared memory `dst` [rows][padded + 8] as
    // 16-bit values, zero past the valid rows and the row length: 16 bytes per load where
    // `c.vec[i]` (rows contiguous and 16-byte aligned), else an element per load
    let fill = |i: usize, dst: &str, rows: &str, valid: &str, row: &str| {
        let (name, len, padded) = [("q", "D", "DP"), ("k", "D", "DP"), ("v", "DV", "DVP")][i];
        let at = format!("{name}p + {name}b + (long long)({row}) * st.{name}[2]");
        if !c.vec[i] {
            let e =
                format!("{name}p[{name}b + (long long)({row}) * st.{name}[2] + c * st.{name}[3]]");
            let e = if c.src16[i] {
                e
            } else {
                format!("to_16bit({e}, {bf})")
            };
            return format!(
                "#pragma unroll 8\n    for (int e = tid; e < {rows} * {padded}; e += T) {{ int r = e / {padded}, c = e % {padded}; {dst}[r][c] = {valid} && c < {len} ? {e} : (unsigned short)0; }}\n"
            );
        }
        let load = if c.src16[i] {
            format!("w = *reinterpret_cast<const uint4*>({at} + c);")
        } else {
            format!(
                "const float4* f = reinterpret_cast<const float4*>({at} + c); float4 a = f[0], b = f[1]; w.x = pack16(to_16bit(a.x, {bf}), to_16bit(a.y, {bf})); w.y = pack16(to_16bit(a.z, {bf}), to_16bit(a.w, {bf})); w.z = pack16(to_16bit(b.x, {bf}), to_16bit(b.y, {bf})); w.w = pack16(to_16bit(b.z, {bf}), to_16bit(b.w, {bf}));"
            )
        };
        format!(
            "#pragma unroll 8\n    for (int e = tid; e < {rows} * ({padded} / 8); e += T) {{ int r = e / ({padded} / 8), c = (e % ({padded} / 8)) * 8; uint4 w = make_uint4(0u, 0u, 0u, 0u); if ({valid} && c < {len}) {{ {load} }} *reinterpret_cast<uint4*>(&{dst}[r][c]) = w; }}\n"
        )
    };
    let _ = writeln!(
        k,
        "    const int D = {d}, DV = {dv}, n = {n}, R = {}, CH = {ch}, DP = {dp}, DVP = {dvp}, T = {threads};",
        16 * warps
    );
    k += "    __shared__ __align__(16) unsigned short Qs[R][DP + 8];\n";
    k += "    __shared__ __align__(16) unsigned short Ks[CH][DP + 8];\n";
    k += "    __shared__ __align__(16) unsigned short Vs[CH][DVP + 8];\n";
    k += "    int tiles = (SQ + R - 1) / R, tile = blockIdx.x % tiles, bh = blockIdx.x / tiles;\n";
    k += "    int hh = bh % H, bb = bh / H, q0 = tile * R, tid = threadIdx.x;\n";
    k += "    int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;\n";
    k += "    long long qb = bb * st.q[0] + hh * st.q[1], kb = bb * st.k[0] + hh * st.k[1];\n";
    k += "    long long vb = bb * st.v[0] + hh * st.v[1], ob = bb * st.o[0] + hh * st.o[1];\n";
    k += &fill(0, "Qs", "R", "q0 + r < SQ", "q0 + r");
    // the thread's two rows, their flat score rows clamped into the scores (a row past SQ
    // computes nothing that is read or stored), and the strided leaves' row offsets
    k += "    int ra = warp * 16 + g, qr0 = q0 + ra, qr1 = qr0 + 8;\n";
    k += "    int rA = (bb * H + hh) * SQ + (qr0 < SQ ? qr0 : SQ - 1);\n";
    k += "    int rB = (bb * H + hh) * SQ + (qr1 < SQ ? qr1 : SQ - 1);\n";
    let strided: Vec<usize> = (0..nl).filter(|&p| access[p] == Access::Strided).collect();
    if !strided.is_empty() {
        let _ = writeln!(k, "    {}", strided_offsets(&strided, "rA * n", "oA"));
        let _ = writeln!(k, "    {}", strided_offsets(&strided, "rB * n", "oB"));
    }
    let _ = writeln!(
        k,
        "    float m0 = (-SM_INF), m1 = (-SM_INF), l0 = 0.0f, l1 = 0.0f, inv0 = 0.0f, inv1 = 0.0f;\n    float o[{ntv}][4];\n    float sc[{nt}][4];"
    );
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int u = 0; u < {ntv}; ++u) {{ o[u][0] = 0.0f; o[u][1] = 0.0f; o[u][2] = 0.0f; o[u][3] = 0.0f; }}"
    );
    // one chunk of k (and v, transposed) into shared memory, bracketed by barriers
    let load = |with_v: bool| {
        let mut l = String::from("        __syncthreads();\n");
        l += &fill(1, "Ks", "CH", "j0 + r < n", "j0 + r");
        if with_v {
            l += &fill(2, "Vs", "CH", "j0 + r < n", "j0 + r");
        }
        l += "        __syncthreads();\n";
        l
    };
    // the chunk's scores, then each through alpha and the group before (-inf outside)
    let mut next = 0usize;
    let pre_param = groups.pre.map(|(f, given)| params(f, given, &mut next));
    let post_param = groups.post.map(|(f, given)| params(f, given, &mut next));
    let element_head = |l: &mut String| {
        let _ = writeln!(
            l,
            "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{\n#pragma unroll\n        for (int e = 0; e < 4; ++e) {{"
        );
        // the key, and j: the key clamped into the row, so the groups' leaves are read
        // without a branch (the result is dropped where `ok` is false)
        l.push_str("            int hr = e >> 1, qi = hr ? qr1 : qr0, jk = j0 + u * 8 + 2 * t4 + (e & 1);\n");
        l.push_str("            bool ok = jk < n && qi < SQ; int j = jk < n ? jk : n - 1;\n");
    };
    let offsets = |l: &mut String| {
        l.push_str("            int i = (hr ? rB : rA) * n + j; (void)i;\n");
        for &p in &strided {
            let _ = writeln!(l, "            int ob{p} = hr ? oB{p} : oA{p};");
        }
    };
    let mut scores = String::new();
    let _ = writeln!(
        scores,
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{ sc[u][0] = 0.0f; sc[u][1] = 0.0f; sc[u][2] = 0.0f; sc[u][3] = 0.0f; }}"
    );
    let _ = writeln!(
        scores,
        "#pragma unroll\n        for (int kk = 0; kk < {}; ++kk) {{\n            int c0 = kk * 16 + 2 * t4;",
        dp / 16
    );
    scores += "            unsigned a0 = ld32(&Qs[ra][c0]), a1 = ld32(&Qs[ra + 8][c0]), a2 = ld32(&Qs[ra][c0 + 8]), a3 = ld32(&Qs[ra + 8][c0 + 8]);\n";
    let _ = writeln!(
        scores,
        "#pragma unroll\n            for (int u = 0; u < {nt}; ++u) mma16816(sc[u], a0, a1, a2, a3, ld32(&Ks[u * 8 + g][c0]), ld32(&Ks[u * 8 + g][c0 + 8]));\n        }}"
    );
    element_head(&mut scores);
    offsets(&mut scores);
    scores += "            float x, sv = alpha * sc[u][e];\n";
    match (groups.pre, &pre_param) {
        (Some((f, given)), Some(param)) => {
            group_block(&mut scores, f, given, param, access, "sv", "x")
        }
        _ => scores += "                x = sv;\n",
    }
    scores += "            sc[u][e] = ok ? x : (-SM_INF);\n        } }\n";
    // the probabilities through the group after, in 16 bits, times v
    let mut pv = String::new();
    let _ = writeln!(pv, "        unsigned short ph[{nt}][4];");
    element_head(&mut pv);
    offsets(&mut pv);
    if single {
        pv += "                float p = sc[u][e] * (hr ? inv1 : inv0);\n";
    } else {
        pv += "                float p = __expf(sc[u][e] - (hr ? m1 : m0)) * (hr ? inv1 : inv0);\n";
    }
    if let (Some((f, given)), Some(param)) = (groups.post, &post_param) {
        group_block(&mut pv, f, given, param, access, "p", "p");
    }
    let _ = writeln!(
        pv,
        "            ph[u][e] = to_16bit(ok ? p : 0.0f, {bf});\n        }} }}"
    );
    let _ = writeln!(
        pv,
        "#pragma unroll\n        for (int kk = 0; kk < {}; ++kk) {{",
        ch / 16
    );
    pv += "            unsigned a0 = pack16(ph[2 * kk][0], ph[2 * kk][1]), a1 = pack16(ph[2 * kk][2], ph[2 * kk][3]);\n";
    pv += "            unsigned a2 = pack16(ph[2 * kk + 1][0], ph[2 * kk + 1][1]), a3 = pack16(ph[2 * kk + 1][2], ph[2 * kk + 1][3]);\n";
    let _ = writeln!(
        pv,
        "#pragma unroll\n            for (int w = 0; w < {ntv}; w += 2) {{\n                unsigned b0, b1, b2, b3;\n                ldsm4t(b0, b1, b2, b3, &Vs[kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8][(w + (lane >> 4)) * 8]);\n                mma16816(o[w], a0, a1, a2, a3, b0, b1);\n                mma16816(o[w + 1], a0, a1, a2, a3, b2, b3);\n            }}\n        }}"
    );
    if single {
        k += "    {\n        const int j0 = 0;\n";
        k += &load(true);
        k += &scores;
        k += &one_pass_stats(nt);
        k += &pv;
        k += "    }\n";
    } else {
        k += "    for (int j0 = 0; j0 < n; j0 += CH) {\n";
        k += &load(false);
        k += &scores;
        let (stats, combine) = multi_pass_stats(nt);
        k += &stats;
        k += "    }\n";
        k += &combine;
        k += "    for (int j0 = 0; j0 < n; j0 += CH) {\n";
        k += &load(true);
        k += &scores;
        k += &pv;
        k += "    }\n";
    }
    let store = stored(c, "o[w][e]");
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int w = 0; w < {ntv}; ++w) {{\n#pragma unroll\n    for (int e = 0; e < 4; ++e) {{"
    );
    k += "        int qi = (e >> 1) ? qr1 : qr0, c = w * 8 + 2 * t4 + (e & 1);\n";
    let _ = writeln!(
        k,
        "        if (qi < SQ && c < DV) y[ob + (long long)qi * st.o[2] + (long long)c * st.o[3]] = {store};\n    }} }}\n}}"
    );
    k
}

/// Several chunks, per chunk: each row's running maximum and sum over this thread's
/// scores (`stats`), and after the last chunk the four threads of a row together
/// (`combine`).
fn multi_pass_stats(nt: usize) -> (String, String) {
    // each row's running maximum and sum over this thread's scores: the chunk's maximum,
    // then its sum at that maximum, then the running pair rescaled (-inf scores add 0;
    // a NaN score makes the sum NaN, as in Softmax)
    let mut stats = String::new();
    stats += "        float cm0 = m0, cm1 = m1, cs0 = 0.0f, cs1 = 0.0f;\n";
    let _ = writeln!(
        stats,
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{ cm0 = fmaxf(cm0, fmaxf(sc[u][0], sc[u][1])); cm1 = fmaxf(cm1, fmaxf(sc[u][2], sc[u][3])); }}"
    );
    let _ = writeln!(
        stats,
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{\n#pragma unroll\n        for (int e = 0; e < 4; ++e) {{"
    );
    stats += "            float x = sc[u][e];\n";
    stats += "            if (e < 2) cs0 += x == (-SM_INF) ? 0.0f : __expf(x - cm0); else cs1 += x == (-SM_INF) ? 0.0f : __expf(x - cm1);\n";
    stats += "        } }\n";
    stats +=
        "        l0 = (m0 == (-SM_INF) ? l0 * 0.0f : l0 * __expf(m0 - cm0)) + cs0; m0 = cm0;\n";
    stats +=
        "        l1 = (m1 == (-SM_INF) ? l1 * 0.0f : l1 * __expf(m1 - cm1)) + cs1; m1 = cm1;\n";
    // the four threads of a row together (a NaN sum stays NaN)
    let mut combine = String::new();
    combine += "    for (int off = 1; off < 4; off <<= 1) {\n";
    combine += "        float mo = __shfl_xor_sync(0xffffffffu, m0, off), lo = __shfl_xor_sync(0xffffffffu, l0, off);\n";
    combine += "        float mn = fmaxf(m0, mo);\n";
    combine += "        l0 = (m0 == (-SM_INF) ? l0 * 0.0f : l0 * __expf(m0 - mn)) + (mo == (-SM_INF) ? lo * 0.0f : lo * __expf(mo - mn)); m0 = mn;\n";
    combine += "        mo = __shfl_xor_sync(0xffffffffu, m1, off); lo = __shfl_xor_sync(0xffffffffu, l1, off);\n";
    combine += "        mn = fmaxf(m1, mo);\n";
    combine += "        l1 = (m1 == (-SM_INF) ? l1 * 0.0f : l1 * __expf(m1 - mn)) + (mo == (-SM_INF) ? lo * 0.0f : lo * __expf(mo - mn)); m1 = mn;\n";
    combine += "    }\n    inv0 = 1.0f / l0; inv1 = 1.0f / l1;\n";
    (stats, combine)
}

/// One chunk: the lines computing each row's statistics and the exponentials in `sc`.
fn one_pass_stats(nt: usize) -> String {
    // one chunk: the row's maximum (over the four threads sharing it), then each score's
    // exponential once (kept in sc) and the row's sum (a -inf score gives 0, a fully
    // masked row 0 * inf = NaN probabilities, a NaN score a NaN sum, as in Softmax)
    let mut single_stats = String::new();
    let _ = writeln!(
        single_stats,
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{ m0 = fmaxf(m0, fmaxf(sc[u][0], sc[u][1])); m1 = fmaxf(m1, fmaxf(sc[u][2], sc[u][3])); }}"
    );
    single_stats += "        m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, 1)); m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, 2));\n";
    single_stats += "        m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, 1)); m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, 2));\n";
    let _ = writeln!(
        single_stats,
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{\n#pragma unroll\n        for (int e = 0; e < 4; ++e) {{"
    );
    single_stats += "            float x = sc[u][e], ev = x == (-SM_INF) ? 0.0f : __expf(x - (e < 2 ? m0 : m1));\n";
    single_stats += "            sc[u][e] = ev;\n            if (e < 2) l0 += ev; else l1 += ev;\n        } }\n";
    single_stats += "        l0 += __shfl_xor_sync(0xffffffffu, l0, 1); l0 += __shfl_xor_sync(0xffffffffu, l0, 2);\n";
    single_stats += "        l1 += __shfl_xor_sync(0xffffffffu, l1, 1); l1 += __shfl_xor_sync(0xffffffffu, l1, 2);\n";
    single_stats += "        inv0 = 1.0f / l0; inv1 = 1.0f / l1;\n";
    single_stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_chunks_fit_the_shapes() {
        // BERT batch 32: 384 heads of 128 rows, four warps; one chunk of 128 keys
        assert_eq!(shape(384, 128, 128, 64, 64), Some((4, 128)));
        // batch 1: 12 heads, one warp per block for 96 blocks
        assert_eq!(shape(12, 128, 128, 64, 64), Some((1, 128)));
        // 77 keys round up to 80; wide v rows take chunks of 64 at most
        assert_eq!(shape(384, 77, 77, 40, 40), Some((4, 80)));
        assert_eq!(shape(384, 300, 300, 128, 128).map(|s| s.1), Some(32));
        assert_eq!(shape(1, 1, 1, 129, 64), None);
        for (bh, sq, skv, d, dv) in [(1, 5, 1000, 128, 128), (7, 33, 300, 80, 24)] {
            let (w, ch) = shape(bh, sq, skv, d, dv).unwrap();
            let (dp, dvp) = (d.div_ceil(16) * 16, dv.div_ceil(16) * 16);
            assert_eq!(ch % 16, 0);
            assert!(2 * (16 * w * (dp + 8) + ch * (dp + 8) + ch * (dvp + 8)) <= SMEM_BYTES);
        }
    }
}
