//! Cast (`to` in ONNX TensorProto numbering, `saturate` for float8 targets) and CastLike
//! (target dtype from input 1). Every dtype pair converts:
//! - float -> integer truncates toward zero and saturates (NaN gives 0); integer -> integer
//!   wraps (two's complement, like numpy `astype`); anything -> bool is `x != 0` (NaN is true);
//! - float8 / float4 targets round to nearest even, overflow per `saturate` (see `lowbit.rs`);
//! - int4 / uint4 targets truncate then wrap into 4 bits (what the ONNX reference produces);
//! - strings parse as numbers ("1.5", "-INF", "NaN", "7"; bool also takes "true"/"false"),
//!   and numbers print in numpy style ("1.0", "0.47892547", "nan", "-inf", "1e+20").

use super::lowbit::{decode_all, format_of, wrap_i4, wrap_u4};
use crate::prelude::*;

/// A primitive element (numeric or bool) with lossless-enough views as f64 and i128.
trait Prim: Elem + Copy {
    const FLOAT: bool;
    fn to_f64(self) -> f64;
    fn to_i128(self) -> i128;
    fn from_f64(v: f64) -> Self;
    fn from_i128(v: i128) -> Self;
}

macro_rules! prim_int {
    ($($t:ty),*) => {$(
        impl Prim for $t {
            const FLOAT: bool = false;
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn to_i128(self) -> i128 { self as i128 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)] fn from_i128(v: i128) -> Self { v as $t }
        }
    )*};
}
prim_int!(i8, u8, i16, u16, i32, u32, i64, u64);

macro_rules! prim_float {
    ($($t:ty),*) => {$(
        impl Prim for $t {
            const FLOAT: bool = true;
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn to_i128(self) -> i128 { self as i128 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)] fn from_i128(v: i128) -> Self { v as $t }
        }
    )*};
}
prim_float!(f32, f64);

macro_rules! prim_half {
    ($($t:ty),*) => {$(
        impl Prim for $t {
            const FLOAT: bool = true;
            #[inline(always)] fn to_f64(self) -> f64 { <$t>::to_f64(self) }
            #[inline(always)] fn to_i128(self) -> i128 { <$t>::to_f64(self) as i128 }
            #[inline(always)] fn from_f64(v: f64) -> Self { <$t>::from_f64(v) }
            #[inline(always)] fn from_i128(v: i128) -> Self { <$t>::from_f64(v as f64) }
        }
    )*};
}
prim_half!(f16, bf16);

impl Prim for bool {
    const FLOAT: bool = false;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        self as i128
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn from_i128(v: i128) -> Self {
        v != 0
    }
}

/// Runs `$body` with `$T` bound to the element type of a numeric or bool dtype.
macro_rules! dispatch_prim {
    ($dt:expr, $T:ident => $body:expr, $o:ident => $fallback:expr) => {
        match $dt {
            DType::Bool => {
                type $T = bool;
                $body
            }
            dt => dispatch_numeric!(dt, $T => $body, $o => $fallback),
        }
    };
}

fn convert<S: Prim, D: Prim>(s: &[S]) -> Vec<D> {
    if S::FLOAT {
        s.iter().map(|x| D::from_f64(x.to_f64())).collect()
    } else {
        s.iter().map(|x| D::from_i128(x.to_i128())).collect()
    }
}

/// One parsed string: its value as f64 and, when it is an integer literal, as i128.
fn parse_str(s: &str) -> Result<(f64, Option<i128>)> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i128>() {
        return Ok((i as f64, Some(i)));
    }
    match t.to_ascii_lowercase().as_str() {
        "true" => return Ok((1.0, Some(1))),
        "false" => return Ok((0.0, Some(0))),
        _ => {}
    }
    t.parse::<f64>()
        .map(|f| (f, None))
        .map_err(|_| Error::invalid(format!("Cast: cannot parse '{s}' as a number")))
}

/// numpy-style text of a float: shortest round-trip digits, "nan", "inf", "1e+20".
fn float_str(v: f64, single: bool) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = if single {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    };
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = if let Some(d) = e.strip_prefix('-') {
                ('-', d)
            } else {
                ('+', e)
            };
            let m = m.strip_suffix(".0").unwrap_or(m);
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

fn to_strings<S: Prim>(t: &Tensor) -> Result<Vec<String>> {
    let s = t.as_slice::<S>()?;
    Ok(match t.dtype() {
        DType::Bool => s
            .iter()
            .map(|x| {
                if x.to_i128() != 0 {
                    "True".to_string()
                } else {
                    "False".to_string()
                }
            })
            .collect(),
        DType::F64 => s.iter().map(|x| float_str(x.to_f64(), false)).collect(),
        _ if S::FLOAT => s.iter().map(|x| float_str(x.to_f64(), true)).collect(),
        _ => s.iter().map(|x| x.to_i128().to_string()).collect(),
    })
}

/// Converts `t` to dtype `to`. `saturate` only matters for float8 targets.
pub fn cast(t: &Tensor, to: DType, saturate: bool) -> Result<Tensor> {
    let from = t.dtype();
    if from == to {
        return Ok(t.clone());
    }
    // Low-bit sources: floats decode to f32, int4/uint4 are plain i8/u8 values.
    if let Some(fmt) = format_of(from) {
        let f = Tensor::from_vec(t.shape().to_vec(), decode_all(fmt, t.as_slice::<u8>()?))?;
        return cast(&f, to, saturate);
    }
    if from == DType::I4 {
        return cast(&t.with_dtype(DType::I8)?, to, saturate);
    }
    if from == DType::U4 {
        return cast(&t.with_dtype(DType::U8)?, to, saturate);
    }
    let shape = t.shape().to_vec();

    // Sources as (f64, exact integer) pairs, for the low-bit and string paths.
    let values = || -> Result<Vec<(f64, Option<i128>)>> {
        if from == DType::String {
            t.as_slice::<String>()?
                .iter()
                .map(|s| parse_str(s))
                .collect()
        } else {
            dispatch_prim!(from, S => Ok(t.as_slice::<S>()?.iter().map(|&x| (x.to_f64(), if S::FLOAT { None } else { Some(x.to_i128()) })).collect()),
                other => Err(Error::dtype(other, "Cast source")))
        }
    };
    let as_int = |(f, i): (f64, Option<i128>)| i.unwrap_or_else(|| f.trunc() as i128);

    if let Some(fmt) = format_of(to) {
        let v: Vec<u8> = values()?
            .into_iter()
            .map(|(f, _)| fmt.encode(f, saturate))
            .collect();
        return Tensor::from_vec(shape, v)?.with_dtype(to);
    }
    match to {
        DType::I4 => {
            let v: Vec<i8> = values()?.into_iter().map(|p| wrap_i4(as_int(p))).collect();
            return Tensor::from_vec(shape, v)?.with_dtype(DType::I4);
        }
        DType::U4 => {
            let v: Vec<u8> = values()?.into_iter().map(|p| wrap_u4(as_int(p))).collect();
            return Tensor::from_vec(shape, v)?.with_dtype(DType::U4);
        }
        DType::String => {
            let v = dispatch_prim!(from, S => to_strings::<S>(t)?, other => return Err(Error::dtype(other, "Cast to string")));
            return Tensor::from_vec(shape, v);
        }
        _ => {}
    }
    if from == DType::String {
        let vals = values()?;
        return dispatch_prim!(to, D => {
            let v: Vec<D> = vals.into_iter().map(|(f, i)| match i {
                Some(i) if !D::FLOAT => D::from_i128(i),
                _ => D::from_f64(f),
            }).collect();
            Tensor::from_vec(shape, v)
        }, other => Err(Error::dtype(other, "Cast target")));
    }
    dispatch_prim!(from, S => {
        let s = t.as_slice::<S>()?;
        dispatch_prim!(to, D => Tensor::from_vec(shape, convert::<S, D>(s)), other => Err(Error::dtype(other, "Cast target")))
    }, other => Err(Error::dtype(other, "Cast source")))
}

#[derive(Debug)]
struct Cast {
    /// Target dtype (None: CastLike, taken from input 1).
    to: Option<DType>,
    saturate: bool,
}

impl Op for Cast {
    fn op_type(&self) -> &str {
        if self.to.is_some() {
            "Cast"
        } else {
            "CastLike"
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let shape = ctx.inputs.first().cloned().flatten().and_then(|v| v.shape);
        let dtype = self
            .to
            .or_else(|| ctx.inputs.get(1).cloned().flatten().and_then(|v| v.dtype));
        Ok(vec![ValueInfo { dtype, shape }])
    }
    fn is_identity(&self, types: &[Option<ValueInfo>], _: &[Option<&Tensor>]) -> bool {
        let dtype = |i: usize| types.get(i).cloned().flatten().and_then(|v| v.dtype);
        let to = self.to.or_else(|| dtype(1));
        to.is_some() && dtype(0) == to
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let to = match self.to {
            Some(d) => d,
            None => req(&inputs, 1)?.dtype(),
        };
        Ok(vec![cast(x, to, self.saturate)?])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "Cast", |c| {
        let to = dtype_from_onnx(c.attrs.req_int("to")?)?;
        Ok(Box::new(Cast {
            to: Some(to),
            saturate: c.attrs.int_or("saturate", 1)? != 0,
        }))
    });
    r.register("", "CastLike", |c| {
        Ok(Box::new(Cast {
            to: None,
            saturate: c.attrs.int_or("saturate", 1)? != 0,
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_bool_string_paths() {
        let x = Tensor::from_vec(vec![5], vec![-1.7f32, 0.0, 2.5, f32::NAN, 300.0]).unwrap();
        assert_eq!(
            cast(&x, DType::I32, true)
                .unwrap()
                .as_slice::<i32>()
                .unwrap(),
            &[-1, 0, 2, 0, 300]
        );
        assert_eq!(
            cast(&x, DType::Bool, true)
                .unwrap()
                .as_slice::<bool>()
                .unwrap(),
            &[true, false, true, true, true]
        );
        let i = Tensor::from_vec(vec![3], vec![-1i64, 256, 7]).unwrap();
        assert_eq!(
            cast(&i, DType::U8, true).unwrap().as_slice::<u8>().unwrap(),
            &[255, 0, 7]
        );
        assert_eq!(
            cast(&i, DType::I4, true).unwrap().as_slice::<i8>().unwrap(),
            &[-1, 0, 7]
        );
        let s = cast(&x, DType::String, true).unwrap();
        assert_eq!(
            s.as_slice::<String>().unwrap(),
            &["-1.7", "0.0", "2.5", "nan", "300.0"]
        );
        let back = cast(&s, DType::F32, true).unwrap();
        assert_eq!(back.as_slice::<f32>().unwrap()[0], -1.7);
        let strs = Tensor::from_vec(
            vec![4],
            vec![
                "1.5".to_string(),
                "-INF".into(),
                " 12 ".into(),
                "NaN".into(),
            ],
        )
        .unwrap();
        let f = cast(&strs, DType::F64, true).unwrap();
        let f = f.as_slice::<f64>().unwrap();
        assert_eq!((f[0], f[1], f[2]), (1.5, f64::NEG_INFINITY, 12.0));
        assert!(f[3].is_nan());
        let bad = Tensor::from_vec(vec![1], vec!["abc".to_string()]).unwrap();
        assert!(cast(&bad, DType::I32, true).is_err());
        assert_eq!(float_str(1e20, true), "1e+20");
        assert_eq!(float_str(1e-7, false), "1e-07");
    }

    #[test]
    fn float8_roundtrip_through_f16() {
        let x = Tensor::from_vec(
            vec![3],
            vec![
                f16::from_f32(0.5),
                f16::from_f32(-448.0),
                f16::from_f32(1000.0),
            ],
        )
        .unwrap();
        let y = cast(&x, DType::F8E4M3FN, true).unwrap();
        assert_eq!(y.dtype(), DType::F8E4M3FN);
        let z = cast(&y, DType::F32, true).unwrap();
        assert_eq!(z.as_slice::<f32>().unwrap(), &[0.5, -448.0, 448.0]);
        assert!(dtype_from_onnx(24).is_err() && dtype_from_onnx(99).is_err());
    }
}
