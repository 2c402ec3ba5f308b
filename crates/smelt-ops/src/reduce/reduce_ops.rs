//! ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
//! ReduceLogSumExp, ReduceSumSquare.
//!
//! `axes` is an attribute before opset 13 (ReduceSum) / 18 (the others) and an optional i64
//! input after. Empty or absent axes reduce every dim, unless `noop_with_empty_axes` (then no
//! dim is reduced and each output is the reduction of its one element, e.g. ReduceL2 gives
//! |x|). `keepdims` (default 1) keeps reduced dims as size 1.
//! An empty reduction set gives the identity: 0 (Sum, L1, L2, SumSquare), 1 (Prod), -inf or the
//! type's minimum (Max), +inf or the type's maximum (Min), -inf (LogSum, LogSumExp), NaN (Mean).
//!
//! Floats: f16/bf16/f32 compute in f32, f64 in f64. Integers: Sum/Prod/Max/Min/L1/SumSquare
//! are exact (wrapping) in i64/u64; Mean/L2/LogSum/LogSumExp compute in f64 and truncate back.
//! Bool: ReduceMax (any) and ReduceMin (all), opset 20.

use super::kernel::{float_input, float_output, plan_for, FloatIo, Plan};
use crate::prelude::*;
use num_traits::Float;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

const OPS: [(&str, Kind); 10] = [
    ("ReduceSum", Kind::Sum),
    ("ReduceMean", Kind::Mean),
    ("ReduceMax", Kind::Max),
    ("ReduceMin", Kind::Min),
    ("ReduceProd", Kind::Prod),
    ("ReduceL1", Kind::L1),
    ("ReduceL2", Kind::L2),
    ("ReduceLogSum", Kind::LogSum),
    ("ReduceLogSumExp", Kind::LogSumExp),
    ("ReduceSumSquare", Kind::SumSquare),
];

#[derive(Debug)]
pub struct Reduce {
    name: &'static str,
    kind: Kind,
    /// `axes` attribute (older opsets); `None` when absent or taken from input 1.
    axes_attr: Option<Vec<i64>>,
    axes_from_input: bool,
    keepdims: bool,
    noop: bool,
}

fn kind_of(op: &str) -> Option<(&'static str, Kind)> {
    OPS.iter().copied().find(|(n, _)| *n == op)
}

fn factory(op: &str, ctx: &OpCtx) -> Result<Box<dyn Op>> {
    let (name, kind) =
        kind_of(op).ok_or_else(|| Error::invalid(format!("unknown reduction {op}")))?;
    let switch = if kind == Kind::Sum { 13 } else { 18 };
    let axes_from_input = ctx.opset >= switch;
    let axes_attr = if axes_from_input {
        None
    } else {
        ctx.attrs.ints("axes")?
    };
    Ok(Box::new(Reduce {
        name,
        kind,
        axes_attr,
        axes_from_input,
        keepdims: ctx.attrs.int_or("keepdims", 1)? != 0,
        noop: ctx.attrs.int_or("noop_with_empty_axes", 0)? != 0,
    }))
}

pub fn register(r: &mut Registry) {
    r.register("", "ReduceSum", |c| factory("ReduceSum", c));
    r.register("", "ReduceMean", |c| factory("ReduceMean", c));
    r.register("", "ReduceMax", |c| factory("ReduceMax", c));
    r.register("", "ReduceMin", |c| factory("ReduceMin", c));
    r.register("", "ReduceProd", |c| factory("ReduceProd", c));
    r.register("", "ReduceL1", |c| factory("ReduceL1", c));
    r.register("", "ReduceL2", |c| factory("ReduceL2", c));
    r.register("", "ReduceLogSum", |c| factory("ReduceLogSum", c));
    r.register("", "ReduceLogSumExp", |c| factory("ReduceLogSumExp", c));
    r.register("", "ReduceSumSquare", |c| factory("ReduceSumSquare", c));
}

#[inline(always)]
fn fmax<F: Float>(a: F, v: F) -> F {
    // NaN-propagating maximum
    if v > a || v.is_nan() {
        v
    } else {
        a
    }
}
#[inline(always)]
fn fmin<F: Float>(a: F, v: F) -> F {
    if v < a || v.is_nan() {
        v
    } else {
        a
    }
}

/// The reduction of float values `x` (in compute type) under `plan`.
pub fn reduce_float<F: Float + Send + Sync>(x: &[F], plan: &Plan, kind: Kind) -> Vec<F> {
    let z = F::zero();
    let sum = |p: &Plan| p.fold(x, z, |a, v, _| a + v, |a, b| a + b);
    let sumsq = |p: &Plan| p.fold(x, z, |a, v, _| a + v * v, |a, b| a + b);
    match kind {
        Kind::Sum => sum(plan),
        Kind::Mean => {
            let n = F::from(plan.r).unwrap_or(z);
            sum(plan).into_iter().map(|s| s / n).collect()
        }
        Kind::Max => plan.fold(x, F::neg_infinity(), |a, v, _| fmax(a, v), fmax),
        Kind::Min => plan.fold(x, F::infinity(), |a, v, _| fmin(a, v), fmin),
        Kind::Prod => plan.fold(x, F::one(), |a, v, _| a * v, |a, b| a * b),
        Kind::L1 => plan.fold(x, z, |a, v, _| a + v.abs(), |a, b| a + b),
        Kind::L2 => sumsq(plan).into_iter().map(|s| s.sqrt()).collect(),
        Kind::SumSquare => sumsq(plan),
        Kind::LogSum => sum(plan).into_iter().map(|s| s.ln()).collect(),
        Kind::LogSumExp => {
            let m = plan.fold(x, F::neg_infinity(), |a, v, _| fmax(a, v), fmax);
            let shift: Vec<F> = m
                .iter()
                .map(|&v| if v.is_finite() { v } else { z })
                .collect();
            let s = plan.fold(x, z, |a, v, o| a + (v - shift[o]).exp(), |a, b| a + b);
            s.into_iter()
                .zip(shift)
                .map(|(s, sh)| s.ln() + sh)
                .collect()
        }
    }
}

/// Integer element types: exact accumulation in `A` (i64 or u64).
trait IntIo: Elem + Copy {
    type A: Copy + Ord + Elem + Send + Sync;
    fn to_a(self) -> Self::A;
    fn from_a(a: Self::A) -> Self;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    const MIN: Self;
    const MAX: Self;
    fn add(a: Self::A, b: Self::A) -> Self::A;
    fn mul(a: Self::A, b: Self::A) -> Self::A;
    fn abs(a: Self::A) -> Self::A;
    fn zero() -> Self::A;
    fn one() -> Self::A;
}

macro_rules! int_io {
    ($t:ty, $a:ty, $abs:expr) => {
        impl IntIo for $t {
            type A = $a;
            #[inline(always)]
            fn to_a(self) -> $a {
                self as $a
            }
            #[inline(always)]
            fn from_a(a: $a) -> $t {
                a as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> $t {
                v as $t
            }
            const MIN: $t = <$t>::MIN;
            const MAX: $t = <$t>::MAX;
            #[inline(always)]
            fn add(a: $a, b: $a) -> $a {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn mul(a: $a, b: $a) -> $a {
                a.wrapping_mul(b)
            }
            #[inline(always)]
            fn abs(a: $a) -> $a {
                $abs(a)
            }
            fn zero() -> $a {
                0
            }
            fn one() -> $a {
                1
            }
        }
    };
}
int_io!(i8, i64, |a: i64| a.wrapping_abs());
int_io!(i16, i64, |a: i64| a.wrapping_abs());
int_io!(i32, i64, |a: i64| a.wrapping_abs());
int_io!(i64, i64, |a: i64| a.wrapping_abs());
int_io!(u8, u64, |a: u64| a);
int_io!(u16, u64, |a: u64| a);
int_io!(u32, u64, |a: u64| a);
int_io!(u64, u64, |a: u64| a);

/// Merges two partial accumulators.
type Comb<A> = fn(A, A) -> A;

fn reduce_int<T: IntIo>(t: &Tensor, plan: &Plan, kind: Kind, shape: Vec<usize>) -> Result<Tensor> {
    let s = t.as_slice::<T>()?;
    let v: Vec<T> = match kind {
        Kind::Mean | Kind::L2 | Kind::LogSum | Kind::LogSumExp => {
            let x: Vec<f64> = s.iter().map(|v| v.to_f64()).collect();
            return Tensor::from_vec(
                shape,
                reduce_float(&x, plan, kind)
                    .into_iter()
                    .map(T::from_f64)
                    .collect::<Vec<T>>(),
            );
        }
        Kind::Max => plan.fold(
            s,
            T::MIN,
            |a, v, _| if v.to_a() > a.to_a() { v } else { a },
            |a, b| if b.to_a() > a.to_a() { b } else { a },
        ),
        Kind::Min => plan.fold(
            s,
            T::MAX,
            |a, v, _| if v.to_a() < a.to_a() { v } else { a },
            |a, b| if b.to_a() < a.to_a() { b } else { a },
        ),
        _ => {
            let (init, comb): (T::A, Comb<T::A>) = match kind {
                Kind::Prod => (T::one(), T::mul),
                _ => (T::zero(), T::add),
            };
            let acc = match kind {
                Kind::Sum => plan.fold(s, init, |a, v, _| T::add(a, v.to_a()), comb),
                Kind::Prod => plan.fold(s, init, |a, v, _| T::mul(a, v.to_a()), comb),
                Kind::L1 => plan.fold(s, init, |a, v, _| T::add(a, T::abs(v.to_a())), comb),
                _ => plan.fold(
                    s,
                    init,
                    |a, v, _| T::add(a, T::mul(v.to_a(), v.to_a())),
                    comb,
                ),
            };
            acc.into_iter().map(T::from_a).collect()
        }
    };
    Tensor::from_vec(shape, v)
}

fn reduce_float_t<T: FloatIo>(
    t: &Tensor,
    plan: &Plan,
    kind: Kind,
    shape: Vec<usize>,
) -> Result<Tensor> {
    let x = float_input::<T>(t)?;
    float_output::<T>(shape, reduce_float(&x, plan, kind))
}

/// Reduces `t` under `plan`; the result has `shape` (the plan's output shape).
pub fn reduce_tensor(
    t: &Tensor,
    plan: &Plan,
    kind: Kind,
    shape: Vec<usize>,
    op: &str,
) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => reduce_float_t::<f32>(t, plan, kind, shape),
        DType::F64 => reduce_float_t::<f64>(t, plan, kind, shape),
        DType::F16 => reduce_float_t::<f16>(t, plan, kind, shape),
        DType::BF16 => reduce_float_t::<bf16>(t, plan, kind, shape),
        DType::I8 => reduce_int::<i8>(t, plan, kind, shape),
        DType::I16 => reduce_int::<i16>(t, plan, kind, shape),
        DType::I32 => reduce_int::<i32>(t, plan, kind, shape),
        DType::I64 => reduce_int::<i64>(t, plan, kind, shape),
        DType::U8 => reduce_int::<u8>(t, plan, kind, shape),
        DType::U16 => reduce_int::<u16>(t, plan, kind, shape),
        DType::U32 => reduce_int::<u32>(t, plan, kind, shape),
        DType::U64 => reduce_int::<u64>(t, plan, kind, shape),
        DType::Bool if matches!(kind, Kind::Max | Kind::Min) => {
            let s = t.as_slice::<bool>()?;
            let v = if kind == Kind::Max {
                plan.fold(s, false, |a, v, _| a | v, |a, b| a | b)
            } else {
                plan.fold(s, true, |a, v, _| a & v, |a, b| a & b)
            };
            Tensor::from_vec(shape, v)
        }
        d => Err(Error::dtype(d, format!("{op} input"))),
    }
}

impl Reduce {
    fn axes(&self, inputs: &[Option<Tensor>]) -> Result<Option<Vec<i64>>> {
        if self.axes_from_input {
            match opt(inputs, 1) {
                Some(a) => {
                    ensure!(
                        a.rank() <= 1,
                        "{}: axes must be 1-D, got shape {:?}",
                        self.name,
                        a.shape()
                    );
                    Ok(Some(a.to_i64_vec()?))
                }
                None => Ok(None),
            }
        } else {
            Ok(self.axes_attr.clone())
        }
    }
}

impl Op for Reduce {
    fn op_type(&self) -> &str {
        self.name
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let axes = if self.axes_from_input {
            match (
                ctx.inputs.get(1).and_then(|v| v.as_ref()),
                ctx.consts.get(1).and_then(|c| c.as_ref()),
            ) {
                (None, _) => Some(None),
                (Some(_), Some(c)) => Some(Some(c.to_i64_vec()?)),
                (Some(_), None) => None,
            }
        } else {
            Some(self.axes_attr.clone())
        };
        let shape = match (&x.shape, axes) {
            (Some(dims), Some(axes)) => {
                let rank = dims.len();
                let red: Vec<usize> = match axes {
                    Some(a) if !a.is_empty() => norm_axes(&a, rank)?,
                    _ if self.noop => vec![],
                    _ => (0..rank).collect(),
                };
                let mut out = Vec::new();
                for (d, dim) in dims.iter().enumerate() {
                    if !red.contains(&d) {
                        out.push(dim.clone());
                    } else if self.keepdims {
                        out.push(Dim::Fixed(1));
                    }
                }
                Some(out)
            }
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let axes = self.axes(&inputs)?;
        let plan = plan_for(x.shape(), axes.as_deref(), self.noop)?;
        let shape = plan.out_shape(self.keepdims);
        Ok(vec![reduce_tensor(x, &plan, self.kind, shape, self.name)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn run(kind: Kind, t: &Tensor, axes: &[usize]) -> Tensor {
        let p = Plan::new(t.shape(), axes);
        reduce_tensor(t, &p, kind, p.out_shape(false), "test").unwrap()
    }
    #[test]
    fn kinds_on_f32_and_ints() {
        let x = Tensor::from_vec(vec![2, 3], vec![1f32, -2., 3., 4., 5., -6.]).unwrap();
        assert_eq!(
            run(Kind::Sum, &x, &[1]).as_slice::<f32>().unwrap(),
            &[2., 3.]
        );
        assert_eq!(
            run(Kind::Max, &x, &[0]).as_slice::<f32>().unwrap(),
            &[4., 5., 3.]
        );
        assert_eq!(
            run(Kind::Min, &x, &[1]).as_slice::<f32>().unwrap(),
            &[-2., -6.]
        );
        assert_eq!(
            run(Kind::L1, &x, &[1]).as_slice::<f32>().unwrap(),
            &[6., 15.]
        );
        assert_eq!(
            run(Kind::SumSquare, &x, &[1]).as_slice::<f32>().unwrap(),
            &[14., 77.]
        );
        assert_eq!(
            run(Kind::Prod, &x, &[1]).as_slice::<f32>().unwrap(),
            &[-6., -120.]
        );
        let lse = run(Kind::LogSumExp, &x, &[1]);
        let want = (1f64.exp() + (-2f64).exp() + 3f64.exp()).ln();
        assert!((lse.as_slice::<f32>().unwrap()[0] as f64 - want).abs() < 1e-5);
        let big = Tensor::from_vec(vec![2], vec![1000f32, 1000.]).unwrap();
        let l = run(Kind::LogSumExp, &big, &[0]).as_slice::<f32>().unwrap()[0];
        assert!((l - (1000.0 + 2f32.ln())).abs() < 1e-3);
        let xi = Tensor::from_vec(vec![2, 2], vec![-3i32, 7, 2, -9]).unwrap();
        assert_eq!(
            run(Kind::Sum, &xi, &[1]).as_slice::<i32>().unwrap(),
            &[4, -7]
        );
        assert_eq!(
            run(Kind::Max, &xi, &[0]).as_slice::<i32>().unwrap(),
            &[2, 7]
        );
        assert_eq!(
            run(Kind::L1, &xi, &[1]).as_slice::<i32>().unwrap(),
            &[10, 11]
        );
        let e = Tensor::from_vec(vec![0, 2], Vec::<u8>::new()).unwrap();
        assert_eq!(run(Kind::Max, &e, &[0]).as_slice::<u8>().unwrap(), &[0, 0]);
        assert_eq!(
            run(Kind::Min, &e, &[0]).as_slice::<u8>().unwrap(),
            &[255, 255]
        );
        let h = Tensor::from_vec(
            vec![3],
            vec![f16::from_f32(1.5), f16::from_f32(2.0), f16::from_f32(-0.5)],
        )
        .unwrap();
        assert_eq!(
            run(Kind::Mean, &h, &[0]).as_slice::<f16>().unwrap(),
            &[f16::from_f32(1.0)]
        );
        let s = Tensor::from_vec(vec![1], vec!["a".to_string()]).unwrap();
        let p = Plan::new(s.shape(), &[0]);
        assert!(reduce_tensor(&s, &p, Kind::Sum, vec![], "t").is_err());
    }
}
