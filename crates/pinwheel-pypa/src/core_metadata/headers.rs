//! Reading the header block of a core metadata file (a wheel's `METADATA`,
//! an sdist's `PKG-INFO`), per the core metadata specification: email-style
//! `Name: value` fields up to the first empty line; what follows is the
//! description body, which is not read here.
//!
//! Field names are compared case-insensitively, as Python's `email` parser
//! does. A line that starts with a space or tab continues the previous
//! field: it is joined to the value with one space, surrounding whitespace
//! trimmed (so a folded `Requires-Dist` reads as one requirement). A
//! continuation before any field is ignored, as Python's parser ignores it.
//! A field name is printable ASCII without spaces or `:` (RFC 5322); any
//! other line in the block is refused by [`Headers::parse`], since Python's
//! parser would silently end the block there and read what follows as body.

use anyhow::bail;

/// The header fields of a core metadata file, in file order, names as
/// written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

/// A line of the block that is neither a field nor a continuation.
struct Malformed<'a> {
    line: usize,
    text: &'a str,
}

impl Headers {
    /// Reads the header block of `text`; a line in it that is not a field
    /// or a continuation is an error naming the line.
    pub fn parse(text: &str) -> anyhow::Result<Headers> {
        match read(text) {
            (headers, None) => Ok(headers),
            (_, Some(Malformed { line, text })) => {
                bail!("line {line}: malformed header line {text:?}")
            }
        }
    }

    /// Reads the header block as pip's `email` parser does: the block ends
    /// at its first line that is not a field or a continuation. For text
    /// that [`Headers::parse`] accepts, the two agree.
    pub fn parse_lenient(text: &str) -> Headers {
        read(text).0
    }

    /// Every value of the field `name`, in file order.
    pub fn get_all<'h: 'n, 'n>(&'h self, name: &'n str) -> impl Iterator<Item = &'h str> + 'n {
        self.fields
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of a field that may appear at most once (e.g. `Name`,
    /// `Version`); given twice is an error.
    pub fn get(&self, name: &str) -> anyhow::Result<Option<&str>> {
        let mut values = self.get_all(name);
        let first = values.next();
        if values.next().is_some() {
            bail!("{name} given twice");
        }
        Ok(first)
    }

    /// Every field as (name as written, value), in file order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// The fields of the block, and the malformed line that ended it, if any.
fn read(text: &str) -> (Headers, Option<Malformed<'_>>) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if is_field_name(name) => {
                fields.push((name.to_owned(), value.trim().to_owned()));
            }
            _ => {
                let bad = Malformed {
                    line: i + 1,
                    text: line,
                };
                return (Headers { fields }, Some(bad));
            }
        }
    }
    (Headers { fields }, None)
}

/// RFC 5322 field name: one or more printable ASCII characters other than
/// space and `:`.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_continuations_and_body() {
        let text = "Metadata-Version: 2.4\nName: hatchling\nRequires-Dist: packaging>=24.2\nrequires-dist: pathspec>=0.10.1\nRequires-Dist: tomli>=1.2.2;\n  python_version < '3.11'\nSummary:   x  \nKeywords:\n\nRequires-Dist: not-a-header\n";
        let h = Headers::parse(text).unwrap();
        assert_eq!(
            h.get_all("Requires-Dist").collect::<Vec<_>>(),
            [
                "packaging>=24.2",
                "pathspec>=0.10.1",
                "tomli>=1.2.2; python_version < '3.11'"
            ]
        );
        assert_eq!(h.get("name").unwrap(), Some("hatchling"));
        assert_eq!(h.get("Summary").unwrap(), Some("x"));
        assert_eq!(h.get("Keywords").unwrap(), Some(""));
        assert_eq!(h.get("Version").unwrap(), None);
        assert_eq!(h.fields().len(), 7);
        assert_eq!(h, Headers::parse_lenient(text));
    }

    #[test]
    fn crlf_and_leading_continuation() {
        let h = Headers::parse(
            "  stray\r\nName: a\r\nLicense: MIT\r\n        or Apache\r\n\r\nName: b\r\n",
        )
        .unwrap();
        assert_eq!(h.get("Name").unwrap(), Some("a"));
        assert_eq!(h.get("License").unwrap(), Some("MIT or Apache"));
        assert_eq!(Headers::parse("").unwrap(), Headers::default());
    }

    #[test]
    fn adversarial_duplicates_and_malformed_lines() {
        let h = Headers::parse("Name: a\nname: b\n").unwrap();
        assert_eq!(h.get("Name").unwrap_err().to_string(), "Name given twice");
        assert_eq!(h.get_all("NAME").collect::<Vec<_>>(), ["a", "b"]);
        for (text, line) in [
            ("Name: a\nno colon here\nVersion: 1\n", 2),
            ("Name : a\n", 1),
            (": a\n", 1),
            ("Name: a\nRequires Dist: b\n", 2),
        ] {
            let err = Headers::parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("line {line}: malformed header line")),
                "{text:?}: {err}"
            );
        }
        // Where pip stops reading, so does the lenient reader.
        let h = Headers::parse_lenient("Name: a\ngarbage\nRequires-Dist: b\n");
        assert_eq!(h.get("Name").unwrap(), Some("a"));
        assert_eq!(h.get_all("Requires-Dist").count(), 0);
    }
}
