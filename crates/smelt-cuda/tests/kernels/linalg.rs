use crate::common::*;
use smelt_ir::Attr;

#[test]
fn matmul_matches_cpu() {
    if !gpu_or_skip("matmul_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(10);
    let cases: [(&[usize], &[usize]); 9] = [
        (&[1, 1], &[1, 1]),
        (&[31, 33], &[33, 257]),
        (&[257, 33], &[33, 31]),
        (&[2, 3, 31, 33], &[33, 5]),
        (&[33], &[33, 31]),
        (&[31, 33], &[33]),
        (&[4, 33], &[7, 33, 31]),
        (&[3, 5, 33], &[3, 33, 2]),
        (&[2, 4, 128, 32], &[2, 4, 32, 128]),
    ];
    let mut worst = 0f32;
    for (a, b) in cases {
        let (g, f) = one(
            "MatMul",
            vec![
                In::Feed(rng.tensor(a, -1.0, 1.0)),
                In::Feed(rng.tensor(b, -1.0, 1.0)),
            ],
            attrs(&[]),
        );
        worst = worst.max(check(&format!("MatMul {a:?} x {b:?}"), &g, f, SUMS));
    }
    // weights as constants (uploaded once)
    let (g, f) = one(
        "MatMul",
        vec![
            In::Feed(rng.tensor(&[9, 257], -1.0, 1.0)),
            In::Const(rng.tensor(&[257, 33], -1.0, 1.0)),
        ],
        attrs(&[]),
    );
    worst = worst.max(check("MatMul const B", &g, f, SUMS));
    println!("MatMul: max abs error {worst:.3e}");
}

#[test]
fn gemm_matches_cpu() {
    if !gpu_or_skip("gemm_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(11);
    let (m, k, n) = (31usize, 257usize, 33usize);
    let mut worst = 0f32;
    for ta in [0, 1] {
        for tb in [0, 1] {
            for c in [
                None,
                Some(vec![n]),
                Some(vec![m, n]),
                Some(vec![1, 1]),
                Some(vec![m, 1]),
            ] {
                let a = rng.tensor(&if ta == 1 { [k, m] } else { [m, k] }, -1.0, 1.0);
                let b = rng.tensor(&if tb == 1 { [n, k] } else { [k, n] }, -1.0, 1.0);
                let mut ins = vec![In::Feed(a), In::Const(b)];
                if let Some(cs) = &c {
                    ins.push(In::Const(rng.tensor(cs, -1.0, 1.0)));
                }
                let at = attrs(&[
                    ("transA", Attr::Int(ta)),
                    ("transB", Attr::Int(tb)),
                    ("alpha", Attr::Float(0.5)),
                    ("beta", Attr::Float(2.0)),
                ]);
                let (g, f) = one("Gemm", ins, at);
                worst = worst.max(check(&format!("Gemm tA={ta} tB={tb} C={c:?}"), &g, f, SUMS));
            }
        }
    }
    println!("Gemm: max abs error {worst:.3e}");
}
