//! A PEP 440 version as a Debian upstream version, spelled so that dpkg
//! orders the Debian versions as PEP 440 orders the Python ones.
//!
//! Specs: PEP 440 (<https://peps.python.org/pep-0440/>, "Version
//! scheme"), Debian Policy 5.6.12 "Version" and deb-version(5) (the
//! `[epoch:]upstream_version[-debian_revision]` shape and dpkg's
//! comparison: digit runs numerically, other characters with `~` before
//! the end of the string, the end before letters, letters before all
//! other characters).
//!
//! The mapping works on the parsed version, so every spelling PEP 440
//! normalizes gives one Debian version (`1.7.0-RC.1`, `1.7.0c1` and
//! `1.7.0rc1` are all `1.7.0~rc1`):
//!
//! | PEP 440 (normalized)   | Debian upstream      | why |
//! |------------------------|----------------------|-----|
//! | `1.7.0`                | `1.7.0`              | the release as written |
//! | `1.7.0a1`, `b2`, `rc1` | `1.7.0~a1`, `~b2`, `~rc1` | `~` sorts before the end, and `a` < `b` < `r` |
//! | `1.7.0rc1.dev2`        | `1.7.0~rc1~dev2`     | below `1.7.0~rc1` |
//! | `1.7.0.dev3`           | `1.7.0~~dev3`        | below every pre-release: `~~` < `~a` |
//! | `1.7.0.post1`          | `1.7.0.~post1`       | above `1.7.0`, below `1.7.0.1` |
//! | `1.7.0.post1.dev1`     | `1.7.0.~post1~dev1`  | between `1.7.0` and `1.7.0.~post1` |
//! | `1.7.0rc1.post1`       | `1.7.0~rc1.~post1`   | between `1.7.0~rc1` and `1.7.0~rc2` |
//! | `1!2.0`                | `1:2.0`              | PEP 440's epoch is dpkg's epoch |
//! | `1.7.0+abc`            | refused              | see below |
//!
//! Two spellings differ from the usual search-and-replace (dh-python's
//! `PEP386` translator in `dhpython/pydist.py` puts `~` before `dev`, `a`,
//! `b`, `rc`, `c`, `alpha`, `beta` and leaves `.post` alone), because that
//! one misorders PEP 440's own example sequence:
//! - `1.0.dev456` as `1.0~dev456` sorts above `1.0~a1` (`d` > `a`), where
//!   PEP 440 puts a release's dev releases below all its pre-releases;
//!   `~~dev` sorts below them.
//! - `1.0.post456` as `1.0.post456` sorts above `1.0.15` (after `1.0.`,
//!   the letter `p` beats the end of the non-digit run), where PEP 440
//!   puts `1.0.15` higher; `.~post` sorts below `.15` and above the end.
//!   (`+post` would sort right here, but not once a target suffix such as
//!   `+trixie` is appended: `+t` > `+p`.)
//!
//! Local versions (`+abc`) are refused. PEP 440 reserves them for
//! downstream builds ("SHOULD NOT be used when publishing upstream
//! projects to a public index server") and orders their segments in a way
//! dpkg does not (`1.0+1` > `1.0+abc` in PEP 440, `<` under dpkg). The
//! natural spelling would also collide with Debian's own `+` suffixes
//! (`+dfsg`, `+ds`, a target's `+bookworm`). dh-python has no rule for
//! them either (its translator turns `+abc` into `+~a~b~c`), and the
//! Debian Python Policy specifies no mapping. A package built from a
//! local version should get a public one.
//!
//! One difference is not a choice: PEP 440 pads releases with zeros
//! (`1.0 == 1.0.0`, so `1.0.0rc1 < 1.0`) while dpkg sorts a longer
//! release after a shorter one it extends (`1.0.0~rc1 > 1.0`). Keeping
//! the release as written, the Debian order equals the PEP 440 order for
//! any two versions except those whose releases differ only by trailing
//! zeros; there the shorter release sorts first.
//!
//! A target suffix appended after the mapping keeps the order when it
//! starts with `+`; one starting with `~` does not (`1.0~deb13` sorts
//! below `1.0~rc1~deb13`, as `d` < `r`).

use std::cmp::Ordering;

use pep440_rs::{PrereleaseKind, Version};

/// Why a PEP 440 version has no Debian upstream version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `1.0+abc`: a local version label, for downstream builds only.
    #[error("version {version} has a local version label (+{label}), which has no Debian upstream version: package a public release")]
    LocalVersion { version: String, label: String },
    /// The internal range bounds of `pep440_rs` (`min`/`max`), which no
    /// PEP 440 text spells.
    #[error("version {version} is an internal version bound, not a PEP 440 version")]
    NotPep440 { version: String },
}

/// The Debian version for `v`, as `[epoch:]upstream_version` (Debian
/// Policy 5.6.12): the epoch only when PEP 440's is not zero, no
/// `-revision`. See the module docs for the mapping.
///
/// Errors: a local version ([`Error::LocalVersion`]), or a `pep440_rs`
/// range bound ([`Error::NotPep440`]).
pub fn upstream_version(v: &Version) -> Result<String, Error> {
    let upstream = upstream_part(v)?;
    Ok(match v.epoch() {
        0 => upstream,
        epoch => format!("{epoch}:{upstream}"),
    })
}

/// Whether `debian_upstream`, a changelog's version without its
/// `-revision` and target suffix, denotes `v`: it equals
/// [`upstream_version`]'s under dpkg's comparison (so `1.07~rc01` matches
/// `1.7rc1`, as it does in PEP 440, but `1.7` does not match `1.7.0`,
/// which dpkg orders after it). An epoch (`1:2.0`) is compared with
/// PEP 440's; without one, only the upstream parts are compared, the
/// caller having taken the epoch off. False for anything that is not an
/// upstream version (Debian Policy 5.6.12 characters: letters, digits,
/// `.`, `+`, `~`) and for versions [`upstream_version`] refuses.
pub fn matches(debian_upstream: &str, v: &Version) -> bool {
    let Ok(ours) = upstream_part(v) else {
        return false;
    };
    let theirs = match debian_upstream.split_once(':') {
        Some((epoch, rest)) => {
            let same_epoch = !epoch.is_empty()
                && epoch.bytes().all(|b| b.is_ascii_digit())
                && epoch.parse::<u64>() == Ok(v.epoch());
            if !same_epoch {
                return false;
            }
            rest
        }
        None => debian_upstream,
    };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~');
    theirs.bytes().all(allowed) && dpkg_verrevcmp(theirs, &ours) == Ordering::Equal
}

/// The command that adds a changelog entry for `v` (devscripts' `dch -v
/// VERSION TEXT`, where VERSION is the whole Debian version): for a native
/// package, which has no `-revision`. The version needs no shell quoting
/// (letters, digits, `.`, `:`, `~`, never `~` first). The caller appends
/// a target suffix if its changelogs carry one.
///
/// Errors: as [`upstream_version`].
pub fn dch_suggestion(v: &Version) -> Result<String, Error> {
    Ok(format!(
        "dch -v {} \"New upstream release.\"",
        upstream_version(v)?
    ))
}

/// The mapping without the epoch.
fn upstream_part(v: &Version) -> Result<String, Error> {
    if v.is_local() {
        let label = v.local().iter().map(ToString::to_string);
        return Err(Error::LocalVersion {
            version: v.to_string(),
            label: label.collect::<Vec<_>>().join("."),
        });
    }
    if v.min().is_some() || v.max().is_some() {
        return Err(Error::NotPep440 {
            version: v.to_string(),
        });
    }
    let mut out = v
        .release()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".");
    if let Some(pre) = v.pre() {
        let kind = match pre.kind {
            PrereleaseKind::Alpha => "a",
            PrereleaseKind::Beta => "b",
            PrereleaseKind::Rc => "rc",
        };
        out.push_str(&format!("~{kind}{}", pre.number));
    }
    if let Some(post) = v.post() {
        out.push_str(&format!(".~post{post}"));
    }
    if let Some(dev) = v.dev() {
        let tildes = if v.pre().is_none() && v.post().is_none() {
            "~~"
        } else {
            "~"
        };
        out.push_str(&format!("{tildes}dev{dev}"));
    }
    Ok(out)
}

/// dpkg's comparison of two upstream versions (or two revisions):
/// `verrevcmp` in dpkg's lib/dpkg/version.c. Alternating non-digit runs,
/// compared character by character in [`dpkg_order`], and digit runs,
/// compared as numbers of any length.
fn dpkg_verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (dpkg_order(a.get(i)), dpkg_order(b.get(j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A character's weight in a non-digit run: `~` lowest, then the end of
/// the run (a digit or the end of the string), then letters, then all
/// other characters.
fn dpkg_order(c: Option<&u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(b'~') => -1,
        Some(c) => i32::from(*c) + 256,
    }
}

#[cfg(test)]
mod tests;
