//! GnuPG as a real peer in tests: a throwaway `GNUPGHOME` (never the
//! user's keyring), batch key generation (optionally at a faked time),
//! exports and detached signatures. The agent is stopped on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A temporary GnuPG home.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = duct::cmd!("gpgconf", "--kill", "all")
            .env("GNUPGHOME", self.home.path())
            .stdout_null()
            .stderr_null()
            .unchecked()
            .run();
    }
}

/// A generated key: its primary fingerprint.
#[derive(Debug, Clone)]
pub struct GpgKey {
    pub fpr: String,
}

impl Gpg {
    pub fn new() -> Gpg {
        super::tools::need(&["gpg", "gpgconf"]);
        let home = tempfile::Builder::new()
            .prefix("gh")
            .tempdir_in("/tmp")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    /// Runs gpg with `args`; panics with its stderr on failure.
    pub fn run(&self, args: &[&str]) -> Vec<u8> {
        self.run_stdin(args, &[])
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut all = vec![
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ];
        all.extend_from_slice(args);
        let out = duct::cmd("gpg", &all)
            .env("GNUPGHOME", self.home.path())
            .stdin_bytes(stdin)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {all:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The exit status and stderr of gpg (for `--verify`).
    pub fn status(&self, args: &[&str]) -> (bool, String) {
        let out = duct::cmd("gpg", args)
            .env("GNUPGHOME", self.home.path())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `gpg --quick-gen-key UID ALGO USAGE EXPIRE`, at `faked` time
    /// (`YYYYMMDDTHHMMSS`) when given.
    pub fn gen(
        &self,
        uid: &str,
        algo: &str,
        usage: &str,
        expire: &str,
        faked: Option<&str>,
    ) -> GpgKey {
        let mut args = Vec::new();
        let fake;
        if let Some(t) = faked {
            fake = format!("{t}!");
            args.extend(["--faked-system-time", fake.as_str()]);
        }
        args.extend(["--quick-gen-key", uid, algo, usage, expire]);
        self.run(&args);
        let listing = String::from_utf8(self.run(&["--with-colons", "--list-keys", uid])).unwrap();
        let fpr = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_owned();
        GpgKey { fpr }
    }

    /// Adds a subkey: `gpg --quick-add-key FPR ALGO USAGE EXPIRE`.
    pub fn add_subkey(&self, key: &GpgKey, algo: &str, usage: &str, faked: Option<&str>) {
        let mut args = Vec::new();
        let fake;
        if let Some(t) = faked {
            fake = format!("{t}!");
            args.extend(["--faked-system-time", fake.as_str()]);
        }
        args.extend(["--quick-add-key", key.fpr.as_str(), algo, usage, "never"]);
        self.run(&args);
    }

    pub fn export_public(&self, key: &GpgKey) -> Vec<u8> {
        self.run(&["--armor", "--export", &key.fpr])
    }

    pub fn export_secret(&self, key: &GpgKey) -> Vec<u8> {
        self.run(&["--armor", "--export-secret-keys", &key.fpr])
    }

    /// Writes the public key to `dir/<name>.asc`.
    pub fn export_to(&self, key: &GpgKey, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.asc"));
        std::fs::write(&path, self.export_public(key)).unwrap();
        path
    }

    /// A detached armored signature over `file` with extra gpg options.
    pub fn detach_sign(&self, key: &GpgKey, file: &Path, extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["--armor", "--local-user", key.fpr.as_str(), "--output", "-"];
        args.extend_from_slice(extra);
        args.extend(["--detach-sign", file.to_str().unwrap()]);
        self.run(&args)
    }

    /// Imports the revocation certificate gpg made with the key (reason
    /// "no reason specified": a hard revocation).
    pub fn revoke(&self, key: &GpgKey) {
        let path = self
            .home
            .path()
            .join("openpgp-revocs.d")
            .join(format!("{}.rev", key.fpr));
        let text = std::fs::read_to_string(path).unwrap();
        // gpg guards the certificate with a leading ':' on the armor line.
        let cert = text.replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        self.run_stdin(&["--import"], cert.as_bytes());
    }
}
