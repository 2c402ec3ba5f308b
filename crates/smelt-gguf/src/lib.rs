//! GGUF, llama.cpp's model file: a reader for versions 2 and 3.
//!
//! # The format
//!
//! ```text
//! header          magic "GGUF", version u32, tensor count u64, metadata count u64
//! metadata        count x (key string, value type u32, value)       see `metadata`
//! tensor infos    count x (name, n_dims u32, dims u64 x n_dims,
//!                          ggml type u32, data offset u64)           see `tensor`
//! padding         zeros up to a multiple of the alignment
//! data section    each tensor's bytes at its offset, offsets aligned   see `quant`
//! ```
//!
//! Everything is little-endian; a string is a u64 byte length followed by UTF-8 bytes. The
//! alignment is the metadata key `general.alignment` (a UINT32 power of two), 32 when absent.
//! Dimensions are in ggml order, innermost first ([`TensorInfo::dims`]); [`TensorInfo::shape`]
//! gives them outermost first.
//!
//! # Contracts
//!
//! - [`Gguf::parse`] reads the header, metadata and tensor infos of a file held in memory and
//!   checks that every tensor's data lies inside it; it copies no tensor data. [`Gguf::open`]
//!   maps a file (memmap2) and parses it; [`GgufFile`] keeps the map, so its tensors' data are
//!   slices of the mapped file, used in place.
//! - Any file, however malformed, gives an [`Error`] naming what was read and where (offset,
//!   key, tensor), never a panic. Counts, lengths, dimensions and offsets are checked (with
//!   overflow checks) against the bytes left before anything is allocated from them, so
//!   memory is bounded by a small multiple of the file size.
//! - Unknown metadata value types and tensor types are errors naming the number. Every type
//!   ggml defines is known ([`GgmlType`]), so any valid file parses; dequantizing a type without
//!   a reference dequantizer is [`Error::UnsupportedType`].
//! - [`quant::dequantize`] is the reference dequantizer, bit-exact with llama.cpp and gguf-py.

pub mod error;
mod file;
pub mod header;
pub mod metadata;
pub mod quant;
mod reader;
pub mod tensor;

pub use error::{Error, Result};
pub use file::GgufFile;
pub use metadata::{Array, Metadata, Value, ValueType};
pub use quant::GgmlType;
pub use tensor::TensorInfo;

use reader::Reader;
use std::collections::HashMap;
use std::path::Path;

/// The alignment of tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// The key giving the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// A parsed GGUF file: its metadata and tensor infos, with each tensor's place in the file.
/// Holds no tensor data: [`TensorInfo::data`] slices it from the file's bytes (or use
/// [`GgufFile`], which holds the mapped file).
#[derive(Clone, Debug)]
pub struct Gguf {
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
    alignment: u64,
    data_start: u64,
    file_len: u64,
}

macro_rules! forward_getters {
    ($($fn:ident -> $t:ty;)*) => {
        $(
            #[doc = concat!("[`Metadata::", stringify!($fn), "`] on this file's metadata.")]
            pub fn $fn(&self, key: &str) -> Result<$t> {
                self.metadata.$fn(key)
            }
        )*
    };
}

impl Gguf {
    /// Maps the file at `path` and parses it.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        GgufFile::open(path.as_ref())
    }

    /// Parses a whole GGUF file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Gguf> {
        let mut r = Reader::new(bytes);
        let h = header::read(&mut r)?;
        let metadata = metadata::read(&mut r, h.metadata_count, header::METADATA_COUNT_AT)?;
        let alignment = alignment(&metadata)?;
        let mut tensors = tensor::read(&mut r, h.tensor_count, header::TENSOR_COUNT_AT)?;
        // the data section starts at the next multiple of the alignment; when that is past
        // the end of the file, every tensor's range check below fails (there are none when
        // the file has no tensors)
        let data_start = r.pos().div_ceil(alignment) * alignment;
        let file_len = bytes.len() as u64;
        tensor::place(&mut tensors, data_start, alignment, file_len)?;
        let by_name = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name().to_string(), i))
            .collect();
        Ok(Gguf {
            version: h.version,
            metadata,
            tensors,
            by_name,
            alignment,
            data_start,
            file_len,
        })
    }

    /// The format version: 2 or 3.
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor named `name`, or [`Error::NoSuchTensor`].
    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name)
            .ok_or_else(|| Error::NoSuchTensor(name.into()))
    }

    /// The alignment of tensor data (`general.alignment`, or 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Where the data section starts in the file.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// The length of the file parsed.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// `general.architecture`: `llama`, `qwen2`, `gemma3`, ...
    pub fn architecture(&self) -> Result<&str> {
        self.metadata.get_str("general.architecture")
    }

    /// `KEY` qualified by the architecture: `arch_key("block_count")` is
    /// `llama.block_count` in a Llama file.
    pub fn arch_key(&self, key: &str) -> Result<String> {
        Ok(format!("{}.{key}", self.architecture()?))
    }

    /// [`Metadata::get`] on this file's metadata.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    forward_getters! {
        get_u8 -> u8;
        get_i8 -> i8;
        get_u16 -> u16;
        get_i16 -> i16;
        get_u32 -> u32;
        get_i32 -> i32;
        get_u64 -> u64;
        get_i64 -> i64;
        get_f32 -> f32;
        get_f64 -> f64;
        get_bool -> bool;
        get_str -> &str;
        get_array -> &Array;
        get_str_array -> &[String];
        get_f32_array -> &[f32];
        get_i32_array -> &[i32];
        get_uint -> u64;
        get_float -> f64;
    }
}

/// `general.alignment` if present: a UINT32 power of two.
fn alignment(m: &Metadata) -> Result<u64> {
    match m.get(ALIGNMENT_KEY) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(Value::U32(a)) if a.is_power_of_two() => Ok(*a as u64),
        Some(Value::U32(a)) => Err(Error::BadAlignment {
            value: a.to_string(),
        }),
        Some(v) => Err(Error::BadAlignment {
            value: format!("of type {}", v.describe()),
        }),
    }
}
