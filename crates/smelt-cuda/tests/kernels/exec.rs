//! The executor across devices: mixed placement, transfers, bad inputs, no device.

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::Executor;
use smelt_ir::{Attr, Attributes};
use smelt_ops::GraphBuilder;

/// x -> Relu (gpu) -> TopK (cpu) -> Mul (gpu) with a weight, and a Shape (cpu) output.
fn mixed() -> smelt_ir::Graph {
    let mut b = GraphBuilder::new("mixed");
    let (vals, idx) = relu_topk(&mut b);
    let w = b.constant(
        "w",
        Tensor::from_vec(vec![5], vec![1f32, 2., 3., 4., 5.]).unwrap(),
    );
    let m = b.mul(vals, w).unwrap();
    let s = b.op("Shape", &[m], Attributes::new()).unwrap();
    b.output(m, "m");
    b.output(s, "shape");
    b.output(idx, "idx");
    b.build().unwrap()
}

#[test]
fn mixed_placement_copies_only_at_boundaries() {
    if !gpu_or_skip("mixed_placement_copies_only_at_boundaries") {
        return;
    }
    let g = mixed();
    let mut on_gpu = placement(&g);
    assert_eq!(on_gpu, vec![true; 4], "Relu, TopK, Mul, Shape");
    // TopK pinned to the CPU (as SMELT_FORCE_CPU would): GPU, CPU, GPU, metadata
    on_gpu[1] = false;
    let ex = Executor::new(&g, &on_gpu).unwrap();
    let x = Rng::new(40).tensor(&[4, 33], -1.0, 1.0);
    let want = smelt_cpu::run(&g, vec![("x".into(), x.clone())]).unwrap();
    for _ in 0..3 {
        let got = ex.run(vec![("x".into(), x.clone())]).unwrap();
        compare("mixed", &want, &got, EXACT);
    }
    let st = ex.stats();
    println!("{st:?}");
    // per run: x up, relu down (TopK), vals up (Mul), m down (the output; Shape reads
    // only its dims); w once
    assert_eq!(st.uploads, 3 * 2 + 1);
    assert_eq!(st.downloads, 3 * 2);
    assert_eq!(st.weight_bytes, 20);
    assert_eq!((st.gpu_nodes, st.cpu_nodes, st.cpu_fallbacks), (9, 3, 0));
    // later runs reuse cached blocks; only the weight's block (256 bytes) stays in use
    assert!(
        st.alloc.cache_hits > 0 && st.alloc.in_use == 256,
        "{:?}",
        st.alloc
    );
}

#[test]
fn shape_and_constant_need_no_copies() {
    if !gpu_or_skip("shape_and_constant_need_no_copies") {
        return;
    }
    // x -> Relu -> Shape, and a Constant added to x on the GPU
    let mut b = GraphBuilder::new("meta");
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(3), Dim::Fixed(33)]);
    let r = b.relu(x).unwrap();
    let s = b.op("Shape", &[r], Attributes::new()).unwrap();
    let c = b
        .op(
            "Constant",
            &[],
            Attributes::new().with(
                "value",
                Attr::Tensor(Tensor::from_vec(vec![33], vec![0.5f32; 33]).unwrap()),
            ),
        )
        .unwrap();
    let y = b.add(r, c).unwrap();
    b.output(s, "shape");
    b.output(y, "y");
    let g = b.build().unwrap();
    let ex = Executor::new(&g, &vec![true; g.nodes.len()]).unwrap();
    let x = Rng::new(42).tensor(&[3, 33], -1.0, 1.0);
    let want = smelt_cpu::run(&g, vec![("x".into(), x.clone())]).unwrap();
    for _ in 0..2 {
        compare(
            "meta",
            &want,
            &ex.run(vec![("x".into(), x.clone())]).unwrap(),
            EXACT,
        );
    }
    let st = ex.stats();
    // per run: x up and y down; the constant once; the shape never
    assert_eq!((st.uploads, st.downloads), (3, 2), "{st:?}");
}

#[test]
fn views_stay_where_their_input_is() {
    if !gpu_or_skip("views_stay_where_their_input_is") {
        return;
    }
    // an i64 host value through Unsqueeze and Reshape, and an f32 one through Flatten to a
    // GPU Relu: no copies but the Relu's input and output
    let mut b = GraphBuilder::new("views");
    let ids = b.placeholder("ids", DType::I64, &[Dim::Fixed(2), Dim::Fixed(3)]);
    let x = b.placeholder(
        "x",
        DType::F32,
        &[Dim::Fixed(2), Dim::Fixed(3), Dim::Fixed(4)],
    );
    let ax = b.constant("ax", Tensor::from_vec(vec![1], vec![0i64]).unwrap());
    let u = b.op("Unsqueeze", &[ids, ax], Attributes::new()).unwrap();
    let r = b.reshape(u, &[-1]).unwrap();
    let f = b.flatten(x, 1).unwrap();
    let y = b.relu(f).unwrap();
    b.output(r, "r");
    b.output(y, "y");
    let g = b.build().unwrap();
    let on_gpu = placement(&g);
    assert!(on_gpu.iter().all(|&v| v), "{on_gpu:?}");
    let ex = Executor::new(&g, &on_gpu).unwrap();
    let feeds = vec![
        (
            "ids".to_string(),
            Tensor::from_vec(vec![2, 3], vec![1i64, 2, 3, 4, 5, 6]).unwrap(),
        ),
        ("x".to_string(), Rng::new(43).tensor(&[2, 3, 4], -1.0, 1.0)),
    ];
    let want = smelt_cpu::run(&g, feeds.clone()).unwrap();
    compare("views", &want, &ex.run(feeds).unwrap(), EXACT);
    let st = ex.stats();
    assert_eq!(
        (st.uploads, st.downloads, st.cpu_nodes),
        (1, 1, 0),
        "{st:?}"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    if !gpu_or_skip("bad_inputs_are_errors_not_panics") {
        return;
    }
    let table = Rng::new(41).tensor(&[10, 4], -1.0, 1.0);
    let (g, _) = one(
        "Gather",
        vec![
            In::Const(table),
            In::Feed(Tensor::from_vec(vec![1], vec![0i64]).unwrap()),
        ],
        attrs(&[]),
    );
    let ex = Executor::new(&g, &[true]).unwrap();
    let bad = Tensor::from_vec(vec![1], vec![10i64]).unwrap();
    let e = ex.run(vec![("in1".into(), bad)]).unwrap_err().to_string();
    assert!(e.contains("out of range"), "{e}");
    let e = ex
        .run(vec![(
            "in1".into(),
            Tensor::from_vec(vec![1], vec![1f32]).unwrap(),
        )])
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected dtype"), "{e}");
    // MatMul with mismatched inner dims fed at run time (declared dims unknown)
    let mut b = GraphBuilder::new("mm");
    let a = b.placeholder("a", DType::F32, &[Dim::Unknown, Dim::Unknown]);
    let c = b.placeholder("b", DType::F32, &[Dim::Unknown, Dim::Unknown]);
    let y = b.matmul(a, c).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let ex = Executor::new(&g, &[true]).unwrap();
    let e = ex
        .run(vec![
            ("a".into(), Tensor::zeros(DType::F32, vec![2, 3])),
            ("b".into(), Tensor::zeros(DType::F32, vec![4, 5])),
        ])
        .unwrap_err();
    println!("mismatched MatMul: {e}");
}

#[test]
fn without_a_device_everything_is_a_clear_error() {
    if smelt_cuda::device().is_ok() {
        eprintln!("SKIP: a CUDA device is present (this test checks the no-device path)");
        return;
    }
    let why = smelt_cuda::device().err().unwrap();
    assert!(!why.is_empty());
    assert!(smelt_cuda::CudaBackend::new().is_err());
    let (g, _) = one(
        "Relu",
        vec![In::Feed(Tensor::zeros(DType::F32, vec![2]))],
        attrs(&[]),
    );
    let e = Executor::new(&g, &[true])
        .err()
        .expect("no executor without a device")
        .to_string();
    assert!(e.contains("no device"), "{e}");
    println!("no device: {why}");
}

#[test]
fn placement_refuses_what_the_kernels_do_not_run() {
    let (g, _) = one(
        "Sqrt",
        vec![In::Feed(Tensor::zeros(DType::I64, vec![2]))],
        attrs(&[]),
    );
    assert!(matches!(
        smelt_cuda::backend::gpu_support(&g.nodes[0], &g),
        smelt_ir::Support::No(_)
    ));
    let (g, _) = one(
        "MelWeightMatrix",
        vec![In::Feed(Tensor::zeros(DType::F32, vec![2, 2]))],
        attrs(&[]),
    );
    assert!(matches!(
        smelt_cuda::backend::gpu_support(&g.nodes[0], &g),
        smelt_ir::Support::No(_)
    ));
    let (g, _) = one(
        "Relu",
        vec![In::Feed(Tensor::zeros(DType::F32, vec![2]))],
        attrs(&[]),
    );
    assert_eq!(
        smelt_cuda::backend::gpu_support(&g.nodes[0], &g),
        smelt_ir::Support::Yes
    );
    let (g, _) = one(
        "Cast",
        vec![In::Feed(Tensor::zeros(DType::F32, vec![2]))],
        attrs(&[("to", Attr::Int(DType::String.to_onnx()))]),
    );
    assert!(matches!(
        smelt_cuda::backend::gpu_support(&g.nodes[0], &g),
        smelt_ir::Support::No(_)
    ));
}

#[test]
fn kernels_compile_with_nvrtc() {
    if !smelt_cuda::cuda::device::nvrtc_present() {
        eprintln!("SKIP: libnvrtc not found (the kernel sources are not compiled here)");
        return;
    }
    for arch in ["compute_75", "compute_90"] {
        let ptx = smelt_cuda::cuda::device::compile_kernels(arch)
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        for k in [
            "unary_f32",
            "binary_f32",
            "where_f32",
            "strided_copy_32",
            "gather_32",
            "im2col_f32",
            "conv2d_direct_f32",
            "pool_f32",
            "softmax_rows_f32",
            "softmax_warp_f32",
            "strided_copy_128",
            "layernorm_rows_f32",
            "batchnorm_f32",
            "reduce_rows_f32",
            "reduce_mid_f32",
            "cast_f32_i64",
        ] {
            assert!(
                ptx.contains(&format!(".entry {k}(")),
                "{arch}: kernel {k} missing from the PTX"
            );
        }
        println!("{arch}: {} bytes of PTX", ptx.len());
    }
}
