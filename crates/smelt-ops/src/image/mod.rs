//! Image ops: Resize / Upsample (separable resampling), GridSample, AffineGrid, RoiAlign,
//! NonMaxSuppression.
use smelt_ir::Registry;

pub mod affine_grid;
pub mod grid_sample;
pub mod non_max_suppression;
pub mod resample;
pub mod resize;
pub mod roi_align;
pub mod upsample;

pub fn register_all(r: &mut Registry) {
    affine_grid::register(r);
    grid_sample::register(r);
    non_max_suppression::register(r);
    resize::register(r);
    roi_align::register(r);
    upsample::register(r);
}
