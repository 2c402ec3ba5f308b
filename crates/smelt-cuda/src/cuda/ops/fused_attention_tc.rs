//! The tensor-core variant of the fused attention kernel (`super::fused_attention`), for
//! devices of compute capability 8.0 and up: the two products run as warp-wide
//! `mma.sync.m16n8k16` (16-bit inputs, f32 sums); the softmax fusion's groups and the
//! softmax run on the score fragments in registers.
//!
//! A block of `W` warps takes `16 W` query rows of one (b, h); each warp takes 16. Keys go
//! in chunks of `CH` (a multiple of 16): a chunk of k and of v sits in shared memory as
//! 16-bit values, rows padded by 8 so the fragment loads hit 32 distinct banks (v's
//! fragments come through `ldmatrix.trans`). Rows that are contiguous and 16-byte aligned
//! (`Consts::vec`) load 16 bytes per thread, through `cp.async` where they are 16-bit
//! already (k and v in two commit groups: the scores wait for k only). q's fragments come
//! straight from global memory into registers where q's rows are `vec`, else through a
//! shared tile of the block's rows. With one chunk the scores stay in registers from the
//! row statistics to `p v`; with more, a first pass over the chunks gathers each row's
//! maximum and sum (online, per thread, then over the four threads sharing a row) and a
//! second computes the scores again, the probabilities, the group after, and `p v`. So the
//! group after sees the normalised probabilities, as when the nodes run apart.
//!
//! Validity is decided at render time where it can be: rows past SQ compute scores from
//! clamped reads that are never stored; key tiles of 8 wholly below n read their leaves at
//! the thread's base plus a compiled-in offset (the leaves' key strides are compiled in,
//! see `render`), a tile straddling n checks each key, a tile wholly past n (one chunk)
//! computes nothing and gives probability 0. With several chunks every key is checked
//! unless n is a multiple of CH.
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
use super::fused_attention::{
    group_block, header, params, signature, stored, Consts, Groups, BLOCK_BASES,
};
use crate::plan::fuse::{Fusion, Ty};
use std::fmt::Write;

/// The shared memory the variant may use (static, the 48 KiB limit).
const SMEM_BYTES: usize = 48 * 1024;
/// The widest q / k row or v row (after rounding up to 16).
pub(crate) const MAX_HEAD: usize = 128;
/// Below this many blocks, fewer warps per block (more blocks for the SMs).
const TARGET_BLOCKS: usize = 264;

/// The static shared memory of a block of `warps` warps and chunks of `ch` keys, q/k rows
/// padded to `dp` and v rows to `dvp`; q's tile only where it is `staged`.
fn smem_bytes(warps: usize, ch: usize, dp: usize, dvp: usize, staged: bool) -> usize {
    2 * (staged as usize * 16 * warps * (dp + 8) + ch * (dp + 8) + ch * (dvp + 8))
}

/// (warps per block, keys per chunk) for `b * h` heads of `sq` query rows, `skv` keys,
/// q/k rows of `d` and v rows of `dv`, q staged in shared memory where `q_staged` (its
/// rows not `Consts::vec`); none when the heads are too wide or nothing fits.
pub(crate) fn shape(
    bh: usize,
    sq: usize,
    skv: usize,
    d: usize,
    dv: usize,
    q_staged: bool,
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
    while smem_bytes(warps, ch, dp, dvp, q_staged) > SMEM_BYTES {
        if ch == 16 {
            return None;
        }
        ch = (ch / 2).div_ceil(16) * 16;
    }
    Some((warps, ch))
}

/// The device helpers of the variant for the 16-bit type `ty` ("f16" or "bf16"); the
/// emulator (`scripts/cuda/emulate/prep.py`) replaces each by name.
fn helpers(ty: &str) -> String {
    // exponentials are 2^(x log2(e) - m log2(e)), the exponent in one fma (`L2E`: log2(e))
    let mut k = String::from("#define L2E 1.4426950408889634f\n");
    k += "__device__ __forceinline__ float ex2(float x) { float r; asm(\"ex2.approx.f32 %0, %1;\" : \"=f\"(r) : \"f\"(x)); return r; }\n";
    let _ = writeln!(
        k,
        "__device__ __forceinline__ void mma16816(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {{ asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.{ty}.{ty}.f32 {{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%0, %1, %2, %3}};\" : \"+f\"(d[0]), \"+f\"(d[1]), \"+f\"(d[2]), \"+f\"(d[3]) : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1)); }}"
    );
    // the same with zero sums in (the first product of a tile)
    let _ = writeln!(
        k,
        "__device__ __forceinline__ void mma16816z(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {{ asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.{ty}.{ty}.f32 {{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%10, %10, %10, %10}};\" : \"=f\"(d[0]), \"=f\"(d[1]), \"=f\"(d[2]), \"=f\"(d[3]) : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1), \"f\"(0.0f)); }}"
    );
    k += "__device__ __forceinline__ unsigned ld32(const unsigned short* p) { return *reinterpret_cast<const unsigned*>(p); }\n";
    // four 8x8 tiles of 16-bit values, transposed: lanes 8i..8i+7 give tile i's row
    // addresses; lane l gets tile i's (row 2 (l % 4) and the next, column l / 4) in ri
    k += "__device__ __forceinline__ void ldsm4t(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { asm volatile(\"ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\" : \"=r\"(r0), \"=r\"(r1), \"=r\"(r2), \"=r\"(r3) : \"l\"(__cvta_generic_to_shared(p))); }\n";
    // the same untransposed: lane l gets tile i's (row l / 4, columns 2 (l % 4) and the
    // next) in ri
    k += "__device__ __forceinline__ void ldsm4(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { asm volatile(\"ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\" : \"=r\"(r0), \"=r\"(r1), \"=r\"(r2), \"=r\"(r3) : \"l\"(__cvta_generic_to_shared(p))); }\n";
    // lo and hi rounded to the 16-bit type (to nearest even) in the low and high halves
    // (cvt's first source goes to the upper half)
    let _ = writeln!(
        k,
        "__device__ __forceinline__ unsigned pack2(float lo, float hi) {{ unsigned r; asm(\"cvt.rn.{ty}x2.f32 %0, %1, %2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo)); return r; }}"
    );
    // 16 bytes global -> shared, asynchronously (sm_80+); a group of them is committed,
    // then waited for with at most 0 or 1 later groups still in flight
    k += "__device__ __forceinline__ void cp16(unsigned short* dst, const unsigned short* src) { asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16;\" :: \"l\"(__cvta_generic_to_shared(dst)), \"l\"(src) : \"memory\"); }\n";
    k += "__device__ __forceinline__ void cp_commit() { asm volatile(\"cp.async.commit_group;\" ::: \"memory\"); }\n";
    k += "__device__ __forceinline__ void cp_wait0() { asm volatile(\"cp.async.wait_group 0;\" ::: \"memory\"); }\n";
    k += "__device__ __forceinline__ void cp_wait1() { asm volatile(\"cp.async.wait_group 1;\" ::: \"memory\"); }\n";
    k
}

/// Key tiles of a chunk by validity: [0, nf) wholly below n, [nf, nv) checked per key,
/// [nv, nt) wholly past n (with one chunk only).
fn key_tiles(n: usize, ch: usize) -> (usize, usize) {
    let nt = ch / 8;
    if n <= ch {
        (n / 8, n.div_ceil(8))
    } else if n.is_multiple_of(ch) {
        (nt, nt)
    } else {
        (0, nt)
    }
}

/// A loop over key tiles `from..to` and their four elements (`u`, `e`), `pre` and `post`
/// around each tile's elements; nothing for an empty range.
fn tiles(l: &mut String, from: usize, to: usize, pre: &str, body: &str, post: &str) {
    if from < to {
        let _ = writeln!(
            l,
            "#pragma unroll\n        for (int u = {from}; u < {to}; ++u) {{ {pre}\n#pragma unroll\n        for (int e = 0; e < 4; ++e) {{\n{body}        }} {post}}}"
        );
    }
}

/// Group `f`'s block (see `group_block`) with each strided leaf p read at `read(p)`.
#[allow(clippy::too_many_arguments)]
fn group(
    l: &mut String,
    f: &Fusion,
    given: usize,
    param: &[Option<usize>],
    access: &[Access],
    input: &str,
    target: &str,
    read: &dyn Fn(usize) -> String,
) {
    let mut b = String::new();
    group_block(&mut b, f, given, param, access, input, target);
    for &p in param.iter().flatten() {
        if access[p] == Access::Strided {
            let row = format!("x{p}[ob{p} + j * s.st[{p}][s.rank - 1]]");
            assert!(b.contains(&row), "no strided read of x{p} in {b}");
            b = b.replace(&row, &read(p));
        }
    }
    *l += &b;
}

/// The kernel source (see the module's notes). `key_stride[p]`: strided leaf p's element
/// stride along the scores' key axis (the last of its merged dims), compiled in.
#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    c: &Consts,
    warps: usize,
    ch: usize,
    groups: &Groups,
    types: &[Ty],
    access: &[Access],
    key_stride: &[i64],
) -> String {
    let nl = types.len();
    let bf = c.bf as i32;
    let threads = 32 * warps;
    let (d, dv, n) = (c.d, c.dv, c.skv);
    let (dp, dvp) = (d.div_ceil(16) * 16, dv.div_ceil(16) * 16);
    let (nt, ntv) = (ch / 8, dvp / 8);
    let single = n <= ch;
    let (nf, nv) = key_tiles(n, ch);
    let staged = !c.vec[0];
    // k and v through cp.async (16 bytes at a time, no conversion)
    let cp = [c.vec[1] && c.src16[1], c.vec[2] && c.src16[2]];
    let mut k = header(c, nl);
    k += &helpers(if c.bf { "bf16" } else { "f16" });
    k += &signature(c, types, threads);
    // a tile of operand i (q 0, k 1, v 2) into shared memory `dst` [rows][padded + 8] as
    // 16-bit values, zero past the valid rows (`valid` of r, none: all) and the row
    // length: 16 bytes per load where `c.vec[i]`, through cp.async where `cp`, else an
    // element per load
    let fill = |i: usize, dst: &str, rows: usize, valid: Option<&str>, row0: &str| {
        let (name, len, padded) = [("q", d, dp), ("k", d, dp), ("v", dv, dvp)][i];
        let async_ = i > 0 && cp[i - 1];
        // the element's (or 8 elements') conditions: a valid row, a column below len
        let ok = [
            valid.map(String::from),
            (len < padded).then(|| format!("c < {len}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        if !c.vec[i] {
            let e = format!(
                "{name}p[{name}b + (long long)({row0} + r) * st.{name}[2] + c * st.{name}[3]]"
            );
            let e = if c.src16[i] {
                e
            } else {
                format!("to_16bit({e}, {bf})")
            };
            let v = if ok.is_empty() {
                e
            } else {
                format!("{} ? {e} : (unsigned short)0", ok.join(" && "))
            };
            return format!(
                "#pragma unroll 8\n    for (int e = tid; e < {rows} * {padded}; e += T) {{ int r = e / {padded}, c = e % {padded}; {dst}[r][c] = {v}; }}\n"
            );
        }
        let load = if async_ {
            format!("cp16(&{dst}[r][c], src);")
        } else if c.src16[i] {
            format!(
                "*reinterpret_cast<uint4*>(&{dst}[r][c]) = *reinterpret_cast<const uint4*>(src);"
            )
        } else {
            format!(
                "const float4* f = reinterpret_cast<const float4*>(src); float4 a = f[0], b = f[1]; *reinterpret_cast<uint4*>(&{dst}[r][c]) = make_uint4(pack2(a.x, a.y), pack2(a.z, a.w), pack2(b.x, b.y), pack2(b.z, b.w));"
            )
        };
        let zero = format!("*reinterpret_cast<uint4*>(&{dst}[r][c]) = make_uint4(0u, 0u, 0u, 0u);");
        let body = if ok.is_empty() {
            load
        } else {
            format!("if ({}) {{ {load} }} else {{ {zero} }}", ok.join(" && "))
        };
        let per = padded / 8;
        if threads.is_multiple_of(per) {
            // each thread keeps its column and steps down the rows
            let step = threads / per;
            let guard = if rows.is_multiple_of(step) {
                String::new()
            } else {
                format!("if (r < {rows}) ")
            };
            format!(
                "    {{ const int c = (tid % {per}) * 8, r0 = tid / {per}; const auto* src0 = {name}p + {name}b + (long long)({row0} + r0) * st.{name}[2] + c; const long long rs = {step} * st.{name}[2];\n#pragma unroll\n    for (int it = 0; it < {}; ++it) {{ const int r = r0 + it * {step}; const auto* src = src0 + it * rs; {guard}{{ {body} }} }} }}\n",
                rows.div_ceil(step)
            )
        } else {
            let src = format!("{name}p + {name}b + (long long)({row0} + r) * st.{name}[2] + c");
            format!(
                "#pragma unroll 8\n    for (int e = tid; e < {rows} * {per}; e += T) {{ int r = e / {per}, c = (e % {per}) * 8; const auto* src = {src}; {body} }}\n"
            )
        }
    };
    let _ = writeln!(
        k,
        "    const int D = {d}, DV = {dv}, n = {n}, R = {}, CH = {ch}, DP = {dp}, DVP = {dvp}, T = {threads};",
        16 * warps
    );
    if staged {
        k += "    __shared__ __align__(16) unsigned short Qs[R][DP + 8];\n";
    }
    k += "    __shared__ __align__(16) unsigned short Ks[CH][DP + 8];\n";
    k += "    __shared__ __align__(16) unsigned short Vs[CH][DVP + 8];\n";
    k += BLOCK_BASES;
    k += "    int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;\n";
    // the thread's two rows and the same clamped into [0, SQ) (a row past SQ reads the
    // last row's q and leaves; its results are never stored), their flat score rows, and
    // the strided leaves' offsets at each row's first key and pointers at the thread's
    // first key (2 t4)
    k += "    int ra = warp * 16 + g, qr0 = q0 + ra, qr1 = qr0 + 8;\n";
    k += "    int cA = qr0 < SQ ? qr0 : SQ - 1, cB = qr1 < SQ ? qr1 : SQ - 1;\n";
    k += "    int rA = (bb * H + hh) * SQ + cA, rB = (bb * H + hh) * SQ + cB;\n";
    let strided: Vec<usize> = (0..nl).filter(|&p| access[p] == Access::Strided).collect();
    if !strided.is_empty() {
        let _ = writeln!(k, "    {}", strided_offsets(&strided, "rA * n", "oA"));
        let _ = writeln!(k, "    {}", strided_offsets(&strided, "rB * n", "oB"));
        for &p in &strided {
            let _ = writeln!(
                k,
                "    const int S{p} = {}; const auto* pA{p} = x{p} + (oA{p} + 2 * t4 * S{p}); const auto* pB{p} = x{p} + (oB{p} + 2 * t4 * S{p});",
                key_stride[p]
            );
        }
    }
    if staged {
        k += &fill(0, "Qs", 16 * warps, Some("q0 + r < SQ"), "q0");
    } else {
        // q's A fragments from its rows (columns from D on are zero)
        let ld = if c.src16[0] { "ld32" } else { "ldf2" };
        if !c.src16[0] {
            k += "    auto ldf2 = [](const float* p) { float2 f = *reinterpret_cast<const float2*>(p); return pack2(f.x, f.y); };\n";
        }
        let _ = writeln!(
            k,
            "    unsigned qa[{}][4];\n    {{ const auto* qA = qp + qb + (long long)cA * st.q[2] + 2 * t4; const auto* qB = qp + qb + (long long)cB * st.q[2] + 2 * t4;",
            dp / 16
        );
        let _ = writeln!(
            k,
            "#pragma unroll\n    for (int kk = 0; kk < DP / 16; ++kk) {{ qa[kk][0] = {ld}(qA + kk * 16); qa[kk][1] = {ld}(qB + kk * 16); qa[kk][2] = kk * 16 + 8 < D ? {ld}(qA + kk * 16 + 8) : 0u; qa[kk][3] = kk * 16 + 8 < D ? {ld}(qB + kk * 16 + 8) : 0u; }} }}"
        );
    }
    let _ = writeln!(
        k,
        "    float m0 = (-SM_INF), m1 = (-SM_INF), l0 = 0.0f, l1 = 0.0f, inv0 = 0.0f, inv1 = 0.0f;\n    float o[{ntv}][4];\n    float sc[{nv}][4];"
    );
    // o's sums start at zero: with one chunk its first product writes them
    if !single {
        let _ = writeln!(
            k,
            "#pragma unroll\n    for (int u = 0; u < {ntv}; ++u) {{ o[u][0] = 0.0f; o[u][1] = 0.0f; o[u][2] = 0.0f; o[u][3] = 0.0f; }}"
        );
    }
    // one chunk of k (and v, transposed) into shared memory: a barrier before (but for the
    // first of one chunk), then k's rows, v's, and a wait for k's and q's (v's cp.async
    // group may still be in flight: `wait_v` waits for it before p v)
    let rows_ok = (!n.is_multiple_of(ch)).then_some("j0 + r < n");
    let load = |with_v: bool| {
        let mut l = String::new();
        if !single {
            l += "        __syncthreads();\n";
        }
        l += &fill(1, "Ks", ch, rows_ok, "j0");
        if cp[0] {
            l += "        cp_commit();\n";
        }
        if with_v {
            l += &fill(2, "Vs", ch, rows_ok, "j0");
            if cp[1] {
                l += "        cp_commit();\n";
            }
        }
        if cp[0] {
            l += if with_v && cp[1] {
                "        cp_wait1();\n"
            } else {
                "        cp_wait0();\n"
            };
        }
        l += "        __syncthreads();\n";
        l
    };
    let wait_v = if cp[1] {
        "        cp_wait0();\n        __syncthreads();\n"
    } else {
        ""
    };
    let mut next = 0usize;
    let pre_param = groups.pre.map(|(f, given)| params(f, given, &mut next));
    let post_param = groups.post.map(|(f, given)| params(f, given, &mut next));
    // per element of tile u: hr (the row: qr0 or qr1), j (the key, clamped below n where
    // checked), kj (the key less the thread's 2 t4), i (the flat score index), ok (where
    // checked: the key is below n)
    let fast_head = "            const int hr = e >> 1, kj = j0 + u * 8 + (e & 1), j = kj + 2 * t4; (void)j;\n            int i = (hr ? rB : rA) * n + j; (void)i;\n";
    let checked_head = "            const int hr = e >> 1, jk = j0 + u * 8 + 2 * t4 + (e & 1); const bool ok = jk < n; const int j = ok ? jk : n - 1;\n            int i = (hr ? rB : rA) * n + j; (void)i;\n";
    let fast_read = |p: usize| format!("(hr ? pB{p} : pA{p})[kj * S{p}]");
    let checked_read = |p: usize| format!("x{p}[(hr ? oB{p} : oA{p}) + j * S{p}]");
    // the chunk's scores, then each through alpha and the group before (-inf past n)
    let mut scores = String::new();
    let _ = writeln!(
        scores,
        "#pragma unroll\n        for (int kk = 0; kk < {}; ++kk) {{",
        dp / 16
    );
    if staged {
        scores += "            int c0 = kk * 16 + 2 * t4;\n";
        scores += "            unsigned a0 = ld32(&Qs[ra][c0]), a1 = ld32(&Qs[ra + 8][c0]), a2 = ld32(&Qs[ra][c0 + 8]), a3 = ld32(&Qs[ra + 8][c0 + 8]);\n";
    } else {
        scores += "            unsigned a0 = qa[kk][0], a1 = qa[kk][1], a2 = qa[kk][2], a3 = qa[kk][3];\n";
    }
    // k's B fragments of tiles u and u + 1 (the tile's keys are rows of Ks) in one
    // ldmatrix: its tile i is tile u + i / 2's columns kk * 16 + 8 (i % 2) on; with nv odd
    // the last pair's second tile (within Ks: nv < nt) is loaded and not used
    let _ = writeln!(
        scores,
        "#pragma unroll\n            for (int u = 0; u < {nv}; u += 2) {{\n                unsigned b0, b1, b2, b3;\n                ldsm4(b0, b1, b2, b3, &Ks[(u + (lane >> 4)) * 8 + (lane & 7)][kk * 16 + ((lane >> 3) & 1) * 8]);\n                if (kk == 0) mma16816z(sc[u], a0, a1, a2, a3, b0, b1); else mma16816(sc[u], a0, a1, a2, a3, b0, b1);\n                if (u + 1 < {nv}) {{ if (kk == 0) mma16816z(sc[u + 1], a0, a1, a2, a3, b2, b3); else mma16816(sc[u + 1], a0, a1, a2, a3, b2, b3); }}\n            }}\n        }}"
    );
    for (checked, from, to) in [(false, 0, nf), (true, nf, nv)] {
        let mut b = String::from(if checked { checked_head } else { fast_head });
        b += "            float x, sv = alpha * sc[u][e];\n";
        match (groups.pre, &pre_param) {
            (Some((f, given)), Some(param)) => {
                let read: &dyn Fn(usize) -> String =
                    if checked { &checked_read } else { &fast_read };
                group(&mut b, f, given, param, access, "sv", "x", read)
            }
            _ => b += "                x = sv;\n",
        }
        b += if checked {
            "            sc[u][e] = ok ? x : (-SM_INF);\n"
        } else {
            "            sc[u][e] = x;\n"
        };
        tiles(&mut scores, from, to, "", &b, "");
    }
    // the probabilities through the group after, in 16 bits (0 past n), times v
    let mut pv = String::new();
    let _ = writeln!(pv, "        unsigned ph[{nt}][2];");
    for (checked, from, to) in [(false, 0, nf), (true, nf, nv)] {
        let mut b = String::from(if checked { checked_head } else { fast_head });
        if single {
            b += "            float p = sc[u][e] * (hr ? inv1 : inv0);\n";
        } else {
            b += "            float p = ex2(__fmaf_rn(sc[u][e], L2E, hr ? nm1 : nm0)) * (hr ? inv1 : inv0);\n";
        }
        if let (Some((f, given)), Some(param)) = (groups.post, &post_param) {
            let read: &dyn Fn(usize) -> String = if checked { &checked_read } else { &fast_read };
            group(&mut b, f, given, param, access, "p", "p", read);
        }
        b += if checked {
            "            pr[e] = ok ? p : 0.0f;\n"
        } else {
            "            pr[e] = p;\n"
        };
        tiles(
            &mut pv,
            from,
            to,
            "float pr[4];",
            &b,
            "ph[u][0] = pack2(pr[0], pr[1]); ph[u][1] = pack2(pr[2], pr[3]); ",
        );
    }
    if nv < nt {
        let _ = writeln!(
            pv,
            "#pragma unroll\n        for (int u = {nv}; u < {nt}; ++u) {{ ph[u][0] = 0u; ph[u][1] = 0u; }}"
        );
    }
    pv += wait_v;
    let _ = writeln!(
        pv,
        "#pragma unroll\n        for (int kk = 0; kk < {}; ++kk) {{",
        ch / 16
    );
    pv += "            unsigned a0 = ph[2 * kk][0], a1 = ph[2 * kk][1], a2 = ph[2 * kk + 1][0], a3 = ph[2 * kk + 1][1];\n";
    let mma = if single {
        "if (kk == 0) mma16816z(D_); else mma16816(D_);"
    } else {
        "mma16816(D_);"
    };
    let (m0, m1) = (
        mma.replace("D_", "o[w], a0, a1, a2, a3, b0, b1"),
        mma.replace("D_", "o[w + 1], a0, a1, a2, a3, b2, b3"),
    );
    let _ = writeln!(
        pv,
        "#pragma unroll\n            for (int w = 0; w < {ntv}; w += 2) {{\n                unsigned b0, b1, b2, b3;\n                ldsm4t(b0, b1, b2, b3, &Vs[kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8][(w + (lane >> 4)) * 8]);\n                {m0}\n                {m1}\n            }}\n        }}"
    );
    if single {
        k += "    {\n        const int j0 = 0;\n";
        k += &load(true);
        k += &scores;
        k += &one_pass_stats(nv);
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
    k += &store(c, ntv);
    k
}

/// The lines storing each row's `o` fragments (row qr0: o[w][0..2], qr1: o[w][2..4], at
/// columns w * 8 + 2 t4 and the next): with `c.pair` two adjacent columns at once from a
/// per-row pointer, else an element at a time through the output's strides.
fn store(c: &Consts, ntv: usize) -> String {
    let dv = c.dv;
    let mut k = String::new();
    if c.pair {
        // column tiles [0, dv / 8) wholly below DV, then one checked (DV is even)
        let put = |v0: &str, v1: &str| {
            if c.out16 {
                format!("*reinterpret_cast<unsigned*>(yr + w * 8) = pack2({v0}, {v1});")
            } else {
                format!("*reinterpret_cast<float2*>(yr + w * 8) = make_float2({v0}, {v1});")
            }
        };
        for (row, h) in [("qr0", 0), ("qr1", 2)] {
            let _ = writeln!(
                k,
                "    if ({row} < SQ) {{ auto* yr = y + (ob + (long long){row} * st.o[2] + 2 * t4);"
            );
            let (v0, v1) = (format!("o[w][{h}]"), format!("o[w][{}]", h + 1));
            let _ = writeln!(
                k,
                "#pragma unroll\n        for (int w = 0; w < {}; ++w) {}",
                dv / 8,
                put(&v0, &v1)
            );
            if !dv.is_multiple_of(8) {
                let _ = writeln!(
                    k,
                    "        {{ const int w = {}; if (w * 8 + 2 * t4 < DV) {} }}",
                    dv / 8,
                    put(&v0, &v1)
                );
            }
            k += "    }\n";
        }
        k += "}\n";
        return k;
    }
    let v = stored(c, "o[w][e]");
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int w = 0; w < {ntv}; ++w) {{\n#pragma unroll\n    for (int e = 0; e < 4; ++e) {{"
    );
    k += "        int qi = (e >> 1) ? qr1 : qr0, c = w * 8 + 2 * t4 + (e & 1);\n";
    let _ = writeln!(
        k,
        "        if (qi < SQ && c < DV) y[ob + (long long)qi * st.o[2] + (long long)c * st.o[3]] = {v};\n    }} }}\n}}"
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
    stats += &row_max(nt, "cm0", "cm1");
    stats += "        const float cn0 = cm0 * -L2E, cn1 = cm1 * -L2E;\n";
    let body = "            float x = sc[u][e];\n            if (e < 2) cs0 += x == (-SM_INF) ? 0.0f : ex2(__fmaf_rn(x, L2E, cn0)); else cs1 += x == (-SM_INF) ? 0.0f : ex2(__fmaf_rn(x, L2E, cn1));\n";
    tiles(&mut stats, 0, nt, "", body, "");
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
    combine += "    }\n    inv0 = 1.0f / l0; inv1 = 1.0f / l1;\n    const float nm0 = m0 * -L2E, nm1 = m1 * -L2E;\n";
    (stats, combine)
}

/// The line folding this thread's scores of its two rows (the first `nt` tiles) into the
/// running maxima `a` (row g) and `b` (row g + 8).
fn row_max(nt: usize, a: &str, b: &str) -> String {
    format!(
        "#pragma unroll\n        for (int u = 0; u < {nt}; ++u) {{ {a} = fmaxf({a}, fmaxf(sc[u][0], sc[u][1])); {b} = fmaxf({b}, fmaxf(sc[u][2], sc[u][3])); }}\n"
    )
}

/// One chunk: the lines computing each row's statistics and the exponentials in `sc`
/// (its first `nt` tiles).
fn one_pass_stats(nt: usize) -> String {
    // one chunk: the row's maximum (over the four threads sharing it), then each score's
    // exponential once (kept in sc) and the row's sum (a -inf score gives 0 below a finite
    // maximum; a fully masked row, maximum -inf, gives NaN exponentials, so NaN
    // probabilities, and a NaN score a NaN sum, as in Softmax)
    let mut single_stats = row_max(nt, "m0", "m1");
    single_stats += "        m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, 1)); m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, 2));\n";
    single_stats += "        m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, 1)); m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, 2));\n";
    single_stats += "        const float nm0 = m0 * -L2E, nm1 = m1 * -L2E;\n";
    let body = "            float ev = ex2(__fmaf_rn(sc[u][e], L2E, e < 2 ? nm0 : nm1));\n            sc[u][e] = ev;\n            if (e < 2) l0 += ev; else l1 += ev;\n";
    tiles(&mut single_stats, 0, nt, "", body, "");
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
        assert_eq!(shape(384, 128, 128, 64, 64, false), Some((4, 128)));
        assert_eq!(shape(384, 128, 128, 64, 64, true), Some((4, 128)));
        // batch 1: 12 heads, one warp per block for 96 blocks
        assert_eq!(shape(12, 128, 128, 64, 64, true), Some((1, 128)));
        // 77 keys round up to 80; wide v rows take chunks of 64 at most
        assert_eq!(shape(384, 77, 77, 40, 40, true), Some((4, 80)));
        // q's tile in shared memory leaves room for fewer keys
        assert_eq!(shape(384, 300, 300, 128, 128, true).map(|s| s.1), Some(32));
        assert_eq!(shape(384, 300, 300, 128, 128, false).map(|s| s.1), Some(64));
        assert_eq!(shape(1, 1, 1, 129, 64, true), None);
        for (bh, sq, skv, d, dv) in [(1, 5, 1000, 128, 128), (7, 33, 300, 80, 24)] {
            for staged in [false, true] {
                let (w, ch) = shape(bh, sq, skv, d, dv, staged).unwrap();
                let (dp, dvp) = (d.div_ceil(16) * 16, dv.div_ceil(16) * 16);
                assert_eq!(ch % 16, 0);
                assert!(smem_bytes(w, ch, dp, dvp, staged) <= SMEM_BYTES);
            }
        }
    }

    #[test]
    fn key_tiles_by_validity() {
        // one chunk: 77 keys in 80, tiles 0..9 whole, 9 checked; 33 in 48: tile 5 past n
        assert_eq!(key_tiles(77, 80), (9, 10));
        assert_eq!(key_tiles(33, 48), (4, 5));
        assert_eq!(key_tiles(128, 128), (16, 16));
        // several chunks: unchecked only when n is a multiple of the chunk
        assert_eq!(key_tiles(256, 64), (8, 8));
        assert_eq!(key_tiles(300, 64), (0, 8));
    }
}
