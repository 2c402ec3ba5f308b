//! The fixed-size header: magic, version and the two counts.
//!
//! ```text
//! offset 0   magic          "GGUF" (0x47 0x47 0x55 0x46)
//! offset 4   version        u32: 2 or 3 (1 used u32 counts and lengths and is not read)
//! offset 8   tensor count   u64
//! offset 16  metadata count u64
//! ```
//!
//! Version 3 differs from 2 only in allowing big-endian files, which have no marker: their
//! version reads as a byte-swapped number. Those are refused with [`Error::BigEndian`].

use crate::error::{Error, Result};
use crate::reader::Reader;

/// The file's first four bytes.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// The header's size in bytes.
pub const HEADER_LEN: u64 = 24;

/// The header as read; the counts are not yet checked against the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub tensor_count: u64,
    pub metadata_count: u64,
}

/// Offset of the tensor count, named in errors about it.
pub(crate) const TENSOR_COUNT_AT: u64 = 8;
/// Offset of the metadata count, named in errors about it.
pub(crate) const METADATA_COUNT_AT: u64 = 16;

pub(crate) fn read(r: &mut Reader) -> Result<Header> {
    // A short file that does not start like GGUF is named as not GGUF, not as truncated.
    let head = r.peek(4);
    if !MAGIC.starts_with(head) {
        return Err(Error::BadMagic {
            found: head.to_vec(),
        });
    }
    r.bytes(4, &|| "the magic".into())?;
    let version = r.u32(&|| "the version".into())?;
    match version {
        2 | 3 => {}
        v if matches!(v.swap_bytes(), 1..=3) => {
            return Err(Error::BigEndian {
                version: v.swap_bytes(),
            })
        }
        v => return Err(Error::UnsupportedVersion { version: v }),
    }
    let tensor_count = r.u64(&|| "the tensor count".into())?;
    let metadata_count = r.u64(&|| "the metadata count".into())?;
    Ok(Header {
        version,
        tensor_count,
        metadata_count,
    })
}
