//! Reductions: Reduce* (one family sharing [`kernel`]), ArgMax/ArgMin, TopK, CumSum.
use smelt_ir::Registry;

pub mod argminmax;
pub mod cumsum;
pub mod kernel;
pub mod reduce_ops;
pub mod topk;

pub fn register_all(r: &mut Registry) {
    reduce_ops::register(r);
    argminmax::register(r);
    topk::register(r);
    cumsum::register(r);
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::prelude::*;
    use smelt_ir::NoSubgraphs;

    /// Builds `op` from the crate registry and evaluates it once.
    pub(crate) fn eval(
        op: &str,
        opset: i64,
        attrs: Attributes,
        inputs: Vec<Option<Tensor>>,
        n_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        let ctx = OpCtx {
            attrs: &attrs,
            opset,
            n_inputs: inputs.len(),
            n_outputs,
            node_name: "t",
        };
        let o = crate::registry().build("", op, &ctx)?;
        o.eval(
            &EvalCtx {
                n_outputs,
                subgraphs: &NoSubgraphs,
            },
            inputs,
        )
    }

    fn x23() -> Tensor {
        Tensor::from_vec(vec![2, 3], vec![1f32, 5., 2., -1., 0.5, 7.]).unwrap()
    }
    fn i64s(v: &[i64]) -> Tensor {
        Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = Attributes::new;
        assert!(eval("ReduceSum", 13, a(), vec![Some(x23()), Some(i64s(&[2]))], 1).is_err());
        assert!(eval(
            "ReduceMax",
            18,
            a(),
            vec![Some(x23()), Some(i64s(&[0, -2]))],
            1
        )
        .is_err());
        assert!(eval(
            "ReduceMean",
            11,
            a().with("axes", Attr::Ints(vec![-3])),
            vec![Some(x23())],
            1
        )
        .is_err());
        assert!(eval(
            "ArgMax",
            13,
            a().with("axis", Attr::Int(2)),
            vec![Some(x23())],
            1
        )
        .is_err());
        assert!(eval("TopK", 11, a(), vec![Some(x23()), Some(i64s(&[4]))], 2).is_err());
        assert!(eval("TopK", 11, a(), vec![Some(x23()), Some(i64s(&[-1]))], 2).is_err());
        assert!(eval("TopK", 11, a(), vec![Some(x23()), Some(i64s(&[1, 2]))], 2).is_err());
        assert!(eval("CumSum", 14, a(), vec![Some(x23()), Some(i64s(&[5]))], 1).is_err());
        assert!(eval("CumSum", 14, a(), vec![Some(x23())], 1).is_err());
        let s = Tensor::from_vec(vec![1], vec!["a".to_string()]).unwrap();
        assert!(eval("ReduceSum", 13, a(), vec![Some(s)], 1).is_err());
    }

    #[test]
    fn opset_forms() {
        let a = Attributes::new;
        // axes attribute before the switch, input after
        let y = eval(
            "ReduceSum",
            11,
            a().with("axes", Attr::Ints(vec![1]))
                .with("keepdims", Attr::Int(0)),
            vec![Some(x23())],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<f32>().unwrap(), &[8.0, 6.5]);
        let y = eval(
            "ReduceL2",
            18,
            a().with("noop_with_empty_axes", Attr::Int(1)),
            vec![Some(x23()), Some(i64s(&[]))],
            1,
        )
        .unwrap();
        assert_eq!(y[0].shape(), &[2, 3]);
        assert_eq!(y[0].as_slice::<f32>().unwrap(), &[1., 5., 2., 1., 0.5, 7.]);
        let y = eval("TopK", 1, a().with("k", Attr::Int(1)), vec![Some(x23())], 2).unwrap();
        assert_eq!(y[0].as_slice::<f32>().unwrap(), &[5., 7.]);
        assert_eq!(y[1].as_slice::<i64>().unwrap(), &[1, 2]);
        let y = eval(
            "CumSum",
            14,
            a().with("exclusive", Attr::Int(1))
                .with("reverse", Attr::Int(1)),
            vec![Some(x23()), Some(Tensor::scalar(-1i32))],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<f32>().unwrap(), &[7., 2., 0., 7.5, 7., 0.]);
    }
}
