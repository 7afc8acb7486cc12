//! Making one detached, binary-type (0x00) OpenPGP signature packet: with
//! rPGP from an armored secret key file (passphrase from
//! `PINWHEEL_KEY_PASSPHRASE` or a no-echo prompt on a terminal), or with
//! the user's GnuPG (`gpg --detach-sign --armor --local-user KEYID`, so that
//! smartcards and gpg-agent work).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context};
use pgp::composed::{Deserializable, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, Password, SigningKey, Timestamp};

use pinwheel_trust::signature::{self, BlockKind, Cert, Component};

/// The environment variable holding a secret key's passphrase.
pub const PASSPHRASE_ENV: &str = "PINWHEEL_KEY_PASSPHRASE";

/// The hash our signatures use.
pub const HASH: HashAlgorithm = HashAlgorithm::Sha512;

/// An armored secret key, ready to sign.
pub struct KeyFile {
    key: SignedSecretKey,
    /// Its public certificate, as the verifier sees it.
    pub cert: Cert,
    path: std::path::PathBuf,
}

impl KeyFile {
    /// Reads and parses an armored secret key (`PGP PRIVATE KEY BLOCK`).
    pub fn load(path: &Path) -> anyhow::Result<KeyFile> {
        let bytes = signature::read_capped(path, signature::MAX_KEY_FILE)?;
        let (kind, raw) =
            signature::dearmor(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if kind != BlockKind::PrivateKey {
            bail!(
                "{}: not an armored secret key (-----BEGIN PGP PRIVATE KEY BLOCK-----)",
                path.display()
            );
        }
        let key = SignedSecretKey::from_bytes(&raw[..])
            .map_err(|e| anyhow::anyhow!("{}: not an OpenPGP secret key: {e}", path.display()))?;
        let cert = Cert::new(key.to_public_key(), path);
        Ok(KeyFile {
            key,
            cert,
            path: path.to_path_buf(),
        })
    }

    /// Signs `data` at `now` with the newest signing subkey fit to sign,
    /// else the primary key; returns the signature packet.
    pub fn sign(&self, data: &[u8], now: u64) -> anyhow::Result<Vec<u8>> {
        let mut problems = Vec::new();
        let mut subkeys: Vec<_> = self.key.secret_subkeys.iter().collect();
        subkeys.sort_by_key(|s| std::cmp::Reverse(s.key.created_at().as_secs()));
        for sub in subkeys {
            let fp = sub.key.fingerprint();
            let Some(public) = self
                .cert
                .key
                .public_subkeys
                .iter()
                .find(|p| p.key.fingerprint() == fp)
            else {
                continue;
            };
            match signature::fit_to_sign(&self.cert, Component::Subkey(public), now) {
                Ok(_) => {
                    return self.sign_with(
                        &sub.key,
                        sub.key.secret_params().is_encrypted(),
                        data,
                        now,
                    )
                }
                Err(p) => problems.push(format!("subkey {}: {p}", signature::fingerprint_hex(&fp))),
            }
        }
        match signature::fit_to_sign(&self.cert, Component::Primary, now) {
            Ok(_) => {
                let primary = &self.key.primary_key;
                self.sign_with(primary, primary.secret_params().is_encrypted(), data, now)
            }
            Err(p) => {
                problems.push(format!("primary key: {p}"));
                bail!(
                    "{}: no key in it can sign now: {}",
                    self.path.display(),
                    problems.join("; ")
                )
            }
        }
    }

    fn sign_with(
        &self,
        key: &impl SigningKey,
        encrypted: bool,
        data: &[u8],
        now: u64,
    ) -> anyhow::Result<Vec<u8>> {
        let password = if encrypted {
            passphrase(&self.path)?
        } else {
            Password::empty()
        };
        let created = Timestamp::from_secs(u32::try_from(now).context("the clock is past 2106")?);
        let mut config = match key.version() {
            KeyVersion::V4 => SignatureConfig::v4(SignatureType::Binary, key.algorithm(), HASH),
            KeyVersion::V6 => SignatureConfig::v6(
                rand::thread_rng(),
                SignatureType::Binary,
                key.algorithm(),
                HASH,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
            v => bail!("{}: unsupported key version {v:?}", self.path.display()),
        };
        let sub = |d| Subpacket::regular(d).map_err(|e| anyhow::anyhow!("{e}"));
        config.hashed_subpackets = vec![
            sub(SubpacketData::SignatureCreationTime(created))?,
            sub(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
        ];
        if key.version() == KeyVersion::V4 {
            config.unhashed_subpackets =
                vec![sub(SubpacketData::IssuerKeyId(key.legacy_key_id()))?];
        }
        let sig = config.sign(key, &password, data).map_err(|e| {
            let hint = if encrypted {
                " (wrong passphrase?)"
            } else {
                ""
            };
            anyhow::anyhow!("{}: signing failed{hint}: {e}", self.path.display())
        })?;
        pgp::composed::DetachedSignature::new(sig)
            .to_bytes()
            .map_err(|e| anyhow::anyhow!("serializing the signature: {e}"))
    }
}

/// The passphrase: from [`PASSPHRASE_ENV`], else asked without echo when
/// stdin is a terminal.
fn passphrase(path: &Path) -> anyhow::Result<Password> {
    if let Ok(pw) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Password::from(pw));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{}: the secret key is passphrase-protected; set {PASSPHRASE_ENV} or run in a terminal",
            path.display()
        );
    }
    let term = console::Term::stderr();
    term.write_str(&format!("passphrase for {}: ", path.display()))
        .context("writing the prompt")?;
    let pw = term.read_secure_line().context("reading the passphrase")?;
    Ok(Password::from(pw))
}

/// Signs `data` with GnuPG: `gpg --detach-sign --armor --local-user KEYID`
/// (binary mode, SHA-512), and returns the one signature packet it made.
pub fn sign_with_gpg(key_id: &str, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let args = [
        "--detach-sign",
        "--armor",
        "--no-textmode",
        "--digest-algo",
        "SHA512",
        "--local-user",
        key_id,
        "--output",
        "-",
        "-",
    ];
    let shown = format!("gpg {}", args.join(" "));
    let out = duct::cmd("gpg", args)
        .stdin_bytes(data)
        .stdout_capture()
        .unchecked()
        .run()
        .with_context(|| format!("running `{shown}` (is GnuPG installed?)"))?;
    if !out.status.success() {
        bail!("`{shown}` failed ({})", out.status);
    }
    let parsed = signature::parse_signatures(&out.stdout)
        .map_err(|e| anyhow::anyhow!("`{shown}` printed an unusable signature: {e}"))?;
    match parsed.as_slice() {
        [one] => Ok(one.raw.clone()),
        _ => bail!("`{shown}` made {} signatures, expected one", parsed.len()),
    }
}
