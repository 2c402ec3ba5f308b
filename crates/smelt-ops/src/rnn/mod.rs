//! Recurrent ops: RNN, GRU, LSTM (all directions, sequence_lens, initial states, layouts).
use smelt_ir::Registry;

pub mod common;
pub mod gru;
pub mod lstm;
pub mod rnn;

pub fn register_all(r: &mut Registry) {
    gru::register(r);
    lstm::register(r);
    rnn::register(r);
}
