//! The tools pinwheel is compared with. Python tools (uv, poetry with its
//! export plugin, pip) go into a throwaway virtual environment inside the
//! bench's work directory, made with the target interpreter and filled
//! from the package index by pip; system tools (gpg, gpgv, sqv, sha256sum,
//! openssl, tar, diff) are used as installed. Each peer's version, or why it is
//! missing, goes into BENCHMARKS.md.

use std::path::{Path, PathBuf};

use super::measure::last_line;

/// The Python packages installed into the peers' virtual environment.
pub const PYTHON_PEERS: [&str; 3] = ["uv", "poetry", "poetry-plugin-export"];

/// Where the peers live and what they are.
#[derive(Debug, Clone)]
pub struct Peers {
    /// The virtual environment's `bin/`, or why it could not be made.
    pub venv_bin: Result<PathBuf, String>,
    /// Tool name → version line, or why it is not available.
    pub versions: Vec<(String, Result<String, String>)>,
}

impl Peers {
    /// Makes (or reuses) `work/peers-venv` and records every peer's version.
    pub fn prepare(work: &Path, interpreter: &Path) -> Peers {
        let venv_bin = python_venv(&work.join("peers-venv"), interpreter);
        let mut versions = Vec::new();
        let venv_tool = |name: &str| match &venv_bin {
            Ok(bin) => bin.join(name),
            Err(_) => PathBuf::from(name),
        };
        let venv_reason = venv_bin.as_ref().err().cloned();
        for (name, program, args) in [
            ("uv", venv_tool("uv"), vec!["--version"]),
            ("poetry", venv_tool("poetry"), vec!["--version"]),
            ("pip", venv_tool("pip"), vec!["--version"]),
        ] {
            let v = match (&venv_reason, version(&program, &args)) {
                (_, Ok(v)) => Ok(v),
                (Some(why), Err(_)) => Err(why.clone()),
                (None, Err(why)) => Err(why),
            };
            versions.push((name.to_owned(), v));
        }
        if let Ok(bin) = &venv_bin {
            let plugin = duct::cmd!(bin.join("pip"), "show", "poetry-plugin-export")
                .stdout_capture()
                .stderr_null()
                .unchecked()
                .run();
            let v = match plugin {
                Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Version: ")
                            .map(|v| format!("poetry-plugin-export {v}"))
                    })
                    .ok_or_else(|| "pip show printed no version".to_owned()),
                _ => Err("not installed".to_owned()),
            };
            versions.push(("poetry-plugin-export".to_owned(), v));
        }
        for (name, args) in [
            ("gpg", vec!["--version"]),
            ("gpgv", vec!["--version"]),
            ("sqv", vec!["--version"]),
            ("sha256sum", vec!["--version"]),
            ("openssl", vec!["version"]),
            ("dpkg-buildpackage", vec!["--version"]),
            ("tar", vec!["--version"]),
            ("diff", vec!["--version"]),
        ] {
            versions.push((name.to_owned(), version(Path::new(name), &args)));
        }
        Peers { venv_bin, versions }
    }

    /// The path of a tool inside the peers' virtual environment.
    pub fn venv_tool(&self, name: &str) -> Result<PathBuf, String> {
        let bin = self.venv_bin.as_ref().map_err(Clone::clone)?;
        let path = bin.join(name);
        if path.exists() {
            Ok(path)
        } else {
            Err(format!("{name} is not in the peers' virtual environment"))
        }
    }

    /// Whether a peer's version could be read.
    pub fn available(&self, name: &str) -> Result<(), String> {
        match self.versions.iter().find(|(n, _)| n == name) {
            Some((_, Ok(_))) => Ok(()),
            Some((_, Err(why))) => Err(why.clone()),
            None => Err(format!("{name} was not probed")),
        }
    }
}

/// The first line a tool prints for its version flag.
pub fn version(program: &Path, args: &[&str]) -> Result<String, String> {
    // duct runs a relative `Path` as `./name`; an `OsStr` is looked up on PATH.
    let out = duct::cmd(program.as_os_str(), args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|err| format!("{}: {}", program.display(), short_io_error(&err)))?;
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            last_line(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .into_owned();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} printed no version", program.display()))
}

fn short_io_error(err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        "not installed".to_owned()
    } else {
        err.to_string()
    }
}

/// Makes `dir` a virtual environment of `interpreter` holding
/// [`PYTHON_PEERS`], unless a previous run already did. Returns its `bin/`.
fn python_venv(dir: &Path, interpreter: &Path) -> Result<PathBuf, String> {
    let bin = dir.join("bin");
    let stamp = dir.join(".bench-stamp");
    let wanted = PYTHON_PEERS.join(" ");
    if fs_err::read_to_string(&stamp).is_ok_and(|s| s.trim() == wanted)
        && bin.join("python").exists()
    {
        return Ok(bin);
    }
    if dir.exists() {
        fs_err::remove_dir_all(dir).map_err(|e| e.to_string())?;
    }
    eprintln!(
        "bench: installing {wanted} into {} (pip, from the package index)",
        dir.display()
    );
    let made = duct::cmd!(interpreter, "-m", "venv", dir)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "{} -m venv failed: {}",
                interpreter.display(),
                last_line(&out.stderr)
            ))
        }
        Err(err) => {
            return Err(format!(
                "{}: {}",
                interpreter.display(),
                short_io_error(&err)
            ))
        }
    }
    let mut failures = Vec::new();
    for package in PYTHON_PEERS {
        let out = duct::cmd!(
            bin.join("pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            package
        )
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => failures.push(format!("pip install {package}: {}", last_line(&out.stderr))),
            Err(err) => failures.push(format!("pip install {package}: {err}")),
        }
    }
    if failures.is_empty() {
        let _ = xtask::fresh::write_atomic(&stamp, format!("{wanted}\n").as_bytes());
    } else {
        eprintln!("bench: {}", failures.join("; "));
    }
    Ok(bin)
}
