//! Helpers shared by the fuzz targets and the seed generator.

use smelt_ingot::header::{kind, ENTRY_LEN, HEADER_LEN, MAGIC};

/// Rewrites the parts of an `.ingot` file that a mutation almost always breaks and that
/// only guard against corruption: the file length field, the manifest section's CRC-32 and
/// the header CRC-32. Without this nearly every mutated input stops at a checksum and the
/// manifest decoder and graph builder are never reached. Returns whether anything changed.
/// Inputs without the magic are left alone.
pub fn fix_ingot_checksums(b: &mut [u8]) -> bool {
    let n = b.len();
    if n < HEADER_LEN || b[..8] != MAGIC {
        return false;
    }
    let count = u32::from_le_bytes(b[16..20].try_into().unwrap()) as usize;
    let table_end = HEADER_LEN + ENTRY_LEN * count.min(1025);
    let before = b[..table_end.min(n)].to_vec();
    b[24..32].copy_from_slice(&(n as u64).to_le_bytes());
    if count > 1024 || table_end > n {
        // the loader refuses the table before any checksum matters
        return b[..HEADER_LEN] != before[..HEADER_LEN];
    }
    for i in 0..count {
        let o = HEADER_LEN + i * ENTRY_LEN;
        if u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != kind::MANIFEST {
            continue;
        }
        let off = u64::from_le_bytes(b[o + 8..o + 16].try_into().unwrap());
        let len = u64::from_le_bytes(b[o + 16..o + 24].try_into().unwrap());
        if let Some(end) = off.checked_add(len).filter(|&e| e <= n as u64) {
            let crc = crc32fast::hash(&b[off as usize..end as usize]);
            b[o + 24..o + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&b[..32]);
    h.update(&[0u8; 4]);
    h.update(&b[36..table_end]);
    let crc = h.finalize();
    b[32..36].copy_from_slice(&crc.to_le_bytes());
    b[..table_end] != before[..]
}
