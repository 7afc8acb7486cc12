//! pip's requirements file format
//! (<https://pip.pypa.io/en/stable/reference/requirements-file-format/>):
//! the line reader (continuations, comments, per-requirement `--hash`
//! options, global options) shared by the requirements.txt lock reader,
//! and our own hash-pinned files `requirements/<app>/requirements.txt`:
//! [`render`] writes them, [`Pins::parse`] reads them back for
//! build-wheels and build-deb. [`write_pin`] and [`write_pin_on_one_line`]
//! are the one writer of a pinned requirement, for every file we write.
//! Errors name the physical line: a requirement's first, or the line its
//! bad `--hash` is on.
//!
//! Our files: a header naming the command, the lockfile and its sha256 and
//! the target; then, sorted by normalized name, `name==version \` and one
//! `    --hash=sha256:<hex>` line per file (the last without `\`). A
//! wheel-only package is preceded by a `# wheel-only: name==version …`
//! comment and one `#   <sha256>  <wheel file name>` line per wheel. LF line
//! endings, no timestamps.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::str::FromStr;

use anyhow::{bail, Context};
use pep440_rs::{Operator, Version};
use pep508_rs::{PackageName, Requirement};

use pinwheel_trust::hash::Sha256;

/// One logical line of a requirements file.
#[derive(Debug, Clone)]
pub enum Item {
    Requirement(Entry),
    /// `-e TARGET` / `--editable TARGET`.
    Editable {
        line: usize,
        target: String,
    },
    /// Any other option line, e.g. `--index-url URL`, `-r FILE`.
    Option {
        line: usize,
        name: String,
        value: Option<String>,
    },
}

/// A requirement line and its `--hash` options.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based number of the first physical line.
    pub line: usize,
    pub requirement: Requirement,
    /// In file order; a repeated digest is kept once, at its first line.
    pub hashes: Vec<HashOption>,
}

/// One `--hash=sha256:<hex>` option of a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashOption {
    pub sha256: Sha256,
    /// 1-based number of the physical line it is on.
    pub line: usize,
}

impl Entry {
    /// The digests of its `--hash` options, in file order.
    pub fn digests(&self) -> impl Iterator<Item = Sha256> + '_ {
        self.hashes.iter().map(|h| h.sha256)
    }
}

/// Options pip accepts on their own line that carry a value.
const VALUE_OPTIONS: [&str; 14] = [
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--config-settings",
];

/// Options pip accepts on their own line without a value.
const FLAG_OPTIONS: [&str; 4] = ["--no-index", "--pre", "--prefer-binary", "--require-hashes"];

/// Reads a requirements file into logical lines. An error names the
/// physical line: the requirement's first, or the one its bad option is on.
pub fn parse(text: &str) -> anyhow::Result<Vec<Item>> {
    logical(text).iter().map(parse_line).collect()
}

/// Joins `\` continuations and strips comments the way pip does: a comment
/// line ends a continuation; `#` starts a comment at the start of a line or
/// after whitespace. Returns (first physical line number, text), skipping
/// empty lines.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    logical(text)
        .into_iter()
        .map(|l| (l.first_line(), l.text))
        .collect()
}

/// A logical line and where its physical lines begin in it.
struct Logical {
    text: String,
    /// (byte offset in `text`, 1-based physical line number), in order;
    /// the first is the logical line's first physical line.
    parts: Vec<(usize, usize)>,
}

impl Logical {
    fn first_line(&self) -> usize {
        self.parts.first().map_or(0, |&(_, line)| line)
    }

    /// The physical line that the text at `offset` came from.
    fn line_at(&self, offset: usize) -> usize {
        self.parts
            .iter()
            .rev()
            .find(|&&(start, _)| start <= offset)
            .map_or(self.first_line(), |&(_, line)| line)
    }
}

/// The logical lines of `text`, as [`logical_lines`] describes them.
fn logical(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut pending: Option<Logical> = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_comment = raw.trim_start().starts_with('#');
        let continued = raw.ends_with('\\') && !is_comment;
        let part = if continued {
            &raw[..raw.len() - 1]
        } else {
            raw
        };
        let mut line = pending.take().unwrap_or(Logical {
            text: String::new(),
            parts: Vec::new(),
        });
        // A comment line ends a continuation and adds nothing to it.
        let ends_continuation = is_comment && !line.parts.is_empty();
        if !ends_continuation {
            line.parts.push((line.text.len(), number));
            line.text.push_str(part);
        }
        if continued {
            pending = Some(line);
        } else {
            push_logical(&mut out, line);
        }
    }
    if let Some(line) = pending {
        push_logical(&mut out, line);
    }
    out
}

fn push_logical(out: &mut Vec<Logical>, Logical { text, parts }: Logical) {
    let text = strip_comment(&text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return;
    }
    let lead = text.len() - text.trim_start().len();
    let parts = parts
        .into_iter()
        .map(|(start, line)| (start.saturating_sub(lead), line))
        .collect();
    out.push(Logical {
        text: trimmed.to_owned(),
        parts,
    });
}

/// Removes a `#` comment that starts the line or follows whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// `err` as one flat line prefixed with its line number, still a refusal
/// (exit 1) when it was one.
fn at_line(line: usize, err: anyhow::Error) -> anyhow::Error {
    let message = format!("line {line}: {err:#}");
    if pinwheel_trust::failure::is_no(&err) {
        pinwheel_trust::failure::refused(message)
    } else {
        anyhow::anyhow!(message)
    }
}

fn parse_line(logical: &Logical) -> anyhow::Result<Item> {
    let (line, text) = (logical.first_line(), logical.text.as_str());
    if text.starts_with('-') {
        return parse_option_line(line, text).map_err(|err| at_line(line, err));
    }
    // As pip does: the requirement runs up to the first word that starts
    // with '-'; the rest are its options.
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for word in text.split(' ') {
        words.push((offset, word));
        offset += word.len() + 1;
    }
    let split = words
        .iter()
        .position(|(_, w)| w.starts_with('-'))
        .unwrap_or(words.len());
    let requirement_text = words[..split]
        .iter()
        .map(|(_, w)| *w)
        .collect::<Vec<_>>()
        .join(" ");
    let requirement = Requirement::from_str(requirement_text.trim()).map_err(|err| {
        anyhow::anyhow!(
            "line {line}: invalid requirement {:?}: {}",
            requirement_text.trim(),
            crate::one_line(&err.to_string())
        )
    })?;
    let mut hashes: Vec<HashOption> = Vec::new();
    let mut options = words[split..].iter().filter(|(_, w)| !w.is_empty());
    while let Some(&(offset, option)) = options.next() {
        let at = logical.line_at(offset);
        let value = if let Some(value) = option.strip_prefix("--hash=") {
            value
        } else if option == "--hash" {
            match options.next() {
                Some((_, value)) => value,
                None => bail!("line {at}: --hash without a value"),
            }
        } else {
            bail!(
                "line {at}: option {option:?} is not allowed on a requirement line (only --hash)"
            );
        };
        let sha256 = crate::lockfile::parse_prefixed_hash(
            format_args!("--hash of {}", requirement.name),
            value,
        )
        .map_err(|err| at_line(at, err))?;
        if !hashes.iter().any(|h| h.sha256 == sha256) {
            hashes.push(HashOption { sha256, line: at });
        }
    }
    Ok(Item::Requirement(Entry {
        line,
        requirement,
        hashes,
    }))
}

fn parse_option_line(line: usize, text: &str) -> anyhow::Result<Item> {
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    let (name, inline) = match first.split_once('=') {
        Some((name, value)) => (name, Some(value.to_owned())),
        None => (first, None),
    };
    let rest: Vec<&str> = words.collect();
    let value = match inline {
        Some(v) => Some(v),
        None if !rest.is_empty() => Some(rest.join(" ")),
        None => None,
    };
    if name == "-e" || name == "--editable" {
        let target = value.context("-e without a target")?;
        return Ok(Item::Editable { line, target });
    }
    if VALUE_OPTIONS.contains(&name) {
        if value.is_none() {
            bail!("option {name} needs a value");
        }
    } else if !FLAG_OPTIONS.contains(&name) {
        bail!("unknown option {name:?}");
    }
    Ok(Item::Option {
        line,
        name: name.to_owned(),
        value,
    })
}

/// A pinned package of one of our requirements files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: PackageName,
    pub version: Version,
    /// Sorted by digest.
    pub files: Vec<PinnedFile>,
    /// Pinned to upstream wheels because it publishes no sdist.
    pub wheel_only: bool,
}

/// One pinned file: its digest and, where we know it, its file name (we
/// write the names of wheel-only wheels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PinnedFile {
    pub sha256: Sha256,
    pub filename: Option<String>,
}

impl Pin {
    pub fn hashes(&self) -> impl Iterator<Item = &Sha256> {
        self.files.iter().map(|f| &f.sha256)
    }
}

/// The header of one of our requirements files.
#[derive(Debug, Clone)]
pub struct Header {
    /// The command that regenerates the file, e.g. "cargo xtask update-deps".
    pub command: String,
    /// The lockfile, relative to the repository root.
    pub lock: String,
    pub lock_sha256: Sha256,
    /// e.g. "CPython 3.11.2 on linux_x86_64".
    pub target: String,
}

/// Our requirements file for `pins` (sorted here by name, then version).
pub fn render(header: &Header, pins: &[Pin]) -> String {
    let mut pins: Vec<&Pin> = pins.iter().collect();
    pins.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `{}` from {}: do not edit.",
        header.command, header.lock
    );
    let _ = writeln!(out, "# {} sha256: {}", header.lock, header.lock_sha256);
    let _ = writeln!(out, "# Target: {}.", header.target);
    let _ = writeln!(
        out,
        "# Each package is pinned to the sha256 of its source distribution (sdist)."
    );
    for pin in pins {
        if pin.wheel_only {
            write_wheel_only_note(&mut out, pin);
        }
        write_pin(&mut out, pin);
    }
    out
}

/// The comment above a wheel-only pin: it publishes no sdist, and which
/// upstream wheels its hashes are.
pub fn write_wheel_only_note(out: &mut String, pin: &Pin) {
    let _ = writeln!(
        out,
        "# wheel-only: {}=={} publishes no sdist; pinned to its upstream wheels:",
        pin.name, pin.version
    );
    let mut files = pin.files.clone();
    files.sort();
    for f in &files {
        let _ = writeln!(
            out,
            "#   {}  {}",
            f.sha256,
            f.filename.as_deref().unwrap_or("?")
        );
    }
}

/// `name==version` and one `--hash=sha256:` continuation line per file,
/// in pip's format.
pub fn write_pin(out: &mut String, pin: &Pin) {
    write_pin_separated(out, pin, " \\\n    ");
}

/// `name==version --hash=sha256:<hex> …` on one line (the form build-deb
/// writes for the sdist's build backend).
pub fn write_pin_on_one_line(out: &mut String, pin: &Pin) {
    write_pin_separated(out, pin, " ");
}

fn write_pin_separated(out: &mut String, pin: &Pin, separator: &str) {
    let mut files = pin.files.clone();
    files.sort();
    let _ = write!(out, "{}=={}", pin.name, pin.version);
    for f in &files {
        let _ = write!(out, "{separator}--hash=sha256:{}", f.sha256);
    }
    out.push('\n');
}

/// The pins of one of our requirements files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    /// Sorted by name.
    pub pins: Vec<Pin>,
}

impl Pins {
    /// Reads a file [`render`] wrote. Every requirement must be
    /// `name==version` with at least one sha256 hash, no markers, no
    /// extras, no options; a name may appear once.
    pub fn parse(text: &str) -> anyhow::Result<Pins> {
        let mut wheel_only: Vec<(PackageName, Version, Vec<PinnedFile>)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("# wheel-only: ") {
                let spec = rest.split_whitespace().next().unwrap_or_default();
                let (name, version) = spec
                    .split_once("==")
                    .with_context(|| format!("line {}: bad wheel-only comment", i + 1))?;
                let name =
                    crate::lockfile::parse_name(name).with_context(|| format!("line {}", i + 1))?;
                let version = crate::lockfile::parse_version(name.as_ref(), version)
                    .with_context(|| format!("line {}", i + 1))?;
                wheel_only.push((name, version, Vec::new()));
            } else if let Some(rest) = line.strip_prefix("#   ") {
                if let Some((_, _, files)) = wheel_only.last_mut() {
                    let mut words = rest.split_whitespace();
                    let digest = words.next().unwrap_or_default();
                    let sha256 =
                        crate::lockfile::parse_sha256(format_args!("line {}", i + 1), digest)?;
                    files.push(PinnedFile {
                        sha256,
                        filename: words.next().map(str::to_owned),
                    });
                }
            }
        }
        let mut pins = Vec::new();
        let mut seen = BTreeSet::new();
        for item in parse(text)? {
            let entry = match item {
                Item::Requirement(entry) => entry,
                Item::Editable { line, .. } | Item::Option { line, .. } => {
                    bail!("line {line}: only `name==version --hash=…` requirements belong in this file")
                }
            };
            let line = entry.line;
            let (name, version) = exact_pin(&entry).with_context(|| format!("line {line}"))?;
            if !entry.requirement.marker.is_true() {
                bail!(
                    "line {line}: {name} has a marker; our files hold only the target's packages"
                );
            }
            if !entry.requirement.extras.is_empty() {
                bail!("line {line}: {name} has extras");
            }
            if entry.hashes.is_empty() {
                bail!("line {line}: {name}=={version} has no --hash");
            }
            if !seen.insert(name.clone()) {
                bail!("line {line}: {name} is pinned twice");
            }
            let listed = wheel_only
                .iter()
                .find(|(n, v, _)| *n == name && *v == version);
            let mut files: Vec<PinnedFile> = entry
                .digests()
                .map(|sha256| PinnedFile {
                    sha256,
                    filename: listed
                        .and_then(|(_, _, fs)| fs.iter().find(|f| f.sha256 == sha256))
                        .and_then(|f| f.filename.clone()),
                })
                .collect();
            files.sort();
            pins.push(Pin {
                name,
                version,
                files,
                wheel_only: listed.is_some(),
            });
        }
        for (name, version, _) in &wheel_only {
            if !pins
                .iter()
                .any(|p| p.name == *name && p.version == *version)
            {
                bail!("a wheel-only comment names {name}=={version}, which is not pinned");
            }
        }
        pins.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Pins { pins })
    }

    /// The pin of `name`, if any.
    pub fn get(&self, name: &PackageName) -> Option<&Pin> {
        self.pins
            .binary_search_by(|p| p.name.cmp(name))
            .ok()
            .map(|i| &self.pins[i])
    }
}

/// The name and version of a requirement pinned with exactly `==version`.
pub fn exact_pin(entry: &Entry) -> anyhow::Result<(PackageName, Version)> {
    let req = &entry.requirement;
    let specs = match &req.version_or_url {
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(specs)) => specs,
        Some(pep508_rs::VersionOrUrl::Url(url)) => bail!(
            "requirement {} is a URL ({url}), not a pinned version",
            req.name
        ),
        None => bail!(
            "requirement `{}` is not pinned with =={}",
            req.name,
            "version"
        ),
    };
    let pinned: Vec<_> = specs.iter().collect();
    match pinned.as_slice() {
        [spec] if *spec.operator() == Operator::Equal => {
            Ok((req.name.clone(), spec.version().clone()))
        }
        _ => bail!(
            "requirement `{}{}` is not pinned with ==version",
            req.name,
            specs
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> Sha256 {
        c.to_string().repeat(64).parse().unwrap()
    }

    #[test]
    fn continuations_and_comments() {
        let text = "# top\nfoo==1.0 \\\n    --hash=sha256:aaaa \\\n    # via bar\nbaz==2 # trailing\n  \nq==3 \\\n";
        let lines = logical_lines(text);
        assert_eq!(
            lines,
            vec![
                (2, "foo==1.0     --hash=sha256:aaaa".to_owned()),
                (5, "baz==2".to_owned()),
                (7, "q==3".to_owned())
            ]
        );
        assert_eq!(
            strip_comment("u @ https://h/x#egg=u"),
            "u @ https://h/x#egg=u"
        );
    }

    #[test]
    fn hashes_and_errors_name_their_physical_line() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let text = format!(
            "# comment --hash=sha256:{a}\nfoo==1.0 \\\n    --hash=sha256:{a} \\\n    --hash=sha256:{b}  # trailing\n  bar==2 --hash=sha256:{b} --hash sha256:{a} --hash=sha256:{b}\n\\\nbaz==3 \\\n--hash=sha256:{a}\n"
        );
        let entries: Vec<(usize, Vec<(usize, Sha256)>)> = parse(&text)
            .unwrap()
            .into_iter()
            .map(|item| match item {
                Item::Requirement(e) => (
                    e.line,
                    e.hashes.iter().map(|h| (h.line, h.sha256)).collect(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            entries,
            [
                (2, vec![(3, h('a')), (4, h('b'))]),
                (5, vec![(5, h('b')), (5, h('a'))]),
                (6, vec![(8, h('a'))]),
            ]
        );
        let cases = [
            (
                format!("foo==1.0 \\\n    --hash=sha256:{a} \\\n    --hash=md5:{a}\n"),
                "line 3: --hash of foo: hash",
            ),
            (
                "foo==1.0 \\\n  --hash\n".to_owned(),
                "line 2: --hash without a value",
            ),
            (
                "foo==1.0 \\\n\\\n  --pre\n".to_owned(),
                "line 3: option \"--pre\" is not allowed",
            ),
            ("foo >= \\\n  x\n".to_owned(), "line 1: invalid requirement"),
            ("\n--frobnicate\n".to_owned(), "line 2: unknown option"),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn one_line_pins_read_back() {
        let pin = Pin {
            name: "Foo.Bar".parse().unwrap(),
            version: "1.0".parse().unwrap(),
            files: vec![
                PinnedFile {
                    sha256: h('b'),
                    filename: None,
                },
                PinnedFile {
                    sha256: h('c'),
                    filename: None,
                },
            ],
            wheel_only: false,
        };
        let mut out = String::new();
        write_pin_on_one_line(&mut out, &pin);
        let (b, c) = ("b".repeat(64), "c".repeat(64));
        assert_eq!(
            out,
            format!("foo-bar==1.0 --hash=sha256:{b} --hash=sha256:{c}\n")
        );
        assert_eq!(Pins::parse(&out).unwrap().pins, [pin]);
    }

    #[test]
    fn render_then_parse() {
        let header = Header {
            command: "cargo xtask update-deps --app demo".into(),
            lock: "packaging/demo/uv.lock".into(),
            lock_sha256: h('0'),
            target: "CPython 3.11.2 on linux_x86_64".into(),
        };
        let pins = vec![
            Pin {
                name: "zope-interface".parse().unwrap(),
                version: "6.0".parse().unwrap(),
                files: vec![PinnedFile {
                    sha256: h('b'),
                    filename: None,
                }],
                wheel_only: false,
            },
            Pin {
                name: "certifi".parse().unwrap(),
                version: "2026.10.19.post1".parse().unwrap(),
                files: vec![
                    PinnedFile {
                        sha256: h('d'),
                        filename: Some("certifi-2026.10.19.post1-py3-none-any.whl".into()),
                    },
                    PinnedFile {
                        sha256: h('c'),
                        filename: Some("certifi-2026.10.19.post1-py2-none-any.whl".into()),
                    },
                ],
                wheel_only: true,
            },
        ];
        let text = render(&header, &pins);
        let c = "c".repeat(64);
        let d = "d".repeat(64);
        let b = "b".repeat(64);
        let zero = "0".repeat(64);
        let expected = format!(
            "# Generated by `cargo xtask update-deps --app demo` from packaging/demo/uv.lock: do not edit.\n\
             # packaging/demo/uv.lock sha256: {zero}\n\
             # Target: CPython 3.11.2 on linux_x86_64.\n\
             # Each package is pinned to the sha256 of its source distribution (sdist).\n\
             # wheel-only: certifi==2026.10.19.post1 publishes no sdist; pinned to its upstream wheels:\n\
             #   {c}  certifi-2026.10.19.post1-py2-none-any.whl\n\
             #   {d}  certifi-2026.10.19.post1-py3-none-any.whl\n\
             certifi==2026.10.19.post1 \\\n    --hash=sha256:{c} \\\n    --hash=sha256:{d}\n\
             zope-interface==6.0 \\\n    --hash=sha256:{b}\n"
        );
        assert_eq!(text, expected);
        let parsed = Pins::parse(&text).unwrap();
        let mut sorted = pins.clone();
        for p in &mut sorted {
            p.files.sort();
        }
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(parsed.pins, sorted);
        assert!(parsed.get(&"certifi".parse().unwrap()).unwrap().wheel_only);
    }

    #[test]
    fn adversarial_pins_bad_lines() {
        let a = "a".repeat(64);
        let cases = [
            (
                format!("foo>=1.0 --hash=sha256:{a}\n"),
                "line 1: requirement `foo>=1.0` is not pinned with ==version",
            ),
            (
                "foo\n".to_owned(),
                "line 1: requirement `foo` is not pinned with ==version",
            ),
            ("foo==1.0\n".to_owned(), "line 1: foo==1.0 has no --hash"),
            (format!("foo==1.0 --hash=md5:{a}\n"), "is md5, not sha256"),
            (
                "foo==1.0 --hash=sha256:abc\n".to_owned(),
                "64 hex digits, found 3",
            ),
            (
                format!("foo==1.0 ; python_version < '3' --hash=sha256:{a}\n"),
                "has a marker",
            ),
            (
                format!("foo==1.0 ; python_version <<< '3' --hash=sha256:{a}\n"),
                "invalid requirement",
            ),
            (
                format!("foo==1.0 --hash=sha256:{a}\nFoo==1.0 --hash=sha256:{a}\n"),
                "line 2: foo is pinned twice",
            ),
            (
                format!("-r other.txt\nfoo==1.0 --hash=sha256:{a}\n"),
                "line 1: only `name==version",
            ),
            (
                format!("--frobnicate\nfoo==1.0 --hash=sha256:{a}\n"),
                "unknown option \"--frobnicate\"",
            ),
            (
                format!("foo==1.0 --install-option=x --hash=sha256:{a}\n"),
                "not allowed on a requirement line",
            ),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Pins::parse(&text).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
