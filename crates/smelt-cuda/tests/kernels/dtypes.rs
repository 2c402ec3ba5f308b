//! The typed kernels over every dtype the ONNX tests use: element-wise math (f64, f16,
//! bf16, the 8- to 64-bit integers, bool), comparisons, Cast's full matrix, IsNaN/IsInf,
//! the variadic ops, and data movement keyed by element width. Each against the CPU op on
//! random values of the dtype (integers and bool EXACT; f32/f64 ULPS; f16/bf16 HALF).

use crate::common::*;
use smelt_core::{DType, Tensor};
use smelt_ir::{Attr, Graph};

/// f16 / bf16 results: computed in float by both sides, rounded once; a transcendental may
/// land one 16-bit ulp apart (bf16's ulp is 2^-8 relative).
const HALF: Tol = Tol {
    name: "half",
    abs: 1e-3,
    rel: 8e-3,
};

const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];
const INTS: [DType; 8] = [
    DType::I8,
    DType::U8,
    DType::I16,
    DType::U16,
    DType::I32,
    DType::U32,
    DType::I64,
    DType::U64,
];

fn numeric() -> Vec<DType> {
    FLOATS.iter().chain(INTS.iter()).copied().collect()
}

fn tol_of(d: DType) -> Tol {
    match d {
        DType::F32 | DType::F64 => ULPS,
        DType::F16 | DType::BF16 => HALF,
        _ => EXACT,
    }
}

/// Random values of dtype `d` in [lo, hi) (integers: truncated; bool: 0/1), never 0 when
/// `nonzero`.
fn rand(rng: &mut Rng, d: DType, shape: &[usize], lo: f32, hi: f32, nonzero: bool) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            let mut x = (lo + (hi - lo) * rng.next()) as f64;
            if d != DType::Bool && !FLOATS.contains(&d) {
                x = x.trunc();
            }
            if d == DType::Bool {
                x = if rng.next() < 0.5 { 0.0 } else { 1.0 };
            }
            if nonzero && x == 0.0 {
                x = 1.0;
            }
            x
        })
        .collect();
    let t = Tensor::from_vec(shape.to_vec(), v).unwrap();
    smelt_ops::math::cast::cast(&t, d, false).unwrap()
}

/// Runs `g` on the CPU and the GPU (every node there, no fallback) and compares every
/// output of any dtype as f64 within `tol` (NaN matches NaN).
fn check_any(what: &str, g: &Graph, feeds: Vec<(String, Tensor)>, tol: Tol) {
    let (want, got) = run_both(what, g, feeds);
    for ((n, w), (_, gt)) in want.iter().zip(&got) {
        assert_eq!(w.dtype(), gt.dtype(), "{what}: output {n} dtype");
        assert_eq!(w.shape(), gt.shape(), "{what}: output {n} shape");
        if matches!(w.dtype(), DType::I64 | DType::U64) || w.to_f64_vec().is_err() {
            // exact beyond 2^53; float8 / float4 / 4-bit ints compared as encoded bytes
            assert_eq!(w.le_bytes().unwrap(), gt.le_bytes().unwrap(), "{what}: {n}");
            continue;
        }
        let (wv, gv) = (w.to_f64_vec().unwrap(), gt.to_f64_vec().unwrap());
        for (i, (a, b)) in wv.iter().zip(&gv).enumerate() {
            if a.is_nan() || b.is_nan() {
                assert!(
                    a.is_nan() && b.is_nan(),
                    "{what}: {n}[{i}]: cpu {a}, gpu {b}"
                );
                continue;
            }
            if a == b {
                continue;
            }
            let e = (a - b).abs();
            assert!(
                e <= tol.abs as f64 + tol.rel as f64 * a.abs(),
                "{what}: {n}[{i}]: cpu {a}, gpu {b}, error {e:e} over tolerance '{}'",
                tol.name
            );
        }
    }
}

#[test]
fn typed_kernels_in_ptx() {
    if !smelt_cuda::cuda::device::nvrtc_present() {
        eprintln!("SKIP: libnvrtc not found");
        return;
    }
    let ptx = smelt_cuda::cuda::device::compile_kernels("compute_75").unwrap();
    let mut names = vec![
        "cast_any".to_string(),
        "binary_t_f32".into(),
        "binary_same_t_f32".into(),
        "unary_t_f32".into(),
        "isclass_f32".into(),
        "range_i64".into(),
        "range_f64".into(),
    ];
    for s in [
        "f64", "f16", "bf16", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64",
    ] {
        for k in [
            "unary",
            "binary",
            "binary_same",
            "compare",
            "reduce_typed",
            "scan",
        ] {
            names.push(format!("{k}_{s}"));
        }
    }
    for s in ["f64", "f16", "bf16"] {
        names.push(format!("isclass_{s}"));
    }
    for w in [8, 16, 32, 64] {
        for k in [
            "strided_copy",
            "copy_into",
            "gather",
            "map_gather",
            "where",
            "fill",
        ] {
            names.push(format!("{k}_{w}"));
        }
    }
    for k in names {
        assert!(ptx.contains(&format!(".entry {k}(")), "kernel {k} missing");
    }
}

#[test]
fn arithmetic_every_dtype() {
    if !gpu_or_skip("arithmetic_every_dtype") {
        return;
    }
    let mut rng = Rng::new(21);
    for d in numeric() {
        let signed = !matches!(d, DType::U8 | DType::U16 | DType::U32 | DType::U64);
        let lo = if signed { -100.0 } else { 0.0 };
        for op in ["Add", "Sub", "Mul", "Div", "Max", "Min", "Mod", "ModF"] {
            for (k, n) in SIZES.into_iter().enumerate() {
                let a = rand(&mut rng, d, &[n], lo, 100.0, false);
                // broadcast every other size against a scalar-like [1]
                let bs = if k % 2 == 0 { vec![n] } else { vec![1] };
                let b = rand(&mut rng, d, &bs, lo, 100.0, true);
                let (o, at) = match op {
                    "ModF" => ("Mod", vec![("fmod", Attr::Int(1))]),
                    "Mod" if FLOATS.contains(&d) => ("Mod", vec![("fmod", Attr::Int(1))]),
                    o => (o, vec![]),
                };
                let (g, f) = one(o, vec![In::Feed(a), In::Feed(b)], attrs(&at));
                check_any(&format!("{op} {d} [{n}]"), &g, f, tol_of(d));
            }
        }
        // Pow: same dtype (small values), and f32 ^ d / d ^ i64 mixed
        for n in SIZES {
            let a = rand(
                &mut rng,
                d,
                &[n],
                if signed { -4.0 } else { 0.0 },
                4.0,
                false,
            );
            let b = rand(&mut rng, d, &[n], 0.0, 4.0, false);
            let (g, f) = one("Pow", vec![In::Feed(a.clone()), In::Feed(b)], attrs(&[]));
            check_any(&format!("Pow {d} [{n}]"), &g, f, tol_of(d));
            let e = rand(&mut rng, DType::I64, &[n], 0.0, 4.0, false);
            let (g, f) = one("Pow", vec![In::Feed(a), In::Feed(e)], attrs(&[]));
            check_any(&format!("Pow {d}^i64 [{n}]"), &g, f, tol_of(d));
        }
    }
}

#[test]
fn bit_and_logic_ops() {
    if !gpu_or_skip("bit_and_logic_ops") {
        return;
    }
    let mut rng = Rng::new(22);
    for n in SIZES {
        for d in INTS {
            let signed = matches!(d, DType::I8 | DType::I16 | DType::I32 | DType::I64);
            let lo = if signed { -100.0 } else { 0.0 };
            for op in ["BitwiseAnd", "BitwiseOr", "BitwiseXor"] {
                let a = rand(&mut rng, d, &[n], lo, 120.0, false);
                let b = rand(&mut rng, d, &[n], lo, 120.0, false);
                let (g, f) = one(op, vec![In::Feed(a), In::Feed(b)], attrs(&[]));
                check_any(&format!("{op} {d} [{n}]"), &g, f, EXACT);
            }
            let a = rand(&mut rng, d, &[n], lo, 120.0, false);
            let (g, f) = one("BitwiseNot", vec![In::Feed(a)], attrs(&[]));
            check_any(&format!("BitwiseNot {d} [{n}]"), &g, f, EXACT);
            if !signed {
                for dir in ["LEFT", "RIGHT"] {
                    let a = rand(&mut rng, d, &[n], 0.0, 120.0, false);
                    let b = rand(&mut rng, d, &[n], 0.0, 70.0, false);
                    let at = [("direction", Attr::String(dir.into()))];
                    let (g, f) = one("BitShift", vec![In::Feed(a), In::Feed(b)], attrs(&at));
                    check_any(&format!("BitShift {dir} {d} [{n}]"), &g, f, EXACT);
                }
            }
        }
        for op in ["And", "Or", "Xor"] {
            let a = rand(&mut rng, DType::Bool, &[n], 0.0, 1.0, false);
            let b = rand(&mut rng, DType::Bool, &[1], 0.0, 1.0, false);
            let (g, f) = one(op, vec![In::Feed(a), In::Feed(b)], attrs(&[]));
            check_any(&format!("{op} [{n}]"), &g, f, EXACT);
        }
        let a = rand(&mut rng, DType::Bool, &[n], 0.0, 1.0, false);
        let (g, f) = one("Not", vec![In::Feed(a)], attrs(&[]));
        check_any(&format!("Not [{n}]"), &g, f, EXACT);
    }
}

#[test]
fn compare_every_dtype() {
    if !gpu_or_skip("compare_every_dtype") {
        return;
    }
    let mut rng = Rng::new(23);
    let mut all = numeric();
    all.push(DType::Bool);
    for d in all {
        for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"] {
            for n in SIZES {
                // few distinct values so Equal is often true
                let a = rand(&mut rng, d, &[n], 0.0, 4.0, false);
                let b = rand(&mut rng, d, &[n], 0.0, 4.0, false);
                let (g, f) = one(op, vec![In::Feed(a), In::Feed(b)], attrs(&[]));
                check_any(&format!("{op} {d} [{n}]"), &g, f, EXACT);
            }
        }
    }
}

#[test]
fn cast_matrix() {
    if !gpu_or_skip("cast_matrix") {
        return;
    }
    let mut rng = Rng::new(24);
    let mut all = numeric();
    all.push(DType::Bool);
    // specials: saturation, NaN, infinities, halves (rounding), negatives into unsigned
    let special = Tensor::from_vec(
        vec![12],
        vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e30,
            -1e30,
            70000.5,
            -3.5,
            2.5,
            255.9,
            -129.0,
            65504.0,
            1.0e-8,
        ],
    )
    .unwrap();
    for &from in &all {
        for &to in &all {
            for n in SIZES {
                let x = rand(&mut rng, from, &[n], -300.0, 300.0, false);
                let at = [("to", Attr::Int(to.to_onnx()))];
                let (g, f) = one("Cast", vec![In::Feed(x)], attrs(&at));
                check_any(&format!("Cast {from} to {to} [{n}]"), &g, f, EXACT);
            }
            let x = smelt_ops::math::cast::cast(&special, from, false).unwrap();
            let at = [("to", Attr::Int(to.to_onnx()))];
            let (g, f) = one("Cast", vec![In::Feed(x)], attrs(&at));
            check_any(&format!("Cast specials {from} to {to}"), &g, f, EXACT);
        }
    }
    // low-bit targets (float8 with saturate 0 and 1, float4, int4, uint4) and back
    let low = [
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::F4E2M1,
        DType::I4,
        DType::U4,
    ];
    for &from in &all {
        for &to in &low {
            for sat in [0, 1] {
                let x = rand(&mut rng, from, &[257], -600.0, 600.0, false);
                let xs = smelt_ops::math::cast::cast(&special, from, false).unwrap();
                for (what, x) in [("random", x), ("specials", xs)] {
                    let at = [
                        ("to", Attr::Int(to.to_onnx())),
                        ("saturate", Attr::Int(sat)),
                    ];
                    let (g, f) = one("Cast", vec![In::Feed(x.clone())], attrs(&at));
                    check_any(
                        &format!("Cast {what} {from} to {to} sat {sat}"),
                        &g,
                        f,
                        EXACT,
                    );
                    // and back, from every code the values took
                    let y = smelt_ops::math::cast::cast(&x, to, sat != 0).unwrap();
                    let at = [("to", Attr::Int(from.to_onnx()))];
                    let (g, f) = one("Cast", vec![In::Feed(y)], attrs(&at));
                    check_any(&format!("Cast {what} {to} to {from}"), &g, f, EXACT);
                }
            }
        }
    }
    // CastLike takes input 1's dtype
    let x = rand(&mut rng, DType::F32, &[257], -300.0, 300.0, false);
    let like = Tensor::from_vec(vec![1], vec![0i16]).unwrap();
    let (g, f) = one("CastLike", vec![In::Feed(x), In::Const(like)], attrs(&[]));
    check_any("CastLike f32 to i16", &g, f, EXACT);
}

#[test]
fn unary_every_float_dtype() {
    if !gpu_or_skip("unary_every_float_dtype") {
        return;
    }
    let mut rng = Rng::new(25);
    let cases: Vec<(&str, Vec<(&str, Attr)>, f32, f32)> = vec![
        ("Exp", vec![], -5.0, 5.0),
        ("Log", vec![], 0.1, 50.0),
        ("Sqrt", vec![], 0.1, 50.0),
        ("Tanh", vec![], -3.0, 3.0),
        ("Sigmoid", vec![], -6.0, 6.0),
        ("Erf", vec![], -2.0, 2.0),
        ("Floor", vec![], -5.0, 5.0),
        ("Round", vec![], -5.0, 5.0),
        ("Tan", vec![], -1.2, 1.2),
        ("Asin", vec![], -0.99, 0.99),
        ("Acos", vec![], -0.99, 0.99),
        ("Atan", vec![], -5.0, 5.0),
        ("Sinh", vec![], -3.0, 3.0),
        ("Cosh", vec![], -3.0, 3.0),
        ("Asinh", vec![], -5.0, 5.0),
        ("Acosh", vec![], 1.01, 6.0),
        ("Atanh", vec![], -0.9, 0.9),
        (
            "Shrink",
            vec![("lambd", Attr::Float(0.7)), ("bias", Attr::Float(0.2))],
            -2.0,
            2.0,
        ),
        (
            "ThresholdedRelu",
            vec![("alpha", Attr::Float(0.4))],
            -2.0,
            2.0,
        ),
        (
            "Gelu",
            vec![("approximate", Attr::String("tanh".into()))],
            -4.0,
            4.0,
        ),
        ("Mish", vec![], -4.0, 4.0),
        ("Celu", vec![("alpha", Attr::Float(0.8))], -3.0, 3.0),
        ("Relu", vec![], -2.0, 2.0),
        ("Neg", vec![], -2.0, 2.0),
        ("Abs", vec![], -2.0, 2.0),
        ("Sign", vec![], -2.0, 2.0),
        ("Elu", vec![], -3.0, 3.0),
        ("LeakyRelu", vec![], -2.0, 2.0),
        ("Softplus", vec![], -5.0, 5.0),
    ];
    for d in FLOATS {
        for (op, at, lo, hi) in &cases {
            for n in SIZES {
                let x = rand(&mut rng, d, &[n], *lo, *hi, false);
                let (g, f) = one(op, vec![In::Feed(x)], attrs(at));
                check_any(&format!("{op} {d} [{n}]"), &g, f, tol_of(d));
            }
        }
    }
    // integer Abs / Neg / Sign / Relu (wrapping)
    for d in INTS {
        for op in ["Abs", "Neg", "Sign", "Relu"] {
            let signed = matches!(d, DType::I8 | DType::I16 | DType::I32 | DType::I64);
            if op == "Relu" && !signed {
                continue;
            }
            let x = rand(
                &mut rng,
                d,
                &[257],
                if signed { -120.0 } else { 0.0 },
                120.0,
                false,
            );
            let (g, f) = one(op, vec![In::Feed(x)], attrs(&[]));
            check_any(&format!("{op} {d}"), &g, f, EXACT);
        }
    }
}

#[test]
fn is_nan_inf_and_variadic() {
    if !gpu_or_skip("is_nan_inf_and_variadic") {
        return;
    }
    let mut rng = Rng::new(26);
    for d in FLOATS {
        let mut v = rand(&mut rng, DType::F64, &[257], -2.0, 2.0, false)
            .to_f64_vec()
            .unwrap();
        for (i, s) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
            .iter()
            .enumerate()
        {
            v[i * 50] = *s;
        }
        let x = smelt_ops::math::cast::cast(&Tensor::from_vec(vec![257], v).unwrap(), d, false)
            .unwrap();
        let (g, f) = one("IsNaN", vec![In::Feed(x.clone())], attrs(&[]));
        check_any(&format!("IsNaN {d}"), &g, f, EXACT);
        for (p, q) in [(1, 1), (1, 0), (0, 1)] {
            let at = [
                ("detect_positive", Attr::Int(p)),
                ("detect_negative", Attr::Int(q)),
            ];
            let (g, f) = one("IsInf", vec![In::Feed(x.clone())], attrs(&at));
            check_any(&format!("IsInf {d} {p}{q}"), &g, f, EXACT);
        }
    }
    for d in numeric() {
        for op in ["Sum", "Mean", "Max", "Min"] {
            for n in SIZES {
                let a = rand(&mut rng, d, &[n], 0.0, 50.0, false);
                let b = rand(&mut rng, d, &[1], 0.0, 50.0, false);
                let c = rand(&mut rng, d, &[n], 0.0, 50.0, false);
                let ins = vec![In::Feed(a), In::Feed(b), In::Feed(c)];
                let (g, f) = one(op, ins, attrs(&[]));
                check_any(&format!("{op} {d} [{n}]"), &g, f, tol_of(d));
            }
        }
    }
}

#[test]
fn data_movement_every_width() {
    if !gpu_or_skip("data_movement_every_width") {
        return;
    }
    let mut rng = Rng::new(27);
    for d in [
        DType::Bool,
        DType::U8,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::F64,
    ] {
        for n in SIZES {
            let x = rand(&mut rng, d, &[2, n, 3], -50.0, 50.0, false);
            let perm = [("perm", Attr::Ints(vec![2, 0, 1]))];
            let (g, f) = one("Transpose", vec![In::Feed(x.clone())], attrs(&perm));
            check_any(&format!("Transpose {d} [{n}]"), &g, f, EXACT);
            let y = rand(&mut rng, d, &[2, 5, 3], -50.0, 50.0, false);
            let ax = [("axis", Attr::Int(1))];
            let (g, f) = one("Concat", vec![In::Feed(x.clone()), In::Feed(y)], attrs(&ax));
            check_any(&format!("Concat {d} [{n}]"), &g, f, EXACT);
            let ins = vec![
                In::Feed(x.clone()),
                In::Const(ints(&[1])),
                In::Const(ints(&[i64::MAX])),
                In::Const(ints(&[1])),
                In::Const(ints(&[2])),
            ];
            let (g, f) = one("Slice", ins, attrs(&[]));
            check_any(&format!("Slice {d} [{n}]"), &g, f, EXACT);
            let idx = Tensor::from_vec(vec![3], vec![0i64, (n - 1) as i64, -1]).unwrap();
            let (g, f) = one(
                "Gather",
                vec![In::Feed(x.clone()), In::Const(idx)],
                attrs(&ax),
            );
            check_any(&format!("Gather {d} [{n}]"), &g, f, EXACT);
            let (g, f) = one(
                "Expand",
                vec![In::Feed(x.clone()), In::Const(ints(&[2, 2, n as i64, 3]))],
                attrs(&[]),
            );
            check_any(&format!("Expand {d} [{n}]"), &g, f, EXACT);
            let fill = rand(&mut rng, d, &[], 1.0, 9.0, true);
            let ins = vec![
                In::Feed(x.clone()),
                In::Const(ints(&[0, 1, 2, 1, 0, 1])),
                In::Const(fill),
            ];
            let (g, f) = one("Pad", ins, attrs(&[]));
            check_any(&format!("Pad {d} [{n}]"), &g, f, EXACT);
            let at = [("axis", Attr::Int(2)), ("num_outputs", Attr::Int(2))];
            let (g, f) = one_n("Split", vec![In::Feed(x.clone())], attrs(&at), 18, 2);
            check_any(&format!("Split {d} [{n}]"), &g, f, EXACT);
            let (g, f) = one(
                "Tile",
                vec![In::Feed(x.clone()), In::Const(ints(&[2, 1, 3]))],
                attrs(&[]),
            );
            check_any(&format!("Tile {d} [{n}]"), &g, f, EXACT);
            let img = rand(&mut rng, d, &[1, 8, 2, n.min(33) * 2], -50.0, 50.0, false);
            for (op, mode) in [
                ("DepthToSpace", "DCR"),
                ("DepthToSpace", "CRD"),
                ("SpaceToDepth", "DCR"),
            ] {
                let at = [
                    ("blocksize", Attr::Int(2)),
                    ("mode", Attr::String(mode.into())),
                ];
                let (g, f) = one(op, vec![In::Feed(img.clone())], attrs(&at));
                check_any(&format!("{op} {mode} {d} [{n}]"), &g, f, EXACT);
            }
            for (upper, k) in [(1, 0i64), (0, 0), (1, -2), (0, 5)] {
                let ins = vec![In::Feed(x.clone()), In::Const(Tensor::scalar(k))];
                let (g, f) = one("Trilu", ins, attrs(&[("upper", Attr::Int(upper))]));
                check_any(&format!("Trilu {d} {upper} {k} [{n}]"), &g, f, EXACT);
            }
            // GatherElements along axis 1 with negative indices, indices smaller off-axis
            let iv: Vec<i64> = (0..2 * 4 * 2)
                .map(|k| (k as i64 * 7919 % (2 * n as i64)) - n as i64)
                .collect();
            let idx = Tensor::from_vec(vec![2, 4, 2], iv).unwrap();
            let (g, f) = one(
                "GatherElements",
                vec![In::Feed(x.clone()), In::Const(idx)],
                attrs(&[("axis", Attr::Int(1))]),
            );
            check_any(&format!("GatherElements {d} [{n}]"), &g, f, EXACT);
            let v = rand(&mut rng, d, &[1], 1.0, 9.0, true);
            let (g, f) = one(
                "ConstantOfShape",
                vec![In::Feed(ints(&[2, n as i64]))],
                attrs(&[("value", Attr::Tensor(v))]),
            );
            check_any(&format!("ConstantOfShape {d} [{n}]"), &g, f, EXACT);
            let c = rand(&mut rng, DType::Bool, &[n, 1], 0.0, 1.0, false);
            let z = rand(&mut rng, d, &[3], -50.0, 50.0, false);
            let (g, f) = one(
                "Where",
                vec![In::Feed(c), In::Feed(x), In::Feed(z)],
                attrs(&[]),
            );
            check_any(&format!("Where {d} [{n}]"), &g, f, EXACT);
        }
    }
}

#[test]
fn reduce_every_dtype() {
    if !gpu_or_skip("reduce_every_dtype") {
        return;
    }
    let mut rng = Rng::new(28);
    let ops = [
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceSumSquare",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
    ];
    let mut all: Vec<DType> = numeric().into_iter().filter(|&d| d != DType::F32).collect();
    all.push(DType::Bool);
    for d in all {
        for op in ops {
            if d == DType::Bool && !matches!(op, "ReduceMax" | "ReduceMin") {
                continue;
            }
            for n in SIZES {
                // Prod of few small values; the rest over [1, 5)
                let x = rand(&mut rng, d, &[3, n, 2], 1.0, 5.0, false);
                for (axes, keep) in [(vec![1i64], 1i64), (vec![2], 0), (vec![0, 1, 2], 0)] {
                    if op == "ReduceProd" && n > 33 && axes.len() != 1 {
                        continue;
                    }
                    let (g, f) = one(
                        op,
                        vec![In::Feed(x.clone()), In::Const(ints(&axes))],
                        attrs(&[("keepdims", Attr::Int(keep))]),
                    );
                    let tol = match d {
                        DType::F64 => SUMS,
                        DType::F16 | DType::BF16 => HALF,
                        _ => EXACT,
                    };
                    check_any(&format!("{op} {d} {axes:?} [{n}]"), &g, f, tol);
                }
            }
        }
    }
}

#[test]
fn clip_every_dtype() {
    if !gpu_or_skip("clip_every_dtype") {
        return;
    }
    let mut rng = Rng::new(29);
    for d in numeric() {
        for n in SIZES {
            let x = rand(&mut rng, d, &[n], 0.0, 100.0, false);
            let lo = rand(&mut rng, d, &[], 10.0, 30.0, false);
            let hi = rand(&mut rng, d, &[], 60.0, 90.0, false);
            for (l, h) in [(true, true), (true, false), (false, true)] {
                let b = |on: bool, t: &Tensor| if on { In::Const(t.clone()) } else { In::Absent };
                let ins = vec![In::Feed(x.clone()), b(l, &lo), b(h, &hi)];
                let (g, f) = one("Clip", ins, attrs(&[]));
                check_any(&format!("Clip {d} {l} {h} [{n}]"), &g, f, EXACT);
            }
        }
    }
}

#[test]
fn cumsum_cumprod_every_dtype() {
    if !gpu_or_skip("cumsum_cumprod_every_dtype") {
        return;
    }
    let mut rng = Rng::new(30);
    for d in numeric() {
        for op in ["CumSum", "CumProd"] {
            if op == "CumProd" && matches!(d, DType::I8 | DType::U8 | DType::I16 | DType::U16) {
                continue; // the CPU op does not take them
            }
            for n in SIZES {
                let x = rand(&mut rng, d, &[2, n, 3], 1.0, 3.0, false);
                for (axis, ex, rev) in [(1i64, 0i64, 0i64), (-1, 1, 0), (1, 0, 1), (0, 1, 1)] {
                    let at = [("exclusive", Attr::Int(ex)), ("reverse", Attr::Int(rev))];
                    let ins = vec![In::Feed(x.clone()), In::Const(ints(&[axis]))];
                    let (g, f) = one(op, ins, attrs(&at));
                    // both sides scan in the same order; long products may overflow alike
                    let tol = if op == "CumProd" && n > 33 {
                        SUMS
                    } else {
                        tol_of(d)
                    };
                    check_any(
                        &format!("{op} {d} axis {axis} ex {ex} rev {rev} [{n}]"),
                        &g,
                        f,
                        tol,
                    );
                }
            }
        }
    }
}

#[test]
fn range_every_dtype() {
    if !gpu_or_skip("range_every_dtype") {
        return;
    }
    for d in numeric() {
        let signed = !matches!(d, DType::U8 | DType::U16 | DType::U32 | DType::U64);
        let cases: &[(f64, f64, f64)] = if signed {
            &[
                (-5.0, 90.0, 3.0),
                (100.0, -20.0, -7.0),
                (0.5, 60.25, 0.75),
                (1.0, 1.0, 1.0),
            ]
        } else {
            &[(1.0, 250.0, 1.0), (200.0, 3.0, 1.0), (2.0, 100.0, 7.0)]
        };
        for &(a, b, c) in cases {
            if c.fract() != 0.0 && !is_float_dtype(d) {
                continue; // a fractional delta truncates to 0 for integers: no range
            }
            let t = |v: f64| {
                smelt_ops::math::cast::cast(&Tensor::from_vec(vec![], vec![v]).unwrap(), d, false)
                    .unwrap()
            };
            let ins = vec![In::Const(t(a)), In::Const(t(b)), In::Const(t(c))];
            let (g, f) = one("Range", ins, attrs(&[]));
            check_any(&format!("Range {d} {a} {b} {c}"), &g, f, EXACT);
        }
    }
}

#[test]
fn bitcast_equal_widths() {
    if !gpu_or_skip("bitcast_equal_widths") {
        return;
    }
    let mut rng = Rng::new(31);
    let pairs = [
        (DType::F32, DType::I32),
        (DType::I32, DType::U32),
        (DType::F64, DType::I64),
        (DType::F16, DType::BF16),
        (DType::I8, DType::U8),
        (DType::U8, DType::Bool),
        (DType::Bool, DType::I8),
        (DType::U8, DType::F8E4M3FN),
    ];
    for (from, to) in pairs {
        for n in SIZES {
            let x = rand(&mut rng, from, &[n], -100.0, 100.0, false);
            let (g, f) = one(
                "BitCast",
                vec![In::Feed(x)],
                attrs(&[("to", Attr::Int(to.to_onnx()))]),
            );
            check_any(&format!("BitCast {from} to {to} [{n}]"), &g, f, EXACT);
        }
    }
}

fn is_float_dtype(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
}
