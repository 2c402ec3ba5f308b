//! The 32-element block types (llama.cpp's "legacy" quants). Layouts, little-endian, in
//! the order the bytes sit in a block:
//!
//! ```text
//! Q4_0  18 bytes: d f16 | qs[16]           x = (q - 8) * d          q = 4 bits
//! Q4_1  20 bytes: d f16 | m f16 | qs[16]   x = q * d + m
//! Q5_0  22 bytes: d f16 | qh u32 | qs[16]  x = (q - 16) * d         q = 5 bits
//! Q5_1  24 bytes: d f16 | m f16 | qh u32 | qs[16]   x = q * d + m
//! Q8_0  34 bytes: d f16 | qs[32] i8        x = q * d
//! ```
//!
//! In the 4- and 5-bit types, byte `j` of `qs` holds element `j` in its low nibble and
//! element `j + 16` in its high nibble; bit `j` of `qh` is the fifth bit of element `j`.
//!
//! Each function takes whole blocks (checked by [`super::dequantize`]).

use super::f16_at;

const QK: usize = 32;

pub fn q4_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(18).zip(out.chunks_exact_mut(QK)) {
        let d = f16_at(b, 0);
        let qs = &b[2..18];
        for j in 0..QK / 2 {
            y[j] = ((qs[j] & 0x0f) as i32 - 8) as f32 * d;
            y[j + QK / 2] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
        }
    }
}

pub fn q4_1(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(20).zip(out.chunks_exact_mut(QK)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let qs = &b[4..20];
        for j in 0..QK / 2 {
            y[j] = (qs[j] & 0x0f) as f32 * d + m;
            y[j + QK / 2] = (qs[j] >> 4) as f32 * d + m;
        }
    }
}

/// The 5-bit values of one Q5 block: low nibbles from `qs`, fifth bits from `qh`.
fn q5_values(qh: u32, qs: &[u8]) -> [i32; QK] {
    let mut q = [0i32; QK];
    for j in 0..QK / 2 {
        let h0 = ((qh >> j) & 1) << 4;
        let h1 = ((qh >> (j + 16)) & 1) << 4;
        q[j] = ((qs[j] & 0x0f) as u32 | h0) as i32;
        q[j + QK / 2] = ((qs[j] >> 4) as u32 | h1) as i32;
    }
    q
}

pub fn q5_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(22).zip(out.chunks_exact_mut(QK)) {
        let d = f16_at(b, 0);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        for (y, q) in y.iter_mut().zip(q5_values(qh, &b[6..22])) {
            *y = (q - 16) as f32 * d;
        }
    }
}

pub fn q5_1(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(24).zip(out.chunks_exact_mut(QK)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        for (y, q) in y.iter_mut().zip(q5_values(qh, &b[8..24])) {
            *y = q as f32 * d + m;
        }
    }
}

pub fn q8_0(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(34).zip(out.chunks_exact_mut(QK)) {
        let d = f16_at(b, 0);
        for (y, &q) in y.iter_mut().zip(&b[2..34]) {
            *y = q as i8 as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    /// A block by hand: scale 0.5 (f16 0x3800), nibbles chosen per element.
    #[test]
    fn nibble_order() {
        let mut b = vec![0x00, 0x38];
        // element j: low nibble j % 16; element j + 16: high nibble 15 - j % 16
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let mut y = [0f32; 32];
        super::q4_0(&b, &mut y);
        for j in 0..16 {
            assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(y[j + 16], (7.0 - j as f32) * 0.5);
        }
        // Q5_0 with every fifth bit set on the odd elements
        let mut b5 = vec![0x00, 0x38];
        b5.extend(0xaaaa_aaaau32.to_le_bytes());
        b5.extend_from_slice(&b[2..]);
        super::q5_0(&b5, &mut y);
        for j in 0..16 {
            let odd = |e: usize| if e % 2 == 1 { 16.0 } else { 0.0 };
            assert_eq!(y[j], (j as f32 + odd(j) - 16.0) * 0.5);
            assert_eq!(y[j + 16], (15.0 - j as f32 + odd(j + 16) - 16.0) * 0.5);
        }
    }
}
