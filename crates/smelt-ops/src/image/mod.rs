//! Image ops: Resize / Upsample (separable resampling), GridSample, AffineGrid, RoiAlign,
//! NonMaxSuppression.
use smelt_ir::Registry;

pub mod resample;
pub mod resize;
pub mod upsample;

pub fn register_all(r: &mut Registry) {
    resize::register(r);
    upsample::register(r);
}
