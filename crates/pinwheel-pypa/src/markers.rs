//! The target's PEP 508 marker environment
//! (<https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers>),
//! of a target: CPython on Linux. Marker parsing and
//! evaluation come from the `pep508_rs` crate.
//!
//! `platform_release` and `platform_version` describe the running kernel,
//! which a build machine cannot know for the machines the package will be
//! installed on; markers that use them are refused (see [`unknowable`]).
//!
//! PEP 751 adds two variables that only lock files use, `extras` and
//! `dependency_groups`, tested as `'name' in extras` / `'name' not in
//! dependency_groups` (<https://packaging.python.org/en/latest/specifications/pylock-toml/#packages-marker>).
//! `pep508_rs` does not know them: [`LockMarker`] reads the boolean
//! structure itself, decides those tests from the extras and groups a user
//! selects, and hands every other comparison to `pep508_rs`.

use std::collections::BTreeSet;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

use crate::lockfile::GroupName;

/// The marker environment of CPython `python_full_version` on Linux
/// `machine` (e.g. "x86_64").
pub fn cpython_linux(
    python_full_version: &str,
    machine: &str,
) -> anyhow::Result<MarkerEnvironment> {
    let parts: Vec<&str> = python_full_version.split('.').collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!(
            "python version must be a full version such as \"3.11.2\", not {python_full_version:?}"
        );
    }
    let python_version = format!("{}.{}", parts[0], parts[1]);
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: python_full_version,
        os_name: "posix",
        platform_machine: machine,
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version,
        python_version: &python_version,
        sys_platform: "linux",
    })
    .with_context(|| format!("python version {python_full_version:?}"))
}

/// The marker environment of a target: CPython `python` (a full version
/// such as "3.11.2") on `platform`, a wheel platform tag such as
/// "linux_x86_64".
pub fn environment(python: &str, platform: &str) -> anyhow::Result<MarkerEnvironment> {
    let machine = platform.strip_prefix("linux_").with_context(|| {
        format!("target platform {platform:?}: only linux_<machine> targets are supported")
    })?;
    cpython_linux(python, machine)
}

/// The marker variable in `marker` whose value we cannot know for the
/// target, if any.
pub fn unknowable(marker: &MarkerTree) -> Option<&'static str> {
    let text = marker.try_to_string()?;
    ["platform_release", "platform_version"]
        .into_iter()
        .find(|key| text.contains(key))
}

/// A PEP 751 package marker: PEP 508 plus the lock-only variables
/// `extras` and `dependency_groups`.
#[derive(Debug, Clone)]
pub struct LockMarker(Node);

#[derive(Debug, Clone)]
enum Node {
    /// A plain PEP 508 comparison (or several, already combined).
    Env(MarkerTree),
    /// `'name' in extras`, `'name' not in dependency_groups`, …
    Member {
        variable: LockVariable,
        name: String,
        negated: bool,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// The variables PEP 751 defines for lock files only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockVariable {
    Extras,
    DependencyGroups,
}

impl LockMarker {
    /// Parses a marker that may use `extras` and `dependency_groups`.
    pub fn parse(text: &str) -> anyhow::Result<LockMarker> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            text,
            tokens: &tokens,
            pos: 0,
        };
        let node = parser.or()?;
        if let Some(token) = tokens.get(parser.pos) {
            bail!(
                "marker syntax error in {text:?}: unexpected {:?} at position {}",
                &text[token.start..token.end],
                token.start
            );
        }
        Ok(LockMarker(node))
    }

    /// Whether the marker uses `extras` or `dependency_groups`.
    pub fn uses_lock_variables(&self) -> bool {
        fn walk(node: &Node) -> bool {
            match node {
                Node::Env(_) => false,
                Node::Member { .. } => true,
                Node::And(a, b) | Node::Or(a, b) => walk(a) || walk(b),
            }
        }
        walk(&self.0)
    }

    /// The PEP 508 marker left once `extras` and `dependency_groups` are
    /// the given sets.
    pub fn resolve(
        &self,
        extras: &BTreeSet<ExtraName>,
        groups: &BTreeSet<GroupName>,
    ) -> MarkerTree {
        fn walk(
            node: &Node,
            extras: &BTreeSet<ExtraName>,
            groups: &BTreeSet<GroupName>,
        ) -> MarkerTree {
            match node {
                Node::Env(tree) => tree.clone(),
                Node::Member {
                    variable,
                    name,
                    negated,
                } => {
                    let member = match variable {
                        LockVariable::Extras => {
                            ExtraName::from_str(name).is_ok_and(|n| extras.contains(&n))
                        }
                        LockVariable::DependencyGroups => {
                            GroupName::from_str(name).is_ok_and(|n| groups.contains(&n))
                        }
                    };
                    if member != *negated {
                        MarkerTree::TRUE
                    } else {
                        MarkerTree::FALSE
                    }
                }
                Node::And(a, b) => {
                    let mut tree = walk(a, extras, groups);
                    tree.and(walk(b, extras, groups));
                    tree
                }
                Node::Or(a, b) => {
                    let mut tree = walk(a, extras, groups);
                    tree.or(walk(b, extras, groups));
                    tree
                }
            }
        }
        walk(&self.0, extras, groups)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Open,
    Close,
    And,
    Or,
    /// A variable, a quoted string or an operator: the parts of one
    /// comparison.
    Word,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

/// Splits a marker into parentheses, `and`, `or` and the words of
/// comparisons; quoted strings stay whole.
fn tokenize(text: &str) -> anyhow::Result<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                TokenKind::Open
            }
            b')' => {
                i += 1;
                TokenKind::Close
            }
            b'\'' | b'"' => {
                let Some(len) = text[i + 1..].find(c as char) else {
                    bail!("marker syntax error in {text:?}: unterminated string at position {i}");
                };
                i += len + 2;
                TokenKind::Word
            }
            b'<' | b'>' | b'=' | b'!' | b'~' => {
                while i < bytes.len() && b"<>=!~".contains(&bytes[i]) {
                    i += 1;
                }
                TokenKind::Word
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                match &text[start..i] {
                    "and" => TokenKind::And,
                    "or" => TokenKind::Or,
                    _ => TokenKind::Word,
                }
            }
            _ => bail!(
                "marker syntax error in {text:?}: unexpected {:?} at position {i}",
                c as char
            ),
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(tokens)
}

/// marker_or = marker_and ('or' marker_and)*;
/// marker_and = marker_expr ('and' marker_expr)*;
/// marker_expr = '(' marker_or ')' | a comparison of words (PEP 508).
struct Parser<'a> {
    text: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<TokenKind> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    fn error(&self, what: &str) -> anyhow::Error {
        let at = self
            .tokens
            .get(self.pos)
            .map_or(self.text.len(), |t| t.start);
        anyhow::anyhow!(
            "marker syntax error in {:?}: {what} at position {at}",
            self.text
        )
    }

    fn or(&mut self) -> anyhow::Result<Node> {
        let mut node = self.and()?;
        while self.peek() == Some(TokenKind::Or) {
            self.pos += 1;
            node = Node::Or(Box::new(node), Box::new(self.and()?));
        }
        Ok(node)
    }

    fn and(&mut self) -> anyhow::Result<Node> {
        let mut node = self.expr()?;
        while self.peek() == Some(TokenKind::And) {
            self.pos += 1;
            node = Node::And(Box::new(node), Box::new(self.expr()?));
        }
        Ok(node)
    }

    fn expr(&mut self) -> anyhow::Result<Node> {
        match self.peek() {
            Some(TokenKind::Open) => {
                self.pos += 1;
                let node = self.or()?;
                if self.peek() != Some(TokenKind::Close) {
                    return Err(self.error("expected ')'"));
                }
                self.pos += 1;
                Ok(node)
            }
            Some(TokenKind::Word) => self.comparison(),
            _ => Err(self.error("expected a comparison")),
        }
    }

    /// `left op right`, where `op` is one word or `not in`.
    fn comparison(&mut self) -> anyhow::Result<Node> {
        let first = self.pos;
        while self.peek() == Some(TokenKind::Word) {
            self.pos += 1;
        }
        let words: Vec<&str> = self.tokens[first..self.pos]
            .iter()
            .map(|t| &self.text[t.start..t.end])
            .collect();
        let variable = |w: &str| match w {
            "extras" => Some(LockVariable::Extras),
            "dependency_groups" => Some(LockVariable::DependencyGroups),
            _ => None,
        };
        let source = &self.text[self.tokens[first].start..self.tokens[self.pos - 1].end];
        let lock_variable = words.iter().find_map(|w| variable(w));
        let Some(lock_variable) = lock_variable else {
            let tree = MarkerTree::from_str(source).map_err(|err| {
                anyhow::anyhow!(
                    "marker syntax error in {:?}: {}",
                    self.text,
                    crate::one_line(&err.to_string())
                )
            })?;
            return Ok(Node::Env(tree));
        };
        let (value, negated) = match words.as_slice() {
            [value, "in", var] if variable(var).is_some() => (*value, false),
            [value, "not", "in", var] if variable(var).is_some() => (*value, true),
            _ => bail!(
                "marker syntax error in {:?}: {source:?}: {} can only be tested as 'name' in {} or 'name' not in {}",
                self.text,
                var_name(lock_variable),
                var_name(lock_variable),
                var_name(lock_variable)
            ),
        };
        let quoted = value.len() >= 2
            && (value.starts_with('\'') && value.ends_with('\'')
                || value.starts_with('"') && value.ends_with('"'));
        if !quoted {
            bail!(
                "marker syntax error in {:?}: {source:?}: the name tested against {} must be quoted",
                self.text,
                var_name(lock_variable)
            );
        }
        Ok(Node::Member {
            variable: lock_variable,
            name: value[1..value.len() - 1].to_owned(),
            negated,
        })
    }
}

fn var_name(variable: LockVariable) -> &'static str {
    match variable {
        LockVariable::Extras => "extras",
        LockVariable::DependencyGroups => "dependency_groups",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::ExtraName;
    use std::str::FromStr;

    fn eval(marker: &str, extras: &[&str]) -> bool {
        let env = cpython_linux("3.11.2", "x86_64").unwrap();
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| ExtraName::from_str(e).unwrap())
            .collect();
        MarkerTree::from_str(marker)
            .unwrap()
            .evaluate(&env, &extras)
    }

    #[test]
    fn debian_12() {
        assert!(eval("python_full_version < '3.11.3'", &[]));
        assert!(!eval("python_full_version >= '3.11.3'", &[]));
        assert!(eval("python_version == '3.11'", &[]));
        assert!(!eval("python_version < '3.11'", &[]));
        assert!(eval(
            "implementation_name == 'cpython' and platform_python_implementation == 'CPython'",
            &[]
        ));
        assert!(eval(
            "sys_platform == 'linux' and platform_system == 'Linux' and os_name == 'posix'",
            &[]
        ));
        assert!(eval("platform_machine == 'x86_64'", &[]));
        assert!(!eval("sys_platform == 'win32'", &[]));
        assert!(!eval("sys_platform == 'darwin'", &[]));
        assert!(!eval("platform_python_implementation == 'PyPy'", &[]));
        assert!(eval("implementation_version >= '3.11.2'", &[]));
        assert!(!eval("extra == 'socks'", &[]));
        assert!(eval("extra == 'socks'", &["socks"]));
    }

    #[test]
    fn from_target() {
        let env = environment("3.11.2", "linux_x86_64").unwrap();
        assert!(MarkerTree::from_str(
            "python_full_version == '3.11.2' and platform_machine == 'x86_64'"
        )
        .unwrap()
        .evaluate(&env, &[]));
        assert!(environment("3.11.2", "win_amd64")
            .unwrap_err()
            .to_string()
            .contains("linux_"));
    }

    #[test]
    fn rejects_short_versions() {
        assert!(cpython_linux("3.11", "x86_64").is_err());
        assert!(cpython_linux("3.11.x", "x86_64").is_err());
    }

    fn lock_eval(marker: &str, extras: &[&str], groups: &[&str]) -> bool {
        let env = cpython_linux("3.11.2", "x86_64").unwrap();
        let extras = extras.iter().map(|e| e.parse().unwrap()).collect();
        let groups = groups.iter().map(|g| g.parse().unwrap()).collect();
        LockMarker::parse(marker)
            .unwrap()
            .resolve(&extras, &groups)
            .evaluate(&env, &[])
    }

    #[test]
    fn lock_only_variables() {
        assert!(lock_eval("'feat' in extras", &["feat"], &[]));
        assert!(!lock_eval("'feat' in extras", &[], &["feat"]));
        assert!(lock_eval("'Feat_X' in extras", &["feat-x"], &[]));
        assert!(lock_eval("\"dev\" in dependency_groups", &[], &["dev"]));
        assert!(!lock_eval("'dev' not in dependency_groups", &[], &["dev"]));
        assert!(lock_eval("'dev' not in dependency_groups", &[], &[]));
        assert!(lock_eval(
            "sys_platform == 'linux' and ('feat' in extras or 'dev' in dependency_groups)",
            &[],
            &["dev"]
        ));
        assert!(!lock_eval(
            "sys_platform == 'win32' and ('feat' in extras or 'dev' in dependency_groups)",
            &["feat"],
            &["dev"]
        ));
        // `and` binds tighter than `or`.
        assert!(lock_eval(
            "'a' in extras and 'b' in extras or python_version >= '3.11'",
            &[],
            &[]
        ));
        assert!(lock_eval(
            "python_version >= '3' and python_version < '4' and extra != 'x'",
            &[],
            &[]
        ));
        let plain = LockMarker::parse("python_version < '3.12' or os_name == 'nt'").unwrap();
        assert!(!plain.uses_lock_variables());
        let m = LockMarker::parse("'a' in extras or 'g' in dependency_groups").unwrap();
        assert!(m.uses_lock_variables());
    }

    #[test]
    fn lock_marker_errors_name_the_marker() {
        for (marker, want) in [
            ("extras == 'feat'", "can only be tested as 'name' in extras"),
            ("'feat' in extras or", "expected a comparison"),
            ("('feat' in extras", "expected ')'"),
            ("'feat in extras", "unterminated string"),
            (
                "python_version >> '3'",
                "marker syntax error in \"python_version >> '3'\"",
            ),
            ("feat in extras", "must be quoted"),
        ] {
            let err = LockMarker::parse(marker).unwrap_err().to_string();
            assert!(err.contains(want), "{marker}: {err}");
            assert!(err.contains(marker), "{marker}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn kernel_markers_are_unknowable() {
        let m = MarkerTree::from_str("platform_release >= '5'").unwrap();
        assert_eq!(unknowable(&m), Some("platform_release"));
        assert_eq!(
            unknowable(&MarkerTree::from_str("python_version >= '3'").unwrap()),
            None
        );
    }
}
