//! `cargo xtask add-app NAME --dir DIR [--target NAME]...
//! [--system-site-packages] [--depends DEBPKG]...`: registers one more
//! Python application as one more binary package of the source package.
//!
//! Everything is checked before anything is written: NAME is a Debian
//! package name (Policy 5.6.7) that is neither configured nor in
//! debian/control; DIR is inside the repository and holds a pyproject.toml
//! and exactly one lock; each target exists; each `--depends` is a package
//! name. Then, under the repository lock, it appends `[apps.NAME]` to
//! `packaging/pinwheel.toml` and the binary stanza to `debian/control`, and
//! writes the per-package files debhelper reads — `NAME.links` (console
//! scripts into /usr/bin), `NAME.postinst`/`NAME.prerm` (bytecode compiled
//! on the machine, removed before removal), `NAME.lintian-overrides` (each
//! with its reason), a manual page per console script and `NAME.manpages`.
//! None of them may exist yet. It prints what the team should review and
//! the commands that follow. `debian/rules` is not touched: it builds every
//! configured application.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::{Config, CONFIG_PATH};
use crate::debian::{Control, CONTROL};
use crate::fresh::{self, RepoLock};
use pinwheel_pypa::lockfile::Format;

/// Arguments of `cargo xtask add-app`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The application's name: its binary package and its virtual
    /// environment, /opt/venvs/NAME.
    pub name: String,
    /// The directory holding the application's pyproject.toml and lock.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// A target it ships to (repeatable; default: every target).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Let the virtual environment see Debian's dist-packages (name the
    /// packages that provide the modules with --depends).
    #[arg(long)]
    pub system_site_packages: bool,
    /// A Debian package the binary package depends on (repeatable).
    #[arg(long = "depends", value_name = "DEBPKG")]
    pub depends: Vec<String>,
}

/// What the project's pyproject.toml says that the package needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Project {
    version: String,
    description: Option<String>,
    /// Console scripts, sorted.
    scripts: Vec<String>,
}

/// One file to write: path relative to the root, contents.
type Output = (PathBuf, String);

impl Args {
    pub fn run(&self, root: &Path) -> anyhow::Result<()> {
        let config = Config::load(root)?;
        let _lock = RepoLock::acquire(root)?;
        let control_text = fs_err::read_to_string(root.join(CONTROL))?;
        let control = Control::parse(&control_text, CONTROL)?;
        let dir = self.relative_dir(root)?;
        let (pyproject, lock) = find_project(root, &dir)?;
        let project = read_project(&root.join(&pyproject), &pyproject)?;
        let outputs = self.plan(
            &config,
            &control,
            &control_text,
            &dir,
            &pyproject,
            &lock,
            &project,
        )?;
        // Nothing exists yet that we would overwrite.
        for (path, _) in &outputs[2..] {
            if root.join(path).exists() {
                bail!(
                    "{}: already exists; add-app writes it for {} and will not overwrite it",
                    path.display(),
                    self.name
                );
            }
        }
        for (path, text) in &outputs {
            fresh::write_atomic(&root.join(path), text.as_bytes())?;
        }
        println!("added {} ({}):", self.name, project.version);
        for (path, _) in &outputs {
            println!("  {}", path.display());
        }
        println!(
            "review: the stanza in {CONTROL} (Description, Depends), the manual page(s), and the \
             lintian overrides' reasons (remove any that lintian calls unused or mismatched: they \
             depend on what the dependencies ship); put files outside Python (desktop entries, configuration, \
             units) in {dir}/ and name them in debian/{name}.install",
            dir = dir.display(),
            name = self.name
        );
        println!(
            "next: cargo xtask update-deps --app {0} && cargo xtask build-wheels --app {0} && \
             cargo xtask sign && cargo xtask build-deb --app {0}",
            self.name
        );
        Ok(())
    }

    /// DIR relative to the root; refused outside it.
    fn relative_dir(&self, root: &Path) -> anyhow::Result<PathBuf> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let given = if self.dir.is_absolute() {
            self.dir.clone()
        } else {
            cwd.join(&self.dir)
        };
        let real = fs_err::canonicalize(&given)
            .map_err(|err| anyhow::anyhow!("--dir {}: {err}", self.dir.display()))?;
        let rel = real.strip_prefix(root).map_err(|_| {
            anyhow::anyhow!(
                "--dir {}: outside the repository {}; the application must live in it",
                self.dir.display(),
                root.display()
            )
        })?;
        if rel.as_os_str().is_empty() {
            bail!(
                "--dir {}: the repository root itself; give the application a directory of its own",
                self.dir.display()
            );
        }
        Ok(rel.to_path_buf())
    }

    /// Every check, then the files to write: pinwheel.toml and
    /// debian/control first (whole new contents), then the new files.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        config: &Config,
        control: &Control,
        control_text: &str,
        dir: &Path,
        pyproject: &Path,
        lock: &Path,
        project: &Project,
    ) -> anyhow::Result<Vec<Output>> {
        let name = &self.name;
        check_name(name)?;
        if config.apps.contains_key(name) {
            bail!("{CONFIG_PATH}: an application named {name} exists already");
        }
        if control.binary(name).is_some() {
            bail!("{CONTROL}: a binary package named {name} exists already");
        }
        for target in &self.targets {
            config.target(target)?;
        }
        for dep in &self.depends {
            check_name(dep).with_context(|| format!("--depends {dep}"))?;
        }

        let mut table = format!(
            "\n[apps.{name}]\ndir = {}\npyproject = {}\nlock = {}\n",
            quote(&dir.display().to_string()),
            quote(&pyproject.display().to_string()),
            quote(&lock.display().to_string())
        );
        if !self.targets.is_empty() {
            table.push_str(&format!("targets = {}\n", list(&self.targets)));
        }
        if self.system_site_packages {
            table.push_str("# The venv sees Debian's dist-packages; `depends` names who provides them.\nsystem-site-packages = true\n");
        }
        if !self.depends.is_empty() {
            table.push_str(&format!("depends = {}\n", list(&self.depends)));
        }
        table.push_str("# Packages allowed to be pinned to upstream wheels (no sdist); one reason each.\nwheel-only = []\n");
        let config_text = fs_err::read_to_string(&config.path)?;
        let new_config = format!("{}{table}", ensure_newline(&config_text));
        // The result must load: the new table is valid configuration.
        Config::parse(&config.root, &config.path, &new_config)?;

        let new_control = format!(
            "{}\n{}",
            ensure_newline(control_text.trim_end()),
            stanza(name, project, &self.depends)
        );
        Control::parse(&new_control, CONTROL)?;

        let mut outputs: Vec<Output> = vec![
            (PathBuf::from(CONFIG_PATH), new_config),
            (PathBuf::from(CONTROL), new_control),
        ];
        let venv = format!("/opt/venvs/{name}");
        if !project.scripts.is_empty() {
            let links: String = project
                .scripts
                .iter()
                .map(|s| format!("{}/bin/{s} usr/bin/{s}\n", venv.trim_start_matches('/')))
                .collect();
            outputs.push((format!("debian/{name}.links").into(), links));
            let mut manpages = String::new();
            for script in &project.scripts {
                let page = format!("debian/{script}.1");
                manpages.push_str(&format!("{page}\n"));
                outputs.push((page.into(), manual_page(script, name, project)));
            }
            outputs.push((format!("debian/{name}.manpages").into(), manpages));
        }
        outputs.push((format!("debian/{name}.postinst").into(), postinst(&venv)));
        outputs.push((format!("debian/{name}.prerm").into(), prerm(&venv)));
        outputs.push((
            format!("debian/{name}.lintian-overrides").into(),
            lintian_overrides(name),
        ));
        Ok(outputs)
    }
}

/// A Debian binary package name (Policy 5.6.7) that is also an
/// application name: lowercase letters, digits and '-', two characters at
/// least, starting with a letter or digit.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-+.".contains(&b));
    if !ok {
        bail!(
            "{name:?} is not a valid Debian package name (Debian Policy 5.6.7: lowercase letters, \
             digits, '+', '-' and '.', at least two characters, starting with a letter or digit)"
        );
    }
    Ok(())
}

/// The project's pyproject.toml and its one lock, relative to the root.
fn find_project(root: &Path, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let pyproject = dir.join("pyproject.toml");
    if !root.join(&pyproject).is_file() {
        bail!(
            "{}: no pyproject.toml in the application directory",
            dir.display()
        );
    }
    let mut locks = Vec::new();
    let mut names: Vec<String> = fs_err::read_dir(root.join(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let is_lock = name == "poetry.lock"
            || name == "uv.lock"
            || name == "pylock.toml"
            || (name.starts_with("pylock.") && name.ends_with(".toml"))
            || name == "requirements.txt";
        if is_lock {
            let path = dir.join(&name);
            let text = fs_err::read_to_string(root.join(&path))?;
            // Only a file the lock readers recognise counts.
            if Format::detect(&path, &text).is_ok() {
                locks.push(path);
            }
        }
    }
    match locks.as_slice() {
        [one] => Ok((pyproject, one.clone())),
        [] => bail!(
            "{}: no lock (poetry.lock, uv.lock, pylock.toml or a hashed requirements.txt); lock the project first",
            dir.display()
        ),
        several => bail!(
            "{}: several locks ({}); keep the one pinwheel should read",
            dir.display(),
            several
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Version, description and console scripts from `[project]` (PEP 621) or
/// `[tool.poetry]`.
fn read_project(path: &Path, label: &Path) -> anyhow::Result<Project> {
    let text = fs_err::read_to_string(path)?;
    let doc: toml::Table = toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{}: {}",
            label.display(),
            crate::config::one_line(&err.to_string())
        )
    })?;
    let project = doc.get("project").and_then(|v| v.as_table());
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|v| v.as_table());
    let field = |key: &str| {
        project
            .and_then(|p| p.get(key))
            .or_else(|| poetry.and_then(|p| p.get(key)))
    };
    let version = field("version")
        .and_then(|v| v.as_str())
        .with_context(|| {
            format!(
                "{}: no static version ([project] version); pinwheel needs one",
                label.display()
            )
        })?
        .to_owned();
    let description = field("description")
        .and_then(|v| v.as_str())
        .map(|d| d.lines().next().unwrap_or_default().trim().to_owned())
        .filter(|d| !d.is_empty());
    let mut scripts: Vec<String> = field("scripts")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    scripts.sort();
    for script in &scripts {
        let ok = !script.is_empty()
            && script
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
        if !ok {
            bail!(
                "{}: console script {script:?} cannot be a file name in /usr/bin",
                label.display()
            );
        }
    }
    Ok(Project {
        version,
        description,
        scripts,
    })
}

/// The binary stanza (Policy 5.3): `Architecture: any` (wheels may hold
/// compiled code), `${pinwheel:Depends}` (the target's python3, filled by
/// debian/rules) and the given packages.
fn stanza(name: &str, project: &Project, depends: &[String]) -> String {
    let synopsis = project
        .description
        .clone()
        .unwrap_or_else(|| format!("{name}, a Python application packaged by pinwheel"));
    let synopsis: String = synopsis.chars().take(79).collect();
    let mut deps = vec![
        "${pinwheel:Depends}".to_owned(),
        "${misc:Depends}".to_owned(),
        "${shlibs:Depends}".to_owned(),
    ];
    deps.extend(depends.iter().cloned());
    let long = wrap(
        &format!(
            "{name} and its hash-pinned Python dependencies live in a virtual \
             environment under /opt/venvs/{name}; every dependency was installed \
             from a wheel whose SHA-256 digest is pinned in a maintainer-signed list."
        ),
        78,
    );
    format!(
        "Package: {name}\nArchitecture: any\nDepends: {},\nDescription: {synopsis}\n{long}",
        deps.join(",\n         ")
    )
}

/// `text` as a control file's extended description: lines of at most
/// `width` characters, each indented by one space.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&format!(" {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!(" {line}\n"));
    }
    out
}

fn manual_page(script: &str, name: &str, project: &Project) -> String {
    let what = project
        .description
        .clone()
        .unwrap_or_else(|| format!("the command of {name}"));
    format!(
        ".TH {upper} 1 \"\" \"{name} {version}\" \"User Commands\"\n\
         .SH NAME\n{script} \\- {what}\n\
         .SH SYNOPSIS\n.B {script}\n.RI [ options ]\n\
         .SH DESCRIPTION\n\\fB{script}\\fR is a command of {name}, run from its virtual environment\n\
         under /opt/venvs/{name}.\nRun \\fB{script} \\-\\-help\\fR for its options.\n",
        upper = troff(&script.to_uppercase()),
        script = troff(script),
        name = troff(name),
        version = troff(&project.version),
        what = troff(&what),
    )
}

/// Text safe in a troff line: backslashes doubled, hyphens escaped, no
/// line starting with a control character.
fn troff(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .replace('"', "\\(dq")
        .trim_start_matches(['.', '\''])
        .to_owned()
}

fn postinst(venv: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Byte-compiles the virtual environment on the machine that runs it: the\n\
         # package ships no bytecode (ARCHITECTURE.md, \"The Debian package\").\n\
         set -e\n\n\
         case \"$1\" in\n    configure|abort-upgrade|abort-remove|abort-deconfigure)\n\
         \x20       # Like Debian's py3compile, a file that does not compile is not fatal:\n\
         \x20       # Python falls back to the source.\n\
         \x20       {venv}/bin/python -m compileall -q {venv}/lib >/dev/null || true\n\
         \x20       ;;\nesac\n\n#DEBHELPER#\n\nexit 0\n"
    )
}

fn prerm(venv: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Removes the bytecode that postinst compiled, so that dpkg can remove the\n\
         # virtual environment's directories.\n\
         set -e\n\n\
         case \"$1\" in\n    remove|upgrade|deconfigure|failed-upgrade)\n\
         \x20       find {venv} -depth -type d -name __pycache__ -exec rm -rf {{}} +\n\
         \x20       ;;\nesac\n\n#DEBHELPER#\n\nexit 0\n"
    )
}

fn lintian_overrides(name: &str) -> String {
    let venv = format!("opt/venvs/{name}");
    format!(
        "# The virtual environment lives under /opt/venvs/<package>, dh-virtualenv's\n\
         # convention: a self-contained tree that never mixes with the system's Python.\n\
         {name}: dir-or-file-in-opt [opt/venvs/*]\n\
         # Installed files are byte-identical to the signed wheels, so each still matches its RECORD hash.\n\
         {name}: unstripped-binary-or-object [{venv}/lib/python3*/site-packages/*.so]\n\
         # The virtual environment's own interpreter, a symlink to /usr/bin/python3.\n\
         {name}: unusual-interpreter /{venv}/bin/python [{venv}/bin/*]\n\
         # Upstream library modules with a shebang, imported, never run; the wheel's bytes are kept.\n\
         {name}: unusual-interpreter python [{venv}/lib/python3*/site-packages/*.py]\n\
         # Same modules: they are imported, so they are deliberately not executable.\n\
         {name}: script-not-executable [{venv}/lib/python3*/site-packages/*.py]\n\
         # Licence files inside .dist-info are package metadata that pip and importlib.metadata read.\n\
         {name}: extra-license-file [{venv}/lib/python3*/site-packages/*.dist-info/*]\n\
         # Same licence files, kept where the wheel's RECORD lists them.\n\
         {name}: package-contains-documentation-outside-usr-share-doc [{venv}/lib/python3*/site-packages/*.dist-info/*]\n"
    )
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn ensure_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adversarial_invalid_debian_names() {
        for bad in ["A-app", "x", "-app", "app_name", "app name", "ápp", ""] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("Debian Policy 5.6.7"), "{bad}: {err}");
        }
        for good in ["pinwheel-demo", "py3", "a.b", "g++"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn stanza_names_the_python_substvar_and_depends() {
        let project = Project {
            version: "0.0.0".into(),
            description: Some("compares versions".into()),
            scripts: vec!["x".into()],
        };
        let text = stanza("x-app", &project, &["python3-apt".into()]);
        let control = Control::parse(&format!("Source: s\n\n{text}"), "c").unwrap();
        assert!(text.lines().all(|l| l.len() <= 80), "{text}");
        let binary = control.binary("x-app").unwrap();
        assert_eq!(binary.depends, ["python3-apt"]);
        assert!(text.contains("Depends: ${pinwheel:Depends},\n         ${misc:Depends}"));
        assert!(text.contains("Description: compares versions\n x-app and its"));
    }

    #[test]
    fn manual_page_is_escaped() {
        let project = Project {
            version: "1.0".into(),
            description: Some(".starts with a dot \\ and -".into()),
            scripts: vec![],
        };
        let page = manual_page("my-tool", "my-app", &project);
        assert!(
            page.contains("my\\-tool \\- starts with a dot \\\\ and \\-"),
            "{page}"
        );
        assert!(page.starts_with(".TH MY\\-TOOL 1"), "{page}");
    }
}
