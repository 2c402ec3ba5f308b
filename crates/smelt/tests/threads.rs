//! `Config::threads`: a model with a pool of its own gives the same outputs as with the
//! global pool, reports its thread count, and refuses a pool of no threads.

use smelt::{Config, Dim, GraphBuilder, Info, Model, Tensor};
use smelt_core::DType;

/// softmax(x @ w) with x f32[n, 67] and w f32[67, 129]: large enough for the GEMM and the
/// softmax to split rows across threads; sizes off any tile width.
fn model(threads: Option<usize>) -> smelt::Result<Model> {
    let mut b = GraphBuilder::new("threads");
    let x = b.placeholder("x", DType::F32, &[Dim::Sym("n".into()), Dim::Fixed(67)]);
    let wv: Vec<f32> = (0..67 * 129)
        .map(|i| ((i * 7919 % 1013) as f32 / 1013.0) - 0.5)
        .collect();
    let w = b.constant("w", Tensor::from_vec(vec![67, 129], wv)?);
    let y = b.matmul(x, w)?;
    let s = b.softmax(y, -1)?;
    b.output(s, "y");
    let config = Config {
        threads,
        ..Config::default()
    };
    Model::from_graph(b.build()?, Info::default(), config)
}

#[test]
fn a_model_pool_gives_the_global_pool_results() {
    let n = 301;
    let xv: Vec<f32> = (0..n * 67)
        .map(|i| ((i * 104729 % 2003) as f32 / 1001.5) - 1.0)
        .collect();
    let x = Tensor::from_vec(vec![n, 67], xv).unwrap();
    let global = model(None).unwrap();
    let want = global.predict(&[("x", x.clone())]).unwrap();
    for t in [1, 2, 3] {
        let m = model(Some(t)).unwrap();
        assert_eq!(m.threads(), t);
        let got = m.predict(&[("x", x.clone())]).unwrap();
        let (a, b) = (
            want[0].as_slice::<f32>().unwrap(),
            got[0].as_slice::<f32>().unwrap(),
        );
        assert_eq!(a.len(), n * 129);
        // the same kernels on other row splits: equal to a few ulps
        let worst = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs() / p.abs().max(1e-30))
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "{t} threads: relative difference {worst}");
    }
    let e = model(Some(0)).err().expect("0 threads is refused");
    assert!(e.to_string().contains("at least 1"), "{e}");
}
