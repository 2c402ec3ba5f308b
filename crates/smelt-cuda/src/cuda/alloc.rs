//! A caching device allocator: freed blocks go to a free list per size bucket and are handed
//! out again, so a model's repeated predictions stop calling cuMemAlloc after the first.
//!
//! Contract: one allocator per [`Stream`](super::stream::Stream). A block freed while kernels
//! that use it are still queued is safe to hand out again, because every user of this
//! allocator enqueues on that one stream, in order.

use super::device::{cuda_err, Device};
use cudarc::driver::{result, sys};
use smelt_core::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the allocator has done, for `smelt run --stats` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes in blocks handed out now (bucket sizes).
    pub in_use: u64,
    /// The most `in_use` has been.
    pub peak: u64,
    /// Bytes in free blocks kept for reuse.
    pub cached: u64,
    /// Requests served from the free lists.
    pub cache_hits: u64,
    /// Requests that called cuMemAlloc.
    pub device_allocs: u64,
}

struct Pool {
    free: HashMap<usize, Vec<sys::CUdeviceptr>>,
    stats: AllocStats,
}

pub(crate) struct Allocator {
    dev: Arc<Device>,
    pool: Mutex<Pool>,
}

/// Sizes are rounded up to a bucket: powers of two up to 1 MiB, then multiples of an eighth
/// of the next power of two, so a large block wastes at most an eighth of that power.
pub(crate) fn bucket(bytes: usize) -> usize {
    let b = bytes.max(256);
    if b <= 1 << 20 {
        b.next_power_of_two()
    } else {
        let p = b.next_power_of_two() / 8;
        b.div_ceil(p) * p
    }
}

/// A device block; returns to its allocator's free list when dropped.
pub struct DevBuf {
    ptr: sys::CUdeviceptr,
    size: usize,
    alloc: Arc<Allocator>,
}

impl DevBuf {
    pub fn ptr(&self) -> u64 {
        self.ptr
    }
    pub fn size(&self) -> usize {
        self.size
    }
}

impl Drop for DevBuf {
    fn drop(&mut self) {
        let mut p = self.alloc.pool.lock().unwrap();
        p.free.entry(self.size).or_default().push(self.ptr);
        p.stats.in_use -= self.size as u64;
        p.stats.cached += self.size as u64;
    }
}

impl Allocator {
    pub(crate) fn new(dev: Arc<Device>) -> Arc<Allocator> {
        Arc::new(Allocator {
            dev,
            pool: Mutex::new(Pool {
                free: HashMap::new(),
                stats: AllocStats::default(),
            }),
        })
    }

    pub(crate) fn stats(&self) -> AllocStats {
        self.pool.lock().unwrap().stats
    }

    /// A block of at least `bytes` bytes (contents undefined).
    pub(crate) fn alloc(self: &Arc<Self>, bytes: usize) -> Result<DevBuf> {
        let size = bucket(bytes);
        {
            let mut p = self.pool.lock().unwrap();
            if let Some(ptr) = p.free.get_mut(&size).and_then(|v| v.pop()) {
                p.stats.cache_hits += 1;
                p.stats.cached -= size as u64;
                p.stats.in_use += size as u64;
                p.stats.peak = p.stats.peak.max(p.stats.in_use);
                return Ok(self.wrap(ptr, size));
            }
        }
        self.dev.bind()?;
        // SAFETY: plain allocation on the bound context.
        let ptr = match unsafe { result::malloc_sync(size) } {
            Ok(p) => p,
            Err(_) => {
                // out of memory: give the cache back to the driver and try once more
                self.release_cached()?;
                unsafe { result::malloc_sync(size) }.map_err(|e| {
                    let s = self.stats();
                    Error::invalid(format!(
                        "cuda: out of device memory allocating {size} bytes ({} in use by this model): {e:?}",
                        s.in_use
                    ))
                })?
            }
        };
        let mut p = self.pool.lock().unwrap();
        p.stats.device_allocs += 1;
        p.stats.in_use += size as u64;
        p.stats.peak = p.stats.peak.max(p.stats.in_use);
        Ok(self.wrap(ptr, size))
    }

    fn wrap(self: &Arc<Self>, ptr: sys::CUdeviceptr, size: usize) -> DevBuf {
        DevBuf {
            ptr,
            size,
            alloc: self.clone(),
        }
    }

    /// Frees every cached block (waits for the device first).
    pub(crate) fn release_cached(&self) -> Result<()> {
        self.dev.bind()?;
        let mut p = self.pool.lock().unwrap();
        let blocks: Vec<sys::CUdeviceptr> = p.free.drain().flat_map(|(_, v)| v).collect();
        p.stats.cached = 0;
        drop(p);
        if blocks.is_empty() {
            return Ok(());
        }
        // SAFETY: no queued work may still use a freed block; synchronise first.
        unsafe {
            result::ctx::synchronize().map_err(|e| cuda_err("synchronize", e))?;
            for b in blocks {
                result::free_sync(b).map_err(|e| cuda_err("cuMemFree", e))?;
            }
        }
        Ok(())
    }
}

impl Drop for Allocator {
    fn drop(&mut self) {
        // every DevBuf holds an Arc to this allocator, so all blocks are on the free lists
        let _ = self.release_cached();
    }
}

/// Page-locked host memory for staging uploads and downloads.
pub(crate) struct Pinned {
    ptr: *mut u8,
    len: usize,
}
// SAFETY: plain host memory, used under the stream's mutex.
unsafe impl Send for Pinned {}

impl Pinned {
    pub(crate) fn new(dev: &Device, len: usize) -> Result<Pinned> {
        dev.bind()?;
        // SAFETY: cuMemHostAlloc with default flags.
        let ptr = unsafe { result::malloc_host(len.max(1), 0) }
            .map_err(|e| cuda_err("allocating pinned host memory", e))?;
        Ok(Pinned {
            ptr: ptr as *mut u8,
            len,
        })
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr points to len bytes we own.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: allocated by malloc_host; the owning stream synchronises before dropping.
        unsafe {
            let _ = result::free_host(self.ptr as *mut _);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;
    #[test]
    fn buckets_round_up_and_waste_little() {
        assert_eq!(bucket(1), 256);
        assert_eq!(bucket(257), 512);
        assert_eq!(bucket(1 << 20), 1 << 20);
        for b in [(1 << 20) + 1, 3 << 20, 5_000_001, 1 << 30] {
            let k = bucket(b);
            assert!(k >= b && (k - b) * 8 <= b.next_power_of_two(), "{b} -> {k}");
        }
    }
}
