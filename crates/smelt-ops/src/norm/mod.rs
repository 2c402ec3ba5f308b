//! Normalization ops: softmax family, batch/instance/layer/group/RMS/Lp/mean-variance
//! normalization, LRN, Dropout (inference).
use smelt_ir::Registry;

pub mod batchnorm;
pub mod common;
pub mod dropout;
pub mod groupnorm;
pub mod layernorm;
pub mod lpnorm;
pub mod lrn;
pub mod mvn;
pub mod softmax;

pub fn register_all(r: &mut Registry) {
    softmax::register(r);
    layernorm::register(r);
    batchnorm::register(r);
    groupnorm::register(r);
    lpnorm::register(r);
    mvn::register(r);
    lrn::register(r);
    dropout::register(r);
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::reduce::tests::eval;

    fn x() -> Tensor {
        Tensor::from_vec(
            vec![2, 2, 3],
            (0..12)
                .map(|i| (i as f32) * 0.7 - 3.1)
                .collect::<Vec<f32>>(),
        )
        .unwrap()
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = Attributes::new;
        let v = |n: usize| Tensor::from_vec(vec![n], vec![1f32; n]).unwrap();
        assert!(eval(
            "Softmax",
            13,
            a().with("axis", Attr::Int(3)),
            vec![Some(x())],
            1
        )
        .is_err());
        assert!(eval(
            "Softmax",
            13,
            a(),
            vec![Some(Tensor::from_vec(vec![2], vec![1i32, 2]).unwrap())],
            1
        )
        .is_err());
        assert!(eval(
            "LayerNormalization",
            17,
            a(),
            vec![Some(x()), Some(v(4))],
            1
        )
        .is_err());
        assert!(eval("RMSNormalization", 23, a(), vec![Some(x())], 1).is_err());
        assert!(eval(
            "BatchNormalization",
            15,
            a(),
            vec![Some(x()), Some(v(2)), Some(v(2)), Some(v(3)), Some(v(2))],
            1
        )
        .is_err());
        assert!(eval(
            "InstanceNormalization",
            22,
            a(),
            vec![Some(x()), Some(v(3)), Some(v(2))],
            1
        )
        .is_err());
        assert!(eval(
            "GroupNormalization",
            21,
            a().with("num_groups", Attr::Int(3)),
            vec![Some(x()), Some(v(2)), Some(v(2))],
            1
        )
        .is_err());
        assert!(eval(
            "GroupNormalization",
            21,
            a().with("num_groups", Attr::Int(0)),
            vec![Some(x()), Some(v(2)), Some(v(2))],
            1
        )
        .is_err());
        assert!(eval(
            "LpNormalization",
            22,
            a().with("p", Attr::Int(3)),
            vec![Some(x())],
            1
        )
        .is_err());
        assert!(eval("LRN", 13, a(), vec![Some(x())], 1).is_err());
        assert!(eval("MeanVarianceNormalization", 13, a(), vec![Some(x())], 1).is_err());
        let r = Tensor::scalar(1.5f32);
        let t = Tensor::scalar(true);
        assert!(eval("Dropout", 13, a(), vec![Some(x()), Some(r), Some(t)], 1).is_err());
    }

    #[test]
    fn group_norm_opsets_and_layer_norm_stats() {
        let a = Attributes::new;
        let s = Tensor::from_vec(vec![2], vec![2f32, 3.]).unwrap();
        let b = Tensor::from_vec(vec![2], vec![0.5f32, -1.]).unwrap();
        // one group per channel: opset 18 (per group) and 21 (per channel) agree
        let g18 = eval(
            "GroupNormalization",
            18,
            a().with("num_groups", Attr::Int(2)),
            vec![Some(x()), Some(s.clone()), Some(b.clone())],
            1,
        )
        .unwrap();
        let g21 = eval(
            "GroupNormalization",
            21,
            a().with("num_groups", Attr::Int(2)),
            vec![Some(x()), Some(s.clone()), Some(b.clone())],
            1,
        )
        .unwrap();
        let inst = eval(
            "InstanceNormalization",
            22,
            a(),
            vec![Some(x()), Some(s), Some(b)],
            1,
        )
        .unwrap();
        assert_eq!(g18[0], g21[0]);
        assert_eq!(g21[0], inst[0]);
        let w = Tensor::from_vec(vec![3], vec![1f32; 3]).unwrap();
        let y = eval("LayerNormalization", 17, a(), vec![Some(x()), Some(w)], 3).unwrap();
        assert_eq!(y[1].shape(), &[2, 2, 1]);
        assert_eq!(y[2].shape(), &[2, 2, 1]);
        let m = y[1].as_slice::<f32>().unwrap();
        assert!((m[0] - (-3.1 + 0.7)).abs() < 1e-5);
        // f16 computes in f32 and rounds once
        let h = Tensor::from_vec(
            vec![1, 3],
            vec![f16::from_f32(1.0), f16::from_f32(2.0), f16::from_f32(3.0)],
        )
        .unwrap();
        let y = eval("Softmax", 13, a(), vec![Some(h)], 1).unwrap();
        let want = [0.09003057f32, 0.24472847, 0.66524096];
        for (g, w) in y[0].as_slice::<f16>().unwrap().iter().zip(want) {
            assert!((g.to_f32() - w).abs() < 1e-3);
        }
    }
}
