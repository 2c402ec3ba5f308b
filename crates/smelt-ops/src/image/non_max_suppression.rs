//! NonMaxSuppression (opsets 10, 11): boxes [B, N, 4], scores [B, C, N], optional scalars
//! max_output_boxes_per_class (i64, default 0 = select nothing), iou_threshold (default 0),
//! score_threshold (boxes must score strictly above it). Per batch and class, greedily takes
//! the best-scoring box (ties: lower index first) and drops boxes whose IoU with it exceeds
//! iou_threshold. Output selected_indices [K, 3] i64 rows (batch, class, box), batch-major,
//! then class, then selection order. center_point_box 0: (y1, x1, y2, x2) corners in any
//! order; 1: (x_center, y_center, width, height).

use crate::prelude::*;

#[derive(Debug)]
pub struct NonMaxSuppression {
    center: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "NonMaxSuppression", |ctx| {
        let c = ctx.attrs.int_or("center_point_box", 0)?;
        ensure!(c == 0 || c == 1, "center_point_box must be 0 or 1, got {c}");
        Ok(Box::new(NonMaxSuppression { center: c == 1 }))
    });
}

/// (ymin, xmin, ymax, xmax) of a box.
fn corners(b: &[f64], center: bool) -> [f64; 4] {
    if center {
        let (xc, yc, w, h) = (b[0], b[1], b[2], b[3]);
        [yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0]
    } else {
        [
            b[0].min(b[2]),
            b[1].min(b[3]),
            b[0].max(b[2]),
            b[1].max(b[3]),
        ]
    }
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let ih = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iw = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ih * iw;
    let aa = (a[2] - a[0]) * (a[3] - a[1]);
    let ab = (b[2] - b[0]) * (b[3] - b[1]);
    if aa <= 0.0 || ab <= 0.0 {
        return 0.0;
    }
    let uni = aa + ab - inter;
    if uni <= 0.0 {
        0.0
    } else {
        inter / uni
    }
}

fn scalar_f(t: Option<&Tensor>, what: &str) -> Result<Option<f64>> {
    match t {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) => {
            ensure!(
                t.len() == 1 && t.dtype().is_float(),
                "{what} must be a float scalar"
            );
            Ok(Some(t.to_f64_vec()?[0]))
        }
    }
}

impl Op for NonMaxSuppression {
    fn op_type(&self) -> &str {
        "NonMaxSuppression"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let boxes = req(&inputs, 0)?;
        let scores = req(&inputs, 1)?;
        ensure!(
            boxes.dtype().is_float() && scores.dtype().is_float(),
            "boxes and scores must be float"
        );
        ensure!(
            boxes.rank() == 3 && boxes.shape()[2] == 4,
            "boxes must be [B, N, 4], got {:?}",
            boxes.shape()
        );
        let (nb, n) = (boxes.shape()[0], boxes.shape()[1]);
        ensure!(
            scores.rank() == 3 && scores.shape()[0] == nb && scores.shape()[2] == n,
            "scores must be [B, C, {n}], got {:?}",
            scores.shape()
        );
        let nc = scores.shape()[1];
        let max_out = match opt(&inputs, 2).filter(|t| !t.is_empty()) {
            Some(t) => {
                let v = t.to_i64_vec()?;
                ensure!(v.len() == 1, "max_output_boxes_per_class must be a scalar");
                v[0].max(0) as usize
            }
            None => 0,
        };
        let iou_th = scalar_f(opt(&inputs, 3), "iou_threshold")?.unwrap_or(0.0);
        let score_th = scalar_f(opt(&inputs, 4), "score_threshold")?;
        let bv = boxes.to_f64_vec()?;
        let sv = scores.to_f64_vec()?;
        let mut out: Vec<i64> = vec![];
        for b in 0..nb {
            let cs: Vec<[f64; 4]> = (0..n)
                .map(|i| corners(&bv[(b * n + i) * 4..][..4], self.center))
                .collect();
            for c in 0..nc {
                if max_out == 0 {
                    continue;
                }
                let s = &sv[(b * nc + c) * n..][..n];
                let mut cand: Vec<usize> = (0..n)
                    .filter(|&i| score_th.is_none_or(|t| s[i] > t))
                    .collect();
                cand.sort_by(|&i, &j| {
                    s[j].partial_cmp(&s[i])
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(i.cmp(&j))
                });
                let mut sel: Vec<usize> = vec![];
                for i in cand {
                    if sel.len() >= max_out {
                        break;
                    }
                    if sel.iter().all(|&k| iou(&cs[k], &cs[i]) <= iou_th) {
                        sel.push(i);
                    }
                }
                for i in sel {
                    out.extend([b as i64, c as i64, i as i64]);
                }
            }
        }
        let k = out.len() / 3;
        Ok(vec![Tensor::from_vec(vec![k, 3], out)?])
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::rnn::common::testing::eval;

    #[test]
    fn ties_limits_and_errors() {
        // three identical boxes with equal scores: the lowest index wins, the rest are suppressed
        let boxes = Tensor::from_vec(
            vec![1, 4, 4],
            vec![
                0f32, 0., 1., 1., 0., 0., 1., 1., 0., 0., 1., 1., 5., 5., 6., 6.,
            ],
        )
        .unwrap();
        let scores = Tensor::from_vec(vec![1, 1, 4], vec![0.5f32, 0.5, 0.5, 0.4]).unwrap();
        let mx = Tensor::from_vec(vec![1], vec![10i64]).unwrap();
        let iou = Tensor::from_vec(vec![1], vec![0.5f32]).unwrap();
        let y = eval(
            "NonMaxSuppression",
            11,
            Attributes::new(),
            vec![
                Some(boxes.clone()),
                Some(scores.clone()),
                Some(mx),
                Some(iou.clone()),
            ],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<i64>().unwrap(), &[0, 0, 0, 0, 0, 3]);
        // no max_output_boxes_per_class: nothing selected
        let y = eval(
            "NonMaxSuppression",
            11,
            Attributes::new(),
            vec![Some(boxes.clone()), Some(scores.clone())],
            1,
        )
        .unwrap();
        assert_eq!(y[0].shape(), &[0, 3]);
        let bad = Tensor::from_vec(vec![1, 1, 3], vec![0.5f32, 0.5, 0.5]).unwrap();
        assert!(eval(
            "NonMaxSuppression",
            11,
            Attributes::new(),
            vec![Some(boxes), Some(bad)],
            1
        )
        .is_err());
    }

    #[test]
    fn roi_align_and_grid_sample_errors() {
        let x = Tensor::from_vec(vec![1, 1, 2, 2], vec![1f32, 2., 3., 4.]).unwrap();
        let rois = Tensor::from_vec(vec![1, 4], vec![0f32, 0., 1., 1.]).unwrap();
        let bi = Tensor::from_vec(vec![1], vec![3i64]).unwrap();
        assert!(eval(
            "RoiAlign",
            16,
            Attributes::new(),
            vec![Some(x.clone()), Some(rois.clone()), Some(bi)],
            1
        )
        .is_err());
        let bi = Tensor::from_vec(vec![1], vec![0i64]).unwrap();
        let y = eval(
            "RoiAlign",
            16,
            Attributes::new(),
            vec![Some(x.clone()), Some(rois), Some(bi)],
            1,
        )
        .unwrap();
        assert_eq!(y[0].shape(), &[1, 1, 1, 1]);
        // half_pixel roi (0,0)-(1,1) covers pixel centres -0.5..0.5, sampled at 0 -> 1.0
        assert!((y[0].as_slice::<f32>().unwrap()[0] - 1.0).abs() < 1e-6);
        let grid = Tensor::from_vec(vec![1, 1, 1, 3], vec![0f32, 0., 0.]).unwrap();
        assert!(eval(
            "GridSample",
            16,
            Attributes::new(),
            vec![Some(x.clone()), Some(grid)],
            1
        )
        .is_err());
        let x5 = Tensor::from_vec(vec![1, 1, 1, 2, 2], vec![1f32, 2., 3., 4.]).unwrap();
        let g5 = Tensor::from_vec(vec![1, 1, 1, 1, 3], vec![0f32, 0., 0.]).unwrap();
        assert!(eval(
            "GridSample",
            16,
            Attributes::new(),
            vec![Some(x5.clone()), Some(g5.clone())],
            1
        )
        .is_err());
        let y = eval(
            "GridSample",
            20,
            Attributes::new().with("align_corners", Attr::Int(1)),
            vec![Some(x5), Some(g5)],
            1,
        )
        .unwrap();
        assert!((y[0].as_slice::<f32>().unwrap()[0] - 2.5).abs() < 1e-6);
    }
}
