//! CUDA graphs (capture after a clean run with the same input shapes, replay later) give
//! the same bits as plain launches, with new input values every run; the per-node profile
//! and the per-run device time.

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::{ExecOptions, Executor, Precision};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::GraphBuilder;

fn a(list: &[(&str, Attr)]) -> Attributes {
    attrs(list)
}

/// x [n, 33] -> MatMul W [33, 257] -> Add b -> Relu -> Reshape [n * 257]; and the
/// Shape of the MatMul output.
fn small(rng: &mut Rng) -> Graph {
    let mut b = GraphBuilder::new("small");
    let x = b.placeholder("x", DType::F32, &[Dim::Sym("n".into()), Dim::Fixed(33)]);
    let w = b.constant("w", rng.tensor(&[33, 257], -1.0, 1.0));
    let bias = b.constant("b", rng.tensor(&[257], -1.0, 1.0));
    let m = b.op("MatMul", &[x, w], Attributes::new()).unwrap();
    let s = b.op("Add", &[m, bias], Attributes::new()).unwrap();
    let r = b.relu(s).unwrap();
    let shape = b.constant("shape", Tensor::from_vec(vec![1], vec![-1i64]).unwrap());
    let y = b.op("Reshape", &[r, shape], Attributes::new()).unwrap();
    let sh = b.op("Shape", &[m], Attributes::new()).unwrap();
    b.output(y, "y");
    b.output(sh, "shape_of_m");
    b.build().unwrap()
}

/// x [n, 3, 17, 17] -> Conv 3x3 (8) + bias -> Relu -> MaxPool 2x2 -> Conv 1x1 (16) ->
/// GlobalAveragePool -> Flatten -> Gemm (10, transB) -> Softmax.
fn conv_net(rng: &mut Rng) -> Graph {
    let mut b = GraphBuilder::new("convnet");
    let x = b.placeholder(
        "x",
        DType::F32,
        &[
            Dim::Sym("n".into()),
            Dim::Fixed(3),
            Dim::Fixed(17),
            Dim::Fixed(17),
        ],
    );
    let w1 = b.constant("w1", rng.tensor(&[8, 3, 3, 3], -0.5, 0.5));
    let b1 = b.constant("b1", rng.tensor(&[8], -0.5, 0.5));
    let c1 = b
        .op(
            "Conv",
            &[x, w1, b1],
            a(&[
                ("kernel_shape", Attr::Ints(vec![3, 3])),
                ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ]),
        )
        .unwrap();
    let r1 = b.relu(c1).unwrap();
    let p1 = b
        .op(
            "MaxPool",
            &[r1],
            a(&[
                ("kernel_shape", Attr::Ints(vec![2, 2])),
                ("strides", Attr::Ints(vec![2, 2])),
            ]),
        )
        .unwrap();
    let w2 = b.constant("w2", rng.tensor(&[16, 8, 1, 1], -0.5, 0.5));
    let c2 = b
        .op(
            "Conv",
            &[p1, w2],
            a(&[("kernel_shape", Attr::Ints(vec![1, 1]))]),
        )
        .unwrap();
    let gp = b.op("GlobalAveragePool", &[c2], Attributes::new()).unwrap();
    let fl = b.op("Flatten", &[gp], Attributes::new()).unwrap();
    let wf = b.constant("wf", rng.tensor(&[10, 16], -1.0, 1.0));
    let bf = b.constant("bf", rng.tensor(&[10], -1.0, 1.0));
    let fc = b
        .op("Gemm", &[fl, wf, bf], a(&[("transB", Attr::Int(1))]))
        .unwrap();
    let y = b
        .op("Softmax", &[fc], a(&[("axis", Attr::Int(-1))]))
        .unwrap();
    b.output(y, "y");
    b.output(c2, "features");
    b.build().unwrap()
}

fn opts(precision: Precision, cuda_graphs: bool, profile: bool) -> ExecOptions {
    ExecOptions {
        precision,
        profile,
        cuda_graphs,
        fuse: true,
        profile_kernels: profile,
        store_16bit: true,
    }
}

fn bits(t: &Tensor) -> Vec<u8> {
    t.le_bytes().unwrap().to_vec()
}

/// Runs `g` through an executor with CUDA graphs and one without, on new random inputs of
/// batch `batches[r]` in run r; every output must be equal bit for bit (and within SUMS of
/// the CPU at fp32). Returns the graph executor's stats.
fn replay_equals_plain(
    what: &str,
    g: &Graph,
    x_dims: &[usize],
    batches: &[usize],
    p: Precision,
) -> smelt_cuda::ExecStats {
    let on = vec![true; g.nodes.len()];
    let with = Executor::with_options(g, &on, opts(p, true, false)).unwrap();
    let without = Executor::with_options(g, &on, opts(p, false, false)).unwrap();
    let mut rng = Rng::new(77);
    for (r, &n) in batches.iter().enumerate() {
        let mut shape = vec![n];
        shape.extend_from_slice(x_dims);
        let feed = vec![("x".to_string(), rng.tensor(&shape, -1.0, 1.0))];
        let got = with
            .run(feed.clone())
            .unwrap_or_else(|e| panic!("{what} run {r}: {e}"));
        let want = without.run(feed.clone()).unwrap();
        for ((name, a), (_, b)) in got.iter().zip(&want) {
            assert_eq!(a.shape(), b.shape(), "{what} run {r}: {name}");
            assert!(
                bits(a) == bits(b),
                "{what} run {r} (batch {n}): output {name} differs from plain launches"
            );
        }
        if p == Precision::F32 {
            let cpu = smelt_cpu::run(g, feed).unwrap();
            compare(&format!("{what} run {r}"), &cpu, &got, SUMS);
        }
    }
    let st = with.stats();
    println!(
        "{what} at {p}: {} runs, {} captures, {} replays, {} failures {:?}; reserved {} B; last device time {:?} ms",
        st.runs,
        st.graph_captures,
        st.graph_replays,
        st.graph_failures,
        st.graph_failure_reasons,
        st.alloc.reserved,
        st.last_device_ms
    );
    assert_eq!(
        st.graph_failures, 0,
        "{what}: {:?}",
        st.graph_failure_reasons
    );
    assert_eq!(st.cpu_fallbacks, 0, "{what}: {:?}", st.fallback_reasons);
    assert!(st.last_device_ms.is_some_and(|t| t > 0.0));
    if st.graph_captures > 0 {
        // the graph's intermediates stay reserved, off the free lists
        assert!(st.alloc.reserved > 0, "{:?}", st.alloc);
    }
    assert_eq!(without.stats().graph_captures, 0);
    st
}

#[test]
fn cuda_graph_replay_equals_plain_launches() {
    if !gpu_or_skip("cuda_graph_replay_equals_plain_launches") {
        return;
    }
    let mut rng = Rng::new(70);
    // one shape: run 1 uploads weights, run 2 is clean, run 3 captures, runs 4.. replay
    let g = small(&mut rng);
    let st = replay_equals_plain("small graph", &g, &[33], &[4; 6], Precision::F32);
    assert_eq!((st.graph_captures, st.graph_replays), (1, 3));
    let net = conv_net(&mut rng);
    let st = replay_equals_plain("conv net", &net, &[3, 17, 17], &[2; 6], Precision::F32);
    assert_eq!((st.graph_captures, st.graph_replays), (1, 3));
    // shapes change: batch 2 captured in run 3 and replayed; batch 5 runs plain once (a
    // clean run), then is captured (the batch-2 graph is released) and replayed twice;
    // batch 2 again: plain once, captured, replayed twice
    let seq = [2, 2, 2, 2, 5, 5, 5, 5, 2, 2, 2, 2];
    let st = replay_equals_plain(
        "conv net, changing batch",
        &net,
        &[3, 17, 17],
        &seq,
        Precision::F32,
    );
    assert_eq!((st.graph_captures, st.graph_replays), (3, 5));
    // fp16 operands: replays equal fp16 plain launches too
    let st = replay_equals_plain("conv net fp16", &net, &[3, 17, 17], &[3; 5], Precision::F16);
    assert_eq!((st.graph_captures, st.graph_replays), (1, 2));
}

#[test]
fn no_graph_when_the_run_waits_on_the_host() {
    if !gpu_or_skip("no_graph_when_the_run_waits_on_the_host") {
        return;
    }
    // TopK runs on the CPU between GPU nodes: never captured
    let mut b = GraphBuilder::new("mixed");
    let (vals, _) = relu_topk(&mut b);
    let y = b.relu(vals).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let mut on = placement(&g);
    on[1] = false; // TopK pinned to the CPU
    let ex = Executor::with_options(&g, &on, opts(Precision::F32, true, false)).unwrap();
    let mut rng = Rng::new(3);
    for _ in 0..5 {
        let feed = vec![("x".to_string(), rng.tensor(&[4, 33], -1.0, 1.0))];
        let want = smelt_cpu::run(&g, feed.clone()).unwrap();
        let got = ex.run(feed).unwrap();
        compare("mixed", &want, &got, EXACT);
    }
    let st = ex.stats();
    assert_eq!(
        (st.graph_captures, st.graph_replays, st.graph_failures),
        (0, 0, 0)
    );
    let why = st.graph_blocker.unwrap_or_default();
    assert!(
        why.contains("'topk'"),
        "the blocker names the CPU node: {why}"
    );
}

/// An embedding lookup whose reshape target is shape arithmetic on the indices' Shape
/// (Shape -> Gather -> Unsqueeze -> Concat, all integers on the host): the arithmetic runs
/// on the host, the indices are read on the device, and runs are captured and replayed.
/// An index out of range in a replay is an error naming the Gather, and the next run with
/// good indices is right again.
#[test]
fn shape_arithmetic_on_the_host_and_device_checked_indices_in_graphs() {
    if !gpu_or_skip("shape_arithmetic_on_the_host_and_device_checked_indices_in_graphs") {
        return;
    }
    let mut rng = Rng::new(11);
    let mut b = GraphBuilder::new("embed");
    let ids = b.placeholder("ids", DType::I64, &[Dim::Fixed(3), Dim::Fixed(70)]);
    let table = b.constant("table", rng.tensor(&[300, 40], -1.0, 1.0));
    let e = b
        .add_node(
            "emb",
            "",
            "Gather",
            &[Some(table), Some(ids)],
            &["e".into()],
            a(&[]),
        )
        .unwrap()[0]
        .unwrap();
    let shape = b.op("Shape", &[ids], a(&[])).unwrap();
    let zero = b.constant("zero", Tensor::from_vec(vec![], vec![0i64]).unwrap());
    let n = b.op("Gather", &[shape, zero], a(&[])).unwrap();
    let ax = b.constant("ax", Tensor::from_vec(vec![1], vec![0i64]).unwrap());
    let n1 = b.op("Unsqueeze", &[n, ax], a(&[])).unwrap();
    let rest = b.constant("rest", Tensor::from_vec(vec![1], vec![-1i64]).unwrap());
    let target = b
        .op("Concat", &[n1, rest], a(&[("axis", Attr::Int(0))]))
        .unwrap();
    let y = b.op("Reshape", &[e, target], a(&[])).unwrap();
    let y = b.relu(y).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let ex = Executor::with_options(
        &g,
        &vec![true; g.nodes.len()],
        opts(Precision::F32, true, false),
    )
    .unwrap();
    let feed = |rng: &mut Rng, bad: bool| {
        let mut v: Vec<i64> = (0..210)
            .map(|_| (rng.next() * 599.0) as i64 - 299)
            .collect();
        if bad {
            v[137] = 300;
        }
        vec![("ids".to_string(), Tensor::from_vec(vec![3, 70], v).unwrap())]
    };
    for _ in 0..5 {
        let f = feed(&mut rng, false);
        let want = smelt_cpu::run(&g, f.clone()).unwrap();
        compare("embed", &want, &ex.run(f).unwrap(), EXACT);
    }
    let st = ex.stats();
    assert_eq!((st.graph_captures, st.graph_replays), (1, 2), "{st:?}");
    assert!(
        st.host_side_nodes >= 2,
        "Gather and Concat on the host: {st:?}"
    );
    let e = ex.run(feed(&mut rng, true)).unwrap_err().to_string();
    assert!(e.contains("out of range") && e.contains("emb"), "{e}");
    let f = feed(&mut rng, false);
    let want = smelt_cpu::run(&g, f.clone()).unwrap();
    compare("embed after the error", &want, &ex.run(f).unwrap(), EXACT);
}

#[test]
fn profile_reports_op_types_and_device_time() {
    if !gpu_or_skip("profile_reports_op_types_and_device_time") {
        return;
    }
    let mut rng = Rng::new(71);
    let net = conv_net(&mut rng);
    let ex = Executor::with_options(
        &net,
        &vec![true; net.nodes.len()],
        opts(Precision::F32, true, true),
    )
    .unwrap();
    for _ in 0..3 {
        ex.run(vec![(
            "x".to_string(),
            rng.tensor(&[2, 3, 17, 17], -1.0, 1.0),
        )])
        .unwrap();
    }
    let st = ex.stats();
    let p = st.profile.clone().expect("a profile");
    print!("{}", p.report(5));
    println!(
        "device time of the last run {:?} ms; {st:?}",
        st.last_device_ms
    );
    assert_eq!(
        p.runs, 2,
        "three runs, the first (one-time uploads) left out"
    );
    assert_eq!(st.graph_captures, 0, "profiling turns graphs off");
    // the first Conv runs with its Relu ("Conv+Relu"), the second alone
    let count = |name: &str| p.ops.iter().find(|o| o.op == name).map(|o| (o.count, o.ms));
    let (plain, fused) = (count("Conv"), count("Conv+Relu"));
    assert_eq!(
        (plain.map(|c| c.0), fused.map(|c| c.0)),
        (Some(2), Some(2)),
        "each conv once in each of the two counted runs: {:?}",
        p.ops
    );
    assert!(plain.unwrap().1 > 0.0 && fused.unwrap().1 > 0.0 && p.total_ms() > 0.0);
    // location-free nodes (Flatten) have no time of their own
    assert!(p.ops.iter().all(|o| o.op != "Flatten"));
    assert!(st.last_device_ms.is_some_and(|t| t > 0.0));
    // the launch trace: each conv's GEMM (one per image batch: the im2col one and the 1x1
    // one) in each counted run, named with its shape
    let gemms: u64 = p
        .kernels
        .iter()
        .filter(|k| k.name.starts_with("gemm fp32 ") && k.name.contains(" batch 2"))
        .map(|k| k.count)
        .sum();
    assert_eq!(
        gemms, 4,
        "two convs' GEMMs in each counted run: {:?}",
        p.kernels
    );
    assert!(p.kernels.iter().all(|k| k.ms > 0.0 && k.count > 0));
    let launch_ms: f64 = p.kernels.iter().map(|k| k.ms).sum();
    assert!(
        launch_ms <= p.total_ms() * 1.01,
        "launches {launch_ms} ms within the nodes' {} ms",
        p.total_ms()
    );
}

#[test]
fn views_of_weights_stay_on_the_device() {
    if !gpu_or_skip("views_of_weights_stay_on_the_device") {
        return;
    }
    // x [4, 33] @ Identity(w [33, 257]): exporters put Identity nodes between shared
    // weights and their readers; the view of a constant is a constant too
    let mut b = GraphBuilder::new("view_of_weight");
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(33)]);
    let mut rng = Rng::new(9);
    let w = b.constant("w", rng.tensor(&[33, 257], -1.0, 1.0));
    let wi = b.op("Identity", &[w], Attributes::new()).unwrap();
    let y = b.op("MatMul", &[x, wi], Attributes::new()).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let ex = Executor::with_options(&g, &[true, true], opts(Precision::F32, true, false)).unwrap();
    for _ in 0..5 {
        let feed = vec![("x".to_string(), rng.tensor(&[4, 33], -1.0, 1.0))];
        let want = smelt_cpu::run(&g, feed.clone()).unwrap();
        compare("view of weight", &want, &ex.run(feed).unwrap(), SUMS);
    }
    let st = ex.stats();
    assert_eq!(
        st.weight_bytes,
        33 * 257 * 4,
        "the weight is uploaded once, as a weight"
    );
    assert!(
        st.graph_captures >= 1,
        "runs are clean, so captured: {st:?}"
    );
}
