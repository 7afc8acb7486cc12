//! Exit codes. Commands return `anyhow::Error`; an error whose chain holds a
//! [`VerificationFailed`] or [`Stale`] exits 1, every other error exits 2
//! (usage, I/O, malformed input).

use std::fmt;

/// A check found the inputs untrustworthy: a bad signature, a hash
/// mismatch, an expired or rolled-back list. Exit code 1.
#[derive(Debug)]
pub struct VerificationFailed(pub String);

impl fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerificationFailed {}

/// A `--check` run found generated files out of date. Exit code 1.
#[derive(Debug)]
pub struct Stale(pub String);

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stale {}

/// Builds an error that exits 1 because verification failed.
pub fn verification_failed(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(VerificationFailed(msg.into()))
}

/// Builds an error that exits 1 because generated files are stale.
pub fn stale(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Stale(msg.into()))
}

/// The process exit code for an error: 1 for verification failures and
/// stale files, 2 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let one = err
        .chain()
        .any(|cause| cause.is::<VerificationFailed>() || cause.is::<Stale>());
    if one {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes() {
        let io: anyhow::Result<()> = Err(std::io::Error::other("disk")).context("reading x");
        assert_eq!(exit_code(&io.unwrap_err()), 2);
        let bad: anyhow::Result<()> =
            Err(verification_failed("bad signature")).context("verifying");
        assert_eq!(exit_code(&bad.unwrap_err()), 1);
        assert_eq!(exit_code(&stale("requirements.txt")), 1);
    }
}
