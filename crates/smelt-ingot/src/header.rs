//! The fixed header and the section table: the only part of the file read before the
//! manifest. All integers are little-endian.
//!
//! ```text
//! offset size  field
//!  0      8    magic  89 'I' 'N' 'G' 'O' 'T' 0D 0A
//!  8      2    major version (a reader refuses a major it does not know)
//! 10      2    minor version (a reader accepts any minor of its major)
//! 12      4    header length (64)
//! 16      4    section count
//! 20      4    flags (0)
//! 24      8    file length
//! 32      4    CRC-32 of bytes 0..32 and the section table
//! 36     28    reserved (0)
//! 64    32*n   section table: kind u32, flags u32, offset u64, length u64, crc32 u32, 0 u32
//! ```

use smelt_core::{Error, Result};

pub const MAGIC: [u8; 8] = *b"\x89INGOT\r\n";
pub const MAJOR: u16 = 1;
pub const MINOR: u16 = 0;
pub const HEADER_LEN: usize = 64;
pub const ENTRY_LEN: usize = 32;
/// Blobs start at multiples of this from the weights section start.
pub const BLOB_ALIGN: u64 = 64;
/// The weights section starts at a multiple of this (a page), so mapped blobs are aligned.
pub const SECTION_ALIGN: u64 = 4096;
/// More sections than this is a corrupt table, not a real file.
const MAX_SECTIONS: u32 = 1024;

/// Section kinds. Unknown kinds are skipped (a newer minor version may add some).
pub mod kind {
    pub const MANIFEST: u32 = 1;
    pub const WEIGHTS: u32 = 2;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub length: u64,
    /// CRC-32 of the section's bytes; 0 for the weights section, whose blobs carry their own.
    pub crc32: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub major: u16,
    pub minor: u16,
    pub file_len: u64,
    pub sections: Vec<Section>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

impl Header {
    /// Bytes of the header plus the section table.
    pub fn encoded_len(n_sections: usize) -> usize {
        HEADER_LEN + ENTRY_LEN * n_sections
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; Self::encoded_len(self.sections.len())];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&self.major.to_le_bytes());
        b[10..12].copy_from_slice(&self.minor.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..20].copy_from_slice(&(self.sections.len() as u32).to_le_bytes());
        b[24..32].copy_from_slice(&self.file_len.to_le_bytes());
        for (i, s) in self.sections.iter().enumerate() {
            let o = HEADER_LEN + i * ENTRY_LEN;
            b[o..o + 4].copy_from_slice(&s.kind.to_le_bytes());
            b[o + 4..o + 8].copy_from_slice(&s.flags.to_le_bytes());
            b[o + 8..o + 16].copy_from_slice(&s.offset.to_le_bytes());
            b[o + 16..o + 24].copy_from_slice(&s.length.to_le_bytes());
            b[o + 24..o + 28].copy_from_slice(&s.crc32.to_le_bytes());
        }
        let crc = table_crc(&b);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks the header of a whole file: magic, version, length, table checksum,
    /// and that every section lies inside the file.
    pub fn decode(file: &[u8]) -> Result<Header> {
        let n = file.len();
        if n < HEADER_LEN {
            if n >= 8 && file[..8] != MAGIC {
                return Err(Error::format("not an .ingot file (bad magic)"));
            }
            return Err(Error::format(format!(
                "file is {n} bytes, shorter than the {HEADER_LEN}-byte .ingot header (truncated?)"
            )));
        }
        if file[..8] != MAGIC {
            return Err(Error::format("not an .ingot file (bad magic)"));
        }
        let (major, minor) = (u16_at(file, 8), u16_at(file, 10));
        if major != MAJOR {
            // a header whose own checksum (as this version computes it) fails is more likely
            // a damaged file than a newer one; say both when it cannot tell
            let count = u32_at(file, 16).min(MAX_SECTIONS) as usize;
            let end = Self::encoded_len(count);
            let intact = end <= n && u32_at(file, 32) == table_crc(&file[..end]);
            let why = match (major > MAJOR, intact) {
                (true, true) => ": the file was written by a newer smelt",
                (true, false) => ": written by a newer smelt, or the header is corrupt",
                (false, _) => " (corrupt header?)",
            };
            return Err(Error::format(format!(
                "format version {major}.{minor} is not readable by this smelt (reads {MAJOR}.x){why}"
            )));
        }
        let header_len = u32_at(file, 12) as usize;
        if header_len != HEADER_LEN {
            return Err(Error::format(format!(
                "header length {header_len}, expected {HEADER_LEN} (corrupt header)"
            )));
        }
        let count = u32_at(file, 16);
        if count > MAX_SECTIONS {
            return Err(Error::format(format!(
                "section count {count} is implausible (corrupt header)"
            )));
        }
        let file_len = u64_at(file, 24);
        if file_len != n as u64 {
            return Err(Error::format(format!(
                "header says the file is {file_len} bytes, it is {n}{}",
                if (n as u64) < file_len {
                    " (truncated)"
                } else {
                    ""
                }
            )));
        }
        let table_end = Self::encoded_len(count as usize);
        if table_end > n {
            return Err(Error::format(format!(
                "section table of {count} entries runs past the end of the file (truncated?)"
            )));
        }
        let stored = u32_at(file, 32);
        let got = table_crc(&file[..table_end]);
        if stored != got {
            return Err(Error::format(format!(
                "header checksum mismatch (stored {stored:08x}, computed {got:08x}): corrupt file"
            )));
        }
        let mut sections = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            let o = HEADER_LEN + i * ENTRY_LEN;
            let s = Section {
                kind: u32_at(file, o),
                flags: u32_at(file, o + 4),
                offset: u64_at(file, o + 8),
                length: u64_at(file, o + 16),
                crc32: u32_at(file, o + 24),
            };
            let end = s.offset.checked_add(s.length);
            if s.offset < table_end as u64 || end.is_none_or(|e| e > n as u64) {
                return Err(Error::format(format!(
                    "section {i} (kind {}) at {}+{} lies outside the file's {n} bytes",
                    s.kind, s.offset, s.length
                )));
            }
            sections.push(s);
        }
        Ok(Header {
            major,
            minor,
            file_len,
            sections,
        })
    }

    /// The one section of a kind; an error if there are several.
    pub fn section(&self, kind: u32) -> Result<Option<Section>> {
        let mut it = self.sections.iter().filter(|s| s.kind == kind);
        let first = it.next().copied();
        if it.next().is_some() {
            return Err(Error::format(format!(
                "section kind {kind} appears more than once"
            )));
        }
        Ok(first)
    }
}

/// CRC-32 of the header (with its checksum field taken as zero) and the section table.
fn table_crc(b: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&b[..32]);
    h.update(&[0u8; 4]);
    h.update(&b[36..]);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Header, Vec<u8>) {
        let mut h = Header {
            major: MAJOR,
            minor: MINOR,
            file_len: 0,
            sections: vec![Section {
                kind: kind::MANIFEST,
                flags: 0,
                offset: 96,
                length: 4,
                crc32: 7,
            }],
        };
        h.file_len = 100;
        let mut b = h.encode();
        b.resize(100, 0);
        (h, b)
    }

    #[test]
    fn round_trip() {
        let (h, b) = sample();
        assert_eq!(Header::decode(&b).unwrap(), h);
    }

    #[test]
    fn every_header_byte_is_checked() {
        let (_, b) = sample();
        for i in 0..Header::encoded_len(1) {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(Header::decode(&c).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn newer_major_is_refused_by_name() {
        let (mut h, _) = sample();
        h.major = 2;
        let mut b = h.encode();
        b.resize(100, 0);
        let e = Header::decode(&b).unwrap_err().to_string();
        assert!(e.contains("newer smelt"), "{e}");
    }

    #[test]
    fn truncation_is_named() {
        let (_, b) = sample();
        for n in 0..b.len() {
            let e = Header::decode(&b[..n]).unwrap_err().to_string();
            assert!(e.contains("truncated") || e.contains("magic"), "{n}: {e}");
        }
    }
}
