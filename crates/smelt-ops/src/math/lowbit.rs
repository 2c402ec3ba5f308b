//! Encoding and decoding of the low-bit float types (float8 variants and float4 e2m1), stored
//! one element per byte as raw bits. Encoding rounds to nearest, ties to even. Overflow and
//! special values follow ONNX Cast (the `ml_dtypes` behaviour its reference uses):
//!
//! | input          | saturate          | E4M3FN   | E4M3FNUZ | E5M2   | E5M2FNUZ | E2M1 |
//! |----------------|-------------------|----------|----------|--------|----------|------|
//! | NaN            | either            | NaN      | NaN      | NaN    | NaN      | ±0 * |
//! | ±Inf, overflow | saturate=1        | ±max     | ±max     | ±max   | ±max     | ±max |
//! | ±Inf, overflow | saturate=0        | NaN      | NaN      | ±Inf   | NaN      | ±max |
//! | -0             | either            | -0       | +0       | -0     | +0       | -0   |
//!
//! (*) E2M1 has no NaN; a NaN maps to zero with the opposite sign bit, as ml_dtypes does.

use crate::prelude::*;

/// How a format spends its top codes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    /// Only S.1111.111 is NaN (no infinities).
    Fn,
    /// 0x80 (negative zero) is the only NaN; no infinities, no -0.
    Fnuz,
    /// IEEE-like: all-ones exponent is Inf (mantissa 0) or NaN.
    Ieee,
    /// No special values at all.
    None,
}

#[derive(Debug, Clone, Copy)]
pub struct Format {
    mbits: u32,
    bias: i32,
    /// Largest finite magnitude code (sign bit excluded).
    max_mag: u32,
    /// Bit position of the sign.
    sign_shift: u32,
    special: Special,
}

pub const E4M3FN: Format = Format {
    mbits: 3,
    bias: 7,
    max_mag: 0x7E,
    sign_shift: 7,
    special: Special::Fn,
};
pub const E4M3FNUZ: Format = Format {
    mbits: 3,
    bias: 8,
    max_mag: 0x7F,
    sign_shift: 7,
    special: Special::Fnuz,
};
pub const E5M2: Format = Format {
    mbits: 2,
    bias: 15,
    max_mag: 0x7B,
    sign_shift: 7,
    special: Special::Ieee,
};
pub const E5M2FNUZ: Format = Format {
    mbits: 2,
    bias: 16,
    max_mag: 0x7F,
    sign_shift: 7,
    special: Special::Fnuz,
};
pub const E2M1: Format = Format {
    mbits: 1,
    bias: 1,
    max_mag: 0x7,
    sign_shift: 3,
    special: Special::None,
};

/// The format of a low-bit float dtype.
pub fn format_of(dt: DType) -> Option<Format> {
    Some(match dt {
        DType::F8E4M3FN => E4M3FN,
        DType::F8E4M3FNUZ => E4M3FNUZ,
        DType::F8E5M2 => E5M2,
        DType::F8E5M2FNUZ => E5M2FNUZ,
        DType::F4E2M1 => E2M1,
        _ => return None,
    })
}

impl Format {
    fn sign_bit(&self) -> u8 {
        1 << self.sign_shift
    }

    fn nan(&self, negative: bool) -> u8 {
        let s = if negative { self.sign_bit() } else { 0 };
        match self.special {
            Special::Fn => 0x7F | s,
            Special::Fnuz => 0x80,
            Special::Ieee => 0x7E | s,
            Special::None => {
                if negative {
                    0
                } else {
                    self.sign_bit()
                }
            }
        }
    }

    /// Rounds `x` (RNE) to this format's bits.
    pub fn encode(&self, x: f64, saturate: bool) -> u8 {
        let neg = x.is_sign_negative();
        if x.is_nan() {
            return self.nan(neg);
        }
        let s = if neg { self.sign_bit() } else { 0 };
        let a = x.abs();
        let min_exp = 1 - self.bias; // exponent of the smallest normal
        let mag: u64 = if a == 0.0 {
            0
        } else if a.is_infinite() {
            u64::MAX
        } else {
            let be = ((a.to_bits() >> 52) & 0x7ff) as i32;
            let e = if be == 0 { -1075 } else { be - 1023 };
            let e = e.max(min_exp);
            if e > 64 {
                u64::MAX
            } else {
                // Quantum of the binade (or of the subnormal range) is 2^(e - mbits); this
                // scaling by a power of two is exact.
                let q = a * 2f64.powi(self.mbits as i32 - e);
                let n = q.round_ties_even() as u64;
                (((e - min_exp) as u64) << self.mbits) + n
            }
        };
        if mag > self.max_mag as u64 {
            if saturate || self.special == Special::None {
                return self.max_mag as u8 | s;
            }
            return match self.special {
                Special::Ieee => (self.max_mag as u8 + 1) | s,
                _ => self.nan(neg),
            };
        }
        if mag == 0 && self.special == Special::Fnuz {
            return 0;
        }
        mag as u8 | s
    }

    /// The value of this format's bits (bits above the format's width are ignored).
    pub fn decode(&self, bits: u8) -> f32 {
        let width = self.sign_shift + 1;
        let bits = if width < 8 {
            bits & ((1u8 << width) - 1)
        } else {
            bits
        };
        let neg = bits & self.sign_bit() != 0;
        let mag = (bits & !self.sign_bit()) as u32;
        match self.special {
            Special::Fnuz if bits == 0x80 => return f32::NAN,
            Special::Fn if mag == 0x7F => return if neg { -f32::NAN } else { f32::NAN },
            Special::Ieee if mag > self.max_mag => {
                let v = if mag == self.max_mag + 1 {
                    f32::INFINITY
                } else {
                    f32::NAN
                };
                return if neg { -v } else { v };
            }
            _ => {}
        }
        let e = (mag >> self.mbits) as i32;
        let m = (mag & ((1 << self.mbits) - 1)) as f32;
        let v = if e == 0 {
            m * 2f32.powi(1 - self.bias - self.mbits as i32)
        } else {
            (1.0 + m / (1 << self.mbits) as f32) * 2f32.powi(e - self.bias)
        };
        if neg {
            -v
        } else {
            v
        }
    }
}

/// Decodes low-bit float bits to f32.
pub fn decode_all(fmt: Format, bits: &[u8]) -> Vec<f32> {
    // A 256-entry table makes decoding a lookup.
    let table: Vec<f32> = (0..=255u8).map(|b| fmt.decode(b)).collect();
    bits.iter().map(|&b| table[b as usize]).collect()
}

/// Wraps an integer into int4 (-8..=7), like a two's complement truncation to 4 bits.
pub fn wrap_i4(v: i128) -> i8 {
    let low = (v & 0xF) as i8;
    if low >= 8 {
        low - 16
    } else {
        low
    }
}

/// Wraps an integer into uint4 (0..=15).
pub fn wrap_u4(v: i128) -> u8 {
    (v & 0xF) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_code() {
        for fmt in [E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E2M1] {
            let n = 1u16 << (fmt.sign_shift + 1);
            for b in 0..n {
                let b = b as u8;
                let v = fmt.decode(b);
                if v.is_nan() {
                    continue;
                }
                if v.is_infinite() {
                    assert_eq!(fmt.encode(v as f64, false), b);
                    continue;
                }
                let want = if v == 0.0 && fmt.special == Special::Fnuz {
                    0
                } else {
                    b
                };
                assert_eq!(
                    fmt.encode(v as f64, true),
                    want,
                    "{fmt:?} code {b:#x} value {v}"
                );
            }
        }
    }

    #[test]
    fn ml_dtypes_reference_values() {
        // Bits produced by ml_dtypes for these float32 inputs.
        let x = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e6,
            -1e6,
            0.0,
            -0.0,
            1e-10,
            7.5,
            -7.5,
            0.25,
            0.75,
            5.0,
            2.5,
            6.5,
        ];
        let want: [(Format, [u8; 14]); 5] = [
            (
                E4M3FN,
                [
                    0x7f, 0xff, 0x7f, 0xff, 0, 0x80, 0, 0x4f, 0xcf, 0x28, 0x34, 0x4a, 0x42, 0x4d,
                ],
            ),
            (
                E4M3FNUZ,
                [
                    0x80, 0x80, 0x80, 0x80, 0, 0, 0, 0x57, 0xd7, 0x30, 0x3c, 0x52, 0x4a, 0x55,
                ],
            ),
            (
                E5M2,
                [
                    0x7c, 0xfc, 0x7c, 0xfc, 0, 0x80, 0, 0x48, 0xc8, 0x34, 0x3a, 0x45, 0x41, 0x46,
                ],
            ),
            (
                E5M2FNUZ,
                [
                    0x80, 0x80, 0x80, 0x80, 0, 0, 0, 0x4c, 0xcc, 0x38, 0x3e, 0x49, 0x45, 0x4a,
                ],
            ),
            (
                E2M1,
                [
                    0x7, 0xf, 0x7, 0xf, 0, 0x8, 0, 0x7, 0xf, 0, 0x2, 0x6, 0x4, 0x7,
                ],
            ),
        ];
        for (fmt, bits) in want {
            for (i, &v) in x.iter().enumerate() {
                assert_eq!(fmt.encode(v, false), bits[i], "{fmt:?} {v}");
            }
        }
        assert_eq!(E4M3FN.encode(1e6, true), 0x7e);
        assert_eq!(E5M2.encode(f64::NEG_INFINITY, true), 0xfb);
        assert_eq!(E4M3FNUZ.encode(-1e6, true), 0xff);
        assert_eq!(E2M1.encode(f64::NAN, true), 0x8);
        assert_eq!(wrap_i4(-9), 7);
        assert_eq!(wrap_i4(8), -8);
        assert_eq!(wrap_u4(-1), 15);
    }
}
