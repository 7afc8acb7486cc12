//! `config.toml` (cargo-vet's `config.toml`, for pinned sdists): the
//! criteria each application's pins must meet (`[policy.APP]`), those of
//! the build backends (`[build-backends]`), the imported audits files
//! (`[imports.NAME]`) and the exemptions (`[[exemptions.NAME]]`). Also
//! `imports.lock`, which pins each import's bytes.

use std::collections::{BTreeMap, BTreeSet};

use pep440_rs::Version;
use pep508_rs::PackageName;
use pinwheel_trust::hash::Sha256;
use serde::Deserialize;

use super::fields::{self, OneOrMany, StoreError};
use crate::criteria::{IMPORT_SEPARATOR, SAFE_TO_DEPLOY};

/// The parsed `config.toml`. Entries keep their file order (messages count
/// them from 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VetConfig {
    /// `[policy.APP]`, keyed by the application's name as written in
    /// `packaging/pinwheel.toml` (not checked here).
    pub policy: BTreeMap<String, Policy>,
    /// `[build-backends]`: the policy for the bootstrap set.
    pub build_backends: Option<Policy>,
    /// `[imports.NAME]`.
    pub imports: BTreeMap<String, Import>,
    /// `[[exemptions.NAME]]` (cargo-vet: exemptions), keyed by the PEP 503
    /// normalized name.
    pub exemptions: BTreeMap<PackageName, Vec<Exemption>>,
}

/// A policy (cargo-vet: `[policy.CRATE]`): the criteria every pin of one
/// consumer must meet, with per-package overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `criteria` (a string or a list); `None`: [`SAFE_TO_DEPLOY`].
    pub criteria: Option<Vec<String>>,
    /// `dependency-criteria`: package → the criteria that package must
    /// meet instead (cargo-vet's `dependency-criteria`).
    pub dependency_criteria: BTreeMap<PackageName, Vec<String>>,
}

impl Policy {
    /// The criteria `name` must meet under this policy: its override, else
    /// the policy's criteria, else `safe-to-deploy`.
    pub fn required(&self, name: &PackageName) -> BTreeSet<String> {
        match (self.dependency_criteria.get(name), &self.criteria) {
            (Some(list), _) | (None, Some(list)) => list.iter().cloned().collect(),
            (None, None) => BTreeSet::from([SAFE_TO_DEPLOY.to_owned()]),
        }
    }
}

/// Where an imported audits file comes from (cargo-vet: `[imports.NAME]
/// url`). Exactly one of `url` or `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportSource {
    /// `url`: an `https://` URL; `vet --update-imports` keeps a copy at
    /// `packaging/supply-chain/imports/NAME.toml`.
    Url(String),
    /// `path`: a relative path inside the repository (no `..`, not
    /// absolute), read in place.
    Path(String),
}

impl ImportSource {
    /// The URL or path as written (what `imports.lock` records as
    /// `source`).
    pub fn as_str(&self) -> &str {
        match self {
            ImportSource::Url(s) | ImportSource::Path(s) => s,
        }
    }
}

/// One `[imports.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// `url` or `path`.
    pub source: ImportSource,
    /// `criteria-map`: `"NAME::CRITERION"` → our criteria (a string or a
    /// list). An imported custom criterion satisfies nothing of ours
    /// unless mapped. Keys always name a criterion of this import.
    pub criteria_map: BTreeMap<String, Vec<String>>,
}

/// One `[[exemptions.NAME]]` (cargo-vet: an exemption): this sdist counts
/// as meeting `criteria` without an audit. Matched on version AND sha256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exemption {
    /// The exempted version.
    pub version: Version,
    /// The exempted sdist's digest.
    pub sha256: Sha256,
    /// At least one.
    pub criteria: Vec<String>,
    /// Why (cargo-vet asks for a reason beside each exemption).
    pub notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPolicy {
    criteria: Option<OneOrMany>,
    #[serde(default)]
    dependency_criteria: BTreeMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawImport {
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    criteria_map: BTreeMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    version: String,
    sha256: String,
    criteria: OneOrMany,
    notes: Option<String>,
}

/// Parses `config.toml`. Refuses TOML syntax errors, unknown tables and
/// keys, package keys that are not PEP 503 normalized, an import with
/// none or both of `url`/`path`, a URL that is not `https://`, a path
/// that is absolute or climbs out (`..`), an import name that is not a
/// plain name (it names a file), a `criteria-map` key that is not
/// `NAME::CRITERION` of this import, versions that are not PEP 440,
/// digests that are not 64 lowercase hex digits, empty criteria lists.
/// Whether criteria exist is checked by [`crate::Store::new`].
pub fn parse_config(path_for_messages: &str, text: &str) -> Result<VetConfig, StoreError> {
    let path = path_for_messages;
    let top = fields::table(path, text)?;
    fields::only_keys(
        path,
        &top,
        &["policy", "build-backends", "imports", "exemptions"],
    )?;
    let mut config = VetConfig::default();
    for (app, value) in fields::sub_table(path, &top, "policy")? {
        let entry = format!("policy.{}", fields::key(&app));
        let policy = policy(value).map_err(|m| StoreError::entry(path, &entry, m))?;
        config.policy.insert(app, policy);
    }
    if let Some(value) = top.get("build-backends") {
        config.build_backends =
            Some(policy(value.clone()).map_err(|m| StoreError::entry(path, "build-backends", m))?);
    }
    for (name, value) in fields::sub_table(path, &top, "imports")? {
        let entry = format!("imports.{}", fields::key(&name));
        let import = import(&name, value).map_err(|m| StoreError::entry(path, &entry, m))?;
        config.imports.insert(name, import);
    }
    for (name, value) in fields::sub_table(path, &top, "exemptions")? {
        let table_entry = format!("exemptions.{}", fields::key(&name));
        let err = |m: String| StoreError::entry(path, &table_entry, m);
        let package = fields::package_name(&name).map_err(err)?;
        let items = fields::array(&value, &table_entry).map_err(err)?;
        let mut list = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let entry = format!("{table_entry}[{}]", i + 1);
            let parsed = fields::entry::<RawExemption>(item)
                .and_then(exemption)
                .map_err(|m| StoreError::entry(path, &entry, m))?;
            list.push(parsed);
        }
        config.exemptions.insert(package, list);
    }
    Ok(config)
}

fn policy(value: toml::Value) -> Result<Policy, String> {
    let raw: RawPolicy = fields::entry(value)?;
    let criteria = raw.criteria.map(|c| c.non_empty("criteria")).transpose()?;
    let mut dependency_criteria = BTreeMap::new();
    for (name, list) in raw.dependency_criteria {
        let field = format!("dependency-criteria.{}", fields::key(&name));
        let package =
            fields::package_name(&name).map_err(|m| format!("dependency-criteria: {m}"))?;
        dependency_criteria.insert(package, list.non_empty(&field)?);
    }
    Ok(Policy {
        criteria,
        dependency_criteria,
    })
}

fn import(name: &str, value: toml::Value) -> Result<Import, String> {
    fields::simple_name(name)?;
    let raw: RawImport = fields::entry(value)?;
    let source = match (raw.url, raw.path) {
        (Some(url), None) => {
            let rest = url
                .strip_prefix("https://")
                .ok_or_else(|| format!("url {url:?}: only https:// URLs are imported"))?;
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(format!("url {url:?}: not a URL"));
            }
            ImportSource::Url(url)
        }
        (None, Some(p)) => {
            let climbs = p.split(['/', '\\']).any(|part| part == "..");
            if p.is_empty() || p.starts_with('/') || p.contains('\\') || p.contains(':') || climbs {
                return Err(format!(
                    "path {p:?}: a relative path inside the repository, with '/' and no '..'"
                ));
            }
            ImportSource::Path(p)
        }
        (None, None) => return Err("one of `url` or `path` is needed".into()),
        (Some(_), Some(_)) => return Err("`url` and `path` exclude each other".into()),
    };
    let prefix = format!("{name}{IMPORT_SEPARATOR}");
    let mut criteria_map = BTreeMap::new();
    for (key, to) in raw.criteria_map {
        let field = format!("criteria-map.{}", fields::key(&key));
        if key.strip_prefix(&prefix).is_none_or(str::is_empty) {
            return Err(format!(
                "{field}: a key names a criterion of this import, as \"{prefix}CRITERION\""
            ));
        }
        criteria_map.insert(key, to.non_empty(&field)?);
    }
    Ok(Import {
        source,
        criteria_map,
    })
}

fn exemption(raw: RawExemption) -> Result<Exemption, String> {
    Ok(Exemption {
        version: fields::version(&raw.version).map_err(|m| format!("version: {m}"))?,
        sha256: fields::sha256(&raw.sha256).map_err(|m| format!("sha256 {:?}: {m}", raw.sha256))?,
        criteria: raw.criteria.non_empty("criteria")?,
        notes: raw.notes,
    })
}

/// `imports.lock` (written by `vet --update-imports`): each import's
/// source and the sha256 of its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportsLock {
    /// `[imports.NAME]`.
    pub imports: BTreeMap<String, LockedImport>,
}

/// One `[imports.NAME]` of `imports.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedImport {
    /// The URL or repository path, as in `config.toml`.
    pub source: String,
    /// The sha256 of the imported file's bytes.
    pub sha256: Sha256,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocked {
    source: String,
    sha256: String,
}

/// Parses `imports.lock`. Refuses TOML syntax errors, tables other than
/// `imports`, unknown keys, import names that are not plain names, and
/// digests that are not 64 lowercase hex digits. Whether it matches
/// `config.toml` and the files is the caller's check (it reads them).
pub fn parse_imports_lock(path_for_messages: &str, text: &str) -> Result<ImportsLock, StoreError> {
    let path = path_for_messages;
    let top = fields::table(path, text)?;
    fields::only_keys(path, &top, &["imports"])?;
    let mut lock = ImportsLock::default();
    for (name, value) in fields::sub_table(path, &top, "imports")? {
        let entry = format!("imports.{}", fields::key(&name));
        let err = |m: String| StoreError::entry(path, &entry, m);
        fields::simple_name(&name).map_err(err)?;
        let raw: RawLocked = fields::entry(value).map_err(err)?;
        let sha256 = fields::sha256(&raw.sha256)
            .map_err(|m| err(format!("sha256 {:?}: {m}", raw.sha256)))?;
        lock.imports.insert(
            name,
            LockedImport {
                source: raw.source,
                sha256,
            },
        );
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "packaging/supply-chain/config.toml";

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn err(text: &str) -> String {
        let e = parse_config(P, text).expect_err(text).to_string();
        assert!(!e.contains('\n'), "one line: {e:?}");
        e
    }

    fn ok(text: &str) -> VetConfig {
        parse_config(P, text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn name(s: &str) -> PackageName {
        s.parse().unwrap()
    }

    #[test]
    fn full_config() {
        let config = ok(&format!(
            r#"
[policy.pinwheel-demo]
criteria = "safe-to-run"
[policy.pinwheel-demo.dependency-criteria]
redis = ["safe-to-deploy", "crypto-reviewed"]

[policy.other]

[build-backends]
criteria = ["safe-to-deploy"]

[imports.example-org]
url = "https://example.org/supply-chain/audits.toml"
criteria-map = {{ "example-org::reviewed-crypto" = "crypto-reviewed" }}

[imports.vendored]
path = "vendor/other/audits.toml"

[[exemptions.requests]]
version = "2.34.2"
sha256 = "{a}"
criteria = "safe-to-deploy"
notes = "pinned before vetting began"
"#,
            a = h('a')
        ));
        let demo = &config.policy["pinwheel-demo"];
        assert_eq!(
            demo.required(&name("six")),
            BTreeSet::from(["safe-to-run".to_owned()])
        );
        assert_eq!(
            demo.required(&name("redis")),
            BTreeSet::from(["safe-to-deploy".to_owned(), "crypto-reviewed".to_owned()])
        );
        assert_eq!(
            config.policy["other"].required(&name("six")),
            BTreeSet::from(["safe-to-deploy".to_owned()]),
            "the default"
        );
        assert!(config.build_backends.is_some());
        assert_eq!(
            config.imports["example-org"].source,
            ImportSource::Url("https://example.org/supply-chain/audits.toml".into())
        );
        assert_eq!(
            config.imports["example-org"].criteria_map["example-org::reviewed-crypto"],
            ["crypto-reviewed"]
        );
        assert_eq!(
            config.imports["vendored"].source.as_str(),
            "vendor/other/audits.toml"
        );
        let ex = &config.exemptions[&name("requests")][0];
        assert_eq!(ex.version, "2.34.2".parse().unwrap());
        assert_eq!(ex.criteria, ["safe-to-deploy"]);
        assert_eq!(ok(""), VetConfig::default());
    }

    #[test]
    fn unknown_tables_and_keys() {
        assert_eq!(
            err("[audits.x]\n"),
            format!(
                "{P}: unknown table `audits` (known: policy, build-backends, imports, exemptions)"
            )
        );
        let e = err("[policy.app]\ncriterion = \"safe-to-run\"\n");
        assert!(
            e.starts_with(&format!("{P}: policy.app: unknown field `criterion`")),
            "{e}"
        );
        let e = err("[build-backends]\naudit-as = 1\n");
        assert!(
            e.starts_with(&format!("{P}: build-backends: unknown field `audit-as`")),
            "{e}"
        );
        let e = err(&format!(
            "[[exemptions.six]]\nversion = \"1\"\nsha256 = \"{}\"\ncriteria = \"safe-to-run\"\nwho = \"x\"\n",
            h('a')
        ));
        assert!(
            e.starts_with(&format!("{P}: exemptions.six[1]: unknown field `who`")),
            "{e}"
        );
        let e = err("[imports.x]\nurl = \"https://x.org/a.toml\"\nsha256 = \"\"\n");
        assert!(
            e.starts_with(&format!("{P}: imports.x: unknown field `sha256`")),
            "{e}"
        );
    }

    #[test]
    fn malformed_toml_is_one_line() {
        let e = err("[policy.app\ncriteria = 1\n");
        assert!(
            e.starts_with(&format!("{P}: TOML parse error at line 1")),
            "{e}"
        );
    }

    #[test]
    fn names_must_be_normalized() {
        assert_eq!(
            err(&format!(
                "[[exemptions.Requests]]\nversion = \"1\"\nsha256 = \"{}\"\ncriteria = \"safe-to-run\"\n",
                h('a')
            )),
            format!("{P}: exemptions.Requests: \"Requests\" is not a normalized package name: write \"requests\"")
        );
        assert_eq!(
            err("[policy.app.dependency-criteria]\n\"Redis.Py\" = \"safe-to-run\"\n"),
            format!("{P}: policy.app: dependency-criteria: \"Redis.Py\" is not a normalized package name: write \"redis-py\"")
        );
    }

    #[test]
    fn exemption_fields() {
        let ex = |version: &str, sha: &str, criteria: &str| {
            format!("[[exemptions.six]]\nversion = \"{version}\"\nsha256 = \"{sha}\"\ncriteria = {criteria}\n")
        };
        ok(&ex("1.16", &h('0'), "\"safe-to-run\""));
        let e = err(&ex("one", &h('0'), "\"safe-to-run\""));
        assert!(
            e.starts_with(&format!(
                "{P}: exemptions.six[1]: version: \"one\" is not a PEP 440 version"
            )),
            "{e}"
        );
        assert_eq!(
            err(&ex("1", "0", "\"safe-to-run\"")),
            format!("{P}: exemptions.six[1]: sha256 \"0\": sha256 digest must be 64 hex digits, found 1")
        );
        assert_eq!(
            err(&ex("1", &h('0'), "[]")),
            format!("{P}: exemptions.six[1]: criteria: an empty list")
        );
        let e = err("[[exemptions.six]]\nversion = \"1\"\ncriteria = \"safe-to-run\"\n");
        assert!(e.contains("missing field `sha256`"), "{e}");
    }

    #[test]
    fn import_sources() {
        let import = |body: &str| format!("[imports.org]\n{body}\n");
        ok(&import("url = \"https://example.org/a.toml\""));
        ok(&import("path = \"vendor/a.toml\""));
        for (body, why) in [
            ("url = \"http://example.org/a.toml\"", "url \"http://example.org/a.toml\": only https:// URLs are imported"),
            ("url = \"https://\"", "url \"https://\": not a URL"),
            ("path = \"/etc/a.toml\"", "path \"/etc/a.toml\": a relative path inside the repository, with '/' and no '..'"),
            ("path = \"vendor/../../a.toml\"", "path \"vendor/../../a.toml\": a relative path inside the repository, with '/' and no '..'"),
            ("path = \"vendor\\\\a.toml\"", "path \"vendor\\\\a.toml\": a relative path inside the repository, with '/' and no '..'"),
            ("", "one of `url` or `path` is needed"),
            ("url = \"https://e.org/a\"\npath = \"a\"", "`url` and `path` exclude each other"),
        ] {
            assert_eq!(err(&import(body)), format!("{P}: imports.org: {why}"), "{body}");
        }
        let e = err("[imports.\"../x\"]\npath = \"a\"\n");
        assert!(
            e.starts_with(&format!("{P}: imports.\"../x\": \"../x\": a name is")),
            "{e}"
        );
    }

    #[test]
    fn criteria_map_keys_name_this_import() {
        let map = |key: &str| {
            format!("[imports.org]\npath = \"a.toml\"\ncriteria-map = {{ \"{key}\" = \"safe-to-run\" }}\n")
        };
        ok(&map("org::reviewed"));
        for (key, written) in [
            ("other::reviewed", "\"other::reviewed\""),
            ("reviewed", "reviewed"),
            ("org::", "\"org::\""),
        ] {
            assert_eq!(
                err(&map(key)),
                format!("{P}: imports.org: criteria-map.{written}: a key names a criterion of this import, as \"org::CRITERION\""),
                "{key}"
            );
        }
        assert_eq!(
            err("[imports.org]\npath = \"a.toml\"\ncriteria-map = { \"org::x\" = [] }\n"),
            format!("{P}: imports.org: criteria-map.\"org::x\": an empty list")
        );
    }

    #[test]
    fn imports_lock() {
        const L: &str = "packaging/supply-chain/imports.lock";
        let lock = parse_imports_lock(
            L,
            &format!(
                "[imports.org]\nsource = \"https://e.org/a.toml\"\nsha256 = \"{}\"\n",
                h('c')
            ),
        )
        .unwrap();
        assert_eq!(lock.imports["org"].source, "https://e.org/a.toml");
        assert_eq!(lock.imports["org"].sha256, h('c').parse().unwrap());
        let bad = |text: &str| parse_imports_lock(L, text).unwrap_err().to_string();
        assert_eq!(
            bad("[imports.org]\nsource = \"a\"\nsha256 = \"C\"\n"),
            format!("{L}: imports.org: sha256 \"C\": sha256 digest must be 64 hex digits, found 1")
        );
        let e = bad(&format!(
            "[imports.org]\nsource = \"a\"\nsha256 = \"{}\"\nurl = \"b\"\n",
            h('c')
        ));
        assert!(
            e.starts_with(&format!("{L}: imports.org: unknown field `url`")),
            "{e}"
        );
        assert_eq!(
            bad("[policy]\n"),
            format!("{L}: unknown table `policy` (known: imports)")
        );
        assert!(bad("[imports.org\n").starts_with(&format!("{L}: TOML parse error")));
    }
}
