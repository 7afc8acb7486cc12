//! pinwheel's archives: safe unpacking of sdists ([`unpack`]: tar.gz, zip,
//! tar.bz2, every hostile member refused), wheel normalization and RECORD
//! ([`wheel`]), the reproducible sdist writer ([`sdist`]) and the `.deb`
//! reader ([`deb`]: ar, data and control tarballs).
//!
//! Rule: bytes and files in, bytes and files out. No network, no
//! processes; every time stamp written is the one the caller passes.

pub mod deb;
pub mod sdist;
pub mod unpack;
pub mod wheel;
