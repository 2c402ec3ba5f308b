//! Hugging Face safetensors: a reader, and the import of transformers checkpoints
//! (`config.json` + `model.safetensors`) into a portable smelt graph.
//!
//! # The format
//!
//! An 8-byte little-endian header length `N`, a JSON header of `N` bytes (tensor name ->
//! `{dtype, shape, data_offsets}`, and an optional `__metadata__` object of strings), then
//! the data, which the tensors' ranges tile exactly (see [`header`]).
//!
//! # Contracts
//!
//! - [`SafeTensors::parse`] reads the header of a file held in memory; [`SafeTensorsFile`]
//!   maps a file and parses it, and its tensors' bytes are slices of the map.
//! - Any file, however malformed, gives an [`Error`] naming what is wrong and which tensor,
//!   never a panic. The header length is checked against the file and [`MAX_HEADER_LEN`]
//!   before the header is read, every shape's byte count is computed with overflow checks
//!   and must equal its range's, every range must lie inside the data, and the ranges must
//!   not overlap or leave holes. Nothing is allocated from a size the file claims: memory is
//!   bounded by a small multiple of the header's length.
//! - Unknown dtypes are [`Error::UnknownDtype`] naming the tensor and the dtype.
//!
//! # Import ([`hf`])
//!
//! [`hf::import`] reads a checkpoint folder (or a `.safetensors` file with `config.json`
//! beside it) and builds the graph of its `model_type`; BERT encoders today ([`hf::bert`]).
//! The builders live here, not in smelt-llm, because an encoder needs nothing above the op
//! set: like smelt-onnx, this crate builds graphs through `smelt_ops::GraphBuilder`, so the
//! `smelt` facade can depend on it and `smelt convert` reads checkpoints. smelt-llm sits
//! above the facade (its generator runs `smelt::Model`), and is where decoders with a KV
//! cache belong.

pub mod dtype;
pub mod error;
mod file;
pub mod header;
pub mod hf;
mod tensor;
pub mod write;

pub use dtype::Dtype;
pub use error::{Error, Result};
pub use file::SafeTensorsFile;
pub use header::MAX_HEADER_LEN;
pub use tensor::TensorInfo;

use std::collections::{BTreeMap, HashMap};

/// A parsed safetensors header: metadata and tensor entries, each checked against the file.
/// Holds no tensor data: [`TensorInfo::data`] slices it from the file's bytes.
#[derive(Clone, Debug)]
pub struct SafeTensors {
    metadata: BTreeMap<String, String>,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
    data_start: u64,
    file_len: u64,
}

impl SafeTensors {
    /// Parses the header of `bytes`, a whole safetensors file.
    pub fn parse(bytes: &[u8]) -> Result<SafeTensors> {
        let h = header::parse(bytes)?;
        let by_name = h
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(SafeTensors {
            metadata: h.metadata,
            tensors: h.tensors,
            by_name,
            data_start: h.data_start,
            file_len: bytes.len() as u64,
        })
    }

    /// `__metadata__` (empty when absent).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The tensors in header order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor named `name`, or [`Error::NoSuchTensor`].
    pub fn require(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name)
            .ok_or_else(|| Error::NoSuchTensor(name.to_string()))
    }

    /// Where the data starts in the file: 8 + the header length.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// The length of the file parsed.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }
}
