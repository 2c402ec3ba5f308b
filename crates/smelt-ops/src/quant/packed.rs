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
    /// `shape[d] / grid[d]`.
    block: Vec<usize>,
    gstrides: Vec<usize>,
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
        let mut block = Vec::with_capacity(grid.len());
        for (&s, &g) in shape.iter().zip(grid) {
            ensure!(
                g >= 1 && s % g == 0 || s == 0 && g <= 1,
                "parameter grid {grid:?} does not divide the weight shape {shape:?}"
            );
            block.push(if g == 0 { 1 } else { (s / g).max(1) });
        }
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
            block,
            gstrides: strides(grid),
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

    /// Writes the raw codes of elements `e0..e0 + out.len()` into `out` as floats (signed
    /// when the codes are).
    fn unpack(&self, e0: usize, out: &mut [f32]) {
        let bytes = self.code_bytes();
        let signed = matches!(self.params, Params::Linear { signed: true, .. });
        match (self.bits, signed) {
            (8, true) => {
                for (o, &b) in out.iter_mut().zip(&bytes[e0..]) {
                    *o = b as i8 as f32;
                }
            }
            (8, false) => {
                for (o, &b) in out.iter_mut().zip(&bytes[e0..]) {
                    *o = b as f32;
                }
            }
            (4, _) if e0 % 2 == 0 => {
                // two codes a byte, the first in the low nibble
                let mut val = [0f32; 16];
                for (c, v) in val.iter_mut().enumerate() {
                    *v = if signed && c >= 8 {
                        c as f32 - 16.0
                    } else {
                        c as f32
                    };
                }
                let src = &bytes[e0 / 2..];
                let half = out.len() / 2;
                let mut pairs = out.chunks_exact_mut(2);
                for (o, &b) in (&mut pairs).zip(src) {
                    o[0] = val[(b & 15) as usize];
                    o[1] = val[(b >> 4) as usize];
                }
                if let [o] = pairs.into_remainder() {
                    *o = val[(src[half] & 15) as usize];
                }
            }
            (bits, _) => {
                let mask = (1u32 << bits) - 1;
                let half = 1i32 << (bits - 1);
                let mut pos = e0 * bits as usize;
                for o in out.iter_mut() {
                    let i = pos / 8;
                    let w = bytes[i] as u32 | (*bytes.get(i + 1).unwrap_or(&0) as u32) << 8;
                    let c = ((w >> (pos % 8)) & mask) as i32;
                    *o = if signed && c >= half {
                        (c - 2 * half) as f32
                    } else {
                        c as f32
                    };
                    pos += bits as usize;
                }
            }
        }
    }

    /// Grid cell of the first element of last-dim row `row` (rows over `shape[..r-1]`).
    fn row_base(&self, row: usize) -> usize {
        let r = self.shape.len();
        let mut rem = row;
        let mut base = 0;
        for d in (0..r - 1).rev() {
            let i = rem % self.shape[d];
            rem /= self.shape[d];
            base += (i / self.block[d]) * self.gstrides[d];
        }
        base
    }

    /// Decodes elements `start..start + out.len()` (row-major). `start` and the length
    /// must be multiples of the last dim (whole last-dim rows): the 2-D view's rows are.
    pub fn decode(&self, start: usize, out: &mut [f32]) {
        let last = *self.shape.last().unwrap_or(&1);
        if out.is_empty() || last == 0 {
            return;
        }
        assert!(
            start % last == 0 && out.len() % last == 0 && start + out.len() <= self.numel(),
            "decode: range {start}+{} is not whole rows of {last} in {:?}",
            out.len(),
            self.shape
        );
        let bl = self.block[self.shape.len() - 1];
        if self.bits == 4 && bl % 2 == 0 && last % 2 == 0 {
            if let Params::Linear { .. } = self.params {
                return self.decode_linear4(start, out, last, bl);
            }
        }
        self.unpack(start, out);
        for (ri, row) in out.chunks_mut(last).enumerate() {
            let base = self.row_base(start / last + ri);
            match &self.params {
                Params::Linear {
                    scale,
                    zero,
                    offset,
                    ..
                } => {
                    for (b, chunk) in row.chunks_mut(bl).enumerate() {
                        let s = scale[base + b];
                        let z = zero.as_ref().map_or(0.0, |z| z[base + b]);
                        match offset {
                            Some(o) => {
                                let o = o[base + b];
                                for v in chunk {
                                    *v = (*v - z) * s + o;
                                }
                            }
                            None => {
                                for v in chunk {
                                    *v = (*v - z) * s;
                                }
                            }
                        }
                    }
                }
                Params::Lut { lut } => {
                    let k = 1usize << self.bits;
                    for (b, chunk) in row.chunks_mut(bl).enumerate() {
                        let t = &lut[(base + b) * k..(base + b + 1) * k];
                        for v in chunk {
                            *v = t[*v as usize];
                        }
                    }
                }
            }
        }
    }

    /// [`Packed::decode`] of 4-bit linear codes in blocks of an even length along even rows,
    /// a byte (two codes) at a time: the same operations per element as `decode`.
    fn decode_linear4(&self, start: usize, out: &mut [f32], last: usize, bl: usize) {
        let Params::Linear {
            scale,
            zero,
            offset,
            signed,
        } = &self.params
        else {
            return;
        };
        let bytes = &self.code_bytes()[start / 2..];
        for (ri, (row, rb)) in out.chunks_mut(last).zip(bytes.chunks(last / 2)).enumerate() {
            let base = self.row_base(start / last + ri);
            for (b, (chunk, cb)) in row.chunks_mut(bl).zip(rb.chunks(bl / 2)).enumerate() {
                let s = scale[base + b];
                let z = zero.as_ref().map_or(0.0, |z| z[base + b]);
                let o = offset.as_ref().map(|o| o[base + b]);
                // the code's value: two's complement when signed
                let sign = if *signed { 16 } else { 0 };
                let val = |c: u8| (c as i32 - (sign & -((c >> 3) as i32))) as f32;
                match o {
                    Some(o) => {
                        for (p, &byte) in chunk.chunks_exact_mut(2).zip(cb) {
                            p[0] = (val(byte & 15) - z) * s + o;
                            p[1] = (val(byte >> 4) - z) * s + o;
                        }
                    }
                    None => {
                        for (p, &byte) in chunk.chunks_exact_mut(2).zip(cb) {
                            p[0] = (val(byte & 15) - z) * s;
                            p[1] = (val(byte >> 4) - z) * s;
                        }
                    }
                }
            }
        }
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
