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
    pub target: Target,
    pub index: Index,
    pub build: Build,
    pub trust: Trust,
    pub bootstrap: Bootstrap,
    pub apps: BTreeMap<String, App>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    target: Target,
    #[serde(default)]
    index: Index,
    build: Build,
    trust: Trust,
    bootstrap: Bootstrap,
    #[serde(default)]
    apps: BTreeMap<String, App>,
}

/// The environment the Debian package runs in: PEP 508 markers are
/// evaluated against it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// Full CPython version, e.g. "3.11.2" (Debian 12).
    pub python: String,
    /// Platform tag, e.g. "linux_x86_64".
    pub platform: String,
    /// The interpreter the virtual environment is made with.
    pub interpreter: PathBuf,
}

impl Target {
    /// The PEP 508 marker environment of this target.
    pub fn marker_environment(&self) -> anyhow::Result<pep508_rs::MarkerEnvironment> {
        pinwheel_pypa::markers::environment(&self.python, &self.platform)
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
        if !raw
            .target
            .python
            .split('.')
            .all(|p| p.parse::<u32>().is_ok())
            || raw.target.python.split('.').count() != 3
        {
            bail!(
                "{}: target.python must be a full version such as \"3.11.2\", not {:?}",
                path.display(),
                raw.target.python
            );
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
            target: raw.target,
            index: raw.index,
            build: raw.build,
            trust: raw.trust,
            bootstrap: raw.bootstrap,
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

    /// A path from the configuration, made absolute under the root.
    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }
}

pub use pinwheel_pypa::one_line;

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[target]
python = "3.11.2"
platform = "linux_x86_64"
interpreter = "/usr/bin/python3"

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
        assert_eq!(config.target.python, "3.11.2");
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
}
