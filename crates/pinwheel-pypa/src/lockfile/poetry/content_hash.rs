//! Poetry's `[metadata] content-hash`: the sha256 of the relevant parts
//! of pyproject.toml, as Poetry's `Locker` computes it, to tell whether a
//! poetry.lock still matches its pyproject.toml.

use std::collections::BTreeMap;

use crate::lockfile::Recorded;

/// Poetry's `content-hash` of a pyproject.toml: sha256 of the JSON
/// (`json.dumps(..., sort_keys=True)`) of its relevant keys. With
/// `with_dependency_groups` false, `[dependency-groups]` is left out, as
/// Poetry before 2.3 did.
pub fn content_hash(pyproject: &toml::Table, with_dependency_groups: bool) -> String {
    const LEGACY: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];
    const RELEVANT: [&str; 5] = [
        "dependencies",
        "source",
        "extras",
        "dev-dependencies",
        "group",
    ];
    const PROJECT: [&str; 3] = ["requires-python", "dependencies", "optional-dependencies"];
    let empty = toml::Table::new();
    let project = pyproject
        .get("project")
        .and_then(|v| v.as_table())
        .unwrap_or(&empty);
    let groups = if with_dependency_groups {
        pyproject
            .get("dependency-groups")
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default()
    } else {
        toml::Table::new()
    };
    let poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|v| v.as_table())
        .unwrap_or(&empty);

    let mut relevant_project = Json::Object(BTreeMap::new());
    for key in PROJECT {
        if let Some(v) = project.get(key) {
            relevant_project.insert(key, Json::from(v));
        }
    }
    let has_project = !relevant_project.is_empty();
    let mut relevant_poetry = Json::Object(BTreeMap::new());
    for key in RELEVANT {
        match poetry.get(key) {
            Some(v) => relevant_poetry.insert(key, Json::from(v)),
            None if !LEGACY.contains(&key) || has_project || !groups.is_empty() => {}
            None => relevant_poetry.insert(key, Json::Null),
        }
    }
    let mut content = Json::Object(BTreeMap::new());
    if has_project {
        content.insert("project", relevant_project);
    }
    if !groups.is_empty() {
        content.insert("dependency-groups", Json::from(&toml::Value::Table(groups)));
    }
    let content = if content.is_empty() {
        relevant_poetry
    } else {
        let mut tool = Json::Object(BTreeMap::new());
        tool.insert("poetry", relevant_poetry);
        content.insert("tool", tool);
        content
    };
    let mut text = String::new();
    content.write_python(&mut text);
    pinwheel_trust::hash::Sha256::of(text.as_bytes()).hex()
}

/// Just enough JSON to reproduce Python's `json.dumps(obj, sort_keys=True)`.
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    fn insert(&mut self, key: &str, value: Json) {
        if let Json::Object(map) = self {
            map.insert(key.to_owned(), value);
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Json::Object(map) if map.is_empty())
    }

    fn write_python(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 => {
                out.push_str(&format!("{f:.1}"))
            }
            Json::Float(f) => out.push_str(&f.to_string()),
            Json::Str(s) => write_python_str(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_python(out);
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_python_str(k, out);
                    out.push_str(": ");
                    v.write_python(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&toml::Value> for Json {
    fn from(v: &toml::Value) -> Json {
        match v {
            toml::Value::String(s) => Json::Str(s.clone()),
            toml::Value::Integer(i) => Json::Int(*i),
            toml::Value::Float(f) => Json::Float(*f),
            toml::Value::Boolean(b) => Json::Bool(*b),
            toml::Value::Datetime(d) => Json::Str(d.to_string()),
            toml::Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            toml::Value::Table(t) => {
                Json::Object(t.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect())
            }
        }
    }
}

/// A JSON string with Python's default `ensure_ascii=True` escaping.
fn write_python_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why poetry.lock no longer matches pyproject.toml, if it does not.
pub fn stale_reason(recorded: &Recorded, pyproject: &toml::Table) -> Option<String> {
    let locked = recorded.content_hash.as_deref()?;
    if content_hash(pyproject, true) == locked {
        return None;
    }
    // Poetry before 2.3 left [dependency-groups] out of the hash.
    let old = recorded
        .poetry_version
        .as_deref()
        .and_then(|v| v.parse::<pep440_rs::Version>().ok());
    if old.is_some_and(|v| v < pep440_rs::Version::new([2, 3]))
        && content_hash(pyproject, false) == locked
    {
        return None;
    }
    Some(
        "its content-hash does not match pyproject.toml (dependencies changed since locking)"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_strings() {
        let mut out = String::new();
        write_python_str("é\"\n😀", &mut out);
        assert_eq!(out, r#""\u00e9\"\n\ud83d\ude00""#);
    }
}
