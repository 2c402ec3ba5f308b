//! Reductions: Reduce* (one family sharing [`kernel`]), ArgMax/ArgMin, TopK, CumSum.
use smelt_ir::Registry;

pub mod kernel;
pub mod reduce;

pub fn register_all(r: &mut Registry) {
    reduce::register(r);
}
