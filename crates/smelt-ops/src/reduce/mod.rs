//! Reductions: Reduce* (one family sharing [`kernel`]), ArgMax/ArgMin, TopK, CumSum.
use smelt_ir::Registry;

pub mod argminmax;
pub mod cumsum;
pub mod kernel;
pub mod reduce;
pub mod topk;

pub fn register_all(r: &mut Registry) {
    reduce::register(r);
    argminmax::register(r);
    topk::register(r);
    cumsum::register(r);
}
