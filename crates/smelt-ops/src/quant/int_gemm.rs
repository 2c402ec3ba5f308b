//! Integer GEMM: `C[M, N] (i32) = (A - za) @ (B - zb)` for 8-bit `A [M, K]` and `B [K, N]`
//! (each u8 or i8), `za` per tensor or per row of A, `zb` per tensor or per column of B.
//!
//! Every operand pair is first mapped onto u8 x i8: an i8 A is read as `a + 128` (u8) and its
//! zero point moves by +128; a u8 B is read as `b - 128` (i8) and its zero point moves by
//! -128. The differences `A - za` and `B - zb` are unchanged, so the result is too. The
//! kernels then compute the raw product `P = A' @ B'` and the zero points enter through
//! sums only:
//!
//! `C[i, j] = P[i, j] - zb'[j] * rowsum(A')[i] - za'[i] * (colsum(B')[j] - K * zb'[j])`
//!
//! All arithmetic wraps in i32, so every path equals the scalar definition bit for bit
//! (the identity holds modulo 2^32).
//!
//! Layout: A is packed in panels of `mr` rows, B in panels of `nr` columns; within a panel,
//! K is cut into groups of `kg` consecutive k, and each (row or column, group) is one u32
//! word. For `kg = 4` a word holds 4 bytes (A' as u8, B' as i8: the `vpdpbusd` layout); for
//! `kg = 2` it holds two i16 (the `vpmaddwd` layout). A panel is `[groups][mr or nr]` words.
//! The driver blocks over M, N and K and runs output blocks on rayon when the product is
//! large enough; small products stay on the calling thread.

use crate::prelude::*;
use rayon::prelude::*;
use std::sync::OnceLock;

/// A row-major 8-bit matrix: element (r, c) is `data[r * ld + c]`, read as i8 when `signed`.
#[derive(Clone, Copy, Debug)]
pub struct QMat<'a> {
    pub data: &'a [u8],
    pub signed: bool,
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

impl<'a> QMat<'a> {
    /// Checks that `data` holds `rows` rows of `cols` elements at stride `ld`.
    pub fn new(data: &'a [u8], signed: bool, rows: usize, cols: usize, ld: usize) -> Result<Self> {
        ensure!(cols <= ld || rows <= 1, "row stride {ld} < columns {cols}");
        let need = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1)
                .checked_mul(ld)
                .and_then(|x| x.checked_add(cols))
                .ok_or_else(|| Error::shape(format!("matrix {rows}x{cols} is too large")))?
        };
        ensure!(
            data.len() >= need,
            "matrix {rows}x{cols} (stride {ld}) needs {need} elements, has {}",
            data.len()
        );
        Ok(QMat {
            data,
            signed,
            rows,
            cols,
            ld,
        })
    }

    #[inline]
    fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.ld..][..self.cols]
    }
}

/// The instruction sets with a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512Vnni,
}

impl Isa {
    /// The best kernel this CPU runs (detected once).
    pub fn detect() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| Isa::available().into_iter().last().unwrap_or(Isa::Scalar))
    }

    /// Every kernel this CPU runs, the portable one first.
    pub fn available() -> Vec<Isa> {
        let f = crate::isa::Features::get();
        let mut v = vec![Isa::Scalar];
        if f.avx2 {
            v.push(Isa::Avx2);
        }
        if f.avx512_vnni {
            v.push(Isa::Avx512Vnni);
        }
        v
    }

    /// (rows per A panel, columns per B panel, k per word).
    fn tile(self) -> (usize, usize, usize) {
        match self {
            Isa::Scalar => (SCALAR_MR, SCALAR_NR, 4),
            Isa::Avx2 => (x86::AVX2_MR, x86::AVX2_NR, 2),
            Isa::Avx512Vnni => (x86::VNNI_MR, x86::VNNI_NR, 4),
        }
    }

    /// `tile = A_panel @ B_panel` over `groups` word groups; `tile` is `[mr][nr]`.
    /// `a` holds `groups * mr` words, `b` `groups * nr` (checked).
    fn kernel(self, groups: usize, a: &[u32], b: &[u32], tile: &mut [i32]) {
        match self {
            Isa::Scalar => kernel_scalar(groups, a, b, tile),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::kernel_avx2(groups, a, b, tile),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => x86::kernel_vnni(groups, a, b, tile),
            #[cfg(not(target_arch = "x86_64"))]
            _ => kernel_scalar(groups, a, b, tile),
        }
    }
}

/// Multiply-adds under which the product stays on the calling thread.
const PAR_MIN_MACS: usize = 1 << 21;
/// K per block (bytes of a row), so a B panel block stays in L1.
const KC: usize = 512;
/// Rows and columns per output block (rounded to the panel sizes).
const MC: usize = 64;
const NC: usize = 256;
/// Largest `mr * nr` of any kernel.
const TILE_MAX: usize = 8 * 32;

/// `c[i * ldc + j] = sum_p (a[i, p] - za[i]) * (b[p, j] - zb[j])` (wrapping i32) with the
/// best kernel of this CPU. `za` has 1 or `a.rows` entries, `zb` 1 or `b.cols`; `c` holds
/// `a.rows` rows of `b.cols` at stride `ldc`.
pub fn gemm(a: QMat, za: &[i32], b: QMat, zb: &[i32], c: &mut [i32], ldc: usize) -> Result<()> {
    let par = rayon::current_num_threads() > 1
        && a.rows.saturating_mul(b.cols).saturating_mul(a.cols) >= PAR_MIN_MACS;
    gemm_with(chosen_isa(), par, a, za, b, zb, c, ldc)
}

/// The kernel [`gemm`] uses: the detected one, or in test builds the one a test forces.
fn chosen_isa() -> Isa {
    #[cfg(test)]
    if let Some(isa) = *forced::ISA.lock().unwrap_or_else(|e| e.into_inner()) {
        return isa;
    }
    Isa::detect()
}

/// Test builds: forcing the kernel of every [`gemm`] call, so that the ops' tests cover each
/// one. Every kernel gives the same bits, so a test running meanwhile is not disturbed.
#[cfg(test)]
pub mod forced {
    use super::Isa;
    use std::sync::Mutex;

    pub(super) static ISA: Mutex<Option<Isa>> = Mutex::new(None);
    static SERIAL: Mutex<()> = Mutex::new(());

    /// Runs `f` once per available kernel, with that kernel forced.
    pub fn each_isa(mut f: impl FnMut(Isa)) {
        let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for isa in Isa::available() {
            *ISA.lock().unwrap_or_else(|e| e.into_inner()) = Some(isa);
            f(isa);
        }
        *ISA.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// [`gemm`] with a chosen kernel (`isa` must be in [`Isa::available`], else an error) and
/// threading.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    isa: Isa,
    par: bool,
    a: QMat,
    za: &[i32],
    b: QMat,
    zb: &[i32],
    c: &mut [i32],
    ldc: usize,
) -> Result<()> {
    ensure!(
        Isa::available().contains(&isa),
        "integer GEMM kernel {isa:?} is not supported by this CPU"
    );
    let (m, k, n) = (a.rows, a.cols, b.cols);
    ensure!(
        b.rows == k,
        "integer GEMM inner dims differ: A {m}x{k}, B {}x{n}",
        b.rows
    );
    ensure!(
        za.len() == 1 || za.len() == m,
        "A zero point has {} entries, expected 1 or {m}",
        za.len()
    );
    ensure!(
        zb.len() == 1 || zb.len() == n,
        "B zero point has {} entries, expected 1 or {n}",
        zb.len()
    );
    if m == 0 || n == 0 {
        return Ok(());
    }
    ensure!(
        ldc >= n && c.len() >= (m - 1) * ldc + n,
        "output of {} elements (stride {ldc}) is too small for {m}x{n}",
        c.len()
    );
    let (mr, nr, kg) = isa.tile();
    let groups = k.div_ceil(kg);
    let (pa, rowsum) = pack_a(&a, mr, kg, par);
    let (pb, colsum) = pack_b(&b, nr, kg, par);
    // zero points of A' and B' (see the module comment)
    let za: Vec<i32> = (0..m)
        .map(|i| za[if za.len() == 1 { 0 } else { i }].wrapping_add(if a.signed { 128 } else { 0 }))
        .collect();
    let zb: Vec<i32> = (0..n)
        .map(|j| zb[if zb.len() == 1 { 0 } else { j }].wrapping_sub(if b.signed { 0 } else { 128 }))
        .collect();
    let kk = k as i32;
    let ccol: Vec<i32> = (0..n)
        .map(|j| colsum[j].wrapping_sub(kk.wrapping_mul(zb[j])))
        .collect();
    let fix = Fix {
        za: &za,
        zb: &zb,
        rowsum: &rowsum,
        ccol: &ccol,
    };
    let job = Job {
        isa,
        mr,
        nr,
        groups,
        kcg: (KC / kg).max(1),
        pa: &pa,
        pb: &pb,
        fix,
        m,
        n,
        ldc,
    };
    let out = Out(c.as_mut_ptr(), c.len());
    let blocks = job.blocks(par);
    let run = |&(m0, m1, n0, n1): &(usize, usize, usize, usize)| {
        // SAFETY: the blocks partition the output rows x columns, so each element of `c`
        // is written by exactly one block, and `c` outlives this call.
        unsafe { job.block(out, m0, m1, n0, n1) }
    };
    if par && blocks.len() > 1 {
        blocks.par_iter().for_each(run);
    } else {
        blocks.iter().for_each(run);
    }
    Ok(())
}

/// Zero-point correction terms (see the module comment).
struct Fix<'a> {
    za: &'a [i32],
    zb: &'a [i32],
    rowsum: &'a [i32],
    ccol: &'a [i32],
}

/// The output pointer, shared by blocks that write disjoint elements.
#[derive(Clone, Copy)]
struct Out(*mut i32, usize);
// SAFETY: blocks write disjoint elements (see `gemm_with`).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

struct Job<'a> {
    isa: Isa,
    mr: usize,
    nr: usize,
    groups: usize,
    /// Word groups per K block.
    kcg: usize,
    pa: &'a [u32],
    pb: &'a [u32],
    fix: Fix<'a>,
    m: usize,
    n: usize,
    ldc: usize,
}

impl Job<'_> {
    /// Output blocks (rows m0..m1, columns n0..n1) on panel boundaries; when threaded,
    /// smaller blocks so that each thread gets several.
    fn blocks(&self, par: bool) -> Vec<(usize, usize, usize, usize)> {
        let mut mc = MC.div_ceil(self.mr) * self.mr;
        let mut nc = NC.div_ceil(self.nr) * self.nr;
        if par {
            let want = 4 * rayon::current_num_threads();
            while self.m.div_ceil(mc) * self.n.div_ceil(nc) < want && (mc > self.mr || nc > self.nr)
            {
                if nc > self.nr && (nc >= mc || mc == self.mr) {
                    nc = (nc / 2).div_ceil(self.nr) * self.nr;
                } else {
                    mc = (mc / 2).div_ceil(self.mr) * self.mr;
                }
            }
        }
        let mut v = Vec::new();
        for m0 in (0..self.m).step_by(mc) {
            for n0 in (0..self.n).step_by(nc) {
                v.push((m0, (m0 + mc).min(self.m), n0, (n0 + nc).min(self.n)));
            }
        }
        v
    }

    /// Computes output rows m0..m1, columns n0..n1 (m0 and n0 on panel boundaries).
    ///
    /// # Safety
    /// `out` points to at least `(m - 1) * ldc + n` i32, and no other thread touches the
    /// elements of this block while it runs.
    unsafe fn block(&self, out: Out, m0: usize, m1: usize, n0: usize, n1: usize) {
        let (mr, nr, groups) = (self.mr, self.nr, self.groups);
        let mut tile = [0i32; TILE_MAX];
        let mut g0 = 0;
        loop {
            let g1 = (g0 + self.kcg).min(groups);
            let last = g1 == groups;
            for jp in (n0..n1).step_by(nr) {
                let bp = &self.pb[(jp / nr) * groups * nr..][g0 * nr..g1 * nr];
                for ip in (m0..m1).step_by(mr) {
                    let ap = &self.pa[(ip / mr) * groups * mr..][g0 * mr..g1 * mr];
                    self.isa.kernel(g1 - g0, ap, bp, &mut tile[..mr * nr]);
                    let (h, w) = ((m1 - ip).min(mr), (n1 - jp).min(nr));
                    for r in 0..h {
                        let i = ip + r;
                        debug_assert!(i * self.ldc + jp + w <= out.1);
                        // SAFETY: i < m and jp + w <= n, inside `out` by the contract.
                        let row = std::slice::from_raw_parts_mut(out.0.add(i * self.ldc + jp), w);
                        let t = &tile[r * nr..][..w];
                        let f = &self.fix;
                        for (q, (o, &v)) in row.iter_mut().zip(t).enumerate() {
                            let acc = if g0 == 0 { v } else { o.wrapping_add(v) };
                            *o = if last {
                                let j = jp + q;
                                acc.wrapping_sub(f.zb[j].wrapping_mul(f.rowsum[i]))
                                    .wrapping_sub(f.za[i].wrapping_mul(f.ccol[j]))
                            } else {
                                acc
                            };
                        }
                    }
                }
            }
            if last {
                break;
            }
            g0 = g1;
        }
    }
}

/// Packs A' (A as u8, see the module comment) into panels of `mr` rows; returns the words
/// and the row sums of A'.
fn pack_a(a: &QMat, mr: usize, kg: usize, par: bool) -> (Vec<u32>, Vec<i32>) {
    let (m, k) = (a.rows, a.cols);
    let groups = k.div_ceil(kg);
    let mut words = vec![0u32; m.div_ceil(mr) * groups * mr];
    let mut sums = vec![0i32; m];
    let flip = if a.signed { 0x80u8 } else { 0 };
    let panel = |(p, (dst, sum)): (usize, (&mut [u32], &mut [i32]))| {
        for (r, s) in sum.iter_mut().enumerate() {
            let row = a.row(p * mr + r);
            *s = row
                .iter()
                .fold(0i32, |t, &x| t.wrapping_add((x ^ flip) as i32));
            let full = k / kg;
            if kg == 4 {
                let mask = u32::from_ne_bytes([flip; 4]);
                for (g, q) in row.chunks_exact(4).enumerate() {
                    dst[g * mr + r] = u32::from_le_bytes([q[0], q[1], q[2], q[3]]) ^ mask;
                }
            } else {
                for (g, q) in row.chunks_exact(2).enumerate() {
                    dst[g * mr + r] = (q[0] ^ flip) as u32 | (((q[1] ^ flip) as u32) << 16);
                }
            }
            // the last, partial group: missing k read as zeros
            if full < groups {
                let mut w = 0u32;
                for (q, &x) in row[full * kg..].iter().enumerate() {
                    w |= ((x ^ flip) as u32) << (if kg == 4 { 8 } else { 16 } * q);
                }
                dst[full * mr + r] = w;
            }
        }
    };
    if groups == 0 {
        return (words, sums);
    }
    if par {
        words
            .par_chunks_mut(groups * mr)
            .zip(sums.par_chunks_mut(mr))
            .enumerate()
            .for_each(panel);
    } else {
        words
            .chunks_mut(groups * mr)
            .zip(sums.chunks_mut(mr))
            .enumerate()
            .for_each(panel);
    }
    (words, sums)
}

/// Packs B' (B as i8, see the module comment) into panels of `nr` columns; returns the words
/// and the column sums of B'.
fn pack_b(b: &QMat, nr: usize, kg: usize, par: bool) -> (Vec<u32>, Vec<i32>) {
    let (k, n) = (b.rows, b.cols);
    let groups = k.div_ceil(kg);
    let mut words = vec![0u32; n.div_ceil(nr) * groups * nr];
    let mut sums = vec![0i32; n];
    let flip = if b.signed { 0 } else { 0x80u8 };
    let zeros = vec![0u8; n];
    let panel = |(p, (dst, sum)): (usize, (&mut [u32], &mut [i32]))| {
        let (c0, w) = (p * nr, sum.len());
        // row k of this panel, flipped; rows past K read as zeros (flipped back below)
        let row = |r: usize| -> &[u8] {
            if r < k {
                &b.row(r)[c0..c0 + w]
            } else {
                &zeros[..w]
            }
        };
        for g in 0..groups {
            let d = &mut dst[g * nr..][..w];
            if kg == 4 {
                let (r0, r1, r2, r3) = (row(4 * g), row(4 * g + 1), row(4 * g + 2), row(4 * g + 3));
                let pad = |r: usize| if r < k { flip } else { 0 };
                let f = [pad(4 * g), pad(4 * g + 1), pad(4 * g + 2), pad(4 * g + 3)];
                for j in 0..w {
                    let v = [r0[j] ^ f[0], r1[j] ^ f[1], r2[j] ^ f[2], r3[j] ^ f[3]];
                    let t: i32 = v.iter().map(|&x| x as i8 as i32).sum();
                    sum[j] = sum[j].wrapping_add(t);
                    d[j] = u32::from_le_bytes(v);
                }
            } else {
                let (r0, r1) = (row(2 * g), row(2 * g + 1));
                let f1 = if 2 * g + 1 < k { flip } else { 0 };
                for j in 0..w {
                    let (x, y) = ((r0[j] ^ flip) as i8, (r1[j] ^ f1) as i8);
                    sum[j] = sum[j].wrapping_add(x as i32 + y as i32);
                    d[j] = (x as i16 as u16 as u32) | ((y as i16 as u16 as u32) << 16);
                }
            }
        }
    };
    if groups == 0 {
        return (words, sums);
    }
    if par {
        words
            .par_chunks_mut(groups * nr)
            .zip(sums.par_chunks_mut(nr))
            .enumerate()
            .for_each(panel);
    } else {
        words
            .chunks_mut(groups * nr)
            .zip(sums.chunks_mut(nr))
            .enumerate()
            .for_each(panel);
    }
    (words, sums)
}

const SCALAR_MR: usize = 4;
const SCALAR_NR: usize = 8;

/// Portable kernel on the `kg = 4` layout: each word is 4 u8 (A') or 4 i8 (B').
fn kernel_scalar(groups: usize, a: &[u32], b: &[u32], tile: &mut [i32]) {
    let (mr, nr) = (SCALAR_MR, SCALAR_NR);
    let (a, b) = (&a[..groups * mr], &b[..groups * nr]);
    let mut acc = [[0i32; SCALAR_NR]; SCALAR_MR];
    for (ag, bg) in a.chunks_exact(mr).zip(b.chunks_exact(nr)) {
        for (row, &aw) in acc.iter_mut().zip(ag) {
            let av = aw.to_le_bytes();
            for (o, &bw) in row.iter_mut().zip(bg) {
                let bv = bw.to_le_bytes();
                let mut s = 0i32;
                for q in 0..4 {
                    s += av[q] as i32 * bv[q] as i8 as i32;
                }
                *o = o.wrapping_add(s);
            }
        }
    }
    for (dst, row) in tile.chunks_exact_mut(nr).zip(&acc) {
        dst.copy_from_slice(row);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    pub const AVX2_MR: usize = 6;
    pub const AVX2_NR: usize = 16;
    pub const VNNI_MR: usize = 8;
    pub const VNNI_NR: usize = 32;

    /// AVX2 kernel on the `kg = 2` layout (each word two i16): `vpmaddwd` multiplies i16
    /// pairs into i32 exactly (|a' * b'| <= 255 * 128), unlike `vpmaddubsw`, which
    /// saturates at i16.
    pub fn kernel_avx2(groups: usize, a: &[u32], b: &[u32], tile: &mut [i32]) {
        assert!(
            a.len() >= groups * AVX2_MR
                && b.len() >= groups * AVX2_NR
                && tile.len() >= AVX2_MR * AVX2_NR
                && crate::isa::Features::get().avx2
        );
        // SAFETY: the CPU has AVX2 and the slices hold what the kernel reads and writes
        // (both checked above).
        unsafe { avx2(groups, a.as_ptr(), b.as_ptr(), tile.as_mut_ptr()) }
    }

    /// # Safety
    /// Needs AVX2; reads `groups * 6` words at `a`, `groups * 16` at `b`, writes 96 i32 at
    /// `c` (row stride 16).
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(groups: usize, a: *const u32, b: *const u32, c: *mut i32) {
        let mut acc = [[_mm256_setzero_si256(); 2]; AVX2_MR];
        for g in 0..groups {
            let bp = b.add(g * AVX2_NR) as *const __m256i;
            let b0 = _mm256_loadu_si256(bp);
            let b1 = _mm256_loadu_si256(bp.add(1));
            let ap = a.add(g * AVX2_MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_epi32(*ap.add(i) as i32);
                row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
                row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
            }
        }
        for (i, row) in acc.iter().enumerate() {
            let cp = c.add(i * AVX2_NR) as *mut __m256i;
            _mm256_storeu_si256(cp, row[0]);
            _mm256_storeu_si256(cp.add(1), row[1]);
        }
    }

    /// AVX-512 VNNI kernel on the `kg = 4` layout: `vpdpbusd` adds four u8 x i8 products
    /// into each i32 lane without saturation.
    pub fn kernel_vnni(groups: usize, a: &[u32], b: &[u32], tile: &mut [i32]) {
        assert!(
            a.len() >= groups * VNNI_MR
                && b.len() >= groups * VNNI_NR
                && tile.len() >= VNNI_MR * VNNI_NR
                && crate::isa::Features::get().avx512_vnni
        );
        // SAFETY: the CPU has AVX-512F and VNNI and the slices hold what the kernel reads
        // and writes (both checked above).
        unsafe { vnni(groups, a.as_ptr(), b.as_ptr(), tile.as_mut_ptr()) }
    }

    /// # Safety
    /// Needs AVX-512F and AVX-512 VNNI; reads `groups * 8` words at `a`, `groups * 32` at
    /// `b`, writes 256 i32 at `c` (row stride 32).
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn vnni(groups: usize, a: *const u32, b: *const u32, c: *mut i32) {
        let mut acc = [[_mm512_setzero_si512(); 2]; VNNI_MR];
        for g in 0..groups {
            let bp = b.add(g * VNNI_NR) as *const __m512i;
            let b0 = _mm512_loadu_si512(bp);
            let b1 = _mm512_loadu_si512(bp.add(1));
            let ap = a.add(g * VNNI_MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_epi32(*ap.add(i) as i32);
                row[0] = _mm512_dpbusd_epi32(row[0], av, b0);
                row[1] = _mm512_dpbusd_epi32(row[1], av, b1);
            }
        }
        for (i, row) in acc.iter().enumerate() {
            let cp = c.add(i * VNNI_NR) as *mut __m512i;
            _mm512_storeu_si512(cp, row[0]);
            _mm512_storeu_si512(cp.add(1), row[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift bytes; the all-zero state is never reached, so no operand is all zeros.
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    fn val(x: u8, signed: bool) -> i32 {
        if signed {
            x as i8 as i32
        } else {
            x as i32
        }
    }

    /// The definition: a triple loop over centred values.
    fn reference(a: &QMat, za: &[i32], b: &QMat, zb: &[i32]) -> Vec<i32> {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut c = vec![0i32; m * n];
        for i in 0..m {
            let zi = za[if za.len() == 1 { 0 } else { i }];
            for j in 0..n {
                let zj = zb[if zb.len() == 1 { 0 } else { j }];
                let mut s = 0i32;
                for p in 0..k {
                    let x = val(a.data[i * a.ld + p], a.signed) - zi;
                    let y = val(b.data[p * b.ld + j], b.signed) - zj;
                    s = s.wrapping_add(x * y);
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    /// Zero points of `len` entries inside the dtype's range.
    fn zps(len: usize, signed: bool, seed: u64) -> Vec<i32> {
        bytes(len, seed).iter().map(|&x| val(x, signed)).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn check(m: usize, k: usize, n: usize, sa: bool, sb: bool, per: bool, par: bool, seed: u64) {
        let (lda, ldb) = (k + (seed % 3) as usize, n + (seed % 2) as usize);
        let ad = bytes(m * lda, seed);
        let bd = bytes(k * ldb, seed ^ 0x5555);
        let a = QMat::new(&ad, sa, m, k, lda).unwrap();
        let b = QMat::new(&bd, sb, k, n, ldb).unwrap();
        let (za, zb) = if per {
            (zps(m, sa, seed + 1), zps(n, sb, seed + 2))
        } else {
            (zps(1, sa, seed + 1), zps(1, sb, seed + 2))
        };
        let want = reference(&a, &za, &b, &zb);
        for isa in Isa::available() {
            let mut got = vec![7i32; m * n];
            gemm_with(isa, par, a, &za, b, &zb, &mut got, n).unwrap();
            assert_eq!(
                got, want,
                "{isa:?} m {m} k {k} n {n} signed a {sa} b {sb} per-row/col zp {per} par {par}"
            );
        }
    }

    #[test]
    fn every_kernel_matches_reference_across_tile_edges() {
        let dims = [1usize, 3, 15, 16, 17, 31, 33, 65];
        let mut seed = 1u64;
        for (sa, sb) in [(false, false), (false, true), (true, false), (true, true)] {
            for per in [false, true] {
                for &m in &dims {
                    for &k in &dims {
                        for &n in &dims {
                            seed += 1;
                            check(m, k, n, sa, sb, per, false, seed);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn k_blocks_and_threads_match_reference() {
        // K over several KC blocks, output over several threaded blocks
        for (i, &(m, k, n)) in [(130, 1100, 300), (9, 2049, 70), (200, 7, 513)]
            .iter()
            .enumerate()
        {
            for (sa, sb) in [(false, true), (true, false), (false, false), (true, true)] {
                check(m, k, n, sa, sb, i % 2 == 0, true, 100 + i as u64);
                check(m, k, n, sa, sb, i % 2 == 1, false, 200 + i as u64);
            }
        }
    }

    #[test]
    fn extreme_values_do_not_saturate() {
        // 255 * 127 + 255 * 127 overflows i16: a saturating pair-add would be wrong here
        let (m, k, n) = (17, 70, 33);
        for (av, bv, sa, sb) in [
            (255u8, 127u8, false, true),
            (255, 0x80, false, true),
            (0x80, 0x80, true, true),
            (255, 255, false, false),
            (0x7f, 0xff, true, false),
        ] {
            let (ad, bd) = (vec![av; m * k], vec![bv; k * n]);
            let a = QMat::new(&ad, sa, m, k, k).unwrap();
            let b = QMat::new(&bd, sb, k, n, n).unwrap();
            for (za, zb) in [([0], [0]), ([val(0x80, sa)], [val(0x7f, sb)])] {
                let want = reference(&a, &za, &b, &zb);
                for isa in Isa::available() {
                    let mut got = vec![0; m * n];
                    gemm_with(isa, false, a, &za, b, &zb, &mut got, n).unwrap();
                    assert_eq!(got, want, "{isa:?} a {av} b {bv}");
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let d = bytes(64, 3);
        let a = QMat::new(&d, false, 4, 8, 8).unwrap();
        let b = QMat::new(&d, true, 8, 8, 8).unwrap();
        let c3 = QMat::new(&d, true, 3, 8, 8).unwrap();
        let mut c = vec![0; 32];
        assert!(gemm(a, &[0], c3, &[0], &mut c, 8).is_err());
        assert!(gemm(a, &[0, 1], b, &[0], &mut c, 8).is_err());
        assert!(gemm(a, &[0], b, &[0, 1, 2], &mut c, 8).is_err());
        assert!(gemm(a, &[0], b, &[0], &mut c[..31], 8).is_err());
        assert!(QMat::new(&d, false, 9, 8, 8).is_err());
        assert!(gemm(a, &[0], b, &[0], &mut c, 8).is_ok());
    }
}
