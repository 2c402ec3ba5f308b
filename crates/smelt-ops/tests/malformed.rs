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
