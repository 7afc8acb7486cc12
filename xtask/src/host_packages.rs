//! Debian packages on the host: which of a list are not installed
//! (`dpkg-query`), and what to do about them — install with apt-get as
//! root, through sudo when the user allowed it, otherwise print the exact
//! `sudo apt-get install` line and stop (exit 2). `build-deb`,
//! `check-reproducible` and `test` all go through here.

use anyhow::{bail, Context};

/// What to do about missing packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    /// Run this command (argv) and say so.
    Run(Vec<String>),
    /// Print this command and exit 2.
    Ask(String),
}

/// The apt-get command line that installs `names` non-interactively.
pub fn apt_get(names: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = ["apt-get", "install", "-y", "--no-install-recommends"]
        .map(str::to_owned)
        .to_vec();
    argv.extend(names.iter().cloned());
    argv
}

/// The line a user who is not root runs to install `names`.
pub fn sudo_line(names: &[String]) -> String {
    let mut sudo = vec!["sudo".to_owned()];
    sudo.extend(apt_get(names));
    sudo.join(" ")
}

/// Root installs with apt-get; anyone else gets the sudo line printed,
/// unless `allow_sudo` lets us run it.
pub fn plan(missing: &[String], is_root: bool, allow_sudo: bool) -> Plan {
    if missing.is_empty() {
        return Plan::Nothing;
    }
    let apt = apt_get(missing);
    if is_root {
        Plan::Run(apt)
    } else if allow_sudo {
        let mut sudo = vec!["sudo".to_owned()];
        sudo.extend(apt);
        Plan::Run(sudo)
    } else {
        Plan::Ask(sudo_line(missing))
    }
}

/// Whether we run as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The packages of `names` that dpkg does not list as installed, in order.
pub fn missing(names: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut args = vec!["-W", "-f", "${Package} ${db:Status-Status}\\n"];
    args.extend_from_slice(names);
    let out = duct::cmd("dpkg-query", &args)
        .stdin_null()
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .context("cannot run dpkg-query (is this a Debian system?)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let installed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_suffix(" installed"))
        .collect();
    Ok(names
        .iter()
        .filter(|n| !installed.contains(n))
        .map(|n| (*n).to_owned())
        .collect())
}

/// Makes sure `missing` gets installed, or stops with the line to run.
/// `what` names them in messages ("build dependencies", "test tools");
/// `flag` is the option that lets us use sudo, if the command has one.
pub fn install(
    missing: &[String],
    what: &str,
    allow_sudo: bool,
    flag: Option<&str>,
) -> anyhow::Result<()> {
    match plan(missing, is_root(), allow_sudo) {
        Plan::Nothing => Ok(()),
        Plan::Ask(line) => {
            eprintln!("missing {what}; install them with:\n    {line}");
            match flag {
                Some(flag) => bail!("{what} are missing; run `{line}` or pass {flag}"),
                None => bail!("{what} are missing; run `{line}`"),
            }
        }
        Plan::Run(argv) => {
            eprintln!("installing {what}: {}", argv.join(" "));
            if run_apt(&argv)? {
                return Ok(());
            }
            // A fresh machine has no package lists yet.
            let update: Vec<String> = argv
                .iter()
                .take_while(|a| *a != "apt-get")
                .cloned()
                .chain(["apt-get".to_owned(), "update".to_owned()])
                .collect();
            eprintln!(
                "apt-get could not install them; updating the package lists: {}",
                update.join(" ")
            );
            run_apt(&update)?;
            if run_apt(&argv)? {
                Ok(())
            } else {
                bail!("`{}` failed", argv.join(" "))
            }
        }
    }
}

fn run_apt(argv: &[String]) -> anyhow::Result<bool> {
    let status = duct::cmd(&argv[0], &argv[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin_null()
        .unchecked()
        .run()
        .with_context(|| format!("cannot run {}", argv[0]))?
        .status;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let missing = vec!["debhelper-compat".to_owned(), "faketime".to_owned()];
        assert_eq!(plan(&[], false, false), Plan::Nothing);
        assert_eq!(plan(&missing, true, false), Plan::Run(apt_get(&missing)));
        assert_eq!(
            plan(&missing, false, false),
            Plan::Ask(
                "sudo apt-get install -y --no-install-recommends debhelper-compat faketime".into()
            )
        );
        let Plan::Run(argv) = plan(&missing, false, true) else {
            panic!()
        };
        assert_eq!(&argv[..3], ["sudo", "apt-get", "install"]);
    }

    #[test]
    fn dpkg_lists_what_is_installed() {
        let missing = missing(&["dpkg", "pinwheel-no-such-package"]).unwrap();
        assert_eq!(missing, ["pinwheel-no-such-package"]);
    }
}
