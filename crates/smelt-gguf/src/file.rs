//! A GGUF file mapped into memory, with its parse.

use crate::error::{Error, Result};
use crate::{Gguf, TensorInfo};
use memmap2::Mmap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A mapped GGUF file and its [`Gguf`] parse (reached through `Deref`). Tensor data are
/// slices of the map; [`GgufFile::map`] shares the map itself, for tensors that outlive
/// this value.
pub struct GgufFile {
    path: PathBuf,
    map: Arc<Mmap>,
    gguf: Gguf,
}

impl GgufFile {
    pub(crate) fn open(path: &Path) -> Result<GgufFile> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < crate::header::HEADER_LEN {
            // too short to be GGUF (and an empty file cannot be mapped): parse the bytes
            // for the error that names what is missing
            let b = std::fs::read(path).map_err(io)?;
            Gguf::parse(&b)?;
        }
        // SAFETY: the map is read-only. As with every mapped model file, the contract is
        // that the file is not modified while it is mapped.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let gguf = Gguf::parse(&map)?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            map: Arc::new(map),
            gguf,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn gguf(&self) -> &Gguf {
        &self.gguf
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The map, to share with tensors that use the data in place.
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// The data of the tensor named `name`.
    pub fn tensor_data(&self, name: &str) -> Result<&[u8]> {
        self.gguf.require_tensor(name)?.data(&self.map)
    }

    /// The data of `info`, a tensor of this file.
    pub fn data_of(&self, info: &TensorInfo) -> Result<&[u8]> {
        info.data(&self.map)
    }

    /// The tensor named `name` dequantized to f32, in ggml order.
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>> {
        self.gguf.require_tensor(name)?.dequantize(&self.map)
    }
}

impl Deref for GgufFile {
    type Target = Gguf;

    fn deref(&self) -> &Gguf {
        &self.gguf
    }
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("len", &self.map.len())
            .field("gguf", &self.gguf)
            .finish()
    }
}
