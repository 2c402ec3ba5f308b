//! A bounds-checked little-endian cursor over the file's bytes. Every read says what it
//! reads (a closure, only called to build an error) so that an error names the field, and
//! every count is checked against the bytes left before anything is allocated from it.

use crate::error::{Error, Result};

/// Describes the field being read, for error messages; called only when an error is built.
pub(crate) type What<'w> = &'w dyn Fn() -> String;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the cursor.
    pub fn left(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    /// Up to `n` bytes after the cursor, without moving it.
    pub fn peek(&self, n: usize) -> &'a [u8] {
        &self.buf[self.pos..(self.pos + n).min(self.buf.len())]
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: u64, what: What) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(Error::Truncated {
                what: what(),
                offset: self.pos(),
                need: n,
                left: self.left(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: What) -> Result<[u8; N]> {
        let b = self.bytes(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn u8(&mut self, what: What) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u32(&mut self, what: What) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: What) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string: a u64 byte length, then that many bytes of UTF-8 (no terminator).
    pub fn string(&mut self, what: What) -> Result<&'a str> {
        let at = self.pos();
        let len = self.u64(&|| format!("length of {}", what()))?;
        if len > self.left() {
            return Err(Error::CountTooLarge {
                what: format!("length of {}", what()),
                offset: at,
                count: len,
                left: self.left(),
            });
        }
        let start = self.pos();
        let b = self.bytes(len, what)?;
        std::str::from_utf8(b).map_err(|_| Error::InvalidUtf8 {
            what: what(),
            offset: start,
        })
    }

    /// Checks a count read at `at` against the bytes left, each item taking at least
    /// `min_size` bytes, and returns it as a `usize` safe to allocate from.
    pub fn check_count(&self, count: u64, min_size: u64, at: u64, what: What) -> Result<usize> {
        let fits = count
            .checked_mul(min_size)
            .is_some_and(|need| need <= self.left());
        if !fits {
            return Err(Error::CountTooLarge {
                what: what(),
                offset: at,
                count,
                left: self.left(),
            });
        }
        Ok(count as usize)
    }
}
