//! Plain float types, one element per block: F32 (4 bytes), F16 (IEEE half, 2 bytes) and
//! BF16 (the high half of an f32, 2 bytes). All widen to f32 exactly; NaNs stay NaN.
//!
//! Each function takes whole elements: `data.len()` is `out.len()` times the element size
//! (checked by [`super::dequantize`]).

pub fn f32(data: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(data.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub fn f16(data: &[u8], out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = super::f16_at(data, 2 * i);
    }
}

pub fn bf16(data: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(data.chunks_exact(2)) {
        *o = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn widen() {
        let mut out = [0f32; 3];
        super::f16(&[0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00], &mut out);
        assert_eq!(out, [1.0, -2.0, 2f32.powi(-24)]);
        super::bf16(&[0x80, 0x3f, 0x49, 0x40, 0x80, 0xff], &mut out);
        assert_eq!(out[..2], [1.0, 3.140625]);
        assert_eq!(out[2], f32::NEG_INFINITY);
    }
}
