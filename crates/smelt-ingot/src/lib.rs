//! The `.ingot` model package: one file holding a manifest (model metadata, inputs, outputs,
//! states and the graph, everything named by string) and a weights section of 64-byte-aligned
//! blobs that the loader maps with mmap and uses in place. docs/ingot-format.md is the spec.

pub mod header;
pub mod info;
pub mod proto;
pub mod read;
pub mod write;

pub use info::{Info, StateDecl};
pub use read::{from_bytes, open, LoadOptions, LoadStats, Package};
pub use write::{to_bytes, write, write_to, WriteStats};
