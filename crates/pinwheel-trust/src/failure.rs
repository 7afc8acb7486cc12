//! The exit-code contract of every command: 0 ok; 1 the input was read and
//! the answer is no; 2 the command could not do its work (usage, I/O,
//! malformed input). Commands return `anyhow::Error`; an error whose chain
//! holds one of the "no" answers below exits 1, every other error exits 2.
//!
//! The "no" answers:
//! - [`VerificationFailed`]: the inputs are untrustworthy — a bad
//!   signature, a hash mismatch, an expired or rolled-back list.
//! - [`Refused`]: the input was read and a policy refuses it — a lock entry
//!   without a hash, a dependency from git or a path, a hostile archive
//!   member, a lock that does not cover the target.
//! - [`Stale`]: a `--check` found generated files out of date.

use std::fmt;

/// A check found the inputs untrustworthy: a bad signature, a hash
/// mismatch, an expired or rolled-back list. Exit code 1.
#[derive(Debug)]
pub struct VerificationFailed(pub String);

/// The input was read and a policy refuses it. Exit code 1.
#[derive(Debug)]
pub struct Refused(pub String);

/// A `--check` run found generated files out of date. Exit code 1.
#[derive(Debug)]
pub struct Stale(pub String);

macro_rules! message_error {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for $t {}
    )*};
}
message_error!(VerificationFailed, Refused, Stale);

/// Builds an error that exits 1 because verification failed.
pub fn verification_failed(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(VerificationFailed(msg.into()))
}

/// Builds an error that exits 1 because a policy refuses the input.
pub fn refused(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Refused(msg.into()))
}

/// Builds an error that exits 1 because generated files are stale.
pub fn stale(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Stale(msg.into()))
}

/// Whether an error is a "no" answer (exit 1) rather than a failure to do
/// the work (exit 2).
pub fn is_no(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<VerificationFailed>() || cause.is::<Refused>() || cause.is::<Stale>()
    })
}

/// The process exit code for an error: 1 for a "no" answer, 2 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if is_no(err) {
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
        let refused: anyhow::Result<()> =
            Err(refused("uv.lock: idna has no hash")).context("reading the lock");
        assert_eq!(exit_code(&refused.unwrap_err()), 1);
    }
}
