//! `cargo xtask sdist`: the application's source distribution, built in
//! Rust so that two builds give the same bytes whatever the checkout's path,
//! clock, umask or file order.
//!
//! Spec: PyPA "Source distribution format" — `{name}-{version}.tar.gz`
//! (name normalized, `-` as `_`), one top directory `{name}-{version}/`
//! holding `pyproject.toml` and `PKG-INFO` (rendered by
//! [`pinwheel_pypa::core_metadata`]), written by [`pinwheel_archive::sdist`]
//! with every mtime `build.source-date-epoch`.
//! We do not call the project's PEP 517 `build_sdist`: it would need the
//! backend installed and its output would still need normalizing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Config;
use pinwheel_archive::sdist::{archive, collect};
use pinwheel_pypa::core_metadata::Project;
use pinwheel_trust::hash::Sha256;

/// A built source distribution.
#[derive(Debug, Clone)]
pub struct Sdist {
    /// `{name}-{version}.tar.gz`.
    pub filename: String,
    /// The project's name as in pyproject.toml, and its normalized version.
    pub name: String,
    pub version: String,
    pub bytes: Vec<u8>,
    pub sha256: Sha256,
}

/// Options of `cargo xtask sdist`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// Application name from packaging/pinwheel.toml (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Output directory (default: target/sdist/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also sign it with this armored secret key (writes <sdist>.asc; the
    /// passphrase comes from PINWHEEL_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

/// Runs `cargo xtask sdist`: writes the sdist into `--out` (default
/// `target/sdist/`) and prints its path and sha256; with `--sign-key`, also
/// a detached armored signature `<sdist>.asc` made like `cargo xtask sign`
/// makes the index's, checked against the pinned keys before it is written.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<PathBuf> {
    let config = Config::load(root)?;
    let app = app_name(&config, options.app.as_deref())?;
    let sdist = build(&config, &app)?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/sdist"));
    let path = out.join(&sdist.filename);
    let signature = match &options.sign_key {
        Some(key) => Some(sign(&config, key, &sdist.bytes)?),
        None => None,
    };
    crate::fresh::write_atomic(&path, &sdist.bytes)?;
    println!("{}  {}", sdist.sha256, path.display());
    if let Some(asc) = signature {
        let asc_path = out.join(format!("{}.asc", sdist.filename));
        crate::fresh::write_atomic(&asc_path, asc.as_bytes())?;
        println!("{}  {}", Sha256::of(asc.as_bytes()), asc_path.display());
    }
    Ok(path)
}

/// A detached signature over `bytes` with the secret key in `key`, which
/// must pass the signature policy with the configured pinned keys.
fn sign(config: &Config, key: &Path, bytes: &[u8]) -> anyhow::Result<String> {
    use pinwheel_trust::signature;
    let now = time::OffsetDateTime::now_utc();
    let key = crate::sign::KeyFile::load(key)?;
    let packet = key.sign(bytes, u64::try_from(now.unix_timestamp()).unwrap_or(0))?;
    let asc = signature::armor_signatures([packet.as_slice()]);
    let certs = signature::load_keys_dir(&config.abs(&config.trust.keys))?;
    let trust = signature::TrustSet::pinned(certs, &config.trust.fingerprints)?;
    signature::verify_detached(bytes, asc.as_bytes(), &trust, now).map_err(|err| {
        anyhow::anyhow!(
            "the sdist's signature would not verify ({err}); is the key pinned in trust.fingerprints and its public key in {}?",
            config.trust.keys.display()
        )
    })?;
    Ok(asc)
}

/// The application named by `--app`, or the only one configured.
pub fn app_name(config: &Config, app: Option<&str>) -> anyhow::Result<String> {
    Ok(match app {
        Some(name) => {
            config.app(name)?;
            name.to_owned()
        }
        None => config.default_app()?.0.to_owned(),
    })
}

/// Builds the sdist of the application `app` in memory.
pub fn build(config: &Config, app: &str) -> anyhow::Result<Sdist> {
    let app_config = config.app(app)?;
    let dir = config.abs(&app_config.dir);
    let pyproject_path = config.abs(&app_config.pyproject);
    if pyproject_path != dir.join("pyproject.toml") {
        bail!(
            "{}: apps.{app}.pyproject must be the pyproject.toml at the top of apps.{app}.dir ({})",
            config.path.display(),
            app_config.dir.display()
        );
    }
    let text = fs_err::read_to_string(&pyproject_path)?;
    let project =
        Project::from_pyproject(&text).with_context(|| format!("{}", pyproject_path.display()))?;
    let pkg_info = project
        .render_pkg_info(&|rel| read_project_file(&dir, rel))
        .with_context(|| format!("{}", pyproject_path.display()))?;
    let files = collect(&dir)?;
    let version = project.version();
    let top = format!("{}-{}", project.filename_name(), version);
    let bytes = archive(
        &dir,
        &top,
        &files,
        pkg_info.as_bytes(),
        config.build.source_date_epoch,
    )?;
    Ok(Sdist {
        filename: format!("{top}.tar.gz"),
        name: project.name.clone(),
        version,
        sha256: Sha256::of(&bytes),
        bytes,
    })
}

/// A readme or licence file that pyproject.toml names, which must stay
/// inside the project directory.
fn read_project_file(dir: &Path, rel: &str) -> anyhow::Result<String> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("{rel:?} must be a path inside the project directory");
    }
    Ok(fs_err::read_to_string(dir.join(rel_path))?)
}
