//! Newer and less common ops: bit casts, cumulative product, Swish, KV-cache scatter,
//! causal convolution with state.
use smelt_ir::Registry;

pub mod bitcast;
pub mod causal_conv_with_state;
pub mod cumprod;
pub mod linear_attention;
pub mod optimizers;
pub mod swish;
pub mod tensor_scatter;

pub fn register_all(r: &mut Registry) {
    bitcast::register(r);
    causal_conv_with_state::register(r);
    cumprod::register(r);
    linear_attention::register(r);
    optimizers::register(r);
    swish::register(r);
    tensor_scatter::register(r);
}
