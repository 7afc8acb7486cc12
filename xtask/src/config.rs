//! `packaging/pinwheel.toml`: the applications, the target environment the
//! Debian package runs in, the package index, the build settings and the
//! trust root. Unknown keys are errors naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Where the configuration lives, relative to the repository root.
pub const CONFIG_PATH: &str = "packaging/pinwheel.toml";

/// The parsed configuration, with the repository root it was read from.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub path: PathBuf,
    /// The Debian releases we build for, by name (in name order).
    pub targets: BTreeMap<String, Target>,
    pub index: Index,
    pub build: Build,
    pub trust: Trust,
    pub bootstrap: Bootstrap,
    pub debian: Debian,
    pub apps: BTreeMap<String, App>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    targets: BTreeMap<String, Target>,
    #[serde(default)]
    index: Index,
    build: Build,
    trust: Trust,
    bootstrap: Bootstrap,
    #[serde(default)]
    debian: Debian,
    #[serde(default)]
    apps: BTreeMap<String, App>,
}

/// The Debian source package (`[debian]`): one `debian/` builds every
/// application as a binary package of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Debian {
    /// The source package's name; when given, debian/control's `Source`
    /// and debian/changelog must say the same.
    #[serde(default)]
    pub source: Option<String>,
}

/// One Debian release we build for (`[targets.NAME]`): the suite its
/// clean build chroot is made from, and the CPython its `python3` has.
/// PEP 508 markers are evaluated against it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// The target's name, the key of `[targets.NAME]` (filled in on load).
    #[serde(skip)]
    pub name: String,
    /// Debian suite (codename), e.g. "bookworm", "trixie".
    pub suite: String,
    /// Debian architecture; only "amd64" and "arm64" are known.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// The Debian archive the chroot is made from.
    #[serde(default = "default_mirror")]
    pub mirror: String,
    /// Full CPython version of the suite's `python3`, e.g. "3.11.2"
    /// (bookworm) or "3.13.5" (trixie). Checked against the chroot.
    pub python: String,
    /// Appended to the Debian version of every package built for this
    /// target (default: "+NAME", e.g. `0.1.0+trixie`; "" for none).
    #[serde(default)]
    pub deb_version_suffix: Option<String>,
}

/// Debian suites a target may name, oldest first, with their CPython
/// minor version (`python3`'s).
pub const SUITES: [(&str, &str); 3] = [
    ("bullseye", "3.9"),
    ("bookworm", "3.11"),
    ("trixie", "3.13"),
];

fn default_architecture() -> String {
    "amd64".to_owned()
}

/// Debian's own archive (a CDN in front of the mirrors).
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

fn default_mirror() -> String {
    DEFAULT_MIRROR.to_owned()
}

impl Target {
    /// The PEP 508 marker environment of this target.
    pub fn marker_environment(&self) -> anyhow::Result<pep508_rs::MarkerEnvironment> {
        pinwheel_pypa::markers::environment(&self.python, self.platform())
    }

    /// The wheel platform tag of the architecture, e.g. "linux_x86_64".
    pub fn platform(&self) -> &'static str {
        match self.architecture.as_str() {
            "arm64" => "linux_aarch64",
            _ => "linux_x86_64",
        }
    }

    /// "3.11" of "3.11.2".
    pub fn python_minor(&self) -> String {
        self.python
            .splitn(3, '.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// What is appended to the Debian version: the configured suffix, or
    /// "+NAME".
    pub fn deb_version_suffix(&self) -> String {
        self.deb_version_suffix
            .clone()
            .unwrap_or_else(|| format!("+{}", self.name))
    }
}

/// The package index that `--online`, `build-wheels` and friends talk to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Index {
    /// Simple API root, e.g. "https://pypi.org/simple/".
    #[serde(default = "default_index_url")]
    pub url: String,
    /// Hosts that redirects and file URLs may lead to.
    #[serde(default = "default_allowed_hosts")]
    pub allowed_hosts: Vec<String>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            url: default_index_url(),
            allowed_hosts: default_allowed_hosts(),
        }
    }
}

fn default_index_url() -> String {
    "https://pypi.org/simple/".to_owned()
}

fn default_allowed_hosts() -> Vec<String> {
    vec!["pypi.org".to_owned(), "files.pythonhosted.org".to_owned()]
}

/// Reproducible-build settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    /// `SOURCE_DATE_EPOCH` for wheels and archives we make.
    pub source_date_epoch: u64,
}

/// The trust root of the signed wheel index.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Trust {
    /// Directory of armored public keys, relative to the root.
    pub keys: PathBuf,
    /// Full primary-key fingerprints (40 or 64 hex digits) allowed to sign.
    pub fingerprints: Vec<String>,
    /// How many distinct pinned keys must sign.
    pub threshold: usize,
    /// What the signed list is for: "<repository>/<index>".
    pub scope: String,
    /// How long a signed list stays valid.
    pub expiry_days: u32,
    /// `verify` names every pinned key that can no longer sign, or that
    /// stops within this many days (by its newest self-signature).
    #[serde(default = "Trust::default_warn_key_expiry_days")]
    pub warn_key_expiry_days: u32,
    /// Whether such a key makes `verify` fail (exit 1) instead of warning.
    #[serde(default)]
    pub fail_on_key_expiry: bool,
}

impl Trust {
    fn default_warn_key_expiry_days() -> u32 {
        30
    }
}

/// The locked project of build backends, built from source first.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bootstrap {
    pub dir: PathBuf,
    pub lock: PathBuf,
}

/// One Python application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct App {
    /// The application's directory, relative to the root.
    pub dir: PathBuf,
    /// Its pyproject.toml, relative to the root.
    pub pyproject: PathBuf,
    /// Its lockfile (poetry.lock, uv.lock, pylock.toml or a hashed
    /// requirements.txt), relative to the root.
    pub lock: PathBuf,
    /// Packages allowed to be pinned to upstream wheels because they publish
    /// no sdist. Each needs a reason in a comment beside it.
    #[serde(default)]
    pub wheel_only: Vec<String>,
    /// The project's extras to install too (a pylock.toml's `extras`,
    /// uv.lock's and Poetry's optional dependencies).
    #[serde(default)]
    pub extras: Vec<String>,
    /// Dependency groups to install besides the main dependencies (and
    /// besides a pylock.toml's `default-groups`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The targets this application ships to (default: every target).
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// Whether the virtual environment sees Debian's dist-packages (for
    /// modules only Debian packages provide, such as `apt_pkg` from
    /// python3-apt); the packages that provide them go in `depends`.
    #[serde(default)]
    pub system_site_packages: bool,
    /// Debian packages the binary package depends on besides Python
    /// (written into its debian/control stanza by `add-app`; checked).
    #[serde(default)]
    pub depends: Vec<String>,
    /// Whether the project's version must map (PEP 440 → Debian) to the
    /// upstream part of debian/changelog's version. Components versioned
    /// only by the source package say false.
    #[serde(default = "yes")]
    pub check_version: bool,
}

fn yes() -> bool {
    true
}

impl Config {
    /// Reads `packaging/pinwheel.toml` under `root`.
    pub fn load(root: &Path) -> anyhow::Result<Config> {
        let path = root.join(CONFIG_PATH);
        let text = fs_err::read_to_string(&path)?;
        Config::parse(root, &path, &text)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(root: &Path, path: &Path, text: &str) -> anyhow::Result<Config> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|err| anyhow::anyhow!("{}: {}", path.display(), one_line(&err.to_string())))?;
        for name in raw.apps.keys() {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                bail!(
                    "{}: application name {name:?} must be lowercase letters, digits and '-'",
                    path.display()
                );
            }
        }
        if raw.trust.threshold == 0 {
            bail!("{}: trust.threshold must be at least 1", path.display());
        }
        let mut targets = raw.targets;
        if targets.is_empty() {
            bail!(
                "{}: no [targets.NAME] table: name at least one Debian release to build for",
                path.display()
            );
        }
        for (name, target) in &mut targets {
            target.name = name.clone();
            check_target(path, target)?;
        }
        for (app_name, app) in &raw.apps {
            for wanted in app.targets.iter().flatten() {
                if !targets.contains_key(wanted) {
                    bail!(
                        "{}: apps.{app_name}.targets names {wanted:?}, which is not a target (known: {})",
                        path.display(),
                        targets.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            }
            if app.targets.as_ref().is_some_and(Vec::is_empty) {
                bail!(
                    "{}: apps.{app_name}.targets is empty: name at least one target, or leave it out for all",
                    path.display()
                );
            }
        }
        let epoch = raw.build.source_date_epoch;
        let zip_range =
            pinwheel_archive::wheel::ZIP_EPOCH_MIN..=pinwheel_archive::wheel::ZIP_EPOCH_MAX;
        if !zip_range.contains(&epoch) {
            bail!(
                "{}: build.source-date-epoch {epoch} is outside what a zip (wheel) can store, \
                 {} (1980-01-01) to {} (2107-12-31)",
                path.display(),
                zip_range.start(),
                zip_range.end()
            );
        }
        Ok(Config {
            root: root.to_path_buf(),
            path: path.to_path_buf(),
            targets,
            index: raw.index,
            build: raw.build,
            trust: raw.trust,
            bootstrap: raw.bootstrap,
            debian: raw.debian,
            apps: raw.apps,
        })
    }

    /// The application called `name`, or an error listing the known ones.
    pub fn app(&self, name: &str) -> anyhow::Result<&App> {
        self.apps.get(name).with_context(|| {
            let known: Vec<&str> = self.apps.keys().map(String::as_str).collect();
            format!(
                "{}: no application named {name:?} (known: {})",
                self.path.display(),
                known.join(", ")
            )
        })
    }

    /// The application to use when `--app` is not given: the only one, or
    /// an error asking for `--app`.
    pub fn default_app(&self) -> anyhow::Result<(&str, &App)> {
        match self.apps.len() {
            1 => Ok(self
                .apps
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .expect("one app")),
            _ => bail!(
                "{}: several applications are configured; pass --app NAME",
                self.path.display()
            ),
        }
    }

    /// The target called `name`, or an error listing the known ones.
    pub fn target(&self, name: &str) -> anyhow::Result<&Target> {
        self.targets.get(name).with_context(|| {
            format!(
                "{}: no target named {name:?} (known: {})",
                self.path.display(),
                self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The targets `app` ships to, in name order.
    pub fn targets_of(&self, app: &App) -> Vec<&Target> {
        self.targets
            .values()
            .filter(|t| {
                app.targets
                    .as_ref()
                    .is_none_or(|names| names.contains(&t.name))
            })
            .collect()
    }

    /// The targets a command works on: `--target NAME`s when given (each
    /// must exist), else every target.
    pub fn selected_targets(&self, names: &[String]) -> anyhow::Result<Vec<&Target>> {
        if names.is_empty() {
            return Ok(self.targets.values().collect());
        }
        let mut out: Vec<&Target> = Vec::new();
        for name in names {
            let target = self.target(name)?;
            if !out.iter().any(|t| t.name == target.name) {
                out.push(target);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A path from the configuration, made absolute under the root.
    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }
}

/// Checks one target: a known suite and architecture, a full Python
/// version of the suite's minor version, an http(s) mirror.
fn check_target(path: &Path, target: &Target) -> anyhow::Result<()> {
    let name = &target.name;
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        bail!(
            "{}: target name {name:?} must be lowercase letters, digits and '-'",
            path.display()
        );
    }
    let Some((_, minor)) = SUITES.iter().find(|(s, _)| *s == target.suite) else {
        bail!(
            "{}: targets.{name}.suite {:?} is not a Debian suite pinwheel knows (known: {})",
            path.display(),
            target.suite,
            SUITES.map(|(s, _)| s).join(", ")
        );
    };
    if !["amd64", "arm64"].contains(&target.architecture.as_str()) {
        bail!(
            "{}: targets.{name}.architecture {:?} is not supported (amd64, arm64)",
            path.display(),
            target.architecture
        );
    }
    if !target.python.split('.').all(|p| p.parse::<u32>().is_ok())
        || target.python.split('.').count() != 3
    {
        bail!(
            "{}: targets.{name}.python must be a full version such as \"3.11.2\", not {:?}",
            path.display(),
            target.python
        );
    }
    if target.python_minor() != *minor {
        bail!(
            "{}: targets.{name}.python {:?} is not Python {minor}, the python3 of Debian {}",
            path.display(),
            target.python,
            target.suite
        );
    }
    if !(target.mirror.starts_with("http://") || target.mirror.starts_with("https://"))
        || target.mirror.contains(char::is_whitespace)
    {
        bail!(
            "{}: targets.{name}.mirror {:?} is not an http(s) URL",
            path.display(),
            target.mirror
        );
    }
    if let Some(suffix) = &target.deb_version_suffix {
        let ok = suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b));
        if !ok {
            bail!(
                "{}: targets.{name}.deb-version-suffix {suffix:?} may hold only letters, digits, '+', '.' and '~'",
                path.display()
            );
        }
        // dpkg sorts "1.0~rc1~deb13" after "1.0~deb13": a suffix starting
        // with '~' would let a release candidate outrank its release.
        if !suffix.is_empty() && !suffix.starts_with('+') {
            bail!(
                "{}: targets.{name}.deb-version-suffix {suffix:?} must start with '+' (a '~' suffix breaks dpkg's order of pre-releases)",
                path.display()
            );
        }
    }
    Ok(())
}

pub use pinwheel_pypa::one_line;

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[targets.bookworm]
suite = "bookworm"
python = "3.11.2"

[targets.trixie]
suite = "trixie"
python = "3.13.5"
deb-version-suffix = "+deb13"

[build]
source-date-epoch = 1700000000

[trust]
keys = "packaging/keys"
fingerprints = []
threshold = 1
scope = "pinwheel/wheels-index"
expiry-days = 180

[bootstrap]
dir = "packaging/bootstrap"
lock = "packaging/bootstrap/uv.lock"

[apps.demo]
dir = "packaging/demo"
pyproject = "packaging/demo/pyproject.toml"
lock = "packaging/demo/uv.lock"
"#;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(
            Path::new("/r"),
            Path::new("/r/packaging/pinwheel.toml"),
            text,
        )
    }

    #[test]
    fn good() {
        let config = parse(GOOD).unwrap();
        let bookworm = config.target("bookworm").unwrap();
        assert_eq!(bookworm.python, "3.11.2");
        assert_eq!(bookworm.platform(), "linux_x86_64");
        assert_eq!(bookworm.mirror, DEFAULT_MIRROR);
        assert_eq!(bookworm.deb_version_suffix(), "+bookworm");
        assert_eq!(
            config.target("trixie").unwrap().deb_version_suffix(),
            "+deb13"
        );
        let demo = config.app("demo").unwrap();
        let names: Vec<&str> = config
            .targets_of(demo)
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["bookworm", "trixie"]);
        assert_eq!(config.index.url, "https://pypi.org/simple/");
        assert!(config.app("demo").is_ok());
        let err = config.app("nope").unwrap_err().to_string();
        assert!(err.contains("no application named \"nope\""), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = GOOD.replace("[build]", "[build]\nfrobnicate = 1");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("frobnicate"), "{err}");
        assert!(err.contains("pinwheel.toml"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn app_extras_and_groups() {
        let config = parse(&format!("{GOOD}extras = [\"feat\"]\ngroups = [\"dev\"]\n")).unwrap();
        let app = config.app("demo").unwrap();
        assert_eq!(app.extras, ["feat"]);
        assert_eq!(app.groups, ["dev"]);
        let err = format!(
            "{:#}",
            parse(&format!("{GOOD}extra = [\"feat\"]\n")).unwrap_err()
        );
        assert!(err.contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn malformed_toml() {
        let err = format!("{:#}", parse("[target\n").unwrap_err());
        assert!(err.contains("pinwheel.toml"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn source_date_epoch_a_zip_can_store() {
        for bad in ["0", "315532799", "4354819199", "18446744073709551615"] {
            let text = GOOD.replace(
                "source-date-epoch = 1700000000",
                &format!("source-date-epoch = {bad}"),
            );
            assert_ne!(text, GOOD);
            let err = parse(&text).unwrap_err();
            assert_eq!(
                pinwheel_trust::failure::exit_code(&err),
                2,
                "malformed input"
            );
            let msg = format!("{err:#}");
            assert!(
                msg.contains("pinwheel.toml") && msg.contains(bad) && msg.contains("1980-01-01"),
                "{msg}"
            );
        }
        for good in ["315532800", "4354819198"] {
            let text = GOOD.replace(
                "source-date-epoch = 1700000000",
                &format!("source-date-epoch = {good}"),
            );
            assert!(parse(&text).is_ok(), "{good}");
        }
    }

    #[test]
    fn short_python_version() {
        let text = GOOD.replace("\"3.11.2\"", "\"3.11\"");
        assert!(format!("{:#}", parse(&text).unwrap_err()).contains("full version"));
    }

    fn error(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert_eq!(pinwheel_trust::failure::exit_code(&err), 2, "{err:#}");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("pinwheel.toml") && !msg.contains('\n'),
            "{msg}"
        );
        msg
    }

    #[test]
    fn adversarial_unknown_suite() {
        let msg = error(&GOOD.replace("suite = \"trixie\"", "suite = \"trixy\""));
        assert!(
            msg.contains("targets.trixie.suite \"trixy\" is not a Debian suite"),
            "{msg}"
        );
    }

    #[test]
    fn adversarial_python_of_another_release() {
        let msg = error(&GOOD.replace("\"3.13.5\"", "\"3.11.2\""));
        assert!(
            msg.contains("targets.trixie.python \"3.11.2\" is not Python 3.13"),
            "{msg}"
        );
    }

    #[test]
    fn adversarial_app_names_an_unknown_target() {
        let msg = error(&format!("{GOOD}targets = [\"bookworm\", \"buster\"]\n"));
        assert!(msg.contains("apps.demo.targets names \"buster\", which is not a target (known: bookworm, trixie)"), "{msg}");
        let config = parse(&format!("{GOOD}targets = [\"trixie\"]\n")).unwrap();
        let demo = config.app("demo").unwrap();
        assert_eq!(config.targets_of(demo).len(), 1);
        let msg = format!(
            "{:#}",
            config.selected_targets(&["sid".into()]).unwrap_err()
        );
        assert!(msg.contains("no target named \"sid\""), "{msg}");
    }

    #[test]
    fn adversarial_no_targets_and_bad_suffix() {
        let start = GOOD.find("[targets.bookworm]").unwrap();
        let end = GOOD.find("[build]").unwrap();
        let msg = error(&format!("{}{}", &GOOD[..start], &GOOD[end..]));
        assert!(msg.contains("no [targets.NAME]"), "{msg}");
        let msg = error(&GOOD.replace("\"+deb13\"", "\"+deb 13\""));
        assert!(msg.contains("deb-version-suffix"), "{msg}");
        let msg = error(&GOOD.replace(
            "suite = \"trixie\"",
            "suite = \"trixie\"\nmirror = \"ftp://x\"",
        ));
        assert!(msg.contains("mirror"), "{msg}");
    }
}
