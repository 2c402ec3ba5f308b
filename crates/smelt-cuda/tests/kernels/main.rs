//! Every GPU kernel against the CPU reference on random inputs whose sizes straddle the
//! block and tile widths. Without a CUDA device each test prints `SKIP: no CUDA device`
//! and returns; on the GPU machine they run for real.

#![allow(clippy::type_complexity)]

mod attention_loss_rms;
mod attn_fuse;
mod common;
mod dtypes;
mod elementwise;
mod exec;
mod fold;
mod fusion;
mod graphs;
mod index;
mod layout;
mod linalg;
mod lowp;
mod misc;
mod nn;
mod pool;
mod select;
mod seq;
mod train;
