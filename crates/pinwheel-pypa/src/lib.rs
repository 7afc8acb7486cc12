//! pinwheel's Python packaging specs, each module named after the spec it
//! follows: wheel and sdist file names ([`wheel_filename`],
//! [`sdist_filename`]), platform tags ([`tags`]), PEP 508 marker
//! environments ([`markers`]), Simple API pages ([`simple_index`], read;
//! [`index_pages`], written), core metadata ([`core_metadata`]),
//! hash-pinned requirements files ([`requirements_txt`]), lock readers
//! ([`lockfile`]) and the production closure ([`closure`]); and where
//! they meet Debian: PEP 440 versions as Debian versions
//! ([`debian_version`]) and Debian package names ([`debian_name`]).
//!
//! Rule: no I/O and no processes. Everything takes text or bytes and
//! returns values; PEP 440, 503 and 508 come from `pep440_rs`/`pep508_rs`.

pub mod closure;
pub mod core_metadata;
pub mod debian_name;
pub mod debian_version;
pub mod index_pages;
pub mod lockfile;
pub mod markers;
pub mod requirements_txt;
pub mod sdist_filename;
pub mod simple_index;
pub mod tags;
pub mod wheel_filename;

/// A project name in the PyPA name format (ASCII letters and digits, with
/// `.`, `_`, `-` inside), normalized by its type. `PackageName` itself lets
/// the empty name through; this does not.
pub fn project_name(text: &str) -> Option<pep508_rs::PackageName> {
    if text.is_empty() {
        return None;
    }
    text.parse().ok()
}

/// Squeezes a multi-line parser message into one line.
pub fn one_line(msg: &str) -> String {
    msg.split('\n')
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l
                    .chars()
                    .all(|c| c == '|' || c == '^' || c.is_ascii_digit() || c == ' ')
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn project_names() {
        let name = |s: &str| super::project_name(s).map(|n| n.to_string());
        assert_eq!(name("Foo.Bar__baz"), Some("foo-bar-baz".to_owned()));
        for bad in ["", "-a", "a-", "a b", "a/b", "é"] {
            assert_eq!(name(bad), None, "{bad:?}");
        }
    }
}
