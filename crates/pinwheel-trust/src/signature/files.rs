//! Reading the trust set's key files and signature files from disk, with
//! size caps applied before anything is parsed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{parse_key_file, Cert, SignatureError, MAX_KEY_FILE, MAX_SIGNATURE_FILE};

/// Reads every `*.asc` and `*.pub` file directly in `dir` (sorted by name;
/// subdirectories are not read). Two files holding the same primary key
/// are an error.
pub fn load_keys_dir(dir: &Path) -> anyhow::Result<Vec<Cert>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in fs_err::read_dir(dir)
        .with_context(|| format!("reading the keys directory {}", dir.display()))?
    {
        let path = entry?.path();
        let is_key = path.extension().is_some_and(|e| e == "asc" || e == "pub");
        if is_key && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        bail!(
            "{}: no public keys (*.asc, *.pub) in the keys directory",
            dir.display()
        );
    }
    let mut certs: Vec<Cert> = Vec::new();
    for path in paths {
        let bytes = read_capped(&path, MAX_KEY_FILE)?;
        for cert in
            parse_key_file(&bytes, &path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        {
            if let Some(prev) = certs.iter().find(|c| c.fingerprint() == cert.fingerprint()) {
                bail!(
                    "{}: key {} is also in {}; keep one copy per key",
                    path.display(),
                    cert.fingerprint(),
                    prev.source.display()
                );
            }
            certs.push(cert);
        }
    }
    Ok(certs)
}

/// Reads at most `limit` bytes of `path`, failing (before reading it all)
/// when the file is larger.
pub fn read_capped(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: reading", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{}: larger than the {limit}-byte limit", path.display());
    }
    Ok(bytes)
}

/// Reads a `.asc` file, refusing (as a verification failure, before
/// reading it all) one larger than [`MAX_SIGNATURE_FILE`].
pub fn read_signature_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let size = fs_err::metadata(path)?.len();
    let too_large = |size| {
        crate::failure::verification_failed(format!(
            "{}: {}",
            path.display(),
            SignatureError::TooLarge {
                size,
                limit: MAX_SIGNATURE_FILE
            }
        ))
    };
    if size > MAX_SIGNATURE_FILE {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    fs_err::File::open(path)?
        .take(MAX_SIGNATURE_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: reading", path.display()))?;
    if bytes.len() as u64 > MAX_SIGNATURE_FILE {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}
