//! Malformed graphs found by fuzzing the importers: building them must not panic, and what
//! cannot be evaluated must fail with an error.

use smelt_core::{DType, Tensor};
use smelt_ir::{Attr, Attributes};
use smelt_ops::GraphBuilder;

fn outs(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn split_of_a_scalar_is_an_error() {
    let mut b = GraphBuilder::new("g");
    b.set_opset("", 13);
    let x = b.placeholder("x", DType::F32, &[]);
    let ys = b
        .add_node(
            "split",
            "",
            "Split",
            &[Some(x)],
            &outs(&["a", "b"]),
            Attributes::new(),
        )
        .unwrap();
    for y in ys.into_iter().flatten() {
        b.output(y, "");
    }
    let g = b.build().unwrap();
    let e = smelt_cpu::run(&g, vec![("x".into(), Tensor::scalar(1f32))]).unwrap_err();
    assert!(e.to_string().contains("axis 0 out of range"), "{e}");
}

#[test]
fn axis_ops_on_scalars_do_not_panic() {
    for (op, attrs) in [
        ("Concat", Attributes::new().with("axis", Attr::Int(0))),
        ("ArgMax", Attributes::new()),
        ("TopK", Attributes::new()),
        ("CumSum", Attributes::new()),
        ("Softmax", Attributes::new().with("axis", Attr::Int(0))),
        (
            "LpNormalization",
            Attributes::new().with("axis", Attr::Int(0)),
        ),
    ] {
        let mut b = GraphBuilder::new("g");
        let x = b.placeholder("x", DType::F32, &[]);
        let k = b.constant("k", Tensor::from_vec(vec![1], vec![1i64]).unwrap());
        let ins = match op {
            "TopK" | "CumSum" => vec![Some(x), Some(k)],
            _ => vec![Some(x)],
        };
        let n = if op == "TopK" { 2 } else { 1 };
        let names: Vec<String> = (0..n).map(|i| format!("y{i}")).collect();
        b.add_node(op, "", op, &ins, &names, attrs).unwrap();
    }
}

#[test]
fn shapes_with_too_many_elements_are_refused_or_dropped() {
    use smelt_core::{Dim, ValueInfo};
    let mut b = GraphBuilder::new("g");
    let big = ValueInfo::new(
        DType::F32,
        vec![Dim::Fixed(4), Dim::Fixed(1 << 40), Dim::Fixed(1 << 40)],
    );
    let e = b.input_info("x", big).unwrap_err().to_string();
    assert!(e.contains("'x'") && e.contains("elements"), "{e}");
    // an inferred shape no tensor can have is left unknown, not passed on
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(1)]);
    let s = b.constant(
        "s",
        Tensor::from_vec(vec![3], vec![4i64, 1 << 40, 1 << 40]).unwrap(),
    );
    let y = b
        .add_node(
            "e",
            "",
            "Expand",
            &[Some(x), Some(s)],
            &outs(&["y"]),
            Attributes::new(),
        )
        .unwrap()[0]
        .unwrap();
    assert_eq!(b.graph().values[y.0].info.shape, None);
    let f = b.op("Flatten", &[y], Attributes::new()).unwrap();
    assert_eq!(b.graph().values[f.0].info.dtype, Some(DType::F32));
}

#[test]
fn constant_of_shape_rank_from_a_declared_length_is_bounded() {
    use smelt_core::Dim;
    // the shape input is declared [2^40]: inference allocated a rank-2^40 shape
    let mut b = GraphBuilder::new("g");
    let s = b.placeholder("s", DType::I64, &[Dim::Fixed(1 << 40)]);
    let y = b
        .add_node(
            "c",
            "",
            "ConstantOfShape",
            &[Some(s)],
            &outs(&["y"]),
            Attributes::new(),
        )
        .unwrap()[0]
        .unwrap();
    assert_eq!(b.graph().values[y.0].info.shape, None);
    let s3 = b.placeholder("s3", DType::I64, &[Dim::Fixed(3)]);
    let y3 = b
        .add_node(
            "c3",
            "",
            "ConstantOfShape",
            &[Some(s3)],
            &outs(&["y3"]),
            Attributes::new(),
        )
        .unwrap()[0]
        .unwrap();
    assert_eq!(
        b.graph().values[y3.0].info.shape,
        Some(vec![Dim::Unknown; 3])
    );
}

#[test]
fn split_num_outputs_must_match_the_outputs() {
    // num_outputs 2^40 with two outputs: inference reserved 2^40 part sizes
    let mut b = GraphBuilder::new("g");
    b.set_opset("", 18);
    let x = b.placeholder("x", DType::F32, &[smelt_core::Dim::Fixed(6)]);
    let e = b
        .add_node(
            "split",
            "",
            "Split",
            &[Some(x)],
            &outs(&["a", "b"]),
            Attributes::new().with("num_outputs", Attr::Int(1 << 40)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("num_outputs"), "{e}");
    let ys = b
        .add_node(
            "split",
            "",
            "Split",
            &[Some(x)],
            &outs(&["a", "b"]),
            Attributes::new().with("num_outputs", Attr::Int(2)),
        )
        .unwrap();
    assert_eq!(
        b.graph().values[ys[1].unwrap().0].info.shape,
        Some(vec![smelt_core::Dim::Fixed(3)])
    );
}

fn fixed(dims: &[usize]) -> Vec<smelt_core::Dim> {
    dims.iter().map(|&d| smelt_core::Dim::Fixed(d)).collect()
}

#[test]
fn conv_transpose_extents_do_not_overflow() {
    // output_padding 2^63-1 made the full extent wrap negative, then `full - output_shape`
    // overflowed; without output_shape the extent is far past any tensor
    for (pad, shape) in [
        (vec![i64::MAX, 1], Some(vec![10, 8])),
        (vec![i64::MAX, i64::MAX], None),
    ] {
        let mut b = GraphBuilder::new("g");
        let x = b.placeholder("x", DType::F32, &fixed(&[1, 1, 3, 3]));
        let w = b.constant("w", Tensor::zeros(DType::F32, vec![1, 1, 3, 3]));
        let mut attrs = Attributes::new().with("output_padding", Attr::Ints(pad));
        if let Some(s) = shape {
            attrs = attrs.with("output_shape", Attr::Ints(s));
        }
        let y = b
            .add_node(
                "ct",
                "",
                "ConvTranspose",
                &[Some(x), Some(w)],
                &outs(&["y"]),
                attrs,
            )
            .unwrap()[0]
            .unwrap();
        b.output(y, "");
        let g = b.build().unwrap();
        let x = Tensor::zeros(DType::F32, vec![1, 1, 3, 3]);
        let _ = smelt_cpu::run(&g, vec![("x".into(), x)]);
    }
}

#[test]
fn conv_geometry_checks_kernel_and_channels() {
    // weights with a zero spatial dim: `kernel - 1` underflowed
    let mut b = GraphBuilder::new("g");
    let x = b.placeholder("x", DType::F32, &fixed(&[1, 1, 4, 4]));
    let w = b.constant("w", Tensor::zeros(DType::F32, vec![1, 1, 0, 3]));
    let y = b
        .add_node(
            "c",
            "",
            "Conv",
            &[Some(x), Some(w)],
            &outs(&["y"]),
            Attributes::new(),
        )
        .unwrap()[0]
        .unwrap();
    b.output(y, "");
    let g = b.build().unwrap();
    let x = Tensor::zeros(DType::F32, vec![1, 1, 4, 4]);
    let e = smelt_cpu::run(&g, vec![("x".into(), x)]).unwrap_err();
    assert!(e.to_string().contains("kernel size 0"), "{e}");
    // weights' input channels times a huge group overflowed
    let mut b = GraphBuilder::new("g");
    let x = b.placeholder("x", DType::F32, &fixed(&[1, 1, 4, 4]));
    let w = b.placeholder("w", DType::F32, &fixed(&[1, 1 << 40, 1, 1]));
    b.add_node(
        "c",
        "",
        "Conv",
        &[Some(x), Some(w)],
        &outs(&["y"]),
        Attributes::new().with("group", Attr::Int(1 << 40)),
    )
    .unwrap();
    // a dilated kernel past usize
    let mut b = GraphBuilder::new("g");
    let x = b.placeholder("x", DType::F32, &fixed(&[1, 1, 4]));
    let w = b.placeholder("w", DType::F32, &fixed(&[1, 1, 1 << 40]));
    b.add_node(
        "c",
        "",
        "Conv",
        &[Some(x), Some(w)],
        &outs(&["y"]),
        Attributes::new().with("dilations", Attr::Ints(vec![1 << 30])),
    )
    .unwrap();
}

#[test]
fn matmul_inference_does_not_plan_every_batch() {
    // declared batch dims [2^40]: inference built two offsets per batch (16 TB)
    let mut b = GraphBuilder::new("g");
    let x = b.placeholder("a", DType::F32, &fixed(&[1 << 40, 1, 1]));
    let w = b.placeholder("b", DType::F32, &fixed(&[1 << 40, 1, 1]));
    let y = b.op("MatMul", &[x, w], Attributes::new()).unwrap();
    assert_eq!(
        b.graph().values[y.0].info.shape,
        Some(fixed(&[1 << 40, 1, 1]))
    );
}
