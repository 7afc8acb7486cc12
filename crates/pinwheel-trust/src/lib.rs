//! pinwheel's trust core, the one crate an auditor must read: the sha256
//! digest every pin and list is made of ([`hash`]), the OpenPGP signature
//! policy on top of rPGP ([`signature`]), the signed list of files
//! ([`sha256sums`]), the decision whether a list is trusted ([`verify`]),
//! and the exit-code contract ([`failure`]).
//!
//! Rule: decisions are made from bytes and a time the caller passes in. No
//! clock, no network, no processes, no writes; the only files read are the
//! ones a caller names (a key directory, a file to hash), size-capped
//! before they are parsed.

pub mod failure;
pub mod hash;
pub mod sha256sums;
pub mod signature;
pub mod verify;
