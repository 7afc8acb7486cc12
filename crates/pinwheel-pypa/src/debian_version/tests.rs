//! Tests of the PEP 440 → Debian mapping. The oracles are PEP 440's order
//! (pep440_rs) on one side and the real `dpkg --compare-versions` on the
//! other; the in-process copy of dpkg's comparison is itself checked
//! against dpkg before it stands in for it on many more pairs.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::{PrereleaseKind, Version};
use rayon::prelude::*;

use super::{dch_suggestion, dpkg_verrevcmp, matches, upstream_version, Error};

fn v(text: &str) -> Version {
    Version::from_str(text).unwrap()
}

fn deb(text: &str) -> String {
    upstream_version(&v(text)).unwrap()
}

/// The real dpkg's order of two Debian versions.
fn dpkg(a: &str, b: &str) -> Ordering {
    let holds = |op: &str| {
        let sh = xshell::Shell::new().unwrap();
        let out = xshell::cmd!(sh, "dpkg --compare-versions {a} {op} {b}")
            .quiet()
            .ignore_status()
            .output()
            .expect("dpkg --compare-versions is the oracle here: run on a Debian host");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "dpkg on {a:?} {op} {b:?}: {stderr}");
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("dpkg --compare-versions {a} {op} {b} exited with {other:?}"),
        }
    };
    if holds("lt") {
        Ordering::Less
    } else if holds("gt") {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// The in-process comparison of two `[epoch:]upstream` versions.
fn deb_cmp(a: &str, b: &str) -> Ordering {
    let split = |s: &str| match s.split_once(':') {
        Some((epoch, rest)) => (epoch.parse::<u64>().unwrap(), rest.to_owned()),
        None => (0, s.to_owned()),
    };
    let ((ea, ua), (eb, ub)) = (split(a), split(b));
    ea.cmp(&eb).then_with(|| dpkg_verrevcmp(&ua, &ub))
}

#[test]
fn mapping_table() {
    for (pep, debian) in [
        ("1.7.0", "1.7.0"),
        ("1.7.0rc1", "1.7.0~rc1"),
        ("1.7.0a1", "1.7.0~a1"),
        ("1.7.0b2", "1.7.0~b2"),
        ("1.7.0.dev3", "1.7.0~~dev3"),
        ("1.7.0rc1.dev2", "1.7.0~rc1~dev2"),
        ("1.7.0.post1", "1.7.0.~post1"),
        ("1.7.0.post1.dev1", "1.7.0.~post1~dev1"),
        ("1.7.0rc1.post1", "1.7.0~rc1.~post1"),
        ("1.7.0rc1.post1.dev4", "1.7.0~rc1.~post1~dev4"),
        ("1!2.0", "1:2.0"),
        ("1!2.0rc1", "1:2.0~rc1"),
        ("0!2.0", "2.0"),
        // Other spellings of the same versions (PEP 440 normalization).
        ("1.7.0-rc.1", "1.7.0~rc1"),
        ("1.7.0-RC.1", "1.7.0~rc1"),
        ("1.7.0c1", "1.7.0~rc1"),
        ("1.7.0pre1", "1.7.0~rc1"),
        ("1.7.0preview1", "1.7.0~rc1"),
        ("1.7.0alpha1", "1.7.0~a1"),
        ("1.7.0_beta_2", "1.7.0~b2"),
        ("1.7.0rc", "1.7.0~rc0"),
        ("1.7.0-1", "1.7.0.~post1"),
        ("1.7.0.rev1", "1.7.0.~post1"),
        ("1.7.0r1", "1.7.0.~post1"),
        ("1.7.0.post", "1.7.0.~post0"),
        ("1.7.0-dev3", "1.7.0~~dev3"),
        ("1.7.0dev", "1.7.0~~dev0"),
        ("v1.7.0", "1.7.0"),
        ("01.07.00", "1.7.0"),
        ("2024.10.1", "2024.10.1"),
        ("1.0.18446744073709551615", "1.0.18446744073709551615"),
    ] {
        assert_eq!(deb(pep), debian, "{pep}");
    }
}

#[test]
fn local_versions_and_bounds_are_refused() {
    for (text, label) in [("1.0+abc", "abc"), ("1.7.0rc1+ubuntu.1", "ubuntu.1")] {
        let err = upstream_version(&v(text)).unwrap_err();
        assert!(
            matches!(&err, Error::LocalVersion { label: l, .. } if l == label),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(!msg.contains('\n') && msg.contains(label), "{msg}");
        assert!(dch_suggestion(&v(text)).is_err());
        assert!(!matches(&deb(text.split('+').next().unwrap()), &v(text)));
    }
    assert_eq!(
        upstream_version(&v("1.0+abc")).unwrap_err().to_string(),
        "version 1.0+abc has a local version label (+abc), which has no Debian upstream version: package a public release"
    );
    let bound = v("1.0").with_min(Some(0));
    assert!(matches!(
        upstream_version(&bound),
        Err(Error::NotPep440 { .. })
    ));
    let bound = v("1.0").with_max(Some(0));
    assert!(matches!(
        upstream_version(&bound),
        Err(Error::NotPep440 { .. })
    ));
}

/// PEP 440's own example of the order, from its "Summary of permitted
/// suffixes and relative ordering" (the local `1.0+abc.5` left out),
/// checked pair by pair with the real dpkg.
const PEP440_EXAMPLE: [&str; 16] = [
    "1.0.dev456",
    "1.0a1",
    "1.0a2.dev456",
    "1.0a12.dev456",
    "1.0a12",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0rc1.dev456",
    "1.0rc1",
    "1.0",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.15",
    "1.1.dev1",
];

#[test]
fn pep440_example_order_under_real_dpkg() {
    let debs: Vec<String> = PEP440_EXAMPLE.iter().map(|t| deb(t)).collect();
    for w in PEP440_EXAMPLE.windows(2) {
        assert!(v(w[0]) < v(w[1]), "the example itself: {w:?}");
    }
    for w in debs.windows(2) {
        assert_eq!(dpkg(&w[0], &w[1]), Ordering::Less, "{w:?}");
        assert_eq!(deb_cmp(&w[0], &w[1]), Ordering::Less, "{w:?}");
    }
}

/// Why `~~dev` and `.~post`: the usual spellings put these pairs of the
/// example the wrong way round.
#[test]
fn the_usual_spellings_misorder_the_example() {
    assert_eq!(dpkg("1.0~dev456", "1.0~a1"), Ordering::Greater);
    assert_eq!(dpkg("1.0.post456", "1.0.15"), Ordering::Greater);
    assert_eq!(dpkg("1.0+post456+trixie", "1.0+trixie"), Ordering::Less);
}

#[test]
fn matches_cases() {
    for (debian, pep) in [
        ("1.7.0~rc1", "1.7.0rc1"),
        ("1.7.0~rc1", "1.7.0-RC.1"),
        ("1.07.0~rc01", "1.7.0rc1"),
        ("1.7.0.~post1", "1.7.0.post1"),
        ("1.7.0~~dev3", "1.7.0.dev3"),
        ("2.0", "1!2.0"),
        ("1:2.0", "1!2.0"),
        ("0:2.0", "2.0"),
    ] {
        assert!(matches(debian, &v(pep)), "{debian} ~ {pep}");
    }
    for (debian, pep) in [
        ("1.7.0rc1", "1.7.0rc1"),
        ("1.7.0~RC1", "1.7.0rc1"),
        ("1.7.0~rc1", "1.7.0"),
        ("1.7.0", "1.7.0rc1"),
        ("1.7.0.post1", "1.7.0.post1"),
        ("1.7.0~dev3", "1.7.0.dev3"),
        ("1.7", "1.7.0"),
        ("1.7.0", "1.7"),
        ("2:2.0", "1!2.0"),
        ("1:2.0", "2.0"),
        (":2.0", "2.0"),
        ("x:2.0", "2.0"),
        ("1.7.0-1", "1.7.0"),
        ("1.7.0 ", "1.7.0"),
        ("", "1.7.0"),
        ("1.0+abc", "1.0+abc"),
    ] {
        assert!(!matches(debian, &v(pep)), "{debian:?} !~ {pep}");
    }
}

#[test]
fn dch_suggestions() {
    assert_eq!(
        dch_suggestion(&v("1.7.0rc1")).unwrap(),
        r#"dch -v 1.7.0~rc1 "New upstream release.""#
    );
    assert_eq!(
        dch_suggestion(&v("1!2.0.post2")).unwrap(),
        r#"dch -v 1:2.0.~post2 "New upstream release.""#
    );
}

/// SplitMix64: a seeded stream, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// What a generated version should parse to.
#[derive(Debug, PartialEq)]
struct Parts {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(PrereleaseKind, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

/// A random PEP 440 version in one of its many spellings, and its parts.
/// Small numbers and a few shared releases, so that pairs often differ
/// only in a suffix or in trailing zeros.
fn generate(rng: &mut Rng) -> (String, Parts) {
    const RELEASES: [&[u64]; 8] = [
        &[1],
        &[1, 0],
        &[1, 0, 0],
        &[1, 0, 1],
        &[1, 1],
        &[2],
        &[0, 9, 10],
        &[1, 0, 0, 1],
    ];
    let epoch = if rng.percent(10) { 1 } else { 0 };
    let release: Vec<u64> = if rng.percent(50) {
        rng.pick(&RELEASES).to_vec()
    } else {
        let len = 1 + rng.below(4);
        (0..len).map(|_| *rng.pick(&[0u64, 0, 1, 2, 10])).collect()
    };
    let number = |rng: &mut Rng| *rng.pick(&[0u64, 1, 2, 12]);
    let sep = |rng: &mut Rng| *rng.pick(&["", "", ".", "-", "_"]);
    let pre = rng.percent(50).then(|| {
        let kind = *rng.pick(&[
            PrereleaseKind::Alpha,
            PrereleaseKind::Beta,
            PrereleaseKind::Rc,
        ]);
        (kind, number(rng))
    });
    let post = rng.percent(30).then(|| number(rng));
    let dev = rng.percent(30).then(|| number(rng));

    let mut text = String::new();
    if rng.percent(10) {
        text.push('v');
    }
    if epoch != 0 {
        text.push_str(&format!("{epoch}!"));
    }
    let spelled: Vec<String> = release
        .iter()
        .map(|n| {
            if rng.percent(10) {
                format!("0{n}")
            } else {
                n.to_string()
            }
        })
        .collect();
    text.push_str(&spelled.join("."));
    // A number may be left out when it is 0, except after an implicit
    // post release's `-`, which is all number.
    let numbered = |rng: &mut Rng, label: &str, n: u64| {
        if n == 0 && rng.percent(30) {
            format!("{}{label}", sep(rng))
        } else {
            format!("{}{label}{}{n}", sep(rng), sep(rng))
        }
    };
    if let Some((kind, n)) = pre {
        let label = match kind {
            PrereleaseKind::Alpha => *rng.pick(&["a", "alpha"]),
            PrereleaseKind::Beta => *rng.pick(&["b", "beta"]),
            PrereleaseKind::Rc => *rng.pick(&["rc", "c", "pre", "preview"]),
        };
        text.push_str(&numbered(rng, label, n));
    }
    if let Some(n) = post {
        // `1.0a-1` is 1.0a1: the implicit form needs a number before it.
        if rng.percent(20) && text.ends_with(|c: char| c.is_ascii_digit()) {
            text.push_str(&format!("-{n}"));
        } else {
            let label = *rng.pick(&["post", "post", "rev", "r"]);
            text.push_str(&numbered(rng, label, n));
        }
    }
    if let Some(n) = dev {
        text.push_str(&numbered(rng, "dev", n));
    }
    if rng.percent(10) {
        text = text.to_uppercase();
    }
    let parts = Parts {
        epoch,
        release,
        pre,
        post,
        dev,
    };
    (text, parts)
}

fn generated_versions(seed: u64, n: usize) -> Vec<Version> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let (text, parts) = generate(&mut rng);
            let version = v(&text);
            let parsed = Parts {
                epoch: version.epoch(),
                release: version.release().to_vec(),
                pre: version.pre().map(|p| (p.kind, p.number)),
                post: version.post(),
                dev: version.dev(),
            };
            assert_eq!(parsed, parts, "{text}");
            version
        })
        .collect()
}

/// Same epoch, releases equal once padded with zeros but of different
/// lengths (`1.0` and `1.0.0`): the one place dpkg's order is not
/// PEP 440's.
fn trailing_zeros_apart(a: &Version, b: &Version) -> bool {
    let (ra, rb) = (a.release(), b.release());
    let padded = |r: &[u64], i: usize| r.get(i).copied().unwrap_or(0);
    a.epoch() == b.epoch()
        && ra.len() != rb.len()
        && (0..ra.len().max(rb.len())).all(|i| padded(ra, i) == padded(rb, i))
}

/// The order dpkg should give the two mapped versions: PEP 440's, except
/// that where the releases differ only by trailing zeros the shorter
/// release sorts first.
fn expected(a: &Version, b: &Version) -> Ordering {
    if trailing_zeros_apart(a, b) {
        a.release().len().cmp(&b.release().len())
    } else {
        a.cmp(b)
    }
}

#[derive(Default, Debug)]
struct Coverage {
    pairs: usize,
    equal: usize,
    trailing_zeros: usize,
    same_release: usize,
}

fn random_pairs(seed: u64, versions: &[Version], n: usize) -> Vec<(Version, Version)> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| (rng.pick(versions).clone(), rng.pick(versions).clone()))
        .collect()
}

#[test]
fn dpkg_order_is_pep440_order_on_many_pairs() {
    let versions = generated_versions(440, 4000);
    let mut seen = Coverage::default();
    for (a, b) in random_pairs(1, &versions, 60_000) {
        let (da, db) = (upstream_version(&a).unwrap(), upstream_version(&b).unwrap());
        assert_eq!(
            deb_cmp(&da, &db),
            expected(&a, &b),
            "{a} vs {b}: {da} vs {db}"
        );
        for suffix in ["+bookworm", "+trixie", "+sid"] {
            assert_eq!(
                deb_cmp(&format!("{da}{suffix}"), &format!("{db}{suffix}")),
                expected(&a, &b),
                "{a} vs {b} with {suffix}"
            );
        }
        let upstream = |d: &str| d.rsplit(':').next().unwrap().to_owned();
        let same_epoch = a.epoch() == 0 || a.epoch() == b.epoch();
        assert_eq!(
            matches(&da, &b),
            same_epoch && upstream(&da) == upstream(&db),
            "{da} ~ {b}"
        );
        if a == b && !trailing_zeros_apart(&a, &b) {
            assert!(matches(&da, &b), "{da} ~ {b}");
        }
        seen.pairs += 1;
        seen.equal += usize::from(a == b);
        seen.trailing_zeros += usize::from(trailing_zeros_apart(&a, &b));
        seen.same_release += usize::from(a.release() == b.release());
    }
    assert!(
        seen.equal > 300 && seen.trailing_zeros > 1500 && seen.same_release > 2000,
        "{seen:?}"
    );
}

#[test]
fn dpkg_order_is_pep440_order_under_real_dpkg() {
    let versions = generated_versions(1000, 400);
    let pairs = random_pairs(2, &versions, 200);
    let failures: Vec<String> = pairs
        .par_iter()
        .filter_map(|(a, b)| {
            let (da, db) = (upstream_version(a).unwrap(), upstream_version(b).unwrap());
            let real = dpkg(&da, &db);
            let want = expected(a, b);
            let ours = deb_cmp(&da, &db);
            (real != want || ours != real).then(|| {
                format!("{a} vs {b}: dpkg {da} {real:?} {db}, want {want:?}, ours {ours:?}")
            })
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The in-process comparison against dpkg on strings no mapping makes.
#[test]
fn comparison_is_dpkgs_on_random_strings() {
    let mut rng = Rng(5);
    let alphabet = b"0019.~+abz";
    let word = |rng: &mut Rng| {
        let mut s = String::from(char::from(*rng.pick(b"0129")));
        for _ in 0..rng.below(8) {
            s.push(char::from(*rng.pick(alphabet)));
        }
        s
    };
    let pairs: Vec<(String, String)> = (0..120)
        .map(|_| {
            let a = word(&mut rng);
            // Often a prefix of the other, where the rules for the end of
            // a string matter.
            let b = if rng.percent(40) {
                format!("{a}{}", &word(&mut rng)[1..])
            } else {
                word(&mut rng)
            };
            (a, b)
        })
        .collect();
    let failures: Vec<String> = pairs
        .par_iter()
        .filter_map(|(a, b)| {
            let (real, ours) = (dpkg(a, b), dpkg_verrevcmp(a, b));
            (real != ours).then(|| format!("{a} vs {b}: dpkg {real:?}, ours {ours:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A target suffix starting with `~` competes with the pre-release and
/// dev markers: the caller must not use one with this mapping.
#[test]
fn tilde_suffix_breaks_the_order() {
    assert_eq!(dpkg("1.0~deb13", "1.0~rc1~deb13"), Ordering::Less);
    assert_eq!(dpkg("1.0~rc1~deb13", "1.0~rc1~dev1~deb13"), Ordering::Less);
    assert_eq!(dpkg("1.0+trixie", "1.0~rc1+trixie"), Ordering::Greater);
}
