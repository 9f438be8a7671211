//! The binary encoding shared by every format of the crate: little-endian
//! integers, length-prefixed strings and byte strings, each length checked
//! against its limit and against the bytes that remain before anything is
//! allocated.

use crate::error::FormatError;

/// Reads fields from the front of a byte slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FormatError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A magic number: exactly `magic`, else [`FormatError::BadMagic`].
    pub(crate) fn magic(&mut self, magic: &[u8; 8], what: &'static str) -> Result<(), FormatError> {
        if self.take(8, what)? != magic {
            return Err(FormatError::BadMagic { what });
        }
        Ok(())
    }

    /// A format version: exactly `version`, else
    /// [`FormatError::UnsupportedVersion`].
    pub(crate) fn version(&mut self, version: u16, what: &'static str) -> Result<(), FormatError> {
        let found = self.u16(what)?;
        if found != version {
            return Err(FormatError::UnsupportedVersion {
                what,
                found,
                supported: version,
            });
        }
        Ok(())
    }

    /// A length of at most `max` that fits in what remains.
    pub(crate) fn checked_len(
        &self,
        len: u64,
        max: usize,
        field: &'static str,
    ) -> Result<usize, FormatError> {
        if len > max as u64 {
            return Err(FormatError::TooLong {
                field,
                len,
                max: max as u64,
            });
        }
        // `len <= max`, so it fits in usize.
        let len = len as usize;
        if len > self.remaining() {
            return Err(FormatError::Truncated {
                field,
                offset: self.pos,
                needed: len,
                available: self.remaining(),
            });
        }
        Ok(len)
    }

    /// A string with a one-byte length of `min..=max` bytes, every byte of
    /// the class `class`.
    pub(crate) fn string(
        &mut self,
        field: &'static str,
        min: usize,
        max: usize,
        class: CharClass,
    ) -> Result<String, FormatError> {
        let len = self.u8(field)?;
        let len = self.checked_len(len.into(), max, field)?;
        let bytes = self.take(len, field)?;
        check_string(bytes, field, min, max, class)?;
        // `check_string` allows ASCII only.
        Ok(bytes.iter().map(|&b| b as char).collect())
    }

    /// Nothing may follow.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), FormatError> {
        match self.remaining() {
            0 => Ok(()),
            len => Err(FormatError::TrailingData { what, len }),
        }
    }
}

/// Which bytes a string may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CharClass {
    /// `A-Z a-z 0-9 . _ + -`, not starting with `.` (safe as a file name).
    Ident,
    /// Printable ASCII, 0x20 to 0x7e (no control characters to reach a
    /// terminal).
    Text,
}

/// Checks a string's length and characters.
pub(crate) fn check_string(
    bytes: &[u8],
    field: &'static str,
    min: usize,
    max: usize,
    class: CharClass,
) -> Result<(), FormatError> {
    if bytes.len() > max {
        return Err(FormatError::TooLong {
            field,
            len: bytes.len() as u64,
            max: max as u64,
        });
    }
    if bytes.len() < min {
        return Err(FormatError::BadField {
            field,
            reason: "too short",
        });
    }
    let ok = match class {
        CharClass::Ident => {
            bytes.first() != Some(&b'.')
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
        }
        CharClass::Text => bytes.iter().all(|&b| (0x20..=0x7e).contains(&b)),
    };
    if !ok {
        return Err(FormatError::BadField {
            field,
            reason: match class {
                CharClass::Ident => "characters other than A-Z a-z 0-9 . _ + - (or a leading '.')",
                CharClass::Text => "characters other than printable ASCII",
            },
        });
    }
    Ok(())
}

/// Appends fields.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// A string already checked with [`check_string`] (at most 255 bytes).
    pub(crate) fn string(&mut self, s: &str) {
        debug_assert!(s.len() <= 255);
        self.u8(s.len() as u8);
        self.bytes(s.as_bytes());
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
