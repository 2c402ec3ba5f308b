//! Conversions between f32 and the low-bit float formats (float8 variants, float4 e2m1), and
//! helpers that read any quantized / float tensor as f32 and build tensors of any quant dtype.
//!
//! Low-bit tensors are stored one element per byte: I4 in an i8 buffer (-8..=7), U4 and the
//! low-bit floats in a u8 buffer holding the raw bits (the low 4 bits for U4 / F4E2M1).
//!
//! Float encoding rounds to nearest, ties to even, the way `ml_dtypes` casts do. Out-of-range
//! values saturate to the largest finite value when `saturate`, else become inf (E5M2) or NaN
//! (the formats without inf).

use crate::prelude::*;

/// Layout of a low-bit float format.
#[derive(Copy, Clone, Debug)]
struct Fmt {
    exp_bits: u32,
    mant_bits: u32,
    bias: i32,
    /// FNUZ: a single NaN at 0x80, no negative zero, no inf.
    uz: bool,
    /// IEEE-like: all-ones exponent is inf / NaN (E5M2).
    ieee: bool,
    /// E4M3FN: only all-ones exponent and mantissa is NaN.
    fn_nan: bool,
    /// Largest finite value.
    max: f64,
}

fn fmt(d: DType) -> Option<Fmt> {
    Some(match d {
        DType::F8E4M3FN => Fmt {
            exp_bits: 4,
            mant_bits: 3,
            bias: 7,
            uz: false,
            ieee: false,
            fn_nan: true,
            max: 448.0,
        },
        DType::F8E4M3FNUZ => Fmt {
            exp_bits: 4,
            mant_bits: 3,
            bias: 8,
            uz: true,
            ieee: false,
            fn_nan: false,
            max: 240.0,
        },
        DType::F8E5M2 => Fmt {
            exp_bits: 5,
            mant_bits: 2,
            bias: 15,
            uz: false,
            ieee: true,
            fn_nan: false,
            max: 57344.0,
        },
        DType::F8E5M2FNUZ => Fmt {
            exp_bits: 5,
            mant_bits: 2,
            bias: 16,
            uz: true,
            ieee: false,
            fn_nan: false,
            max: 57344.0,
        },
        DType::F4E2M1 => Fmt {
            exp_bits: 2,
            mant_bits: 1,
            bias: 1,
            uz: false,
            ieee: false,
            fn_nan: false,
            max: 6.0,
        },
        _ => return None,
    })
}

/// Decodes the raw bits of a low-bit float `d` to f32.
pub fn lowfloat_to_f32(d: DType, bits: u8) -> f32 {
    let Some(f) = fmt(d) else { return f32::NAN };
    let total = 1 + f.exp_bits + f.mant_bits;
    let bits = bits & ((1u16 << total) - 1) as u8;
    let sign_bit = 1u8 << (total - 1);
    if f.uz && bits == 0x80 {
        return f32::NAN;
    }
    let neg = bits & sign_bit != 0;
    let e = ((bits >> f.mant_bits) as u32) & ((1 << f.exp_bits) - 1);
    let m = (bits as u32) & ((1 << f.mant_bits) - 1);
    let emax = (1u32 << f.exp_bits) - 1;
    let mag = if f.ieee && e == emax {
        if m == 0 {
            f32::INFINITY
        } else {
            f32::NAN
        }
    } else if f.fn_nan && e == emax && m == (1 << f.mant_bits) - 1 {
        f32::NAN
    } else if e == 0 {
        (m as f32) * 2f32.powi(1 - f.bias - f.mant_bits as i32)
    } else {
        (1.0 + m as f32 / (1u32 << f.mant_bits) as f32) * 2f32.powi(e as i32 - f.bias)
    };
    if neg {
        -mag
    } else {
        mag
    }
}

/// Encodes `x` as the raw bits of low-bit float `d` (round to nearest even).
pub fn f32_to_lowfloat(d: DType, x: f32, saturate: bool) -> u8 {
    let Some(f) = fmt(d) else { return 0 };
    let total = 1 + f.exp_bits + f.mant_bits;
    let sign: u8 = if x.is_sign_negative() {
        1 << (total - 1)
    } else {
        0
    };
    let max_bits: u8 = {
        // largest finite magnitude code
        if f.ieee {
            (((1u8 << f.exp_bits) - 2) << f.mant_bits) | ((1 << f.mant_bits) - 1)
        } else if f.fn_nan {
            (((1u8 << f.exp_bits) - 1) << f.mant_bits) | ((1 << f.mant_bits) - 2)
        } else {
            (((1u8 << f.exp_bits) - 1) << f.mant_bits) | ((1 << f.mant_bits) - 1)
        }
    };
    let nan: u8 = if d == DType::F4E2M1 {
        // no NaN in float4; ml_dtypes yields 0x8
        0x8
    } else if f.uz {
        0x80
    } else if f.ieee {
        0x7E
    } else {
        0x7F
    };
    if x.is_nan() {
        return nan;
    }
    let a = (x as f64).abs();
    let overflow = |sign: u8| -> u8 {
        if saturate || d == DType::F4E2M1 {
            sign | max_bits
        } else if f.ieee {
            sign | (((1u8 << f.exp_bits) - 1) << f.mant_bits)
        } else if f.uz {
            0x80
        } else {
            sign | 0x7F
        }
    };
    if a.is_infinite() {
        return overflow(sign);
    }
    let emin = 1 - f.bias; // exponent of the smallest normal
    let e = if a > 0.0 {
        a.log2().floor() as i32
    } else {
        emin
    };
    let quantum = 2f64.powi(e.max(emin) - f.mant_bits as i32);
    let q = round_half_even(a / quantum) * quantum;
    if q > f.max {
        return overflow(sign);
    }
    let zero_sign = if f.uz { 0 } else { sign };
    if q == 0.0 {
        return zero_sign;
    }
    let code = if q < 2f64.powi(emin) {
        (q / 2f64.powi(emin - f.mant_bits as i32)).round() as u8
    } else {
        let e = q.log2().floor() as i32;
        let m = (q / 2f64.powi(e - f.mant_bits as i32)).round() as u32 - (1 << f.mant_bits);
        ((((e + f.bias) as u32) << f.mant_bits) | m) as u8
    };
    sign | code
}

/// Round half to even (numpy `rint`).
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Same for f32.
pub fn rint32(x: f32) -> f32 {
    x.round_ties_even()
}

/// Any numeric, low-bit int or low-bit float tensor as f32 values.
pub fn to_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(match t.dtype() {
        DType::F32 => t.as_slice::<f32>()?.to_vec(),
        DType::F16 => t.as_slice::<f16>()?.iter().map(|v| v.to_f32()).collect(),
        DType::BF16 => t.as_slice::<bf16>()?.iter().map(|v| v.to_f32()).collect(),
        d if d.is_low_float() => t
            .as_slice::<u8>()?
            .iter()
            .map(|&b| lowfloat_to_f32(d, b))
            .collect(),
        DType::F64 => t.as_slice::<f64>()?.iter().map(|&v| v as f32).collect(),
        _ => t.to_i64_vec()?.into_iter().map(|v| v as f32).collect(),
    })
}

/// Integer range of a quantized integer dtype.
pub fn int_range(d: DType) -> Option<(i64, i64)> {
    Some(match d {
        DType::U8 => (0, 255),
        DType::I8 => (-128, 127),
        DType::U16 => (0, 65535),
        DType::I16 => (-32768, 32767),
        DType::U4 => (0, 15),
        DType::I4 => (-8, 7),
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        _ => return None,
    })
}

/// Builds a tensor of integer dtype `d` from values already clamped to its range.
pub fn int_tensor(d: DType, shape: Vec<usize>, v: Vec<i64>) -> Result<Tensor> {
    let data = match d {
        DType::U8 | DType::U4 => Data::U8(v.into_iter().map(|x| x as u8).collect()),
        DType::I8 | DType::I4 => Data::I8(v.into_iter().map(|x| x as i8).collect()),
        DType::U16 => Data::U16(v.into_iter().map(|x| x as u16).collect()),
        DType::I16 => Data::I16(v.into_iter().map(|x| x as i16).collect()),
        DType::I32 => Data::I32(v.into_iter().map(|x| x as i32).collect()),
        d => return Err(Error::dtype(d, "quantized integer output")),
    };
    Tensor::new(d, shape, data)
}

/// Builds a float tensor (f32 / f16 / bf16 / f64) from f32 values.
pub fn float_tensor(d: DType, shape: Vec<usize>, v: Vec<f32>) -> Result<Tensor> {
    match d {
        DType::F32 => Tensor::from_vec(shape, v),
        DType::F16 => Tensor::from_vec(shape, v.into_iter().map(f16::from_f32).collect::<Vec<_>>()),
        DType::BF16 => {
            Tensor::from_vec(shape, v.into_iter().map(bf16::from_f32).collect::<Vec<_>>())
        }
        DType::F64 => Tensor::from_vec(shape, v.into_iter().map(|x| x as f64).collect::<Vec<_>>()),
        d => Err(Error::dtype(d, "float output")),
    }
}

/// Rounds an f32 value to the precision of float dtype `d` (identity for f32).
pub fn round_to(d: DType, x: f32) -> f32 {
    match d {
        DType::F16 => f16::from_f32(x).to_f32(),
        DType::BF16 => bf16::from_f32(x).to_f32(),
        _ => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_codes() {
        for d in [
            DType::F8E4M3FN,
            DType::F8E4M3FNUZ,
            DType::F8E5M2,
            DType::F8E5M2FNUZ,
            DType::F4E2M1,
        ] {
            let n = if d == DType::F4E2M1 { 16 } else { 256 };
            for b in 0..n {
                let v = lowfloat_to_f32(d, b as u8);
                if v.is_nan() {
                    continue;
                }
                let back = f32_to_lowfloat(d, v, false);
                // negative zero in FNUZ is NaN, skipped above; plain -0 keeps its sign
                assert_eq!(back, b as u8, "{d} code {b:#x} value {v}");
            }
        }
    }

    #[test]
    fn matches_ml_dtypes() {
        let x = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            449.0,
            465.0,
            1e9,
            -0.0,
            1e-9,
        ];
        let sat: Vec<u8> = x
            .iter()
            .map(|&v| f32_to_lowfloat(DType::F8E4M3FN, v, true))
            .collect();
        assert_eq!(sat, [127, 126, 254, 126, 126, 126, 128, 0]);
        let ns: Vec<u8> = x
            .iter()
            .map(|&v| f32_to_lowfloat(DType::F8E4M3FN, v, false))
            .collect();
        assert_eq!(ns, [127, 127, 255, 126, 127, 127, 128, 0]);
        let e5: Vec<u8> = x
            .iter()
            .map(|&v| f32_to_lowfloat(DType::F8E5M2, v, false))
            .collect();
        assert_eq!(e5, [126, 124, 252, 95, 95, 124, 128, 0]);
        let e5s: Vec<u8> = x
            .iter()
            .map(|&v| f32_to_lowfloat(DType::F8E5M2FNUZ, v, true))
            .collect();
        assert_eq!(e5s, [128, 127, 255, 99, 99, 127, 0, 0]);
        let f4x = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            7.0,
            5.0,
            5.5,
            0.25,
            0.75,
            -0.1,
            1e9,
            2.5,
            3.5,
        ];
        let f4: Vec<u8> = f4x
            .iter()
            .map(|&v| f32_to_lowfloat(DType::F4E2M1, v, false))
            .collect();
        assert_eq!(f4, [8, 7, 15, 7, 6, 7, 0, 2, 8, 7, 4, 6]);
    }
}
