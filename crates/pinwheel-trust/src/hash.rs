//! SHA-256 digests: the `Sha256` type (always 64 lowercase hex digits in
//! text), streaming hashing of files and readers.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use sha2::Digest;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// The digest of a reader's bytes, and how many there were. Reads
    /// through one buffer per thread: allocating and zeroing a fresh buffer
    /// per file costs more than hashing a small file.
    pub fn of_reader(reader: impl Read) -> std::io::Result<(Sha256, u64)> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; BUF_SIZE]);
        }
        let mut reader = reader;
        BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => hash_with(&mut reader, &mut buf),
            // A reader that itself hashes on this thread: its own buffer.
            Err(_) => hash_with(&mut reader, &mut vec![0; BUF_SIZE]),
        })
    }

    /// The digest of a file's bytes.
    pub fn of_file(path: &Path) -> anyhow::Result<Sha256> {
        let file = fs_err::File::open(path)?;
        let (digest, _) =
            Sha256::of_reader(file).with_context(|| format!("{}: reading", path.display()))?;
        Ok(digest)
    }

    /// Lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Why a string is not a SHA-256 digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Sha256Error {
    #[error("sha256 digest must be 64 hex digits, found {0}")]
    Length(usize),
    #[error("sha256 digest must be lowercase hex digits")]
    NotHex,
}

impl FromStr for Sha256 {
    type Err = Sha256Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(Sha256Error::Length(s.len()));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Sha256Error::NotHex);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| Sha256Error::NotHex)?;
        Ok(Sha256(out))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

const BUF_SIZE: usize = 256 * 1024;

fn hash_with(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<(Sha256, u64)> {
    let mut hasher = sha2::Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Sha256(hasher.finalize().into()), total))
}

/// A writer that hashes what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
            written: 0,
        }
    }

    /// The digest and byte count so far, and the inner writer.
    pub fn finish(self) -> (Sha256, u64, W) {
        (
            Sha256(self.hasher.finalize().into()),
            self.written,
            self.inner,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let d = Sha256::of(b"abc");
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.hex().parse::<Sha256>().unwrap(), d);
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!("ab".parse::<Sha256>().unwrap_err(), Sha256Error::Length(2));
        assert_eq!(
            "a".repeat(63).parse::<Sha256>().unwrap_err(),
            Sha256Error::Length(63)
        );
        assert_eq!(
            "G".repeat(64).parse::<Sha256>().unwrap_err(),
            Sha256Error::NotHex
        );
        assert_eq!(
            "A".repeat(64).parse::<Sha256>().unwrap_err(),
            Sha256Error::NotHex
        );
    }

    #[test]
    fn hashing_writer_matches() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (d, n, inner) = w.finish();
        assert_eq!(
            (d, n, inner.as_slice()),
            (Sha256::of(b"abc"), 3, &b"abc"[..])
        );
    }
}
