use crate::common::*;
use smelt_core::{DType, Tensor};
use smelt_ir::Attr;

#[test]
fn unary_ops_match_cpu() {
    if !gpu_or_skip("unary_ops_match_cpu") {
        return;
    }
    let mut rng = Rng::new(1);
    // (op, opset, attrs, input range)
    let cases: Vec<(&str, i64, Vec<(&str, Attr)>, f32, f32)> = vec![
        ("Relu", 21, vec![], -2.0, 2.0),
        ("Sigmoid", 21, vec![], -8.0, 8.0),
        ("Tanh", 21, vec![], -4.0, 4.0),
        ("Exp", 21, vec![], -10.0, 10.0),
        ("Log", 21, vec![], 0.01, 100.0),
        ("Sqrt", 21, vec![], 0.0, 100.0),
        ("Neg", 21, vec![], -2.0, 2.0),
        ("Abs", 21, vec![], -2.0, 2.0),
        ("Erf", 21, vec![], -3.0, 3.0),
        ("Gelu", 21, vec![], -4.0, 4.0),
        (
            "LeakyRelu",
            21,
            vec![("alpha", Attr::Float(0.2))],
            -2.0,
            2.0,
        ),
        ("Reciprocal", 21, vec![], 0.5, 4.0),
        ("Floor", 21, vec![], -5.0, 5.0),
        ("Ceil", 21, vec![], -5.0, 5.0),
        ("Sin", 21, vec![], -6.0, 6.0),
        ("Cos", 21, vec![], -6.0, 6.0),
        ("Softplus", 21, vec![], -10.0, 10.0),
        ("HardSigmoid", 21, vec![], -5.0, 5.0),
        ("Elu", 21, vec![], -3.0, 3.0),
        ("Sign", 21, vec![], -2.0, 2.0),
        ("Round", 21, vec![], -5.0, 5.0),
        ("HardSwish", 21, vec![], -5.0, 5.0),
        ("Selu", 21, vec![], -3.0, 3.0),
        ("Softsign", 21, vec![], -5.0, 5.0),
        (
            "Clip",
            6,
            vec![("min", Attr::Float(-0.5)), ("max", Attr::Float(0.25))],
            -2.0,
            2.0,
        ),
    ];
    for (op, opset, at, lo, hi) in cases {
        let mut worst = 0f32;
        for n in SIZES {
            let x = rng.tensor(&[n], lo, hi);
            let (g, f) = one_opset(op, vec![In::Feed(x)], attrs(&at), opset);
            worst = worst.max(check(&format!("{op} [{n}]"), &g, f, ULPS));
        }
        println!("{op}: max abs error {worst:.3e}");
    }
    // Clip with bounds as inputs (opset 11+), one bound absent
    for n in SIZES {
        let x = rng.tensor(&[n], -2.0, 2.0);
        let (g, f) = one(
            "Clip",
            vec![
                In::Feed(x.clone()),
                In::Const(Tensor::scalar(-0.3f32)),
                In::Const(Tensor::scalar(0.7f32)),
            ],
            attrs(&[]),
        );
        check("Clip inputs", &g, f, EXACT);
        let (g, f) = one(
            "Clip",
            vec![In::Feed(x), In::Absent, In::Const(Tensor::scalar(0.1f32))],
            attrs(&[]),
        );
        check("Clip max only", &g, f, EXACT);
    }
}

#[test]
fn binary_ops_broadcast_like_cpu() {
    if !gpu_or_skip("binary_ops_broadcast_like_cpu") {
        return;
    }
    let mut rng = Rng::new(2);
    let shapes: [(&[usize], &[usize]); 7] = [
        (&[33], &[33]),
        (&[257], &[1]),
        (&[1], &[31]),
        (&[2, 31, 33], &[33]),
        (&[2, 1, 33], &[1, 31, 1]),
        (&[4, 1, 5, 1], &[3, 1, 6]),
        (&[3, 257], &[3, 1]),
    ];
    for op in ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"] {
        let mut worst = 0f32;
        for (sa, sb) in shapes {
            let (lo, hi) = if op == "Pow" { (0.1, 3.0) } else { (-2.0, 2.0) };
            let a = rng.tensor(sa, lo, hi);
            let b = if op == "Div" {
                rng.tensor(sb, 0.5, 2.0)
            } else {
                rng.tensor(sb, -2.0, 2.0)
            };
            let (g, f) = one(op, vec![In::Feed(a), In::Feed(b)], attrs(&[]));
            worst = worst.max(check(&format!("{op} {sa:?} {sb:?}"), &g, f, ULPS));
        }
        println!("{op}: max abs error {worst:.3e}");
    }
    // PRelu: slope broadcast over x (per channel)
    let x = rng.tensor(&[2, 33, 5, 7], -2.0, 2.0);
    let s = rng.tensor(&[33, 1, 1], 0.0, 0.5);
    let (g, f) = one("PRelu", vec![In::Feed(x), In::Const(s)], attrs(&[]));
    check("PRelu", &g, f, EXACT);
}

#[test]
fn where_and_cast_match_cpu() {
    if !gpu_or_skip("where_and_cast_match_cpu") {
        return;
    }
    let mut rng = Rng::new(3);
    for (sc, sx, sy) in [
        (&[33usize][..], &[33usize][..], &[1usize][..]),
        (&[2, 1, 31], &[1, 5, 31], &[2, 5, 1]),
    ] {
        let n: usize = sc.iter().product();
        let c = Tensor::from_vec(
            sc.to_vec(),
            (0..n).map(|_| rng.next() > 0.5).collect::<Vec<bool>>(),
        )
        .unwrap();
        let (g, f) = one(
            "Where",
            vec![
                In::Feed(c),
                In::Feed(rng.tensor(sx, -1.0, 1.0)),
                In::Feed(rng.tensor(sy, -1.0, 1.0)),
            ],
            attrs(&[]),
        );
        check("Where", &g, f, EXACT);
    }
    for n in SIZES {
        let v: Vec<i64> = (0..n as i64).map(|i| i * 7919 % 2001 - 1000).collect();
        let (g, f) = one(
            "Cast",
            vec![In::Feed(Tensor::from_vec(vec![n], v).unwrap())],
            attrs(&[("to", Attr::Int(1))]),
        );
        check("Cast i64->f32", &g, f, EXACT);
        let b =
            Tensor::from_vec(vec![n], (0..n).map(|i| i % 3 == 0).collect::<Vec<bool>>()).unwrap();
        let (g, f) = one("Cast", vec![In::Feed(b)], attrs(&[("to", Attr::Int(1))]));
        check("Cast bool->f32", &g, f, EXACT);
        let x = rng.tensor(&[n], -100.0, 100.0);
        let (g, f) = one(
            "Cast",
            vec![In::Feed(x)],
            attrs(&[("to", Attr::Int(DType::I64.to_onnx()))]),
        );
        check("Cast f32->i64", &g, f, EXACT);
    }
}

#[test]
fn comparisons_match_cpu() {
    if !gpu_or_skip("comparisons_match_cpu") {
        return;
    }
    let mut rng = Rng::new(4);
    for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"] {
        for (sa, sb) in [
            (&[257usize][..], &[257usize][..]),
            (&[2, 31, 33], &[33]),
            (&[31, 1], &[1, 33]),
        ] {
            // values on a coarse grid so that equal pairs occur
            let q = |t: Tensor| {
                let v: Vec<f32> = t
                    .as_slice::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| (x * 4.0).round())
                    .collect();
                Tensor::from_vec(t.shape().to_vec(), v).unwrap()
            };
            let (a, b) = (q(rng.tensor(sa, -2.0, 2.0)), q(rng.tensor(sb, -2.0, 2.0)));
            let (g, f) = one(op, vec![In::Feed(a), In::Feed(b)], attrs(&[]));
            check(&format!("{op} {sa:?} {sb:?}"), &g, f, EXACT);
        }
    }
}
