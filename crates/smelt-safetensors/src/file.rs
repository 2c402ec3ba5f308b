//! A safetensors file mapped into memory, with its parse.

use crate::error::{Error, Result};
use crate::{SafeTensors, TensorInfo};
use memmap2::Mmap;
use smelt_core::Tensor;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A mapped safetensors file and its [`SafeTensors`] parse (reached through `Deref`);
/// tensor data are slices of the map.
pub struct SafeTensorsFile {
    path: PathBuf,
    map: Mmap,
    parsed: SafeTensors,
}

impl SafeTensorsFile {
    /// Maps the file at `path` and parses its header.
    pub fn open(path: impl AsRef<Path>) -> Result<SafeTensorsFile> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            // an empty file cannot be mapped
            return Err(Error::TooShort { len });
        }
        // SAFETY: the map is read-only. As with every mapped model file, the contract is
        // that the file is not modified while it is mapped.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let parsed = SafeTensors::parse(&map)?;
        Ok(SafeTensorsFile {
            path: path.to_path_buf(),
            map,
            parsed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The bytes of the tensor named `name`.
    pub fn data(&self, name: &str) -> Result<&[u8]> {
        self.parsed.require(name)?.data(self.bytes())
    }

    /// The tensor named `name`, widened to f32 ([`TensorInfo::to_f32`]).
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>> {
        self.parsed.require(name)?.to_f32(self.bytes())
    }

    /// The tensor named `name` as a smelt `Tensor` ([`TensorInfo::to_tensor`]).
    pub fn to_tensor(&self, name: &str) -> Result<Tensor> {
        self.parsed.require(name)?.to_tensor(self.bytes())
    }

    /// The data of `info`, a tensor of this file.
    pub fn data_of(&self, info: &TensorInfo) -> Result<&[u8]> {
        info.data(self.bytes())
    }
}

impl Deref for SafeTensorsFile {
    type Target = SafeTensors;

    fn deref(&self) -> &SafeTensors {
        &self.parsed
    }
}

impl std::fmt::Debug for SafeTensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeTensorsFile")
            .field("path", &self.path)
            .field("len", &self.bytes().len())
            .field("tensors", &self.parsed.tensors().len())
            .finish()
    }
}
