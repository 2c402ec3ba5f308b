//! A caching device allocator: freed blocks go to a free list per size bucket and are handed
//! out again, so a model's repeated predictions stop calling cuMemAlloc after the first.
//!
//! Contract: one allocator per [`Stream`](super::stream::Stream). A block freed while kernels
//! that use it are still queued is safe to hand out again, because every user of this
//! allocator enqueues on that one stream, in order.
//!
//! CUDA graphs: a captured graph bakes its blocks' addresses in, and replays write them
//! later, so those blocks must not be handed to anyone else while the graph lives. Between
//! [`Allocator::begin_reserve`] and [`Allocator::end_reserve`] every block handed out is
//! recorded (frees inside the capture still go to the free lists, so the captured run
//! reuses memory as a plain run does: the graph replays in the same order); `end_reserve`
//! then takes the recorded blocks off the free lists, and the ones still live go to the
//! reserved list when dropped, until [`Allocator::release_reserved`].

use super::device::{cuda_err, Device};
use cudarc::driver::{result, sys};
use smelt_core::{Error, Result};
use std::collections::{HashMap, HashSet};
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
    /// Bytes in blocks kept for a captured CUDA graph (not counted in `cached`).
    pub reserved: u64,
}

struct Pool {
    free: HashMap<usize, Vec<sys::CUdeviceptr>>,
    stats: AllocStats,
    /// While a capture runs: every block handed out.
    capture: Option<HashSet<sys::CUdeviceptr>>,
    /// Blocks a captured graph uses: never returned to `free` while the graph lives.
    reserved: HashSet<sys::CUdeviceptr>,
    /// The reserved blocks nobody holds now, with their sizes.
    held: Vec<(sys::CUdeviceptr, usize)>,
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
        p.stats.in_use -= self.size as u64;
        if p.reserved.contains(&self.ptr) {
            p.held.push((self.ptr, self.size));
            p.stats.reserved += self.size as u64;
        } else {
            p.free.entry(self.size).or_default().push(self.ptr);
            p.stats.cached += self.size as u64;
        }
    }
}

impl Allocator {
    pub(crate) fn new(dev: Arc<Device>) -> Arc<Allocator> {
        Arc::new(Allocator {
            dev,
            pool: Mutex::new(Pool {
                free: HashMap::new(),
                stats: AllocStats::default(),
                capture: None,
                reserved: HashSet::new(),
                held: Vec::new(),
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
                if let Some(c) = &mut p.capture {
                    c.insert(ptr);
                }
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
                    Error::device("cuda", format!(
                        "out of device memory allocating {size} bytes ({} in use by this model): {e:?}",
                        s.in_use
                    ))
                })?
            }
        };
        let mut p = self.pool.lock().unwrap();
        p.stats.device_allocs += 1;
        p.stats.in_use += size as u64;
        p.stats.peak = p.stats.peak.max(p.stats.in_use);
        if let Some(c) = &mut p.capture {
            c.insert(ptr);
        }
        Ok(self.wrap(ptr, size))
    }

    /// Starts recording the blocks handed out (a CUDA graph capture begins).
    pub(crate) fn begin_reserve(&self) {
        self.pool.lock().unwrap().capture = Some(HashSet::new());
    }

    /// Stops recording. `keep`: the capture became a graph, so every recorded block is
    /// reserved for it (taken off the free lists now, or when its holder drops it);
    /// otherwise the record is dropped and the blocks stay ordinary.
    pub(crate) fn end_reserve(&self, keep: bool) {
        let mut p = self.pool.lock().unwrap();
        let Some(c) = p.capture.take() else { return };
        if !keep {
            return;
        }
        let mut moved = Vec::new();
        for (size, v) in p.free.iter_mut() {
            v.retain(|x| {
                if c.contains(x) {
                    moved.push((*x, *size));
                    false
                } else {
                    true
                }
            });
        }
        for &(_, size) in &moved {
            p.stats.cached -= size as u64;
            p.stats.reserved += size as u64;
        }
        p.held.extend(moved);
        p.reserved.extend(c);
    }

    /// The graph is gone: its blocks (the ones nobody holds) return to the free lists.
    /// Callers drop the graph's own tensors first.
    pub(crate) fn release_reserved(&self) {
        let mut p = self.pool.lock().unwrap();
        p.reserved.clear();
        let held = std::mem::take(&mut p.held);
        for (ptr, size) in held {
            p.free.entry(size).or_default().push(ptr);
            p.stats.reserved -= size as u64;
            p.stats.cached += size as u64;
        }
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
        let mut blocks: Vec<sys::CUdeviceptr> = p.free.drain().flat_map(|(_, v)| v).collect();
        p.stats.cached = 0;
        if p.reserved.is_empty() {
            // no graph holds them any more (dropping the allocator)
            blocks.extend(p.held.drain(..).map(|(b, _)| b));
            p.stats.reserved = 0;
        }
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
        // or held for a graph that is gone
        self.release_reserved();
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
