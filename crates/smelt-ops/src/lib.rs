//! smelt's op set. One op per file (element-wise families share a table), each holding the
//! op's attributes, its factory (attribute parsing and opset-version handling), shape
//! inference where it is cheap, and the reference evaluation on host tensors.
//!
//! Adding an op: write `src/<family>/<op>.rs` with a `register` function, and add its
//! `mod` + `register` line to the family's `mod.rs`.
//!
//! [`registry`] returns every op; [`GraphBuilder`] builds graphs through it.

pub mod builder;
pub mod isa;
pub mod prelude;
#[cfg(test)]
pub(crate) mod testing;
pub mod util;

pub mod array;
pub mod control;
pub mod image;
pub mod linalg;
pub mod loss;
pub mod math;
pub mod misc;
pub mod ml;
pub mod nn;
pub mod norm;
pub mod quant;
pub mod reduce;
pub mod rnn;
pub mod signal;
pub mod text;

pub use builder::{GraphBuilder, V};

use smelt_ir::Registry;
use std::sync::OnceLock;

/// The registry of every op in this crate.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut r = Registry::new();
        array::register_all(&mut r);
        control::register_all(&mut r);
        image::register_all(&mut r);
        linalg::register_all(&mut r);
        loss::register_all(&mut r);
        math::register_all(&mut r);
        misc::register_all(&mut r);
        ml::register_all(&mut r);
        nn::register_all(&mut r);
        norm::register_all(&mut r);
        quant::register_all(&mut r);
        reduce::register_all(&mut r);
        rnn::register_all(&mut r);
        signal::register_all(&mut r);
        text::register_all(&mut r);
        r
    })
}
