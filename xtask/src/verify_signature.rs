//! `cargo xtask verify-signature --keys DIR FILE SIGNATURE`: the signature
//! policy of [`pinwheel_trust::signature`] on any file and detached signature, with
//! every key in `DIR` trusted (no configuration, no threshold, no list
//! checks). Prints each signer's full fingerprint, signing (sub)key and
//! signature time; a key that expired or was retired after it signed is
//! accepted with a note. Never reads a GnuPG keyring.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use pinwheel_trust::failure;
use pinwheel_trust::signature::{self, TrustSet};

/// The command line of `cargo xtask verify-signature`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Directory of armored public keys (*.asc, *.pub): every key in it is trusted.
    #[arg(long, value_name = "DIR")]
    pub keys: PathBuf,
    /// The signed file.
    pub file: PathBuf,
    /// Its detached, armored signature.
    pub signature: PathBuf,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        run(&self.keys, &self.file, &self.signature)
    }
}

/// Runs the command.
pub fn run(keys: &Path, file: &Path, sig_path: &Path) -> anyhow::Result<()> {
    let trust = TrustSet::all(signature::load_keys_dir(keys)?);
    let asc = signature::read_signature_file(sig_path)?;
    let data = fs_err::read(file)?;
    let verified = signature::verify_detached(&data, &asc, &trust, OffsetDateTime::now_utc())
        .map_err(|err| failure::verification_failed(format!("{}: {err}", sig_path.display())))?;
    for good in &verified.signatures {
        print_good(good);
    }
    println!(
        "{}: {} good signature(s) from {} key(s)",
        file.display(),
        verified.signatures.len(),
        verified.signers().len()
    );
    Ok(())
}

/// Prints one good signature the way `verify` and `verify-signature` do.
pub fn print_good(good: &signature::GoodSignature) {
    let who = good
        .user_id
        .as_deref()
        .map(|u| format!(" {u:?}"))
        .unwrap_or_default();
    println!("good signature from {}{who}", good.primary);
    if good.signing_key == good.primary {
        println!(
            "  made {} by the primary key",
            signature::format_time(good.created)
        );
    } else {
        println!(
            "  made {} by subkey {}",
            signature::format_time(good.created),
            good.signing_key
        );
    }
    for note in &good.notes {
        println!("  note: {note}");
    }
}
