//! Compressed weights: the packed layout that `LinearDequantize` and `LutToDense` read, and
//! the decoder the fused CPU kernels call per tile.
//!
//! Codes. A weight of dense shape `shape` (rank r >= 1, n elements) has one `bits`-wide code
//! per element, in row-major element order, packed little-endian: element i occupies bits
//! `[i*bits, (i+1)*bits)` of the stream, and stream bit j is bit `j % 8` of byte `j / 8`. So
//! 8-bit codes are one byte each, 4-bit codes two to a byte with the first in the low nibble
//! (ONNX's int4 packing). The stream is `ceil(n * bits / 8)` bytes.
//!
//! Parameter grid. Scales, zero points and lookup tables live on a grid of rank r whose
//! dims each divide the weight's: `grid[d] | shape[d]`, and element `(i_0, .., i_{r-1})`
//! uses cell `(i_d / (shape[d] / grid[d]))_d`, cells in row-major order. Per-tensor is a
//! grid of ones; per-channel along axis a sets `grid[a] = shape[a]`; blocks of B along axis
//! k also set `grid[k] = shape[k] / B`; grouped channels (G channels a table) set
//! `grid[a] = shape[a] / G`.
//!
//! Linear: `w = (q - zero_point[cell]) * scale[cell]`, q read as a signed (two's
//! complement) or unsigned `bits`-wide integer, plus `offset[cell]` when there is one
//! (`w = q * d + m`, GGUF's Q4_1 / Q5_1, computed in that order in f32 so it is exact). Lookup table: `w = lut[cell][q]`, each cell
//! holding `2^bits` entries.

use crate::prelude::*;

/// How codes become values.
#[derive(Clone, Debug)]
pub enum Params {
    Linear {
        scale: Vec<f32>,
        zero: Option<Vec<f32>>,
        /// Added after the scaling: `(q - zero) * scale + offset`.
        offset: Option<Vec<f32>>,
        signed: bool,
    },
    /// `cells * 2^bits` entries.
    Lut { lut: Vec<f32> },
}

/// A compressed weight: packed codes (kept as given: a mapped package blob stays mapped)
/// plus the decoding parameters, expanded to f32.
#[derive(Clone, Debug)]
pub struct Packed {
    pub shape: Vec<usize>,
    pub bits: u32,
    codes: Tensor,
    grid: Vec<usize>,
    /// The weight's dims merged where the grid allows (see [`merge_dims`]): the decoder's
    /// view, with `mblock[d] = mshape[d] / grid` and the cell strides of that merged grid.
    mshape: Vec<usize>,
    mblock: Vec<usize>,
    mgstrides: Vec<usize>,
    pub params: Params,
}

/// Bytes that `n` codes of `bits` bits take.
pub fn packed_len(n: usize, bits: u32) -> usize {
    (n as u128 * bits as u128).div_ceil(8) as usize
}

/// Packs code values (each `< 2^bits`; signed values pass as their two's-complement bits)
/// into the stream layout above.
pub fn pack(codes: impl ExactSizeIterator<Item = u32>, bits: u32) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(codes.len(), bits)];
    let mask = (1u32 << bits) - 1;
    if bits == 8 {
        for (o, c) in out.iter_mut().zip(codes) {
            *o = c as u8;
        }
        return out;
    }
    if bits == 4 {
        let mut it = codes;
        for o in out.iter_mut() {
            let lo = it.next().unwrap_or(0) & 15;
            let hi = it.next().unwrap_or(0) & 15;
            *o = (lo | hi << 4) as u8;
        }
        return out;
    }
    let mut pos = 0usize;
    for c in codes {
        let c = (c & mask) << (pos % 8);
        out[pos / 8] |= c as u8;
        if pos % 8 + bits as usize > 8 {
            out[pos / 8 + 1] |= (c >> 8) as u8;
        }
        pos += bits as usize;
    }
    out
}

fn f32_vec(t: &Tensor, what: &str) -> Result<Vec<f32>> {
    match t.dtype() {
        DType::F32 => Ok(t.as_slice::<f32>()?.to_vec()),
        DType::F16 => Ok(t.as_slice::<f16>()?.iter().map(|v| v.to_f32()).collect()),
        DType::BF16 => Ok(t.as_slice::<bf16>()?.iter().map(|v| v.to_f32()).collect()),
        DType::I8 => Ok(t.as_slice::<i8>()?.iter().map(|&v| v as f32).collect()),
        DType::U8 => Ok(t.as_slice::<u8>()?.iter().map(|&v| v as f32).collect()),
        DType::I32 => Ok(t.as_slice::<i32>()?.iter().map(|&v| v as f32).collect()),
        d => bail!("{what} must be f32, f16, bf16 or an integer type, got {d}"),
    }
}

/// `(shape, grid)` with neighbouring dims merged where the cell of every element is kept:
/// dims of size 1 dropped, a dim with one cell folded into the dim before it (that dim's
/// blocks grow), and two dims with a cell per element folded into one. Per-channel
/// `[M, C, kh, kw]` becomes `[M, C*kh*kw]` with grid `[M, 1]`; per-tensor becomes `[n]`.
/// Every dim of the result is at least 1 and divisible by its grid. An empty weight
/// (`n = 0`) gives `[1]`, `[1]`; it never decodes.
fn merge_dims(shape: &[usize], grid: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut dims: Vec<(usize, usize)> = Vec::new();
    if shape.contains(&0) {
        return (vec![1], vec![1]);
    }
    for (&s, &g) in shape.iter().zip(grid) {
        if s == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(d) if g == 1 => d.0 *= s,
            Some(d) if d.0 == d.1 && s == g => *d = (d.0 * s, d.1 * g),
            _ => dims.push((s, g)),
        }
    }
    if dims.is_empty() {
        dims.push((1, 1));
    }
    dims.into_iter().unzip()
}

/// Decodes the linear codes of elements `e0..e0 + out.len()` of stream `bytes` (`bits`
/// wide, two's complement when `signed`): `out[i] = f(q_i as f32)`.
#[inline(always)]
fn codes_to(
    bytes: &[u8],
    bits: u32,
    signed: bool,
    e0: usize,
    out: &mut [f32],
    f: impl Fn(f32) -> f32 + Copy,
) {
    match (bits, signed) {
        (8, true) => {
            for (o, &c) in out.iter_mut().zip(&bytes[e0..]) {
                *o = f(c as i8 as f32);
            }
        }
        (8, false) => {
            for (o, &c) in out.iter_mut().zip(&bytes[e0..]) {
                *o = f(c as f32);
            }
        }
        (4, true) => sub_byte::<4>(bytes, e0, out, |c| f(((c << 4) as i8 >> 4) as f32)),
        (4, false) => sub_byte::<4>(bytes, e0, out, |c| f(c as f32)),
        (2, true) => sub_byte::<2>(bytes, e0, out, |c| f(((c << 6) as i8 >> 6) as f32)),
        (2, false) => sub_byte::<2>(bytes, e0, out, |c| f(c as f32)),
        (bits, _) => {
            let half = 1i32 << (bits - 1);
            let sign = if signed { 2 * half } else { 0 };
            any_width(bytes, bits, e0, out, |c| {
                let c = c as i32;
                f((c - (sign & -((c >= half) as i32))) as f32)
            })
        }
    }
}

/// Decodes lookup-table codes of elements `e0..e0 + out.len()`: `out[i] = t[q_i]`, with
/// `t` the cell's `2^bits` entries.
#[inline(always)]
fn lut_to(bytes: &[u8], bits: u32, e0: usize, out: &mut [f32], t: &[f32]) {
    match bits {
        8 => {
            let t: &[f32; 256] = t.try_into().expect("a lookup table of 256 entries");
            for (o, &c) in out.iter_mut().zip(&bytes[e0..]) {
                *o = t[c as usize];
            }
        }
        4 => {
            let t: &[f32; 16] = t.try_into().expect("a lookup table of 16 entries");
            sub_byte::<4>(bytes, e0, out, |c| t[(c & 15) as usize])
        }
        2 => {
            let t: &[f32; 4] = t.try_into().expect("a lookup table of 4 entries");
            sub_byte::<2>(bytes, e0, out, |c| t[(c & 3) as usize])
        }
        1 => {
            let t: &[f32; 2] = t.try_into().expect("a lookup table of 2 entries");
            sub_byte::<1>(bytes, e0, out, |c| t[(c & 1) as usize])
        }
        bits => any_width(bytes, bits, e0, out, |c| t[c as usize & (t.len() - 1)]),
    }
}

/// Codes of `B` bits (B = 1, 2 or 4: `8 / B` a byte, the first in the low bits) of elements
/// `e0..e0 + out.len()`, each mapped by `f` (given the code in the low B bits).
#[inline(always)]
fn sub_byte<const B: usize>(bytes: &[u8], e0: usize, out: &mut [f32], f: impl Fn(u8) -> f32) {
    let per = 8 / B;
    let mask = ((1u32 << B) - 1) as u8;
    let code = |e: usize| (bytes[e / per] >> ((e % per) * B)) & mask;
    // elements before the first byte boundary
    let head = ((per - e0 % per) % per).min(out.len());
    for (i, o) in out[..head].iter_mut().enumerate() {
        *o = f(code(e0 + i));
    }
    let e1 = e0 + head;
    let whole = (out.len() - head) / per;
    let src = &bytes[e1 / per..e1 / per + whole];
    let (body, tail) = out[head..].split_at_mut(whole * per);
    for (o, &b) in body.chunks_exact_mut(per).zip(src) {
        for (j, v) in o.iter_mut().enumerate() {
            *v = f((b >> (j * B)) & mask);
        }
    }
    let e2 = e1 + whole * per;
    for (i, o) in tail.iter_mut().enumerate() {
        *o = f(code(e2 + i));
    }
}

/// Codes of any width `bits` in 1..=8, read from the bit stream one at a time.
#[inline(always)]
fn any_width(bytes: &[u8], bits: u32, e0: usize, out: &mut [f32], f: impl Fn(u32) -> f32) {
    let mask = (1u32 << bits) - 1;
    let mut pos = e0 * bits as usize;
    for o in out.iter_mut() {
        let i = pos / 8;
        let w = bytes[i] as u32 | (*bytes.get(i + 1).unwrap_or(&0) as u32) << 8;
        *o = f((w >> (pos % 8)) & mask);
        pos += bits as usize;
    }
}

impl Packed {
    fn new(
        shape: &[usize],
        bits: u32,
        codes: Tensor,
        grid: &[usize],
        params: Params,
    ) -> Result<Packed> {
        ensure!(!shape.is_empty(), "a compressed weight needs rank >= 1");
        ensure!(
            (1..=8).contains(&bits),
            "code width must be 1..=8 bits, got {bits}"
        );
        ensure!(
            matches!(codes.dtype(), DType::U8 | DType::I8),
            "codes must be a u8 (or i8) byte tensor, got {}",
            codes.dtype()
        );
        smelt_core::check_dims(&shape.iter().map(|&d| Dim::Fixed(d)).collect::<Vec<_>>())?;
        let n: usize = shape.iter().product();
        let want = packed_len(n, bits);
        ensure!(
            codes.len() == want,
            "codes hold {} bytes, {n} elements of {bits} bits need {want}",
            codes.len()
        );
        ensure!(
            grid.len() == shape.len(),
            "parameter grid {grid:?} must have the weight's rank {} ({shape:?})",
            shape.len()
        );
        for (&s, &g) in shape.iter().zip(grid) {
            ensure!(
                g >= 1 && s % g == 0 || s == 0 && g <= 1,
                "parameter grid {grid:?} does not divide the weight shape {shape:?}"
            );
        }
        let (mshape, mgrid) = merge_dims(shape, grid);
        let mblock = mshape.iter().zip(&mgrid).map(|(&s, &g)| s / g).collect();
        let cells: usize = grid.iter().product();
        match &params {
            Params::Linear { scale, zero, .. } => {
                ensure!(
                    scale.len() == cells,
                    "scale has {} values, the grid {grid:?} has {cells} cells",
                    scale.len()
                );
                if let Some(z) = zero {
                    ensure!(
                        z.len() == cells,
                        "zero point has {} values, the grid {grid:?} has {cells} cells",
                        z.len()
                    );
                }
            }
            Params::Lut { lut } => ensure!(
                lut.len() == cells << bits,
                "lookup table has {} entries, {cells} cells of 2^{bits} need {}",
                lut.len(),
                cells << bits
            ),
        }
        Ok(Packed {
            shape: shape.to_vec(),
            bits,
            codes,
            grid: grid.to_vec(),
            mshape,
            mblock,
            mgstrides: strides(&mgrid),
            params,
        })
    }

    /// A linear (affine or symmetric) weight. `scale` (and `zero_point`) have the weight's
    /// rank; their shape is the parameter grid.
    pub fn linear(
        shape: &[usize],
        bits: u32,
        signed: bool,
        codes: Tensor,
        scale: &Tensor,
        zero_point: Option<&Tensor>,
    ) -> Result<Packed> {
        ensure!(
            (2..=8).contains(&bits),
            "linear codes must be 2..=8 bits, got {bits}"
        );
        if let Some(z) = zero_point {
            ensure!(
                z.shape() == scale.shape(),
                "zero point shape {:?} differs from scale shape {:?}",
                z.shape(),
                scale.shape()
            );
        }
        let params = Params::Linear {
            scale: f32_vec(scale, "scale")?,
            zero: zero_point.map(|z| f32_vec(z, "zero point")).transpose()?,
            offset: None,
            signed,
        };
        Packed::new(shape, bits, codes, scale.shape(), params)
    }

    /// A linear weight with a float offset added after the scaling (`offset` has the
    /// scale's shape): `(q - zero_point) * scale + offset`.
    pub fn linear_offset(
        shape: &[usize],
        bits: u32,
        signed: bool,
        codes: Tensor,
        scale: &Tensor,
        zero_point: Option<&Tensor>,
        offset: &Tensor,
    ) -> Result<Packed> {
        ensure!(
            offset.shape() == scale.shape(),
            "offset shape {:?} differs from scale shape {:?}",
            offset.shape(),
            scale.shape()
        );
        let mut w = Packed::linear(shape, bits, signed, codes, scale, zero_point)?;
        if let Params::Linear { offset: o, .. } = &mut w.params {
            *o = Some(f32_vec(offset, "offset")?);
        }
        Ok(w)
    }

    /// A palettized weight: `lut` has shape `grid ++ [2^bits]`.
    pub fn lut(shape: &[usize], bits: u32, codes: Tensor, lut: &Tensor) -> Result<Packed> {
        let ls = lut.shape();
        ensure!(
            ls.len() == shape.len() + 1 && ls.last() == Some(&(1usize << bits.min(8))),
            "lookup table shape {ls:?} must be the grid (rank {}) then {} entries",
            shape.len(),
            1usize << bits.min(8)
        );
        let params = Params::Lut {
            lut: f32_vec(lut, "lookup table")?,
        };
        Packed::new(shape, bits, codes, &ls[..ls.len() - 1], params)
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Rows of the 2-D view `[shape[0], rest]`.
    pub fn rows(&self) -> usize {
        self.shape[0]
    }
    /// Elements per row of the 2-D view.
    pub fn row_len(&self) -> usize {
        self.shape[1..].iter().product()
    }
    pub fn grid(&self) -> &[usize] {
        &self.grid
    }
    /// Bytes of codes and parameters.
    pub fn byte_size(&self) -> usize {
        let p = match &self.params {
            Params::Linear {
                scale,
                zero,
                offset,
                ..
            } => {
                scale.len()
                    + zero.as_ref().map_or(0, Vec::len)
                    + offset.as_ref().map_or(0, Vec::len)
            }
            Params::Lut { lut } => lut.len(),
        };
        self.codes.len() + 4 * p
    }

    /// The packed code stream (the layout of the module doc).
    pub fn code_bytes(&self) -> &[u8] {
        match self.codes.dtype() {
            DType::I8 => bytemuck::cast_slice(self.codes.as_slice::<i8>().unwrap_or(&[])),
            _ => self.codes.as_slice::<u8>().unwrap_or(&[]),
        }
    }

    /// Decodes elements `start..start + out.len()` (row-major flat indices) into `out`.
    /// Panics when the range runs past the weight's elements (a caller's bug: every range
    /// the kernels ask for lies inside the weight).
    pub fn decode(&self, start: usize, out: &mut [f32]) {
        assert!(
            start
                .checked_add(out.len())
                .is_some_and(|e| e <= self.numel()),
            "decode: range {start}+{} is outside {:?}",
            out.len(),
            self.shape
        );
        if out.is_empty() {
            return;
        }
        decode_per_isa(self, start, out)
    }

    /// The body of [`Packed::decode`] (range already checked): the range split into runs of
    /// elements that share a parameter cell (at most one block of the merged last dim),
    /// each decoded by a loop without branches per element.
    #[inline(always)]
    fn decode_runs(&self, start: usize, out: &mut [f32]) {
        let r = self.mshape.len();
        let (last, bl) = (self.mshape[r - 1], self.mblock[r - 1]);
        let bytes = self.code_bytes();
        let end = start + out.len();
        let mut e = start;
        while e < end {
            let row = e / last;
            let base = self.row_base(row);
            let row0 = row * last;
            let row_end = end.min(row0 + last);
            if bl == 1 {
                // a cell per element along the row (per-column scales): one pass
                let o = &mut out[e - start..row_end - start];
                self.decode_cells(bytes, base + (e - row0), e, o);
                e = row_end;
            }
            while e < row_end {
                let b = (e - row0) / bl;
                let run_end = row_end.min(row0 + (b + 1) * bl);
                let o = &mut out[e - start..run_end - start];
                self.decode_run(bytes, base + b, e, o);
                e = run_end;
            }
        }
    }

    /// Elements `e0..e0 + out.len()`, all in parameter cell `cell`.
    #[inline(always)]
    fn decode_run(&self, bytes: &[u8], cell: usize, e0: usize, out: &mut [f32]) {
        match &self.params {
            Params::Linear {
                scale,
                zero,
                offset,
                signed,
            } => {
                let s = scale[cell];
                let z = zero.as_ref().map_or(0.0, |z| z[cell]);
                match offset.as_ref().map(|o| o[cell]) {
                    Some(o) => codes_to(bytes, self.bits, *signed, e0, out, |q| (q - z) * s + o),
                    None => codes_to(bytes, self.bits, *signed, e0, out, |q| (q - z) * s),
                }
            }
            Params::Lut { lut } => {
                let k = 1usize << self.bits;
                let t = &lut[cell * k..(cell + 1) * k];
                lut_to(bytes, self.bits, e0, out, t);
            }
        }
    }

    /// Elements `e0..e0 + out.len()`, element i in parameter cell `cell0 + i`.
    #[inline(always)]
    fn decode_cells(&self, bytes: &[u8], cell0: usize, e0: usize, out: &mut [f32]) {
        let n = out.len();
        let cells = cell0..cell0 + n;
        match &self.params {
            Params::Linear {
                scale,
                zero,
                offset,
                signed,
            } => {
                codes_to(bytes, self.bits, *signed, e0, out, |q| q);
                let s = &scale[cells.clone()];
                match zero {
                    Some(z) => {
                        for ((v, &z), &s) in out.iter_mut().zip(&z[cells.clone()]).zip(s) {
                            *v = (*v - z) * s;
                        }
                    }
                    None => {
                        for (v, &s) in out.iter_mut().zip(s) {
                            *v = (*v - 0.0) * s;
                        }
                    }
                }
                if let Some(o) = offset {
                    for (v, &o) in out.iter_mut().zip(&o[cells]) {
                        *v += o;
                    }
                }
            }
            Params::Lut { lut } => {
                codes_to(bytes, self.bits, false, e0, out, |q| q);
                let k = 1usize << self.bits;
                for (i, v) in out.iter_mut().enumerate() {
                    *v = lut[(cell0 + i) * k + *v as usize];
                }
            }
        }
    }

    /// Parameter cell of the first element of merged row `row` (rows over `mshape[..r-1]`).
    fn row_base(&self, row: usize) -> usize {
        let r = self.mshape.len();
        let mut rem = row;
        let mut base = 0;
        for d in (0..r - 1).rev() {
            let i = rem % self.mshape[d];
            rem /= self.mshape[d];
            base += (i / self.mblock[d]) * self.mgstrides[d];
        }
        base
    }

    /// Rows `r0..r1` of the 2-D view `[shape[0], rest]`, decoded into `out` (resized).
    pub fn decode_rows(&self, r0: usize, r1: usize, out: &mut Vec<f32>) {
        let cols = self.row_len();
        out.resize((r1 - r0) * cols, 0.0);
        self.decode(r0 * cols, out);
    }

    /// The whole weight as f32 (the reference path).
    pub fn decode_all(&self) -> Vec<f32> {
        let mut v = vec![0.0; self.numel()];
        self.decode(0, &mut v);
        v
    }
}

crate::multiversion!(
    /// [`Packed::decode`]'s body compiled per instruction set ([`crate::isa`]).
    fn decode_per_isa(w: &Packed, start: usize, out: &mut [f32]) {
        w.decode_runs(start, out)
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(bytes: Vec<u8>) -> Tensor {
        let n = bytes.len();
        Tensor::from_vec(vec![n], bytes).unwrap()
    }

    #[test]
    fn pack_and_unpack_round_trip_every_width() {
        for bits in 1..=8u32 {
            for n in [1usize, 7, 8, 9, 63, 64, 65] {
                let vals: Vec<u32> = (0..n as u32).map(|i| (i * 37 + 5) % (1 << bits)).collect();
                let p = pack(vals.iter().copied(), bits);
                assert_eq!(p.len(), packed_len(n, bits));
                let lut: Vec<f32> = (0..1 << bits).map(|i| i as f32).collect();
                let lt = Tensor::from_vec(vec![1, 1 << bits], lut).unwrap();
                let w = Packed::lut(&[n], bits, codes(p), &lt).unwrap();
                let got = w.decode_all();
                let want: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
                assert_eq!(got, want, "bits {bits} n {n}");
            }
        }
    }

    #[test]
    fn signed_codes_and_blocked_scales() {
        // shape [2, 6], blocks of 3 along axis 1, per row: grid [2, 2]
        let q: Vec<i32> = vec![-8, -1, 0, 1, 7, 3, 2, -2, 5, -5, 6, -6];
        let p = pack(q.iter().map(|&v| v as u32), 4);
        let scale = Tensor::from_vec(vec![2, 2], vec![1.0f32, 0.5, 2.0, 0.25]).unwrap();
        let zero = Tensor::from_vec(vec![2, 2], vec![0i8, 1, -1, 0]).unwrap();
        let w = Packed::linear(&[2, 6], 4, true, codes(p), &scale, Some(&zero)).unwrap();
        let want: Vec<f32> = vec![
            -8.0, -1.0, 0.0, 0.0, 3.0, 1.0, 6.0, -2.0, 12.0, -1.25, 1.5, -1.5,
        ];
        assert_eq!(w.decode_all(), want);
        let mut rows = Vec::new();
        w.decode_rows(1, 2, &mut rows);
        assert_eq!(rows, want[6..]);
    }

    /// Element `e` by the module doc's definition, one element at a time.
    fn reference(w: &Packed, e: usize) -> f32 {
        let bytes = w.code_bytes();
        let bits = w.bits as usize;
        let mut c = 0u32;
        for j in 0..bits {
            let p = e * bits + j;
            c |= ((bytes[p / 8] >> (p % 8)) as u32 & 1) << j;
        }
        let (mut rem, mut cell, mut stride) = (e, 0, 1);
        for d in (0..w.shape.len()).rev() {
            let i = rem % w.shape[d];
            rem /= w.shape[d];
            cell += i / (w.shape[d] / w.grid[d]) * stride;
            stride *= w.grid[d];
        }
        match &w.params {
            Params::Linear {
                scale,
                zero,
                offset,
                signed,
            } => {
                let q = if *signed && c >= 1 << (bits - 1) {
                    c as f32 - (1u32 << bits) as f32
                } else {
                    c as f32
                };
                let z = zero.as_ref().map_or(0.0, |z| z[cell]);
                match offset {
                    Some(o) => (q - z) * scale[cell] + o[cell],
                    None => (q - z) * scale[cell],
                }
            }
            Params::Lut { lut } => lut[(cell << bits) + c as usize],
        }
    }

    /// xorshift64: deterministic test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn f32(&mut self) -> f32 {
            (self.next() % 20001) as f32 / 1000.0 - 10.0
        }
    }

    /// Every kernel path against [`reference`]: widths 1..=8, linear signed / unsigned
    /// with and without zero point and offset, lookup tables; per tensor, per channel on
    /// either axis, blocks along the last axis, grouped channels; shapes straddling
    /// blocks and bytes; ranges of whole rows, single elements and odd offsets.
    #[test]
    fn decode_matches_the_definition_bit_for_bit() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let shapes: [(&[usize], &[&[usize]]); 6] = [
            (&[31], &[&[1], &[31]]),
            (
                &[33, 64],
                &[&[1, 1], &[33, 1], &[1, 64], &[33, 2], &[33, 64], &[11, 4]],
            ),
            (&[7, 96], &[&[7, 3], &[1, 3], &[7, 1]]),
            (
                &[16, 3, 3, 3],
                &[&[16, 1, 1, 1], &[4, 1, 1, 1], &[1, 1, 1, 1], &[16, 3, 1, 1]],
            ),
            (&[8, 5, 1, 1], &[&[8, 1, 1, 1], &[8, 5, 1, 1]]),
            (&[3, 1, 65], &[&[3, 1, 1], &[1, 1, 65], &[3, 1, 5]]),
        ];
        for (shape, grids) in shapes {
            let n: usize = shape.iter().product();
            for &grid in grids {
                let cells: usize = grid.iter().product();
                for bits in 1..=8u32 {
                    let codes_v: Vec<u32> = (0..n)
                        .map(|_| rng.next() as u32 & ((1 << bits) - 1))
                        .collect();
                    let pk = pack(codes_v.iter().copied(), bits);
                    let mut ws = Vec::new();
                    let lut: Vec<f32> = (0..cells << bits).map(|_| rng.f32()).collect();
                    let mut lshape = grid.to_vec();
                    lshape.push(1 << bits);
                    let lt = Tensor::from_vec(lshape, lut).unwrap();
                    ws.push(Packed::lut(shape, bits, codes(pk.clone()), &lt).unwrap());
                    if bits >= 2 {
                        let t = |v: Vec<f32>| Tensor::from_vec(grid.to_vec(), v).unwrap();
                        let sc = t((0..cells).map(|_| rng.f32() / 7.0).collect());
                        let zp = t((0..cells).map(|_| (rng.next() % 16) as f32 - 8.0).collect());
                        let of = t((0..cells).map(|_| rng.f32()).collect());
                        for signed in [false, true] {
                            let c = || codes(pk.clone());
                            ws.push(Packed::linear(shape, bits, signed, c(), &sc, None).unwrap());
                            ws.push(
                                Packed::linear(shape, bits, signed, c(), &sc, Some(&zp)).unwrap(),
                            );
                            ws.push(
                                Packed::linear_offset(
                                    shape,
                                    bits,
                                    signed,
                                    c(),
                                    &sc,
                                    Some(&zp),
                                    &of,
                                )
                                .unwrap(),
                            );
                        }
                    }
                    for w in &ws {
                        let want: Vec<u32> = (0..n).map(|e| reference(w, e).to_bits()).collect();
                        let bitsof = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(
                            bitsof(&w.decode_all()),
                            want,
                            "{shape:?} {grid:?} {bits} {:?}",
                            w.params
                        );
                        // the portable body, whatever the CPU dispatches to
                        let mut portable = vec![0.0; n];
                        w.decode_runs(0, &mut portable);
                        assert_eq!(bitsof(&portable), want);
                        let mut rng2 = Rng(n as u64 + 1);
                        for _ in 0..8 {
                            let a = rng2.next() as usize % n;
                            let b = a + rng2.next() as usize % (n - a + 1);
                            let mut out = vec![0.0; b - a];
                            w.decode(a, &mut out);
                            assert_eq!(
                                bitsof(&out),
                                want[a..b],
                                "{shape:?} {grid:?} {bits} {a}..{b}"
                            );
                        }
                        let mut rows = Vec::new();
                        w.decode_rows(1, w.rows().min(3), &mut rows);
                        let rl = w.row_len();
                        assert_eq!(bitsof(&rows), want[rl..w.rows().min(3) * rl]);
                    }
                }
            }
        }
    }

    #[test]
    fn inconsistent_parts_are_errors() {
        let s = Tensor::from_vec(vec![1, 1], vec![1.0f32]).unwrap();
        // wrong code length
        assert!(Packed::linear(&[4, 4], 4, true, codes(vec![0; 7]), &s, None).is_err());
        // grid that does not divide
        let s3 = Tensor::from_vec(vec![3, 1], vec![1.0f32; 3]).unwrap();
        assert!(Packed::linear(&[4, 4], 8, true, codes(vec![0; 16]), &s3, None).is_err());
        // lut of the wrong width
        let l = Tensor::from_vec(vec![1, 1, 8], vec![0.0f32; 8]).unwrap();
        assert!(Packed::lut(&[4, 4], 4, codes(vec![0; 8]), &l).is_err());
        // wrong rank of scale
        let s1 = Tensor::from_vec(vec![1], vec![1.0f32]).unwrap();
        assert!(Packed::linear(&[4, 4], 8, true, codes(vec![0; 16]), &s1, None).is_err());
    }
}
