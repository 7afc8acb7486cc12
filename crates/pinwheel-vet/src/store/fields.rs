//! The field types the supply-chain files share (names, versions, digests,
//! "a string or a list of strings") and the one-line error they all raise.

use std::fmt;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use pinwheel_trust::hash::Sha256;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Why a supply-chain file (`audits.toml`, `config.toml`, `imports.lock`,
/// an imported audits file) or the store assembled from them is refused.
/// One line: the file, the entry when there is one (`audits.idna[2]`,
/// counted from 1 in file order), and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// The file as the caller named it (`path_for_messages`).
    pub path: String,
    /// The entry, e.g. `audits.idna[2]`, `policy.pinwheel-demo`,
    /// `imports.example-org`; `None` for the file as a whole (a TOML syntax
    /// error, an unknown top-level table).
    pub entry: Option<String>,
    /// What is wrong, one line.
    pub message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{}: {entry}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    pub(crate) fn file(path: &str, message: impl Into<String>) -> StoreError {
        StoreError {
            path: path.to_owned(),
            entry: None,
            message: pinwheel_pypa::one_line(&message.into()),
        }
    }

    pub(crate) fn entry(path: &str, entry: &str, message: impl Into<String>) -> StoreError {
        StoreError {
            path: path.to_owned(),
            entry: Some(entry.to_owned()),
            message: pinwheel_pypa::one_line(&message.into()),
        }
    }
}

/// A field written as one string or a list of strings (`who`, `criteria`,
/// `implies`).
#[derive(Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings; refuses an empty list and empty strings.
    pub(crate) fn non_empty(self, field: &str) -> Result<Vec<String>, String> {
        let list = self.possibly_empty();
        if list.is_empty() {
            return Err(format!("{field}: an empty list"));
        }
        if list.iter().any(|s| s.trim().is_empty()) {
            return Err(format!("{field}: an empty string"));
        }
        Ok(list)
    }

    pub(crate) fn possibly_empty(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Parses a whole file into a TOML table; a syntax error becomes one line.
pub(crate) fn table(path: &str, text: &str) -> Result<toml::Table, StoreError> {
    toml::from_str::<toml::Table>(text).map_err(|err| StoreError::file(path, err.to_string()))
}

/// Refuses top-level keys other than `allowed`.
pub(crate) fn only_keys(
    path: &str,
    table: &toml::Table,
    allowed: &[&str],
) -> Result<(), StoreError> {
    for key in table.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(StoreError::file(
                path,
                format!("unknown table `{key}` (known: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The sub-table under a top-level key (absent: empty).
pub(crate) fn sub_table(
    path: &str,
    table: &toml::Table,
    key: &str,
) -> Result<toml::Table, StoreError> {
    match table.get(key) {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t.clone()),
        Some(other) => Err(StoreError::entry(
            path,
            key,
            format!("expected a table, found {}", other.type_str()),
        )),
    }
}

/// The array of tables under `key` (`[[audits.idna]]`).
pub(crate) fn array(value: &toml::Value, what: &str) -> Result<Vec<toml::Value>, String> {
    match value {
        toml::Value::Array(items) => Ok(items.clone()),
        other => Err(format!(
            "expected an array of tables ([[{what}]]), found {}",
            other.type_str()
        )),
    }
}

/// Deserializes one entry; unknown keys and wrong types are refused by the
/// raw type's serde attributes.
pub(crate) fn entry<T: DeserializeOwned>(value: toml::Value) -> Result<T, String> {
    value
        .try_into()
        .map_err(|err: toml::de::Error| err.to_string())
}

/// A key as written in a dotted entry name or a table header: bare when
/// TOML allows, else a quoted string.
pub(crate) fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
    }
}

/// A package name that must already be normalized (PEP 503).
pub(crate) fn package_name(text: &str) -> Result<PackageName, String> {
    let name = pinwheel_pypa::project_name(text)
        .ok_or_else(|| format!("{text:?} is not a package name"))?;
    if name.as_ref() != text {
        return Err(format!(
            "{text:?} is not a normalized package name: write {:?}",
            name.as_ref()
        ));
    }
    Ok(name)
}

/// A PEP 440 version.
pub(crate) fn version(text: &str) -> Result<Version, String> {
    Version::from_str(text.trim())
        .map_err(|err| format!("{text:?} is not a PEP 440 version ({err})"))
}

/// A PEP 440 specifier set, not empty (">=0" names every version).
pub(crate) fn specifiers(text: &str) -> Result<VersionSpecifiers, String> {
    if text.trim().is_empty() {
        return Err("an empty specifier set (write \">=0\" for every version)".to_owned());
    }
    VersionSpecifiers::from_str(text).map_err(|err| format!("not a PEP 440 specifier set ({err})"))
}

/// A sha256 digest, 64 lowercase hex digits.
pub(crate) fn sha256(text: &str) -> Result<Sha256, String> {
    Sha256::from_str(text).map_err(|err| err.to_string())
}

/// A criterion's or an import's own name: ASCII letters, digits, `-`,
/// `_`, `.`, not starting with a punctuation mark (so never `::`, never a
/// path).
pub(crate) fn simple_name(text: &str) -> Result<(), String> {
    let ok = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?}: a name is ASCII letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}
