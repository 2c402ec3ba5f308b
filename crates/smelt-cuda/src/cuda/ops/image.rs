//! Resize: one `resample_axis_f32` pass per resized axis, with index and weight tables
//! planned on the host (`plan::resize`).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::resize::{self, ResizeAttrs};
use smelt_core::{DType, Error, Result, Tensor};

pub(super) fn resize(s: &Stream, a: &ResizeAttrs, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let floats =
        |i: usize| -> Result<Option<Vec<f64>>> { ins.host(i)?.map(|t| t.to_f64_vec()).transpose() };
    let (scales, sizes, roi) = if a.opset10 {
        (floats(1)?, None, None)
    } else {
        // checked as the CPU op checks it; only tf_crop_and_resize reads it
        let roi = floats(1)?;
        (floats(2)?, ins.host_ints(3)?, roi)
    };
    let (steps, out) = resize::plan(a, x.shape(), scales, sizes, roi)?;
    let mut cur = x.clone();
    for st in &steps {
        let mut shape = cur.shape().to_vec();
        shape[st.axis] = st.out;
        let y = s.alloc(DType::F32, &shape)?;
        let idx = s.upload(&Tensor::from_vec(vec![st.idx.len()], st.idx.clone())?)?;
        let w = s.upload(&Tensor::from_vec(vec![st.w.len()], st.w.clone())?)?;
        let (xp, yp, ip, wp) = (cur.ptr(), y.ptr(), idx.ptr(), w.ptr());
        let (o, dm, inn, ou, n) = (
            st.outer as i32,
            st.dim as i32,
            st.inner as i32,
            st.out as i32,
            st.n as i32,
        );
        let (g, b) = geom(y.len());
        s.launch(
            "resample_axis_f32",
            g,
            b,
            args![&xp, &yp, &o, &dm, &inn, &ou, &n, &ip, &wp],
        )?;
        if !st.extrap.is_empty() {
            // positions outside the crop take extrapolation_value (before the next pass)
            let fl = s.upload(&Tensor::from_vec(vec![st.extrap.len()], st.extrap.clone())?)?;
            let (fp, fill) = (fl.ptr(), st.fill);
            s.launch("fill_rows_f32", g, b, args![&yp, &o, &ou, &inn, &fp, &fill])?;
        }
        cur = y;
    }
    if cur.shape() != out.as_slice() {
        return Err(Error::invalid(format!(
            "Resize: planned {out:?}, made {:?}",
            cur.shape()
        )));
    }
    Ok(cur)
}
