//! The on-disk format of `hsmctl encrypt` (docs/file-format.md is the
//! specification; this module is its implementation).
//!
//! A file is a header followed by chunk records. Each chunk is its own
//! AES-256-GCM (or AES-128-GCM) message made by the card, with a card IV,
//! a 16-byte tag, and AAD that binds the header, the chunk's index, whether
//! it is the last chunk, and the user's AAD. Reordering, dropping,
//! duplicating, truncating or extending chunks therefore fails
//! authentication or the format checks.
//!
//! The cipher is behind [`ChunkCipher`] so that the format logic is tested
//! on its own; the card implements it in `crypt.rs`.

use std::io::{ErrorKind, Read, Write};

use sha2::{Digest, Sha256};

/// First eight bytes of every file.
pub const MAGIC: [u8; 8] = *b"HSMCRYPT";
/// Format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Cipher suite 1: AES-GCM by a card slot, card IV (12 bytes), 16-byte tag.
pub const SUITE_GCM_CARD_IV: u8 = 1;
/// Fixed part of the header, before the label.
pub const HEADER_FIXED: usize = 8 + 2 + 1 + 1 + 4 + 16;
/// Chunk record flag: the last chunk of the file.
pub const FLAG_FINAL: u8 = 1;
/// IV length in a chunk record.
pub const IV_BYTES: usize = 12;
/// Tag length in a chunk record.
pub const TAG_BYTES: usize = 16;
/// Bytes of a chunk's AAD.
pub const CHUNK_AAD_BYTES: usize = 16 + 32 + 8 + 1 + 32;
/// Domain separation prefix of every chunk's AAD.
const AAD_DOMAIN: [u8; 16] = *b"hsmctl-chunk-v1\0";

/// A file's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Plaintext bytes per chunk (every chunk but the last has exactly
    /// this many; the last has 0 to this many).
    pub chunk_size: u32,
    /// Label of the key slot that encrypted the file.
    pub label: String,
    /// Random per-file identifier, so that chunks of two files cannot be
    /// spliced together.
    pub file_id: [u8; 16],
}

/// The input is not an authentic file of this format (exit code 4).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotAuthentic(pub String);

fn not_authentic(msg: impl Into<String>) -> anyhow::Error {
    NotAuthentic(msg.into()).into()
}

impl Header {
    /// Encode.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_FIXED + self.label.len());
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.push(SUITE_GCM_CARD_IV);
        b.push(self.label.len() as u8);
        b.extend_from_slice(&self.chunk_size.to_le_bytes());
        b.extend_from_slice(&self.file_id);
        b.extend_from_slice(self.label.as_bytes());
        b
    }

    /// Read a header from `r`. The encoding is canonical: [`Header::encode`]
    /// of the result gives back exactly the bytes read.
    ///
    /// # Errors
    /// [`NotAuthentic`] when the magic, version, suite or sizes are wrong;
    /// I/O errors.
    pub fn read(r: &mut impl Read) -> anyhow::Result<Header> {
        let mut fixed = [0u8; HEADER_FIXED];
        if read_full(r, &mut fixed)? < HEADER_FIXED {
            return Err(not_authentic(
                "the input is too short to be an hsmctl encrypted file (no complete header)",
            ));
        }
        if fixed[..8] != MAGIC {
            return Err(not_authentic(
                "the input is not an hsmctl encrypted file (its first bytes are not \"HSMCRYPT\")",
            ));
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(not_authentic(format!(
                "the file is format version {version}; this hsmctl reads version {VERSION}: use a matching hsmctl"
            )));
        }
        if fixed[10] != SUITE_GCM_CARD_IV {
            return Err(not_authentic(format!(
                "unknown cipher suite {} in the header",
                fixed[10]
            )));
        }
        let label_len = fixed[11] as usize;
        let chunk_size = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes"));
        if label_len == 0
            || label_len > 32
            || !(1..=hsm_contract::MAX_JOB_BYTES).contains(&chunk_size)
        {
            return Err(not_authentic(format!(
                "corrupt header: label length {label_len}, chunk size {chunk_size}"
            )));
        }
        let mut file_id = [0u8; 16];
        file_id.copy_from_slice(&fixed[16..32]);
        let mut label = vec![0u8; label_len];
        if read_full(r, &mut label)? < label_len {
            return Err(not_authentic("the file ends inside its header"));
        }
        let label = String::from_utf8(label)
            .map_err(|_| not_authentic("corrupt header: the label is not UTF-8"))?;
        Ok(Header {
            chunk_size,
            label,
            file_id,
        })
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 of everything `r` yields (the user's AAD file, in bounded
/// memory).
///
/// # Errors
/// I/O errors.
pub fn sha256_reader(r: &mut impl Read) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(h.finalize().into()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The AAD of chunk `index`: domain, SHA-256 of the header, index, final
/// flag, SHA-256 of the user's AAD.
pub fn chunk_aad(
    header_hash: &[u8; 32],
    index: u64,
    last: bool,
    user_aad_hash: &[u8; 32],
) -> [u8; CHUNK_AAD_BYTES] {
    let mut a = [0u8; CHUNK_AAD_BYTES];
    a[..16].copy_from_slice(&AAD_DOMAIN);
    a[16..48].copy_from_slice(header_hash);
    a[48..56].copy_from_slice(&index.to_le_bytes());
    a[56] = last as u8;
    a[57..].copy_from_slice(user_aad_hash);
    a
}

/// One chunk as sealed: IV, ciphertext, tag.
pub struct SealedChunk {
    /// The card's IV.
    pub iv: Vec<u8>,
    /// Ciphertext.
    pub ciphertext: Vec<u8>,
    /// Tag.
    pub tag: Vec<u8>,
}

/// A chunk to open.
pub struct OpenRequest<'a> {
    /// IV.
    pub iv: &'a [u8],
    /// Tag.
    pub tag: &'a [u8],
    /// AAD.
    pub aad: &'a [u8],
    /// Ciphertext.
    pub ciphertext: &'a [u8],
}

/// What encrypts and decrypts chunks (the card, through a key slot).
pub trait ChunkCipher {
    /// Seal each `(plaintext, aad)` with a fresh IV the cipher chooses.
    ///
    /// # Errors
    /// When the jobs fail.
    fn seal(&mut self, chunks: &[(&[u8], &[u8])]) -> anyhow::Result<Vec<SealedChunk>>;
    /// Open each chunk: `Some(plaintext)`, or `None` when its tag does not
    /// verify (no plaintext is produced for it).
    ///
    /// # Errors
    /// When a job fails for a reason other than authentication.
    fn open(&mut self, chunks: &[OpenRequest<'_>]) -> anyhow::Result<Vec<Option<Vec<u8>>>>;
}

/// Read until `buf` is full or the input ends; returns the bytes read.
///
/// # Errors
/// I/O errors; an interrupted read is retried unless the process was asked
/// to stop ([`crate::signals::check`]).
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> anyhow::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => crate::signals::check()?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// Counts bytes for progress reports.
pub trait Progress {
    /// `n` more input bytes were processed.
    fn advance(&mut self, n: u64);
}

impl Progress for () {
    fn advance(&mut self, _: u64) {}
}

/// Encrypt everything `input` yields into `out`: the header, then chunks of
/// `header.chunk_size` bytes, `batch` chunks per card batch. Memory is
/// bounded by `batch` chunks.
///
/// # Errors
/// I/O errors, card errors, an interruption.
pub fn encrypt_stream(
    input: &mut impl Read,
    out: &mut impl Write,
    cipher: &mut impl ChunkCipher,
    header: &Header,
    user_aad_hash: &[u8; 32],
    batch: usize,
    progress: &mut impl Progress,
) -> anyhow::Result<u64> {
    let raw = header.encode();
    let header_hash = sha256(&raw);
    out.write_all(&raw)?;
    let cs = header.chunk_size as usize;
    let mut index = 0u64;
    let mut written = raw.len() as u64;
    let mut cur = read_chunk(input, cs)?;
    let mut done = false;
    while !done {
        crate::signals::check()?;
        let mut chunks: Vec<(Vec<u8>, bool)> = Vec::with_capacity(batch);
        while chunks.len() < batch.max(1) {
            if cur.len() < cs {
                chunks.push((std::mem::take(&mut cur), true));
                done = true;
                break;
            }
            let next = read_chunk(input, cs)?;
            if next.is_empty() {
                chunks.push((std::mem::take(&mut cur), true));
                done = true;
                break;
            }
            chunks.push((std::mem::replace(&mut cur, next), false));
        }
        let aads: Vec<[u8; CHUNK_AAD_BYTES]> = chunks
            .iter()
            .enumerate()
            .map(|(i, (_, last))| chunk_aad(&header_hash, index + i as u64, *last, user_aad_hash))
            .collect();
        let reqs: Vec<(&[u8], &[u8])> = chunks
            .iter()
            .zip(&aads)
            .map(|((p, _), a)| (p.as_slice(), a.as_slice()))
            .collect();
        let sealed = cipher.seal(&reqs)?;
        anyhow::ensure!(
            sealed.len() == chunks.len(),
            "the card sealed {} of {} chunks",
            sealed.len(),
            chunks.len()
        );
        for ((p, last), s) in chunks.iter().zip(&sealed) {
            anyhow::ensure!(
                s.iv.len() == IV_BYTES && s.tag.len() == TAG_BYTES && s.ciphertext.len() == p.len(),
                "the card returned an IV of {} bytes, a tag of {} bytes, {} bytes of ciphertext for {} of plaintext",
                s.iv.len(),
                s.tag.len(),
                s.ciphertext.len(),
                p.len()
            );
            let mut rec = Vec::with_capacity(5 + IV_BYTES + p.len() + TAG_BYTES);
            rec.push(if *last { FLAG_FINAL } else { 0 });
            rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
            rec.extend_from_slice(&s.iv);
            rec.extend_from_slice(&s.ciphertext);
            rec.extend_from_slice(&s.tag);
            out.write_all(&rec)?;
            written += rec.len() as u64;
            progress.advance(p.len() as u64);
        }
        index += chunks.len() as u64;
    }
    out.flush()?;
    Ok(written)
}

fn read_chunk(input: &mut impl Read, cs: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; cs];
    let n = read_full(input, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

struct Record {
    last: bool,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

/// Decrypt a file from `input` into `out`. Every chunk's plaintext is
/// written only after its tag verified, but a later chunk can still fail:
/// the caller must treat `out` as provisional until this returns `Ok`
/// (hsmctl writes to a temporary file and renames it, or spools it).
///
/// `expect_label`, when given, is checked against the header first.
///
/// # Errors
/// [`NotAuthentic`] for a file that fails authentication or the format's
/// checks (naming the chunk); I/O and card errors.
pub fn decrypt_stream(
    input: &mut impl Read,
    header: &Header,
    out: &mut impl Write,
    cipher: &mut impl ChunkCipher,
    user_aad_hash: &[u8; 32],
    batch: usize,
    progress: &mut impl Progress,
) -> anyhow::Result<u64> {
    let header_hash = sha256(&header.encode());
    let cs = header.chunk_size as usize;
    let mut index = 0u64;
    let mut plain = 0u64;
    loop {
        crate::signals::check()?;
        let mut recs = Vec::with_capacity(batch);
        let mut saw_last = false;
        while recs.len() < batch.max(1) && !saw_last {
            let idx = index + recs.len() as u64;
            let mut head = [0u8; 5];
            let n = read_full(input, &mut head)?;
            if n == 0 {
                return Err(not_authentic(format!(
                    "the file is truncated: it ends after chunk {} without its final chunk",
                    idx as i64 - 1
                )));
            }
            if n < 5 {
                return Err(not_authentic(format!(
                    "the file is truncated inside chunk {idx}"
                )));
            }
            let flags = head[0];
            let len = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes")) as usize;
            let last = flags & FLAG_FINAL != 0;
            if flags & !FLAG_FINAL != 0 || len > cs || (!last && len != cs) {
                return Err(not_authentic(format!(
                    "chunk {idx} is corrupt (flags {flags:#04x}, length {len}, chunk size {cs})"
                )));
            }
            let mut body = vec![0u8; IV_BYTES + len + TAG_BYTES];
            if read_full(input, &mut body)? < body.len() {
                return Err(not_authentic(format!(
                    "the file is truncated inside chunk {idx}"
                )));
            }
            let tag = body.split_off(IV_BYTES + len);
            let ciphertext = body.split_off(IV_BYTES);
            recs.push(Record {
                last,
                iv: body,
                ciphertext,
                tag,
            });
            saw_last = last;
        }
        let aads: Vec<[u8; CHUNK_AAD_BYTES]> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| chunk_aad(&header_hash, index + i as u64, r.last, user_aad_hash))
            .collect();
        let reqs: Vec<OpenRequest<'_>> = recs
            .iter()
            .zip(&aads)
            .map(|(r, a)| OpenRequest {
                iv: &r.iv,
                tag: &r.tag,
                aad: a,
                ciphertext: &r.ciphertext,
            })
            .collect();
        let opened = cipher.open(&reqs)?;
        anyhow::ensure!(
            opened.len() == recs.len(),
            "the card opened {} of {} chunks",
            opened.len(),
            recs.len()
        );
        for (i, p) in opened.iter().enumerate() {
            if p.is_none() {
                return Err(not_authentic(format!(
                    "chunk {} failed authentication (AUTH_FAILED): the file was modified, its chunks reordered or spliced, or the key or --aad differs from encryption",
                    index + i as u64
                )));
            }
        }
        for p in opened.into_iter().flatten() {
            out.write_all(&p)?;
            plain += p.len() as u64;
            progress.advance(p.len() as u64);
        }
        index += recs.len() as u64;
        if saw_last {
            let mut extra = [0u8; 1];
            if read_full(input, &mut extra)? != 0 {
                return Err(not_authentic(format!(
                    "the file has data after its final chunk (chunk {}): it was extended",
                    index - 1
                )));
            }
            out.flush()?;
            return Ok(plain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::AeadInPlace;
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};

    /// A software stand-in for the card, for the format's unit tests only.
    struct Soft {
        key: [u8; 32],
        counter: u64,
    }

    impl ChunkCipher for Soft {
        fn seal(&mut self, chunks: &[(&[u8], &[u8])]) -> anyhow::Result<Vec<SealedChunk>> {
            let c = Aes256Gcm::new_from_slice(&self.key).unwrap();
            Ok(chunks
                .iter()
                .map(|(p, a)| {
                    self.counter += 1;
                    let mut iv = vec![0u8; 12];
                    iv[4..].copy_from_slice(&self.counter.to_le_bytes());
                    let mut buf = p.to_vec();
                    let tag = c
                        .encrypt_in_place_detached(Nonce::from_slice(&iv), a, &mut buf)
                        .unwrap();
                    SealedChunk {
                        iv,
                        ciphertext: buf,
                        tag: tag.to_vec(),
                    }
                })
                .collect())
        }

        fn open(&mut self, chunks: &[OpenRequest<'_>]) -> anyhow::Result<Vec<Option<Vec<u8>>>> {
            let c = Aes256Gcm::new_from_slice(&self.key).unwrap();
            Ok(chunks
                .iter()
                .map(|r| {
                    let mut buf = r.ciphertext.to_vec();
                    c.decrypt_in_place_detached(
                        Nonce::from_slice(r.iv),
                        r.aad,
                        &mut buf,
                        r.tag.into(),
                    )
                    .ok()
                    .map(|_| buf)
                })
                .collect())
        }
    }

    fn soft() -> Soft {
        Soft {
            key: [7; 32],
            counter: 0,
        }
    }

    fn header(cs: u32) -> Header {
        Header {
            chunk_size: cs,
            label: "disk".into(),
            file_id: [1; 16],
        }
    }

    fn enc(data: &[u8], cs: u32, aad: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encrypt_stream(
            &mut &data[..],
            &mut out,
            &mut soft(),
            &header(cs),
            &sha256(aad),
            3,
            &mut (),
        )
        .unwrap();
        out
    }

    fn dec(file: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut r = file;
        let h = Header::read(&mut r)?;
        let mut out = Vec::new();
        decrypt_stream(&mut r, &h, &mut out, &mut soft(), &sha256(aad), 2, &mut ())?;
        Ok(out)
    }

    fn err(file: &[u8], aad: &[u8]) -> String {
        let e = dec(file, aad).unwrap_err();
        assert!(e.downcast_ref::<NotAuthentic>().is_some(), "{e:#}");
        e.to_string()
    }

    #[test]
    fn round_trips_at_every_boundary() {
        for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 640, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let f = enc(&data, 64, b"ctx");
            let chunks = if len == 0 { 1 } else { len.div_ceil(64) };
            assert_eq!(
                f.len(),
                HEADER_FIXED + 4 + chunks * (5 + 12 + 16) + len,
                "len {len}"
            );
            assert_eq!(dec(&f, b"ctx").unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn detects_tampering_truncation_reordering_and_extension() {
        let data = vec![0xabu8; 64 * 4 + 10];
        let f = enc(&data, 64, b"");
        let rec = 5 + 12 + 64 + 16;
        let start = HEADER_FIXED + 4;
        // A flipped ciphertext byte.
        let mut t = f.clone();
        t[start + rec + 30] ^= 1;
        assert!(err(&t, b"").contains("chunk 1 failed authentication"));
        // Wrong user AAD.
        assert!(err(&f, b"other").contains("chunk 0 failed authentication"));
        // Truncated at a chunk boundary, and inside a chunk.
        assert!(err(&f[..start + 2 * rec], b"").contains("without its final chunk"));
        assert!(err(&f[..f.len() - 3], b"").contains("truncated inside chunk 4"));
        // Chunks 1 and 2 swapped.
        let mut s = f.clone();
        let (a, b) = (start + rec, start + 2 * rec);
        let c1 = f[a..b].to_vec();
        s[a..b].copy_from_slice(&f[b..b + rec]);
        s[b..b + rec].copy_from_slice(&c1);
        assert!(err(&s, b"").contains("chunk 1 failed authentication"));
        // Extended with junk, and with a copy of the last chunk.
        let mut x = f.clone();
        x.push(0);
        assert!(err(&x, b"").contains("extended"));
        // Final flag dropped from the last chunk: AAD mismatch.
        let mut nf = f.clone();
        nf[start + 4 * rec] = 0;
        assert!(err(&nf, b"").contains("chunk 4 is corrupt"));
        // A modified header changes every chunk's AAD.
        let mut h = f.clone();
        h[HEADER_FIXED] = b'e';
        assert!(err(&h, b"").contains("chunk 0 failed"));
        let mut m = f.clone();
        m[0] = b'X';
        assert!(err(&m, b"").contains("not an hsmctl encrypted file"));
        let mut v = f;
        v[8] = 9;
        assert!(err(&v, b"").contains("format version 9"));
    }
}
